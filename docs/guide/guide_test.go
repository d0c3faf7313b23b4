package guide_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// regions returns the code between "// guide:NAME" and "// guide:end" lines in the Go files
// of this directory, by NAME.
func regions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	out := map[string]string{}
	start := regexp.MustCompile(`^// guide:([a-z-]+)$`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var name string
		var body []string
		for _, line := range strings.Split(string(b), "\n") {
			switch m := start.FindStringSubmatch(line); {
			case name == "" && m != nil && m[1] != "end":
				name, body = m[1], nil
			case name != "" && line == "// guide:end":
				require.NotContains(t, out, name, "region %s defined twice", name)
				out[name] = strings.TrimSpace(strings.Join(body, "\n"))
				name = ""
			case name != "":
				body = append(body, line)
			}
		}
		require.Empty(t, name, "%s: region %s has no // guide:end", f, name)
	}
	return out
}

// snippets returns the ```go blocks of guide.md that follow a "<!-- snippet: NAME -->" line.
func snippets(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "guide.md"))
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)<!-- snippet: ([a-z-]+) -->\n```go\n(.*?)\n```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		require.NotContains(t, out, m[1], "snippet %s shown twice", m[1])
		out[m[1]] = strings.TrimSpace(m[2])
	}
	return out
}

var update = flag.Bool("update", false, "rewrite the snippets of docs/guide.md from the example files")

// TestGuideShowsTestedCode checks that every listing in docs/guide.md is, word for word, a
// region of the example files that go test runs, and that every region is shown.
func TestGuideShowsTestedCode(t *testing.T) {
	code := regions(t)
	if *update {
		path := filepath.Join("..", "guide.md")
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		re := regexp.MustCompile("(?s)(<!-- snippet: ([a-z-]+) -->\n```go\n)(.*?)(\n```)")
		md := re.ReplaceAllStringFunc(string(b), func(block string) string {
			m := re.FindStringSubmatch(block)
			return m[1] + code[m[2]] + m[4]
		})
		require.NoError(t, os.WriteFile(path, []byte(md), 0o644))
	}
	shown := snippets(t)
	names := func(m map[string]string) []string {
		var k []string
		for n := range m {
			k = append(k, n)
		}
		sort.Strings(k)
		return k
	}
	require.Equal(t, names(code), names(shown), "regions in the example files vs snippets in guide.md")
	for name, want := range code {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, want, shown[name], "guide.md's snippet %q differs from the tested code: regenerate it", name)
		})
	}
	for _, name := range []string{"lm", "lm-data", "gbnn", "gbrl", "distill", "distill-term",
		"register-optimizer", "register-router", "register-loss", "register-examples"} {
		require.Contains(t, code, name)
	}
}
