package service

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"FORESIGHT_DATABASE_URL": "postgres://x@127.0.0.1/db"}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the variable the error must name; "" for success
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", env: base, check: func(t *testing.T, c Config) {
			require.Equal(t, "nats://127.0.0.1:4222", c.NATSURL)
			require.Equal(t, 30*time.Second, c.AckWait)
			require.Equal(t, 5*time.Minute, c.StallAfter)
			require.Equal(t, "local", c.Provider)
			require.Equal(t, 1.0, c.ReplayScale)
		}},
		{name: "database url is required", env: map[string]string{}, wantErr: "FORESIGHT_DATABASE_URL"},
		{name: "bad duration", env: with(base, "FORESIGHT_ACK_WAIT", "soon"), wantErr: "FORESIGHT_ACK_WAIT"},
		{name: "bad nats url", env: with(base, "FORESIGHT_NATS_URL", "http://x"), wantErr: "FORESIGHT_NATS_URL"},
		{name: "bad log level", env: with(base, "FORESIGHT_LOG_LEVEL", "loud"), wantErr: "FORESIGHT_LOG_LEVEL"},
		{name: "bad replicas", env: with(base, "FORESIGHT_STREAM_REPLICAS", "2"), wantErr: "FORESIGHT_STREAM_REPLICAS"},
		{name: "bad provider", env: with(base, "FORESIGHT_PROVIDER", "ec2"), wantErr: "FORESIGHT_PROVIDER"},
		{name: "bad cores", env: with(base, "FORESIGHT_LOCAL_CORES", "-1"), wantErr: "FORESIGHT_LOCAL_CORES"},
		{name: "bad replay scale", env: with(base, "FORESIGHT_REPLAY_SCALE", "0"), wantErr: "FORESIGHT_REPLAY_SCALE"},
		{name: "overrides", env: with(with(base, "FORESIGHT_PROVIDER", "sim"), "FORESIGHT_STALL_AFTER", "90s"), check: func(t *testing.T, c Config) {
			require.Equal(t, "sim", c.Provider)
			require.Equal(t, 90*time.Second, c.StallAfter)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}
