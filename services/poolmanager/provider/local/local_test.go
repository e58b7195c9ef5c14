package local_test

import (
	"testing"
	"time"

	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/local"
	"github.com/foresight-run/foresight/services/poolmanager/provider/providertest"
)

// The local provider passes the same conformance suite as every other provider.
func TestLocalConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return local.New(clock.NewVirtual(time.Unix(0, 0)), 512, 1<<42)
	})
}
