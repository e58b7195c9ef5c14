package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse detects the format of data — native JSON, native YAML, WfFormat 1.4 or 1.5 — and
// returns the validated workflow, or an *Error listing every problem found (syntax,
// unknown fields, wrong types, limits and everything Validate checks).
func Parse(data []byte, lim Limits) (*Workflow, error) {
	lim = lim.withDefaults()
	var p problems
	if int64(len(data)) > lim.MaxBodyBytes {
		p.limit("", "body", "%d bytes exceed the limit of %d", len(data), lim.MaxBodyBytes)
		return nil, p.err()
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		p.add("", "body", "empty document")
		return nil, p.err()
	}

	var w *Workflow
	if trimmed[0] == '{' {
		w = parseJSON(data, lim, &p) // untrimmed, so error lines count from the top
	} else {
		w = parseYAML(data, lim, &p)
	}
	if w == nil || p.tooLarge {
		// Past a limit, stop: validating would do the work the limit exists to prevent.
		return nil, p.err()
	}
	p.sealDecoding()
	validate(w, lim, &p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return w, nil
}

func parseJSON(data []byte, lim Limits, p *problems) *Workflow {
	depth, topKeys := scanJSON(data)
	if depth > lim.MaxDepth {
		p.limit("", "body", "nesting depth %d exceeds the limit of %d", depth, lim.MaxDepth)
		return nil
	}
	if slices.Contains(topKeys, "workflow") && !slices.Contains(topKeys, "tasks") {
		// A WfFormat instance: decode straight into its typed form, one pass.
		return parseWfFormat(data, lim, p)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		p.add("", "body", "invalid JSON: %s", jsonErrorDetail(data, err))
		return nil
	}
	if _, err := dec.Token(); err != io.EOF {
		p.add("", "body", "invalid JSON: data after the top-level value")
		return nil
	}
	return decodeNative(doc, lim, p)
}

func parseYAML(data []byte, lim Limits, p *problems) *Workflow {
	var doc any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		p.add("", "body", "invalid YAML (or JSON): %s", err)
		return nil
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		p.add("", "body", "invalid YAML: more than one document")
		return nil
	}
	if d := treeDepth(doc, 0, lim.MaxDepth+1); d > lim.MaxDepth {
		p.limit("", "body", "nesting depth %d exceeds the limit of %d", d, lim.MaxDepth)
		return nil
	}
	if m, ok := doc.(map[string]any); ok {
		if _, wf := m["workflow"]; wf {
			// A WfFormat instance written as YAML: hand it to the JSON importer.
			js, err := json.Marshal(doc)
			if err != nil {
				p.add("", "body", "cannot read WfFormat document: %s", err)
				return nil
			}
			return parseWfFormat(js, lim, p)
		}
	}
	return decodeNative(doc, lim, p)
}

// scanJSON returns the deepest nesting of objects and arrays and the keys of the
// top-level object, scanning bytes before any decoder builds a tree: a deeply nested body
// is refused cheaply, and the format is known without a decoding pass. Malformed input
// gives meaningless answers, which the decoder then reports properly.
func scanJSON(data []byte) (deepest int, topKeys []string) {
	depth := 0
	inString, escaped := false, false
	stringStart := 0
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 1 && isKey(data[i+1:]) {
					topKeys = append(topKeys, string(data[stringStart:i]))
				}
			}
		case c == '"':
			inString, stringStart = true, i+1
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest, topKeys
}

// isKey reports whether the bytes after a closing quote start with a colon, i.e. the
// string was an object key.
func isKey(rest []byte) bool {
	for _, c := range rest {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// treeDepth is the nesting depth of a decoded YAML tree, stopping once it passes limit.
func treeDepth(v any, depth, limit int) int {
	if depth > limit {
		return depth
	}
	deepest := depth
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			deepest = max(deepest, treeDepth(x, depth+1, limit))
		}
	case map[any]any:
		for _, x := range t {
			deepest = max(deepest, treeDepth(x, depth+1, limit))
		}
	case []any:
		for _, x := range t {
			deepest = max(deepest, treeDepth(x, depth+1, limit))
		}
	}
	return deepest
}

// jsonErrorDetail adds the line and column to a decoder's error.
func jsonErrorDetail(data []byte, err error) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d: %s", line, col, strings.TrimPrefix(err.Error(), "json: "))
}
