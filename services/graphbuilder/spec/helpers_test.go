package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// sharedDir finds ../shared (the traces beside the repository) by walking up from the
// package directory; tests that need it skip when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, ok := findShared()
	if !ok {
		t.Skip("shared traces not found beside the repository")
	}
	return dir
}

func findShared() (string, bool) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", false
	}
	for {
		cand := filepath.Join(dir, "shared")
		if _, err := os.Stat(filepath.Join(cand, "traces", "MANIFEST.tsv")); err == nil {
			return cand, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// repoFile finds a file by its path from the repository root (the directory holding
// go.work), walking up from the package directory.
func repoFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "repository root (go.work) not found")
		dir = parent
	}
}

// traceFiles lists every WfFormat file under ../shared/traces and the 1.4 examples.
func traceFiles(t testing.TB) []string {
	t.Helper()
	shared := sharedDir(t)
	var files []string
	for _, root := range []string{filepath.Join(shared, "traces"), filepath.Join(shared, "wfformat", "examples-1.4")} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Ext(path) == ".json" {
				files = append(files, path)
			}
			return err
		})
		require.NoError(t, err)
	}
	require.NotEmpty(t, files)
	return files
}

func mustParse(t testing.TB, data string) *Workflow {
	t.Helper()
	w, err := Parse([]byte(data), DefaultLimits())
	require.NoError(t, err)
	return w
}

// problemsOf parses data and returns its *Error.
func problemsOf(t testing.TB, data string, lim Limits) *Error {
	t.Helper()
	w, err := Parse([]byte(data), lim)
	require.Error(t, err)
	require.Nil(t, w)
	var se *Error
	require.ErrorAs(t, err, &se)
	return se
}
