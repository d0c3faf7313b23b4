package train

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Checkpointer saves and restores every variable of a model.Store (weights, optimizer moments,
// EMA copies, per-sample memories, the RNG state, the global step) and its params, in GoMLX's
// checkpoint format, atomically: a checkpoint is first written by GoMLX into a staging
// directory, synced, and then moved into place with rename(2), checksum record and data file
// first and metadata last. A crash at any point leaves either the new checkpoint complete or
// the previous one as the latest; it never leaves a half-written file that loading would pick.
//
// Files are GoMLX's own (checkpoint-nNNNNNNN-DATE-step-SSSSSSSS.{bin,json}), so GoMLX's
// checkpoint.Load and its gomlx_checkpoints tool read them, plus a small text record
// (.crc32c) with the size and CRC-32C of both, which resumption checks.
//
// A checkpoint damaged after it was written (a truncated or overwritten file, a full disk, a
// bad copy) is detected at open: by its checksum record, or, for checkpoints without one, by
// GoMLX's decoder (JSON syntax, gzip CRC and length, tensor sizes). OpenCheckpoint then warns
// with one line naming the skipped file, renames its files aside (suffix ".damaged", so they
// are neither loaded nor counted by Keep again, and nothing is deleted), and resumes from the
// newest intact checkpoint. A checkpoint whose files match their record but which GoMLX cannot
// load (say, a format this version does not read), or one that cannot be read at all
// (permissions), is not damaged: opening fails with that error, and nothing is skipped or
// renamed.
type Checkpointer struct {
	dir     string
	keep    int
	store   *model.Store
	staging *checkpoint.Handler
	loaded  string
	skipped []string
}

const (
	stagingDir = ".staging"
	// sumExt is the checksum record of a checkpoint: one line per file, "<crc32c hex> <size> <name>".
	sumExt = ".crc32c"
	// damagedExt is appended to the files of a checkpoint that failed to load.
	damagedExt = ".damaged"
)

// Warnf receives OpenCheckpoint's one-line warnings (a damaged checkpoint skipped); the
// default is the standard logger. Tests and programs that route their logs elsewhere replace
// it.
var Warnf = log.Printf

// OpenCheckpoint attaches a checkpointer for dir to store. If dir holds checkpoints, the most
// recent intact one is loaded into store immediately (all variables and params), so training
// resumes from it: a newer damaged one is skipped with a one-line warning (see Checkpointer)
// and listed by Skipped; if every checkpoint is damaged the error names each file tried and
// why. keep is how many checkpoints to keep (< 1 keeps all). Leftovers of an interrupted save
// are removed.
func OpenCheckpoint(store *model.Store, dir string, keep int) (*Checkpointer, error) {
	if dir == "" {
		return nil, fmt.Errorf("checkpoint directory is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating checkpoint directory: %w", err)
	}
	staging := filepath.Join(dir, stagingDir)
	c := &Checkpointer{dir: dir, keep: keep, store: store}
	if err := c.resetStaging(); err != nil { // Only ever holds an interrupted save.
		return nil, err
	}
	names, err := c.List()
	if err != nil {
		return nil, err
	}
	var failures []string
	for i := len(names) - 1; i >= 0; i-- { // Newest first.
		name := names[i]
		recorded, err := c.verify(name)
		var d *damage
		if err != nil && !errors.As(err, &d) {
			return nil, fmt.Errorf("checking checkpoint %s in %s: %w", name, dir, err)
		}
		if err == nil {
			// GoMLX's handler loads lazily (a variable gets its saved value when the model
			// creates it, keeping its trainable flag) and its Save writes back the values not
			// consumed yet. It reads and writes one directory, so give it this checkpoint in
			// staging. Done reads and decodes both files whole, so a damaged file fails here,
			// before anything reaches the store.
			for _, ext := range []string{".bin", ".json"} {
				if err = linkOrCopy(filepath.Join(dir, name+ext), filepath.Join(staging, name+ext)); err != nil {
					return nil, err
				}
			}
			c.staging, err = checkpoint.Build(store).Dir(staging).Keep(1).Done()
			if err != nil && (recorded || errors.Is(err, fs.ErrPermission)) {
				// The files are intact (or unreadable, not damaged): an older checkpoint is no
				// answer (e.g. a format this GoMLX does not read).
				return nil, fmt.Errorf("loading checkpoint %s from %s: %w", name, dir, err)
			}
		}
		if err == nil {
			c.loaded = name
			for k, bad := range c.skipped { // Only now that an intact one loaded.
				Warnf("moeboost: skipping damaged checkpoint %s: %s; %s; resuming from %s",
					filepath.Join(dir, bad), failures[k], c.setAside(bad), name)
			}
			return c, nil
		}
		failures = append(failures, oneLine(err))
		c.skipped = append(c.skipped, name)
		if err := c.resetStaging(); err != nil {
			return nil, err
		}
	}
	if len(failures) > 0 {
		tried := make([]string, len(failures))
		for k, f := range failures {
			tried[k] = fmt.Sprintf("%s (%s)", filepath.Join(dir, c.skipped[k]), f)
		}
		return nil, fmt.Errorf("no intact checkpoint in %s; tried, newest first: %s; move the damaged files away to start afresh",
			dir, strings.Join(tried, "; "))
	}
	if c.staging, err = checkpoint.Build(store).Dir(staging).Keep(1).Done(); err != nil {
		return nil, fmt.Errorf("opening checkpoint staging directory: %w", err)
	}
	return c, nil
}

// resetStaging empties the staging directory.
func (c *Checkpointer) resetStaging() error {
	staging := filepath.Join(c.dir, stagingDir)
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("cleaning %s: %w", staging, err)
	}
	return os.MkdirAll(staging, 0o755)
}

// setAside renames the files of the damaged checkpoint name with the suffix damagedExt and
// says what it did, for the warning.
func (c *Checkpointer) setAside(name string) string {
	for _, ext := range []string{".json", ".bin", sumExt} { // Metadata first: List stops seeing it.
		p := filepath.Join(c.dir, name+ext)
		if err := os.Rename(p, p+damagedExt); err != nil && !os.IsNotExist(err) {
			return fmt.Sprintf("could not rename it aside (%v)", oneLine(err))
		}
	}
	return "its files were renamed *" + damagedExt
}

// handlerPrefix is how GoMLX's checkpoint handler prefixes its errors (with the staging path).
var handlerPrefix = regexp.MustCompile(`checkpoint\.Handler\("[^"]*"\): `)

// oneLine flattens an error message for a one-line warning.
func oneLine(err error) string {
	return handlerPrefix.ReplaceAllString(strings.Join(strings.Fields(err.Error()), " "), "")
}

// Skipped returns the base names of the damaged checkpoints OpenCheckpoint skipped, newest
// first.
func (c *Checkpointer) Skipped() []string { return c.skipped }

// writeSum writes the checksum record of the checkpoint base (its .bin and .json in dir)
// into dir as base+sumExt, synced.
func writeSum(dir, base string) error {
	var b strings.Builder
	for _, ext := range []string{".bin", ".json"} {
		sum, size, err := crcFile(filepath.Join(dir, base+ext))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%08x %d %s\n", sum, size, ext)
	}
	path := filepath.Join(dir, base+sumExt)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return syncFile(path)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcFile(path string) (sum uint32, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	size, err = io.Copy(h, f)
	return h.Sum32(), size, err
}

// damage is a failed check of a checkpoint's files (as opposed to an error reading them).
type damage struct{ reason string }

func (d *damage) Error() string { return d.reason }

func damaged(format string, args ...any) error { return &damage{fmt.Sprintf(format, args...)} }

// verify checks the files of checkpoint name against its checksum record, when it has one
// (recorded reports whether it does: checkpoints written by GoMLX itself or by older moeboost
// versions do not, and then only the decoder checks them). A failed check is a *damage; any
// other error is a failure to read the files.
func (c *Checkpointer) verify(name string) (recorded bool, err error) {
	rec, err := os.ReadFile(filepath.Join(c.dir, name+sumExt))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	lines := strings.Split(strings.TrimSuffix(string(rec), "\n"), "\n")
	if len(lines) != 2 {
		return true, damaged("its checksum record %s is malformed: %d lines, want 2", sumExt, len(lines))
	}
	for i, ext := range []string{".bin", ".json"} {
		var want uint32
		var wantSize int64
		var gotExt string
		if n, err := fmt.Sscanf(lines[i], "%x %d %s", &want, &wantSize, &gotExt); n != 3 || err != nil || gotExt != ext {
			return true, damaged("its checksum record %s is malformed: line %d is %q, want \"<crc32c> <size> %s\"",
				sumExt, i+1, lines[i], ext)
		}
		sum, size, err := crcFile(filepath.Join(c.dir, name+ext))
		if err != nil {
			return true, err
		}
		if size != wantSize {
			return true, damaged("its %s is %d bytes, its checksum record says %d (truncated or extended)", ext, size, wantSize)
		}
		if sum != want {
			return true, damaged("its %s has CRC-32C %08x, its checksum record says %08x (overwritten)", ext, sum, want)
		}
	}
	return true, nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// Dir returns the checkpoint directory.
func (c *Checkpointer) Dir() string { return c.dir }

// Loaded returns the base name of the checkpoint loaded at open ("" if none).
func (c *Checkpointer) Loaded() string { return c.loaded }

var ckptName = regexp.MustCompile(`^checkpoint-n(\d+)-.*\.json$`)

// List returns the base names of the complete checkpoints in dir, oldest first.
func (c *Checkpointer) List() ([]string, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || !ckptName.MatchString(e.Name()) {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".json")
		if _, err := os.Stat(filepath.Join(c.dir, base+".bin")); err == nil {
			names = append(names, base)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Save writes a checkpoint of the store atomically (see the type doc) and prunes old ones.
func (c *Checkpointer) Save() error {
	// GoMLX's trainer keeps its moving-average display metrics in variables under a scope with
	// a per-trainer UUID: they are not training state and would pile up across resumptions.
	for v := range c.store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/metrics/") {
			c.staging.ExcludeVarsFromSaving(v)
		}
	}
	if err := c.staging.Save(); err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	staging := filepath.Join(c.dir, stagingDir)
	entries, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	var written string
	for _, e := range entries { // Sorted by name: the last is the one just written (keep=1).
		if ckptName.MatchString(e.Name()) {
			written = strings.TrimSuffix(e.Name(), ".json")
		}
	}
	if written == "" {
		return fmt.Errorf("checkpoint: GoMLX wrote no metadata file in %s", staging)
	}
	names, err := c.List()
	if err != nil {
		return err
	}
	next := 0
	if len(names) > 0 {
		m := ckptName.FindStringSubmatch(names[len(names)-1] + ".json")
		n, _ := strconv.Atoi(m[1])
		next = n + 1
	}
	base := fmt.Sprintf("checkpoint-n%07d-%s-step-%08d", next, time.Now().Format("20060102-150405"),
		optimizer.GetGlobalStep(c.store))
	if err := writeSum(staging, written); err != nil {
		return fmt.Errorf("checkpoint: checksum record: %w", err)
	}
	// Checksum record and data first, metadata (what List looks for) last.
	for _, ext := range []string{sumExt, ".bin", ".json"} {
		src := filepath.Join(staging, written+ext)
		if err := syncFile(src); err != nil {
			return err
		}
		if err := os.Rename(src, filepath.Join(c.dir, base+ext)); err != nil {
			return fmt.Errorf("checkpoint: moving %s into place: %w", src, err)
		}
	}
	if err := syncFile(c.dir); err != nil {
		return err
	}
	return c.prune()
}

func (c *Checkpointer) prune() error {
	if c.keep < 1 {
		return nil
	}
	names, err := c.List()
	if err != nil {
		return err
	}
	for len(names) > c.keep {
		for _, ext := range []string{".json", ".bin", sumExt} { // Metadata first: never a json without its bin.
			if err := os.Remove(filepath.Join(c.dir, names[0]+ext)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
		names = names[1:]
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: sync %s: %w", path, err)
	}
	return nil
}
