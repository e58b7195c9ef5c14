package events

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// payloadOf binds every event type to its Go payload type. A type added to AllTypes without
// an entry here fails TestEveryTypeHasSchemaAndFixture, so the table cannot fall behind.
var payloadOf = map[Type]payloadCodec{
	TypeWorkflowSubmitted: codec[WorkflowSubmitted](),
	TypeWorkflowRejected:  codec[WorkflowRejected](),
	TypeGraphBuilt:        codec[GraphBuilt](),
	TypeDemandPredicted:   codec[DemandPredicted](),
	TypePlanReady:         codec[PlanReady](),
	TypeVMProvisioned:     codec[VMProvisioned](),
	TypeVMReleased:        codec[VMReleased](),
	TypeVMIdle:            codec[VMIdle](),
	TypePoolForecast:      codec[PoolForecast](),
	TypeVMStateChanged:    codec[VMStateChanged](),
	TypeVMUnneeded:        codec[VMUnneeded](),
	TypeTaskDispatched:    codec[TaskDispatched](),
	TypeTaskObserved:      codec[TaskObserved](),
	TypePredictionDelta:   codec[PredictionDelta](),
	TypeReplanRequested:   codec[ReplanRequested](),
	TypeWorkflowCompleted: codec[WorkflowCompleted](),
}

// payloadCodec decodes an envelope into the Go payload type through the public DecodeData,
// and names that type for the schema walk.
type payloadCodec struct {
	goType reflect.Type
	decode func(Envelope) (any, error)
}

func codec[T any, PT interface {
	*T
	Payload
}]() payloadCodec {
	return payloadCodec{
		goType: reflect.TypeFor[T](),
		decode: func(e Envelope) (any, error) { return DecodeData[T, PT](e) },
	}
}

func readFixture(t *testing.T, typ Type) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", string(typ)+".json"))
	require.NoError(t, err)
	return raw
}

// TestFixturesDecode decodes every fixture the way a consumer does and checks that it matches
// both schemas, that the Go type knows every field in it, and that encoding the decoded
// value reproduces the fixture's data exactly: the Go type round-trips through JSON into a
// payload its schema accepts.
func TestFixturesDecode(t *testing.T) {
	t.Parallel()
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, typ)
			c, ok := payloadOf[typ]
			require.True(t, ok, "no Go payload type registered for %s", typ)

			require.NoError(t, ValidateEnvelope(raw))
			e, err := Decode(raw)
			require.NoError(t, err)
			require.Equal(t, typ, e.Type)
			require.Equal(t, Subject(typ, e.Subject), e.NATSSubject())
			require.True(t, strings.HasPrefix(e.NATSSubject(), SubjectPrefix))

			v, err := c.decode(e)
			require.NoError(t, err)
			require.Equal(t, c.goType, reflect.TypeOf(v))

			// A fixture field the Go type does not know would be silently dropped above and
			// the fixture would test less than it claims.
			strict := reflect.New(c.goType).Interface()
			dec := json.NewDecoder(bytes.NewReader(e.Data))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(strict), "fixture has fields %s does not know", c.goType)

			again, err := json.Marshal(v)
			require.NoError(t, err)
			require.NoError(t, ValidateData(typ, again))
			require.JSONEq(t, string(e.Data), string(again))

			// The payload says which workflow it is about; so must the envelope.
			var head struct {
				WorkflowID string `json:"workflow_id"`
			}
			require.NoError(t, json.Unmarshal(e.Data, &head))
			require.Equal(t, head.WorkflowID, e.Subject)
		})
	}
}

// TestNewEnvelopeValidates builds envelopes with New from each fixture's payload, as a
// publisher does, and validates the encoded result.
func TestNewEnvelopeValidates(t *testing.T) {
	t.Parallel()
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			e, err := Decode(readFixture(t, typ))
			require.NoError(t, err)
			v, err := payloadOf[typ].decode(e)
			require.NoError(t, err)
			p, ok := v.(Payload)
			require.True(t, ok)

			fresh, err := New("foresight/test", e.Subject, e.Time, p)
			require.NoError(t, err)
			raw, err := json.Marshal(fresh)
			require.NoError(t, err)
			require.NoError(t, ValidateEnvelope(raw))
		})
	}
}
