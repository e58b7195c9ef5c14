package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// asyncAPIPath is the AsyncAPI document, relative to this package in the repository.
const asyncAPIPath = "../../docs/asyncapi.yaml"

func TestEveryTypeHasSchemaAndFixture(t *testing.T) {
	t.Parallel()
	files, err := SchemaFiles()
	require.NoError(t, err)
	fixtures, err := os.ReadDir("testdata")
	require.NoError(t, err)

	known := make(map[string]bool)
	for _, typ := range AllTypes {
		known[string(typ)] = true
		_, ok := files[SchemaFile(typ)]
		require.True(t, ok, "no schema for %s", typ)
		_, ok = payloadOf[typ]
		require.True(t, ok, "no Go payload type registered in payloadOf for %s", typ)
		_, err := os.Stat("testdata/" + string(typ) + ".json")
		require.NoError(t, err, "no fixture for %s", typ)
	}
	require.Len(t, payloadOf, len(AllTypes))
	for name := range files {
		if name == EnvelopeSchemaFile || name == DefsSchemaFile {
			continue
		}
		require.True(t, known[strings.TrimSuffix(name, ".json")], "schema %s names no type in AllTypes", name)
	}
	for _, f := range fixtures {
		if f.IsDir() {
			continue
		}
		require.True(t, known[strings.TrimSuffix(f.Name(), ".json")], "fixture %s names no type in AllTypes", f.Name())
	}
}

// TestSchemaFilesHeader checks the draft and $id every schema must carry: $id is what
// relative $refs resolve against, in the compiler and in docs/asyncapi.yaml.
func TestSchemaFilesHeader(t *testing.T) {
	t.Parallel()
	files, err := SchemaFiles()
	require.NoError(t, err)
	for name, b := range files {
		var head struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		require.NoError(t, json.Unmarshal(b, &head), name)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", head.Schema, name)
		require.Equal(t, SchemaBaseURL+name, head.ID, name)
	}
	for _, typ := range AllTypes {
		b, err := Schema(typ)
		require.NoError(t, err)
		require.Equal(t, files[SchemaFile(typ)], b)
	}
}

// TestSchemaMatchesGoType walks each Go payload type beside its compiled schema, so the two
// cannot drift: every JSON field of the Go type is declared with a compatible JSON type,
// the schema declares no field the Go type lacks, a field is required exactly when Go always
// emits it (no omitempty or omitzero), and no object forbids additional properties.
func TestSchemaMatchesGoType(t *testing.T) {
	t.Parallel()
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			s, err := compiledSchema(typ)
			require.NoError(t, err)
			var problems []string
			walk(payloadOf[typ].goType, s, "$", &problems)
			require.Empty(t, problems)
		})
	}
}

// resolved is a schema with its $ref and allOf branches flattened, which is all the event
// schemas use to share definitions.
type resolved struct {
	props    map[string]*jsonschema.Schema
	required []string
	types    [][]string // one entry per branch that constrains "type"
	format   string
	items    *jsonschema.Schema
	addl     []any
}

func resolve(s *jsonschema.Schema) resolved {
	r := resolved{props: map[string]*jsonschema.Schema{}}
	var visit func(*jsonschema.Schema)
	visit = func(s *jsonschema.Schema) {
		if s == nil {
			return
		}
		for k, v := range s.Properties {
			r.props[k] = v
		}
		r.required = append(r.required, s.Required...)
		if s.Types != nil {
			r.types = append(r.types, s.Types.ToStrings())
		}
		if s.Format != nil {
			r.format = s.Format.Name
		}
		if s.Items2020 != nil {
			r.items = s.Items2020
		}
		if s.AdditionalProperties != nil {
			r.addl = append(r.addl, s.AdditionalProperties)
		}
		visit(s.Ref)
		for _, a := range s.AllOf {
			visit(a)
		}
	}
	visit(s)
	return r
}

func (r resolved) allows(jsonType string) bool {
	for _, ts := range r.types {
		if !slices.Contains(ts, jsonType) {
			return false
		}
	}
	return len(r.types) > 0
}

type goField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists the JSON fields encoding/json emits for struct type t, flattening
// embedded structs the way encoding/json does.
func jsonFields(t reflect.Type) []goField {
	var out []goField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		tags := strings.Split(opts, ",")
		optional := slices.Contains(tags, "omitempty") || slices.Contains(tags, "omitzero")
		out = append(out, goField{name: name, omitempty: optional, typ: f.Type})
	}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

func walk(t reflect.Type, s *jsonschema.Schema, path string, problems *[]string) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	r := resolve(s)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		if !r.allows("string") || r.format != "date-time" {
			fail("time.Time needs type string, format date-time; schema has %v %q", r.types, r.format)
		}
	case t.Kind() == reflect.Struct:
		if !r.allows("object") {
			fail("struct %s needs type object; schema has %v", t, r.types)
		}
		for _, a := range r.addl {
			if b, ok := a.(bool); ok && !b {
				fail("additionalProperties is false; fields are only ever added, so it must stay open")
			}
		}
		fields := jsonFields(t)
		byName := make(map[string]goField, len(fields))
		for _, f := range fields {
			byName[f.name] = f
			ps, ok := r.props[f.name]
			if !ok {
				fail("schema lacks property %q of %s", f.name, t)
				continue
			}
			walk(f.typ, ps, path+"."+f.name, problems)
		}
		for _, name := range sortedKeys(r.props) {
			if _, ok := byName[name]; !ok {
				fail("schema declares property %q that %s lacks", name, t)
			}
		}
		for _, f := range fields {
			req := slices.Contains(r.required, f.name)
			switch {
			case req && f.omitempty:
				fail("property %q is required but Go omits it when empty", f.name)
			case !req && !f.omitempty:
				fail("property %q is always emitted by Go, so the schema must require it", f.name)
			}
		}
	case t.Kind() == reflect.Slice:
		if !r.allows("array") {
			fail("slice needs type array; schema has %v", r.types)
		}
		if r.items == nil {
			fail("array schema has no items")
			return
		}
		walk(t.Elem(), r.items, path+"[]", problems)
	case t.Kind() == reflect.Map:
		if !r.allows("object") {
			fail("map needs type object; schema has %v", r.types)
		}
		for _, a := range r.addl {
			if es, ok := a.(*jsonschema.Schema); ok {
				walk(t.Elem(), es, path+"{}", problems)
				return
			}
		}
		fail("map schema has no additionalProperties schema for its values")
	case t.Kind() == reflect.String:
		if !r.allows("string") {
			fail("string needs type string; schema has %v", r.types)
		}
	case t.Kind() == reflect.Bool:
		if !r.allows("boolean") {
			fail("bool needs type boolean; schema has %v", r.types)
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if !r.allows("number") {
			fail("float needs type number; schema has %v", r.types)
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if !r.allows("integer") {
			fail("integer needs type integer; schema has %v", r.types)
		}
	default:
		fail("no rule for Go kind %s", t.Kind())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestValidateData checks that the schemas reject what consumers could not use and accept
// what the compatibility rules promise (unknown added fields).
func TestValidateData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     Type
		data    string
		wantErr error
	}{
		{
			name: "minimal task-observed",
			typ:  TypeTaskObserved,
			data: `{"workflow_id":"w","task_id":"a","attempt":1,"vm_id":"v","status":"succeeded","exit_code":0,
				"started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z","runtime_seconds":1,"cpu_seconds":0.5,"peak_rss_bytes":1024}`,
		},
		{
			name: "added field is accepted",
			typ:  TypeReplanRequested,
			data: `{"workflow_id":"w","reason":"drift","severity":"high"}`,
		},
		{
			name:    "missing required field",
			typ:     TypeReplanRequested,
			data:    `{"workflow_id":"w"}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "wrong JSON type",
			typ:     TypeWorkflowCompleted,
			data:    `{"workflow_id":"w","status":"succeeded","tasks":"4","failed_tasks":0,"makespan_seconds":1,"completed_at":"2026-01-01T00:00:00Z"}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "fractional integer",
			typ:     TypeWorkflowCompleted,
			data:    `{"workflow_id":"w","status":"succeeded","tasks":4.5,"failed_tasks":0,"makespan_seconds":1,"completed_at":"2026-01-01T00:00:00Z"}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "bad timestamp",
			typ:     TypeWorkflowCompleted,
			data:    `{"workflow_id":"w","status":"succeeded","tasks":4,"failed_tasks":0,"makespan_seconds":1,"completed_at":"yesterday"}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "negative cores in a nested task",
			typ:     TypeTaskDispatched,
			data:    `{"workflow_id":"w","task_id":"a","attempt":1,"vm_id":"v","plan_version":1,"task":{"id":"a","cpu":-1,"memory_bytes":0}}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "task without id",
			typ:     TypeTaskDispatched,
			data:    `{"workflow_id":"w","task_id":"a","attempt":1,"vm_id":"v","plan_version":1,"task":{"cpu":1,"memory_bytes":0}}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "rejection without problems",
			typ:     TypeWorkflowRejected,
			data:    `{"workflow_id":"w","problems":[]}`,
			wantErr: ErrSchemaViolation,
		},
		{
			name: "plan with no requests encoded as null",
			typ:  TypePlanReady,
			data: `{"workflow_id":"w","version":2,"vm_requests":null,"placements":null,"predicted_makespan_seconds":0,"predicted_cost_usd":0}`,
		},
		{
			name:    "not JSON",
			typ:     TypePlanReady,
			data:    `{"workflow_id":`,
			wantErr: ErrSchemaViolation,
		},
		{
			name:    "unknown type",
			typ:     Type("foresight.no-such-event.v1"),
			data:    `{}`,
			wantErr: ErrNoSchema,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateData(tc.typ, []byte(tc.data))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestValidateEnvelope(t *testing.T) {
	t.Parallel()
	good := string(readFixture(t, TypeVMReleased))
	tests := []struct {
		name    string
		raw     string
		wantErr error
	}{
		{name: "fixture", raw: good},
		{name: "wrong specversion", raw: strings.Replace(good, `"specversion": "1.0"`, `"specversion": "0.3"`, 1), wantErr: ErrSchemaViolation},
		{name: "unversioned type", raw: strings.Replace(good, `"foresight.vm-released.v1"`, `"foresight.vm-released"`, 1), wantErr: ErrSchemaViolation},
		{name: "data violates its type", raw: strings.Replace(good, `"state": "terminated"`, `"state": 3`, 1), wantErr: ErrSchemaViolation},
		{name: "no time", raw: strings.Replace(good, `"time":`, `"when":`, 1), wantErr: ErrSchemaViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.wantErr != nil {
				require.NotEqual(t, good, tc.raw, "the replacement did not apply to the fixture")
			}
			err := ValidateEnvelope([]byte(tc.raw))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func BenchmarkValidateData(b *testing.B) {
	for _, typ := range AllTypes {
		b.Run(string(typ), func(b *testing.B) {
			e, err := Decode(mustRead(b, "testdata/"+string(typ)+".json"))
			require.NoError(b, err)
			b.ReportAllocs()
			b.SetBytes(int64(len(e.Data)))
			for b.Loop() {
				if err := ValidateData(e.Type, e.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	return b
}

// TestAsyncAPIListsEveryType keeps docs/asyncapi.yaml in step with the code: one channel per
// type at the subject Subject builds, a payload that $refs the type's schema file, and the
// type's fixture as the message example.
func TestAsyncAPIListsEveryType(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(asyncAPIPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("docs/asyncapi.yaml is not beside this module (built outside the repository)")
	}
	require.NoError(t, err)
	var doc struct {
		AsyncAPI string `yaml:"asyncapi"`
		Channels map[string]struct {
			Address  string `yaml:"address"`
			Messages map[string]struct {
				Ref string `yaml:"$ref"`
			} `yaml:"messages"`
		} `yaml:"channels"`
		Components struct {
			Messages map[string]struct {
				Name    string `yaml:"name"`
				Payload struct {
					AllOf []struct {
						Ref        string `yaml:"$ref"`
						Properties struct {
							Type struct {
								Const string `yaml:"const"`
							} `yaml:"type"`
							Data struct {
								Ref string `yaml:"$ref"`
							} `yaml:"data"`
						} `yaml:"properties"`
					} `yaml:"allOf"`
				} `yaml:"payload"`
				Examples []struct {
					Payload any `yaml:"payload"`
				} `yaml:"examples"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.Equal(t, "3.0.0", doc.AsyncAPI)
	require.Len(t, doc.Channels, len(AllTypes), "one channel per type in AllTypes")

	byAddress := make(map[string]string)
	for name, ch := range doc.Channels {
		byAddress[ch.Address] = name
	}
	for _, typ := range AllTypes {
		chName, ok := byAddress[Subject(typ, "{workflowId}")]
		require.True(t, ok, "no channel for %s", typ)
		ch := doc.Channels[chName]
		require.Len(t, ch.Messages, 1, chName)
		for _, m := range ch.Messages {
			msgName := strings.TrimPrefix(m.Ref, "#/components/messages/")
			msg, ok := doc.Components.Messages[msgName]
			require.True(t, ok, "%s refers to missing message %s", chName, m.Ref)
			require.Equal(t, string(typ), msg.Name)
			require.Len(t, msg.Payload.AllOf, 2, msgName)
			require.Equal(t, "../pkg/events/schemas/"+EnvelopeSchemaFile, msg.Payload.AllOf[0].Ref)
			require.Equal(t, string(typ), msg.Payload.AllOf[1].Properties.Type.Const)
			require.Equal(t, "../pkg/events/schemas/"+SchemaFile(typ), msg.Payload.AllOf[1].Properties.Data.Ref)
			require.Len(t, msg.Examples, 1, msgName)
			example, err := json.Marshal(msg.Examples[0].Payload)
			require.NoError(t, err)
			require.JSONEq(t, string(readFixture(t, typ)), string(example), "the example of %s is not its fixture", typ)
		}
	}
}
