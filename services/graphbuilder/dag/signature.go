package dag

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"slices"
	"strings"

	"github.com/foresight-run/foresight/pkg/events"
)

// maxSignatureLen bounds a signature's length; longer ones are shortened with a hash so
// that history keys stay small and still stable.
const maxSignatureLen = 200

// Signature is the stable key under which a task's history is kept: its workflow family,
// its category and the shape of its command — the program's base name, a leading
// subcommand word and the set of flag names — but not the values, which change from run
// to run (file names, chunk numbers). Two runs of one workflow family give their
// corresponding tasks the same signature.
func Signature(family string, t events.Task) string {
	var b strings.Builder
	b.WriteString(family)
	b.WriteByte('/')
	b.WriteString(t.Category)
	b.WriteByte('/')
	b.WriteString(CommandShape(t.Command))
	s := b.String()
	if len(s) <= maxSignatureLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:maxSignatureLen-17] + "#" + hex.EncodeToString(sum[:8])
}

// CommandShape is the program's base name, followed by its subcommand when the first
// argument is a bare word (as in "bwa mem" or "git commit"), then the sorted, distinct
// flag names ("-t", "--threads"; "--k=v" counts as "--k"). Positional values are dropped.
func CommandShape(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	parts := []string{path.Base(argv[0])}
	var flags []string
	for k, arg := range argv[1:] {
		switch {
		case strings.HasPrefix(arg, "-") && len(arg) > 1 && !isNumber(arg):
			name, _, _ := strings.Cut(arg, "=")
			flags = append(flags, name)
		case k == 0 && isWord(arg):
			parts = append(parts, arg)
		}
	}
	slices.Sort(flags)
	parts = append(parts, slices.Compact(flags)...)
	return strings.Join(parts, " ")
}

// isWord reports whether s looks like a subcommand: lower-case letters and dashes only,
// so file names, numbers and paths are not mistaken for one.
func isWord(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '-' {
			return false
		}
	}
	return true
}

// isNumber reports whether s is a (possibly negative) number, which is a value, not a flag.
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' {
			return false
		}
	}
	return true
}
