package bus_test

import (
	"encoding/json"

	"github.com/foresight-run/foresight/pkg/events"
)

func encode(env events.Envelope) ([]byte, error) { return json.Marshal(env) }
