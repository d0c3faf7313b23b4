package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeCommands checks that README's first two commands are the benchmark job and the
// test command, and that .ci/run runs the latter exactly.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```bash\n(.*?)\n```").FindAllStringSubmatch(string(readme), -1)
	require.GreaterOrEqual(t, len(blocks), 2)
	bench, test := strings.TrimSpace(blocks[0][1]), strings.TrimSpace(blocks[1][1])
	require.Contains(t, bench, "go run ./examples/bench")
	require.Contains(t, test, "go test")
	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	found := false
	for _, line := range strings.Split(string(ci), "\n") {
		if strings.TrimSpace(line) == test {
			found = true
		}
	}
	require.True(t, found, ".ci/run must run README's test command exactly: %q", test)
}
