package golden

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeTB records failures; Fatalf ends the calling goroutine as testing.T's does.
type fakeTB struct {
	errors []string
	fatal  bool
	logs   []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
	f.fatal = true
	runtime.Goexit()
}

// run calls fn with a fake TB in its own goroutine (so Fatalf can stop it) and returns the fake.
func run(fn func(t TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func (f *fakeTB) failed() bool { return len(f.errors) > 0 }

func TestRequireClose(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name       string
		got, want  []float64
		atol, rtol float64
		fail       string // substring of the failure, "" for a pass
	}{
		{"equal", []float64{1, 2}, []float64{1, 2}, 0, 0, ""},
		{"within atol", []float64{1 + 1e-13}, []float64{1}, 1e-12, 0, ""},
		{"within rtol", []float64{1000.0000001}, []float64{1000}, 0, 1e-9, ""},
		{"over tolerance", []float64{1, 2.001}, []float64{1, 2}, 1e-6, 1e-6, "x[1]"},
		{"NaN got", []float64{nan}, []float64{1}, 1, 1, "NaN"},
		{"NaN got, huge tolerance", []float64{0, nan}, []float64{0, 0}, math.MaxFloat64, 1, "x[1]"},
		{"NaN want", []float64{1}, []float64{nan}, 1, 1, "NaN"},
		{"NaN both", []float64{nan}, []float64{nan}, 0, 0, ""},
		{"same infinity", []float64{-inf}, []float64{-inf}, 0, 0, ""},
		{"other infinity", []float64{inf}, []float64{-inf}, 1, 1, "x[0]"},
		{"infinite got", []float64{inf}, []float64{1e300}, 1, 1, "x[0]"},
		{"shorter", []float64{1}, []float64{1, 2}, 1, 1, "got 1 values, want 2"},
		{"longer", []float64{1, 2, 3}, []float64{1, 2}, 1, 1, "got 3 values, want 2"},
		{"nil vs empty", nil, []float64{}, 0, 0, ""},
		{"empty vs one", nil, []float64{0}, 0, 0, "got 0 values, want 1"},
		{"negative tolerance", []float64{1}, []float64{1}, -1, 0, "tolerance"},
		{"NaN tolerance", []float64{1}, []float64{1}, nan, 0, "tolerance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := run(func(tb TB) { RequireClose(tb, "x", tc.got, tc.want, tc.atol, tc.rtol) })
			if tc.fail == "" {
				require.False(t, f.failed(), "%v", f.errors)
				return
			}
			require.True(t, f.fatal, "%s must fail", tc.name)
			require.Contains(t, strings.Join(f.errors, "\n"), tc.fail)
			require.Error(t, Compare("x", tc.got, tc.want, tc.atol, tc.rtol))
		})
	}
	// The comparison the issue names, abs(got-want) > tol, passes NaN; ours does not.
	require.False(t, math.Abs(nan-1) > 1e-9, "the old comparison lets NaN through")
	require.Error(t, Compare("x", []float64{nan}, []float64{1}, 1e-9, 0))
	f := run(func(tb TB) { RequireScalar(tb, "loss", nan, 0.5, 1e-12, 1e-9) })
	require.True(t, f.fatal)
	require.Contains(t, f.errors[0], "loss[0]")
	require.InDelta(t, 0.25, Ratio([]float64{1.5}, []float64{1}, 2, 0), 1e-15)
}

// writeFiles creates name → content files in dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

// tempRoots points the own directories at two temporary roots (shared, repository copy) for
// the test and returns them.
func tempRoots(t *testing.T) [2]string {
	t.Helper()
	saved := roots
	t.Cleanup(func() { roots = saved })
	roots = [2]string{filepath.Join(t.TempDir(), "shared"), filepath.Join(t.TempDir(), "repo")}
	return roots
}

// fakeKind creates a kind directory in a temporary repository copy holding files.
func fakeKind(t *testing.T, files map[string]string) string {
	t.Helper()
	r := tempRoots(t)
	writeFiles(t, filepath.Join(r[1], "fake"), files)
	return "fake"
}

// recognize: {"case": ...} is mine, {"other": ...} is another test's.
func recognize(f File) Verdict {
	switch {
	case f.Has("case"):
		return Mine
	case f.Has("other"):
		return Other
	}
	return Unknown
}

func names(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestSelect(t *testing.T) {
	t.Setenv(EnvDirs, "")
	good := map[string]string{"a.json": `{"case": 1}`, "b.json": `{"case": 2}`, "s.json": `{"other": 1}`, "README.md": "# doc", "gen.py": "print(1)"}
	for _, tc := range []struct {
		name  string
		extra map[string]string // added to the own directory
		fail  string
	}{
		{"all recognized", nil, ""},
		{"unknown file in own dir", map[string]string{"c.json": `{"something": 1}`}, "c.json is not a"},
		{"unparsable file in own dir", map[string]string{"c.json": `{"case": 1`}, "c.json"},
		{"JSON that is not an object", map[string]string{"c.json": `[1, 2]`}, "c.json"},
		{"stray file in own dir", map[string]string{"c.bin": `x`}, "c.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range good {
				files[k] = v
			}
			for k, v := range tc.extra {
				files[k] = v
			}
			kind := fakeKind(t, files)
			var got []File
			f := run(func(tb TB) { got = Select(tb, kind, recognize) })
			if tc.fail == "" {
				require.False(t, f.failed(), "%v", f.errors)
				require.Equal(t, []string{"a", "b"}, names(got))
				require.True(t, got[0].Own)
				return
			}
			require.True(t, f.fatal)
			require.Contains(t, strings.Join(f.errors, "\n"), tc.fail)
		})
	}
	t.Run("no case of this test in own dir", func(t *testing.T) {
		kind := fakeKind(t, map[string]string{"s.json": `{"other": 1}`})
		f := run(func(tb TB) { Select(tb, kind, recognize) })
		require.True(t, f.fatal)
		require.Contains(t, f.errors[0], "none of the 1 files")
	})
	t.Run("missing kind", func(t *testing.T) {
		f := run(func(tb TB) { Select(tb, "zz_no_such_kind", recognize) })
		require.True(t, f.fatal)
	})
	t.Run("bad kind", func(t *testing.T) {
		f := run(func(tb TB) { Files(tb, "../optimizers") })
		require.True(t, f.fatal)
		require.Contains(t, f.errors[0], `"../optimizers"`)
	})
}

func TestSelectExtraDirs(t *testing.T) {
	kind := fakeKind(t, map[string]string{"a.json": `{"case": 1}`, "s.json": `{"other": 1}`})
	extra := t.TempDir()
	// Mixed kinds, nested directories, unparsable and unknown files are fine here.
	writeFiles(t, extra, map[string]string{
		"x.json":       `{"case": 3}`,
		"a.json":       `{"case": 1}`,   // the same vectors as the own a.json: run once
		"junk.json":    `{"case": `,     // not JSON: skipped
		"moe.json":     `{"moe": true}`, // another test's kind: skipped
		"notes.md":     "text",
		"weights.bin":  "x",
		"s_other.json": `{"other": 2}`,
	})
	writeFiles(t, filepath.Join(extra, "sub"), map[string]string{"a.json": `{"case": 9}`}) // same name, new vectors
	writeFiles(t, filepath.Join(extra, ".hidden"), map[string]string{"h.json": `{"case": 9}`})
	t.Setenv(EnvDirs, extra+"::"+extra)
	var got []File
	f := run(func(tb TB) { got = Select(tb, kind, recognize) })
	require.False(t, f.failed(), "%v", f.errors)
	require.Equal(t, []string{"a", "a@sub", "x"}, names(got))
	require.True(t, got[0].Own)
	require.False(t, got[1].Own)
	require.Equal(t, filepath.Join(extra, "sub", "a.json"), got[1].Path)

	t.Setenv(EnvDirs, filepath.Join(extra, "no_such_dir"))
	f = run(func(tb TB) { Select(tb, kind, recognize) })
	require.True(t, f.fatal, "a listed directory that does not exist must fail")
	require.Contains(t, f.errors[0], "no_such_dir")
}

// The union: a file only in the repository's copy and one only in the shared directory are both
// read; a name in both is read once (the shared copy).
func TestFilesUnion(t *testing.T) {
	t.Setenv(EnvDirs, "")
	r := tempRoots(t)
	writeFiles(t, filepath.Join(r[0], "k"), map[string]string{"both.json": `{"case": "shared"}`, "shared_only.json": `{"case": 1}`})
	writeFiles(t, filepath.Join(r[1], "k"), map[string]string{"both.json": `{"case": "repo"}`, "repo_only.json": `{"case": 2}`})
	var got []File
	f := run(func(tb TB) { got = Files(tb, "k") })
	require.False(t, f.failed(), "%v", f.errors)
	require.Equal(t, []string{"both", "shared_only", "repo_only"}, names(got))
	require.Equal(t, `{"case": "shared"}`, string(got[0].Data), "the shared copy wins")
	require.Contains(t, strings.Join(f.logs, "\n"), "differs", "a differing repository copy is logged")
	for _, g := range got {
		require.True(t, g.Own)
	}
	// Only one of the two copies present: still read.
	require.NoError(t, os.RemoveAll(filepath.Join(r[0], "k")))
	f = run(func(tb TB) { got = Files(tb, "k") })
	require.False(t, f.failed(), "%v", f.errors)
	require.Equal(t, []string{"both", "repo_only"}, names(got))
}

// The real kinds: the union holds every file of both copies.
func TestFilesRealKinds(t *testing.T) {
	require.Equal(t, filepath.Join(Root(), "testdata", "golden", "moe"), OwnDirs("moe")[1])
	t.Setenv(EnvDirs, "")
	for _, kind := range []string{"optimizers", "distill", "moe", "gbnn", "envs"} {
		t.Run(kind, func(t *testing.T) {
			want := map[string]bool{}
			for _, dir := range OwnDirs(kind) {
				m, err := filepath.Glob(filepath.Join(dir, "*.json"))
				require.NoError(t, err)
				for _, p := range m {
					want[strings.TrimSuffix(filepath.Base(p), ".json")] = true
				}
			}
			require.NotEmpty(t, want, "no %s golden files in %v", kind, OwnDirs(kind))
			var got []File
			f := run(func(tb TB) { got = Files(tb, kind) })
			require.False(t, f.failed(), "%v", f.errors)
			require.Len(t, got, len(want))
			for _, g := range got {
				require.True(t, want[g.Name], g.Name)
			}
		})
	}
}

func TestRequireCount(t *testing.T) {
	require.False(t, run(func(tb TB) { RequireCount(tb, 3, 3, "cases") }).failed())
	f := run(func(tb TB) { RequireCount(tb, 2, 3, "cases") })
	require.True(t, f.fatal)
	require.Contains(t, f.errors[0], "cases: 2, want 3")
}

func TestDirsCompat(t *testing.T) {
	extra := t.TempDir()
	t.Setenv(EnvDirs, extra+":/no/such/dir:")
	dirs := Dirs("moe")
	require.Len(t, dirs, 2)
	require.Equal(t, extra, dirs[1])
	_, err := os.Stat(filepath.Join(Root(), "go.mod"))
	require.NoError(t, err)
}

// TestRunFixture runs two cases through Run; with GOLDEN_RUN_FIXTURE=skip (set by
// TestRunFailsOnSkip in a child process) the second one skips itself.
func TestRunFixture(t *testing.T) {
	mode := os.Getenv("GOLDEN_RUN_FIXTURE")
	ran := []string{}
	Run(t, []File{{Name: "a"}, {Name: "b"}}, func(t *testing.T, f File) {
		ran = append(ran, f.Name)
		if mode == "skip" && f.Name == "b" {
			t.Skip("b skips itself")
		}
	})
	require.Equal(t, []string{"a", "b"}, ran)
}

// A skipped golden case fails its test and the count (skipping is how a golden set shrinks
// silently).
func TestRunFailsOnSkip(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunFixture$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOLDEN_RUN_FIXTURE=skip")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a skipped case must fail:\n%s", out)
	require.Contains(t, string(out), "was skipped; every golden case must run")
	require.Contains(t, string(out), "golden cases completed: 1, want 2")
}
