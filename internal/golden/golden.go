// Package golden is the shared machinery of moeboost's golden tests: which files a test reads,
// which of them it must recognize, how it compares numbers, and that it ran every case.
//
// A golden test of kind KIND ("optimizers", "moe", "distill", "gbnn", "envs", ...) reads
//
//   - its own directories: the shared vectors beside the repository (../shared/golden/KIND)
//     and the repository's copy (testdata/golden/KIND), as a union de-duplicated by file name
//     (the shared file wins; a differing repository copy is logged);
//   - every directory listed in $MOEBOOST_GOLDEN_DIR (colon-separated, searched recursively).
//     These may mix kinds, so a test takes the files it recognizes there and skips the rest.
//
// In its own directories a test must recognize every *.json file, either as a case it runs
// (Mine) or as a format of that directory another test runs (Other, e.g. the StableMax vectors
// beside the optimizer vectors); an unparsable or unknown file fails the test. Documentation
// (*.md) and generator scripts (*.py) may sit beside the vectors.
//
// Typical use:
//
//	files := golden.Select(t, "optimizers", func(f golden.File) golden.Verdict {
//		if f.Has("optimizer", "params_initial", "params_after_each_step") {
//			return golden.Mine
//		}
//		if f.String("function") == "StableMax" {
//			return golden.Other
//		}
//		return golden.Unknown
//	})
//	golden.Run(t, files, func(t *testing.T, f golden.File) {
//		... golden.RequireClose(t, "step 3 w", got, want, atol, rtol) ...
//	})
//
// Run names each subtest after its file, fails a case that is skipped, and asserts that the
// number of cases that ran to the end equals the number of files selected. RequireClose fails
// on a length mismatch and on NaN (unless the golden value is NaN too).
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// EnvDirs is the environment variable listing extra golden directories (colon-separated).
// Directories may mix kinds: each golden test takes the files whose content it recognizes.
const EnvDirs = "MOEBOOST_GOLDEN_DIR"

// Root returns the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// roots are the parents of the kind directories: the shared vectors beside the repository,
// then the repository's copy (a variable so this package's tests can use temporary ones).
var roots = func() [2]string {
	root := Root()
	return [2]string{filepath.Join(filepath.Dir(root), "shared", "golden"), filepath.Join(root, "testdata", "golden")}
}()

// OwnDirs returns the own directories of kind, existing or not: ../shared/golden/KIND beside
// the repository, then the repository's testdata/golden/KIND.
func OwnDirs(kind string) []string {
	return []string{filepath.Join(roots[0], kind), filepath.Join(roots[1], kind)}
}

// ExtraDirs returns the directories listed in $MOEBOOST_GOLDEN_DIR, in order, blanks dropped.
func ExtraDirs() []string {
	var dirs []string
	for _, d := range strings.Split(os.Getenv(EnvDirs), ":") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// Dirs returns the shared golden directory of kind if it exists, else the repository's copy,
// then every existing directory of $MOEBOOST_GOLDEN_DIR.
//
// Deprecated: it reads one own directory instead of the union and does not recurse into the
// extra directories; use Files or Select.
func Dirs(kind string) []string {
	own := OwnDirs(kind)
	var dirs []string
	if st, err := os.Stat(own[0]); err == nil && st.IsDir() {
		dirs = append(dirs, own[0])
	} else {
		dirs = append(dirs, own[1])
	}
	for _, d := range ExtraDirs() {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// File is one golden file.
type File struct {
	// Path is where the file was read.
	Path string
	// Name is the subtest name: the base name without ".json" (for a file of an extra
	// directory whose base name is already taken, "NAME@DIR" with DIR its parent's name).
	Name string
	// Own is true for a file of the kind's own directories, false for $MOEBOOST_GOLDEN_DIR.
	Own bool
	// Data is the file's content.
	Data []byte

	obj    map[string]json.RawMessage // top-level fields; nil if Data is not a JSON object
	objErr error
}

// Object returns the file's top-level JSON fields, or an error when it is not a JSON object.
func (f *File) Object() (map[string]json.RawMessage, error) {
	if f.obj == nil && f.objErr == nil {
		f.objErr = json.Unmarshal(f.Data, &f.obj)
		if f.objErr == nil && f.obj == nil {
			f.objErr = fmt.Errorf("not a JSON object")
		}
		if f.objErr != nil {
			f.objErr = fmt.Errorf("golden file %s: %w", f.Path, f.objErr)
		}
	}
	return f.obj, f.objErr
}

// Has reports whether the file is a JSON object with every one of keys at its top level.
func (f *File) Has(keys ...string) bool {
	obj, err := f.Object()
	if err != nil {
		return false
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			return false
		}
	}
	return true
}

// String returns the top-level string field key, or "" if absent or not a string.
func (f *File) String(key string) string {
	obj, err := f.Object()
	if err != nil {
		return ""
	}
	var s string
	if json.Unmarshal(obj[key], &s) != nil {
		return ""
	}
	return s
}

// Decode unmarshals the file into v; numbers keep their full precision. Fields of v absent
// from the file keep their zero values.
func (f *File) Decode(v any) error {
	if err := json.Unmarshal(f.Data, v); err != nil {
		return fmt.Errorf("golden file %s: %w", f.Path, err)
	}
	return nil
}

// Edit returns data (a JSON object) changed by edit: for tests that corrupt a copy of a real
// case. Numbers are json.Number, so the untouched ones keep their exact digits; set a float64
// or a json.Number.
func Edit(t TB, data []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("golden: Edit: %v", err)
		return nil
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("golden: Edit: %v", err)
		return nil
	}
	return out
}

// Nudge returns the json.Number n times (1 + rel), for Edit.
func Nudge(n any, rel float64) json.Number {
	x, err := n.(json.Number).Float64()
	if err != nil {
		panic(fmt.Sprintf("golden: Nudge of %v: %v", n, err))
	}
	return json.Number(strconv.FormatFloat(x*(1+rel), 'g', -1, 64))
}

// Verdict is what a test's recognizer says about one file.
type Verdict int

const (
	// Unknown: not a format of this test's directory (fails in an own directory).
	Unknown Verdict = iota
	// Mine: a case this test runs.
	Mine
	// Other: a known format of this directory that another test runs.
	Other
)

// TB is the part of testing.TB the helpers use (so they can be tested with a fake).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// isDoc reports whether a non-JSON file may sit beside golden vectors (documentation,
// generator scripts, dotfiles).
func isDoc(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return strings.HasPrefix(name, ".") || ext == ".md" || ext == ".py" || ext == ".txt"
}

// Files returns the golden *.json files of kind: the union of its own directories
// (de-duplicated by file name, the shared copy first) and every file under each
// $MOEBOOST_GOLDEN_DIR directory, each distinct file once. In an own directory, a file that is
// neither JSON nor documentation, or a subdirectory, fails the test; a listed extra directory
// that does not exist fails it too (a set that silently shrinks to nothing hides bugs).
func Files(t TB, kind string) []File {
	t.Helper()
	if kind == "" || strings.ContainsAny(kind, `/\:`) {
		t.Fatalf("golden: kind %q must be a plain directory name such as \"optimizers\"", kind)
		return nil
	}
	var files []File
	byName := map[string]int{} // base name -> index in files
	failed := false
	for _, dir := range OwnDirs(kind) {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatalf("golden: reading %s: %v", dir, err)
			return nil
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			switch {
			case e.IsDir():
				t.Errorf("golden: unexpected directory %s in the %s golden directory (only *.json vectors, *.md and *.py files belong there)", path, kind)
				failed = true
				continue
			case !strings.HasSuffix(e.Name(), ".json"):
				if !isDoc(e.Name()) {
					t.Errorf("golden: unexpected file %s in the %s golden directory (want *.json vectors; *.md, *.py, *.txt allowed beside them)", path, kind)
					failed = true
				}
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("golden: %v", err)
				return nil
			}
			name := strings.TrimSuffix(e.Name(), ".json")
			if i, dup := byName[name]; dup {
				if !bytes.Equal(files[i].Data, data) {
					t.Logf("golden: %s differs from %s; using the latter", path, files[i].Path)
				}
				continue
			}
			byName[name] = len(files)
			files = append(files, File{Path: path, Name: name, Own: true, Data: data})
		}
	}
	if failed {
		t.Fatalf("golden: the %s golden directories %v hold files that are not golden vectors", kind, OwnDirs(kind))
		return nil
	}
	seenPath := map[string]bool{}
	for _, f := range files {
		if abs, err := filepath.Abs(f.Path); err == nil {
			seenPath[abs] = true
		}
	}
	for _, dir := range ExtraDirs() {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			t.Fatalf("golden: %s lists %q, which is not a directory (err: %v)", EnvDirs, dir, err)
			return nil
		}
		var paths []string
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("golden: walking %s: %v", dir, err)
			return nil
		}
		sort.Strings(paths)
		for _, path := range paths {
			abs, err := filepath.Abs(path)
			if err == nil && seenPath[abs] {
				continue
			}
			seenPath[abs] = true
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("golden: %v", err)
				return nil
			}
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			if i, dup := byName[name]; dup {
				if bytes.Equal(files[i].Data, data) {
					continue // the same vectors again
				}
				name = name + "@" + filepath.Base(filepath.Dir(path))
				for k := 2; ; k++ {
					if _, taken := byName[name]; !taken {
						break
					}
					name = fmt.Sprintf("%s@%s#%d", strings.TrimSuffix(filepath.Base(path), ".json"), filepath.Base(filepath.Dir(path)), k)
				}
			}
			byName[name] = len(files)
			files = append(files, File{Path: path, Name: name, Own: false, Data: data})
		}
	}
	return files
}

// Select returns the files of kind that recognize calls Mine. In the own directories every
// file must be a JSON object that recognize calls Mine or Other; each one that is not is
// reported and the test fails. In extra directories unrecognized files are skipped (logged).
// At least one own file must be Mine, so a lost or renamed directory is never a silent pass.
func Select(t TB, kind string, recognize func(f File) Verdict) []File {
	t.Helper()
	all := Files(t, kind)
	var mine []File
	own, ownMine, skipped := 0, 0, 0
	bad := false
	for _, f := range all {
		if f.Own {
			own++
		}
		if _, err := f.Object(); err != nil {
			if f.Own {
				t.Errorf("golden: %v", err)
				bad = true
			} else {
				skipped++
			}
			continue
		}
		switch v := recognize(f); v {
		case Mine:
			mine = append(mine, f)
			if f.Own {
				ownMine++
			}
		case Other:
		case Unknown:
			if f.Own {
				t.Errorf("golden: %s is not a %s golden file this test or its directory's other tests know (see the README there)", f.Path, kind)
				bad = true
			} else {
				skipped++
			}
		default:
			t.Fatalf("golden: recognizer returned verdict %d for %s; want Mine, Other or Unknown", v, f.Path)
			return nil
		}
	}
	if bad {
		t.Fatalf("golden: unreadable or unrecognized files in the %s golden directories %v", kind, OwnDirs(kind))
		return nil
	}
	if ownMine == 0 {
		t.Fatalf("golden: none of the %d files of the %s golden directories %v is a case of this test", own, kind, OwnDirs(kind))
		return nil
	}
	t.Logf("golden %s: %d cases (%d from the own directories, %d from %s; %d files there of other kinds skipped)",
		kind, len(mine), ownMine, len(mine)-ownMine, EnvDirs, skipped)
	return mine
}

// Run runs fn as one subtest per file, named after it, and then asserts that every case ran to
// the end of fn without failing or being skipped: the number of cases completed equals the
// number of files (a skipped case counts as a failure). When a -run pattern selects some of the
// subtests (go test -run 'TestGolden/Lion'), the count is of the cases it selected.
func Run(t *testing.T, files []File, fn func(t *testing.T, f File)) {
	t.Helper()
	started, completed := 0, 0
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			started++
			t.Cleanup(func() {
				if t.Skipped() {
					t.Errorf("golden case %s was skipped; every golden case must run", f.Path)
				}
			})
			fn(t, f) // a failure or skip inside fn ends the subtest here (runtime.Goexit)
			if !t.Failed() {
				completed++
			}
		})
	}
	if started < len(files) && subtestFilter() {
		t.Logf("golden: -run selected %d of the %d cases", started, len(files))
	} else {
		RequireCount(t, started, len(files), "golden cases started")
	}
	RequireCount(t, completed, started, "golden cases completed")
}

// subtestFilter reports whether the -run pattern names subtests (has a '/').
func subtestFilter() bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.Contains(f.Value.String(), "/")
}

// RequireDetects proves that the golden test named test catches a bad case: it re-runs this
// test binary on that test's subtest name only, with $MOEBOOST_GOLDEN_DIR set to a temporary
// directory holding name.json, first with good (which must pass) and then with bad (which
// must fail with want in its output). Use it with a copy of a real case whose expected values
// were made NaN, shortened, or nudged beyond the tolerance: the kind of case a comparison such
// as abs(got−want) > tol, or a loop over the shorter slice, lets through.
func RequireDetects(t *testing.T, test, name string, good, bad []byte, want string) {
	t.Helper()
	if os.Getenv(EnvDirs+"_CHILD") != "" {
		t.Fatalf("golden: RequireDetects called inside its own child run")
	}
	runChild := func(data []byte) (string, error) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name+".json"), data, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		pattern := "^" + regexp.QuoteMeta(test) + "$/^" + regexp.QuoteMeta(name) + "$"
		cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
		env := []string{EnvDirs + "=" + dir, EnvDirs + "_CHILD=1"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, EnvDirs+"=") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := runChild(good)
	if err != nil || !strings.Contains(out, "--- PASS: "+test+"/"+name) {
		t.Fatalf("golden: the unmodified case %s must pass %s (err %v):\n%s", name, test, err, out)
	}
	out, err = runChild(bad)
	if err == nil || !strings.Contains(out, "--- FAIL: "+test+"/"+name) {
		t.Fatalf("golden: %s passed the corrupted case %s (err %v); want a failure mentioning %q:\n%s", test, name, err, want, out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("golden: %s failed the corrupted case %s, but its output does not mention %q:\n%s", test, name, want, out)
	}
}

// RequireCount fails unless got == want, naming what was counted.
func RequireCount(t TB, got, want int, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("golden: %s: %d, want %d", what, got, want)
	}
}

// Compare checks |got[i] − want[i]| ≤ atol + rtol·|want[i]| for every i and returns an error
// naming the first failure: a length mismatch, a NaN (a NaN matches only a NaN), an infinity
// that is not the same infinity, or a difference over the tolerance. A negative or NaN
// tolerance is an error.
func Compare(name string, got, want []float64, atol, rtol float64) error {
	if !(atol >= 0) || !(rtol >= 0) {
		return fmt.Errorf("%s: tolerance atol=%g, rtol=%g must be >= 0", name, atol, rtol)
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s: got %d values, want %d", name, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		switch {
		case math.IsNaN(w) || math.IsNaN(g):
			if math.IsNaN(w) && math.IsNaN(g) {
				continue
			}
			return fmt.Errorf("%s[%d]: got %.17g, want %.17g (NaN)", name, i, g, w)
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g == w {
				continue
			}
			return fmt.Errorf("%s[%d]: got %.17g, want %.17g", name, i, g, w)
		}
		d := math.Abs(g - w)
		if !(d <= atol+rtol*math.Abs(w)) {
			return fmt.Errorf("%s[%d]: got %.17g, want %.17g (|diff| %.3g > atol %g + rtol %g·|want|)", name, i, g, w, d, atol, rtol)
		}
	}
	return nil
}

// Ratio returns the largest |got − want| / (atol + rtol·|want|) over the elements (≤ 1 passes),
// for logging how close a case came; call it after Compare succeeded.
func Ratio(got, want []float64, atol, rtol float64) float64 {
	worst := 0.0
	for i := range min(len(got), len(want)) {
		if tol := atol + rtol*math.Abs(want[i]); tol > 0 && !math.IsInf(want[i], 0) {
			worst = math.Max(worst, math.Abs(got[i]-want[i])/tol)
		}
	}
	return worst
}

// RequireClose fails the test (Fatalf) unless Compare(name, got, want, atol, rtol) passes.
func RequireClose(t TB, name string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if err := Compare(name, got, want, atol, rtol); err != nil {
		t.Fatalf("%v", err)
	}
}

// RequireScalar is RequireClose for one value.
func RequireScalar(t TB, name string, got, want, atol, rtol float64) {
	t.Helper()
	RequireClose(t, name, []float64{got}, []float64{want}, atol, rtol)
}
