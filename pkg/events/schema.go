package events

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas are embedded so that every binary validates against exactly the contract it
// was built with, and so docs/asyncapi.yaml can $ref the same files.
//
//go:embed schemas/*.json
var schemaFS embed.FS

// SchemaBaseURL is the base of every schema's $id; schema files refer to each other by
// relative $ref, resolved against it.
const SchemaBaseURL = "https://foresight-run.github.io/schemas/events/"

// EnvelopeSchemaFile and DefsSchemaFile name the two schema files that are not the payload
// of an event type.
const (
	EnvelopeSchemaFile = "envelope.json"
	DefsSchemaFile     = "defs.json"
)

var (
	// ErrNoSchema reports an event type without a JSON Schema (an unknown or misspelt type).
	ErrNoSchema = errors.New("no schema for event type")
	// ErrSchemaViolation reports a payload or envelope that does not match its JSON Schema.
	// A consumer should treat it as a permanent failure: redelivery will not fix it.
	ErrSchemaViolation = errors.New("event does not match its schema")
)

// SchemaFile is the file name of t's payload schema under schemas/.
func SchemaFile(t Type) string { return string(t) + ".json" }

// Schema returns the JSON Schema (draft 2020-12) of the data payload of events of type t.
// It may $ref defs.json; use SchemaFiles to get every file.
func Schema(t Type) ([]byte, error) {
	b, err := schemaFS.ReadFile("schemas/" + SchemaFile(t))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSchema, t)
	}
	return b, nil
}

// SchemaFiles returns every embedded schema file by name (payload schemas, envelope.json
// and defs.json), for publishing them beside the AsyncAPI document.
func SchemaFiles() (map[string][]byte, error) {
	entries, err := fs.ReadDir(schemaFS, "schemas")
	if err != nil {
		return nil, fmt.Errorf("read embedded schemas: %w", err)
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := schemaFS.ReadFile("schemas/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", e.Name(), err)
		}
		files[e.Name()] = b
	}
	return files, nil
}

// compiledSchemas holds every schema compiled once, on first use: compiling is far more
// expensive than validating, and most processes never validate at all.
type compiledSchemas struct {
	envelope *jsonschema.Schema
	data     map[Type]*jsonschema.Schema
}

var compiled = sync.OnceValues(compileSchemas)

func compileSchemas() (*compiledSchemas, error) {
	files, err := SchemaFiles()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for name, b := range files {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", name, err)
		}
		if err := c.AddResource(SchemaBaseURL+name, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", name, err)
		}
	}
	out := &compiledSchemas{data: make(map[Type]*jsonschema.Schema, len(AllTypes))}
	if out.envelope, err = c.Compile(SchemaBaseURL + EnvelopeSchemaFile); err != nil {
		return nil, fmt.Errorf("compile %s: %w", EnvelopeSchemaFile, err)
	}
	for _, t := range AllTypes {
		if _, ok := files[SchemaFile(t)]; !ok {
			continue // reported per call by ValidateData as ErrNoSchema
		}
		s, err := c.Compile(SchemaBaseURL + SchemaFile(t))
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", SchemaFile(t), err)
		}
		out.data[t] = s
	}
	return out, nil
}

// compiledSchema returns the compiled payload schema of t; the tests use it to walk the
// schema beside the Go type.
func compiledSchema(t Type) (*jsonschema.Schema, error) {
	cs, err := compiled()
	if err != nil {
		return nil, err
	}
	s, ok := cs.data[t]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoSchema, t)
	}
	return s, nil
}

// ValidateData checks an encoded payload against the JSON Schema of event type t. It returns
// ErrNoSchema for an unknown type and ErrSchemaViolation (with the violated keywords) when
// the payload does not match.
func ValidateData(t Type, data []byte) error {
	s, err := compiledSchema(t)
	if err != nil {
		return err
	}
	return validate(s, string(t), data)
}

// ValidateEnvelope checks an encoded envelope against envelope.json and its data against the
// schema of the envelope's type.
func ValidateEnvelope(raw []byte) error {
	cs, err := compiled()
	if err != nil {
		return err
	}
	if err := validate(cs.envelope, "envelope", raw); err != nil {
		return err
	}
	e, err := Decode(raw)
	if err != nil {
		return err
	}
	return ValidateData(e.Type, e.Data)
}

func validate(s *jsonschema.Schema, what string, raw []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%w: %s: not JSON: %v", ErrSchemaViolation, what, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSchemaViolation, what, err)
	}
	return nil
}
