// Command gateway runs Foresight's gateway service as its own process; configuration comes
// from FORESIGHT_* environment variables (see the README).
package main

import (
	"os"

	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/gateway"
)

func main() { os.Exit(service.Main("gateway", gateway.Build)) }
