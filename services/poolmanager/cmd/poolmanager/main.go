// Command poolmanager runs Foresight's poolmanager service as its own process; configuration comes
// from FORESIGHT_* environment variables (see the README).
package main

import (
	"os"

	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/poolmanager"
)

func main() { os.Exit(service.Main("poolmanager", poolmanager.Build)) }
