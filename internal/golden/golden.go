// Package golden finds the golden-vector directories that moeboost's golden tests read.
package golden

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvDirs is the environment variable listing extra golden directories (colon-separated).
// Directories may mix kinds: each golden test takes the files whose content it recognizes.
const EnvDirs = "MOEBOOST_GOLDEN_DIR"

// Root returns the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Dirs returns the directories a golden test of area ("optimizers", "moe", "distill", ...)
// reads: the shared golden directory next to the repository (../shared/golden/<area>) if it
// exists, else the repository's copy (testdata/golden/<area>), then every directory listed in
// $MOEBOOST_GOLDEN_DIR that exists.
func Dirs(area string) []string {
	root := Root()
	var dirs []string
	shared := filepath.Join(root, "..", "shared", "golden", area)
	if st, err := os.Stat(shared); err == nil && st.IsDir() {
		dirs = append(dirs, shared)
	} else {
		dirs = append(dirs, filepath.Join(root, "testdata", "golden", area))
	}
	for _, d := range strings.Split(os.Getenv(EnvDirs), ":") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Files returns the *.json files of dirs, each path once, in directory order.
func Files(dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, "*.json"))
		for _, m := range matches {
			abs, _ := filepath.Abs(m)
			if !seen[abs] {
				seen[abs] = true
				out = append(out, m)
			}
		}
	}
	return out
}
