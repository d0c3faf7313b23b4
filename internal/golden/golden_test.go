package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDirs(t *testing.T) {
	extra := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(extra, "x.json"), []byte("{}"), 0o644))
	t.Setenv(EnvDirs, extra+":/no/such/dir:")
	dirs := Dirs("moe")
	require.Len(t, dirs, 2)
	require.Equal(t, extra, dirs[1])
	files := Files(append(dirs, extra))
	require.Contains(t, files, filepath.Join(extra, "x.json"))
	require.NotEmpty(t, files[:len(files)-1], "the moe golden files are found (shared or the repository copy)")
	_, err := os.Stat(filepath.Join(Root(), "go.mod"))
	require.NoError(t, err)
}
