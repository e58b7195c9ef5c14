package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SpecVersion is the CloudEvents specification version of every envelope.
const SpecVersion = "1.0"

// SubjectPrefix starts every subject Foresight publishes; the stream captures SubjectPrefix+">".
const SubjectPrefix = "foresight."

// MaxEnvelopeBytes is the largest encoded envelope the bus carries: the stream's message
// limit and the NATS max_payload Foresight configures (nats-server's own default is 1 MiB,
// which a 2,200-task workflow's demand-predicted already exceeds). NATS advises against
// messages above 8 MiB. An event that would be larger is refused when it is written to
// the outbox, and the gateway refuses a workflow whose events would be (see
// EstimatedLargestEventBytes).
const MaxEnvelopeBytes = 8 << 20

// Per-task and fixed bytes that demand-predicted, the largest event of a workflow, adds to
// the submitted tasks' JSON: each task's analysis and prediction fields, and the demand
// curve, contention windows and envelope. Measured at 361 bytes per task on a 2,000-task
// workflow (demand-predicted 928,968 bytes against 206,474 for workflow-submitted);
// rounded up.
const (
	eventBytesPerTask = 400
	eventBytesFixed   = 64 << 10
)

// EstimatedLargestEventBytes is how large a workflow's largest event will be, from the
// JSON size of its submitted tasks and their number.
func EstimatedLargestEventBytes(tasksJSONBytes, tasks int) int {
	return tasksJSONBytes + eventBytesPerTask*tasks + eventBytesFixed
}

// Envelope is the CloudEvents-shaped wrapper of every event. Subject is the workflow id the
// event is about, so consumers can follow one workflow.
type Envelope struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            Type            `json:"type"`
	SpecVersion     string          `json:"specversion"`
	Time            time.Time       `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// ErrInvalidEnvelope reports an envelope that is missing a required attribute.
var ErrInvalidEnvelope = errors.New("invalid event envelope")

// New wraps payload in an envelope with a fresh id. source names the publishing service
// ("foresight/allocator"); workflowID becomes the envelope subject.
func New(source string, workflowID string, at time.Time, payload Payload) (Envelope, error) {
	return NewWithID(uuid.NewString(), source, workflowID, at, payload)
}

// NewWithID is New with a caller-chosen id. Handlers derive ids deterministically from the
// event they handle, so a handler that runs twice emits the same id and the stream drops
// the second copy.
func NewWithID(id, source, workflowID string, at time.Time, payload Payload) (Envelope, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", payload.EventType(), err)
	}
	return Envelope{
		ID:              id,
		Source:          source,
		Type:            payload.EventType(),
		SpecVersion:     SpecVersion,
		Time:            at.UTC(),
		Subject:         workflowID,
		DataContentType: "application/json",
		Data:            data,
	}, nil
}

// DerivedID returns a stable UUID (v5) for an effect of parent identified by parts, so that
// redelivering parent reproduces the same downstream event id.
func DerivedID(parent string, parts ...string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(parent+"|"+strings.Join(parts, "|"))).String()
}

// Validate checks the required CloudEvents attributes.
func (e Envelope) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: id is empty", ErrInvalidEnvelope)
	case e.Source == "":
		return fmt.Errorf("%w: source is empty", ErrInvalidEnvelope)
	case e.Type == "":
		return fmt.Errorf("%w: type is empty", ErrInvalidEnvelope)
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("%w: specversion %q, want %q", ErrInvalidEnvelope, e.SpecVersion, SpecVersion)
	}
	return nil
}

// NATSSubject is the subject the envelope is published on: the type string followed by the
// workflow id, so a consumer filters one type with "<type>.>" and one workflow with
// "foresight.*.*.<workflow>".
func (e Envelope) NATSSubject() string { return Subject(e.Type, e.Subject) }

// Subject builds the subject for an event type about a workflow.
func Subject(t Type, workflowID string) string {
	if workflowID == "" {
		workflowID = "_"
	}
	return string(t) + "." + workflowID
}

// FilterSubject matches every event of type t.
func FilterSubject(t Type) string { return string(t) + ".>" }

// Decode parses an encoded envelope and validates its attributes.
func Decode(raw []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// DecodeData unmarshals the envelope's data into a payload of type T, checking that the
// envelope's type matches T's.
func DecodeData[T any, PT interface {
	*T
	Payload
}](e Envelope) (T, error) {
	var v T
	if want := PT(&v).EventType(); e.Type != want {
		return v, fmt.Errorf("%w: type %s, want %s", ErrInvalidEnvelope, e.Type, want)
	}
	if err := json.Unmarshal(e.Data, &v); err != nil {
		return v, fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return v, nil
}
