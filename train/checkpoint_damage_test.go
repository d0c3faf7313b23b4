package train_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/stretchr/testify/require"
)

// copyDir copies the regular files of src (not the staging directory) into a new temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	return dst
}

// removeCheckpoint deletes every file of checkpoint base in dir.
func removeCheckpoint(t *testing.T, dir, base string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, base+".*"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	for _, m := range matches {
		require.NoError(t, os.Remove(m))
	}
}

// captureWarnings routes train.Warnf into a slice for the duration of the test.
func captureWarnings(t *testing.T) *[]string {
	t.Helper()
	var lines []string
	prev := train.Warnf
	train.Warnf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	t.Cleanup(func() { train.Warnf = prev })
	return &lines
}

// TestResumeFromDamagedCheckpoint damages the newest of two checkpoints (step 100) in every
// way a crash, a full disk or a bad copy can, and checks that the run resumes from the older
// one (step 50) with one warning naming the skipped checkpoint, ending bit-identical to a run
// resumed from a directory that only ever held the step-50 checkpoint.
func TestResumeFromDamagedCheckpoint(t *testing.T) {
	const resumeTo = 70
	ctx := context.Background()
	base := t.TempDir()
	_, err := train.Run(ctx, resumeConfig(t, base, 100)) // Checkpoints at steps 50 and 100 (keep 2).
	require.NoError(t, err)
	ck, err := train.OpenCheckpoint(model.NewStore(), copyDir(t, base), 2)
	require.NoError(t, err)
	names, err := ck.List()
	require.NoError(t, err)
	require.Len(t, names, 2)
	older, newest := names[0], names[1]
	require.Contains(t, older, "step-00000050")
	require.Contains(t, newest, "step-00000100")

	// The reference: an uninterrupted run from the step-50 checkpoint.
	refDir := copyDir(t, base)
	removeCheckpoint(t, refDir, newest)
	ref, err := train.Run(ctx, resumeConfig(t, refDir, resumeTo))
	require.NoError(t, err)
	require.Equal(t, 50, ref.StartStep)
	want := snapshot(t, ref.Store)

	truncate := func(frac float64, delta int) func([]byte) []byte {
		return func(b []byte) []byte { return b[:int(frac*float64(len(b)))+delta] }
	}
	garbage := func(at float64) func([]byte) []byte {
		return func(b []byte) []byte {
			r := rand.New(rand.NewPCG(1, 2))
			out := append([]byte(nil), b...)
			start := min(int(at*float64(len(b))), len(b)-16)
			for i := start; i < start+16; i++ {
				out[i] ^= byte(1 + r.IntN(255)) // Never a no-op.
			}
			return out
		}
	}
	cases := []struct {
		name   string
		ext    string // the file of the newest checkpoint that is damaged
		damage func([]byte) []byte
		noSum  bool // remove the checksum records: GoMLX's decoder must catch it alone
		reason string
	}{
		{"bin truncated at 0", ".bin", truncate(0, 0), false, "is 0 bytes"},
		{"bin truncated at 1", ".bin", truncate(0, 1), false, "is 1 bytes"},
		{"bin truncated at half", ".bin", truncate(0.5, 0), false, "truncated or extended"},
		{"bin truncated at len-1", ".bin", truncate(1, -1), false, "truncated or extended"},
		{"bin garbage bytes", ".bin", garbage(0.5), false, "overwritten"},
		{"bin garbage in header", ".bin", garbage(0), false, "overwritten"},
		{"bin extended", ".bin", func(b []byte) []byte { return append(b, 0) }, false, "truncated or extended"},
		{"json truncated at 0", ".json", truncate(0, 0), false, "is 0 bytes"},
		{"json truncated at 1", ".json", truncate(0, 1), false, "is 1 bytes"},
		{"json truncated at half", ".json", truncate(0.5, 0), false, "truncated or extended"},
		{"json truncated at len-1", ".json", truncate(1, -1), false, "truncated or extended"},
		{"json garbage bytes", ".json", garbage(0.5), false, "overwritten"},
		{"checksum record damaged", ".crc32c", truncate(0.5, 0), false, "malformed"},
		// Checkpoints without a checksum record (written by GoMLX itself or an older moeboost).
		{"no record: bin truncated at 0", ".bin", truncate(0, 0), true, "header"},
		{"no record: bin truncated at half", ".bin", truncate(0.5, 0), true, "unexpected EOF"},
		{"no record: bin truncated at len-1", ".bin", truncate(1, -1), true, "unexpected EOF"},
		{"no record: bin garbage bytes", ".bin", garbage(0.5), true, "gzip"},
		{"no record: json truncated at half", ".json", truncate(0.5, 0), true, "failed to decode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			warnings := captureWarnings(t)
			dir := copyDir(t, base)
			if c.noSum {
				for _, n := range names {
					require.NoError(t, os.Remove(filepath.Join(dir, n+".crc32c")))
				}
			}
			path := filepath.Join(dir, newest+c.ext)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, c.damage(b), 0o644))

			res, err := train.Run(ctx, resumeConfig(t, dir, resumeTo))
			require.NoError(t, err)
			require.Equal(t, 50, res.StartStep, "resumed from the older checkpoint")
			require.Equal(t, resumeTo, res.Steps)
			require.Len(t, *warnings, 1, "one warning")
			w := (*warnings)[0]
			t.Log(w)
			require.NotContains(t, w, "\n")
			require.Contains(t, w, "skipping damaged checkpoint "+filepath.Join(dir, newest)+": ")
			require.Contains(t, w, c.reason)
			require.Contains(t, w, "resuming from "+older)
			got := snapshot(t, res.Store)
			require.Equal(t, len(want), len(got))
			for k, v := range want {
				require.Equal(t, v, got[k], "variable %s differs from the run resumed from %s", k, older)
			}
			// The damaged files were renamed aside, not deleted, and no longer count.
			_, err = os.Stat(filepath.Join(dir, newest+".json.damaged"))
			require.NoError(t, err)
			_, err = os.Stat(filepath.Join(dir, newest+".json"))
			require.True(t, os.IsNotExist(err))
			ck, err := train.OpenCheckpoint(model.NewStore(), dir, 2)
			require.NoError(t, err)
			require.Contains(t, ck.Loaded(), fmt.Sprintf("step-%08d", resumeTo))
			require.Empty(t, ck.Skipped())
			require.Len(t, *warnings, 1, "a later resume does not warn again")
		})
	}
}

// TestNoIntactCheckpoint: when every checkpoint is damaged, opening fails with an error that
// names each file tried and why, and renames nothing.
func TestNoIntactCheckpoint(t *testing.T) {
	warnings := captureWarnings(t)
	dir := t.TempDir()
	_, err := train.Run(context.Background(), resumeConfig(t, dir, 100))
	require.NoError(t, err)
	ck, err := train.OpenCheckpoint(model.NewStore(), dir, 2)
	require.NoError(t, err)
	names, err := ck.List()
	require.NoError(t, err)
	require.Len(t, names, 2)
	require.NoError(t, os.Truncate(filepath.Join(dir, names[0]+".bin"), 10))
	require.NoError(t, os.WriteFile(filepath.Join(dir, names[1]+".json"), []byte("{"), 0o644))

	_, err = train.OpenCheckpoint(model.NewStore(), dir, 2)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "no intact checkpoint in "+dir)
	require.Less(t, strings.Index(msg, names[1]), strings.Index(msg, names[0]), "newest first: %s", msg)
	require.Contains(t, msg, "its .json is 1 bytes")
	require.Contains(t, msg, "its .bin is 10 bytes")
	require.Empty(t, *warnings)
	_, err = train.Run(context.Background(), resumeConfig(t, dir, 150))
	require.ErrorContains(t, err, "no intact checkpoint")
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range after {
		require.False(t, strings.HasSuffix(e.Name(), ".damaged"), e.Name())
	}
}

// TestIntactButUnloadableCheckpoint: a checkpoint whose files match their checksum record but
// that GoMLX cannot load (here: a compression format it does not know, as a newer GoMLX might
// write) is not damage: opening fails with GoMLX's error instead of silently resuming from an
// older checkpoint, and nothing is renamed.
func TestIntactButUnloadableCheckpoint(t *testing.T) {
	warnings := captureWarnings(t)
	dir := t.TempDir()
	_, err := train.Run(context.Background(), resumeConfig(t, dir, 100))
	require.NoError(t, err)
	ck, err := train.OpenCheckpoint(model.NewStore(), dir, 2)
	require.NoError(t, err)
	names, err := ck.List()
	require.NoError(t, err)
	newest := filepath.Join(dir, names[1])

	bin, err := os.ReadFile(newest + ".bin")
	require.NoError(t, err)
	const header = "gomlx_checkpointss\x04gzip" // GoMLX's header of a gzip-compressed data file
	require.True(t, strings.HasPrefix(string(bin), header))
	bin = append([]byte("gomlx_checkpointss\x04zstd"), bin[len(header):]...)
	require.NoError(t, os.WriteFile(newest+".bin", bin, 0o644))
	js, err := os.ReadFile(newest + ".json")
	require.NoError(t, err)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	record := fmt.Sprintf("%08x %d .bin\n%08x %d .json\n", crc32.Checksum(bin, castagnoli), len(bin),
		crc32.Checksum(js, castagnoli), len(js))
	require.NoError(t, os.WriteFile(newest+".crc32c", []byte(record), 0o644))

	_, err = train.OpenCheckpoint(model.NewStore(), dir, 2)
	require.ErrorContains(t, err, "loading checkpoint "+names[1])
	require.ErrorContains(t, err, "unsupported compression")
	require.Empty(t, *warnings)
	_, err = os.Stat(newest + ".json")
	require.NoError(t, err, "not renamed")
}
