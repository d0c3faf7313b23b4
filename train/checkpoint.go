package train

import (
	"fmt"
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
// directory, synced, and then moved into place with rename(2), data file first and metadata
// last. A crash at any point leaves either the new checkpoint complete or the previous one as
// the latest; it never leaves a half-written file that loading would pick.
//
// Files are GoMLX's own (checkpoint-nNNNNNNN-DATE-step-SSSSSSSS.{bin,json}), so GoMLX's
// checkpoint.Load and its gomlx_checkpoints tool read them.
type Checkpointer struct {
	dir     string
	keep    int
	store   *model.Store
	staging *checkpoint.Handler
	loaded  string
}

const stagingDir = ".staging"

// OpenCheckpoint attaches a checkpointer for dir to store. If dir holds checkpoints, the most
// recent one is loaded into store immediately (all variables and params), so training resumes
// from it. keep is how many checkpoints to keep (< 1 keeps all). Leftovers of an interrupted
// save are removed.
func OpenCheckpoint(store *model.Store, dir string, keep int) (*Checkpointer, error) {
	if dir == "" {
		return nil, fmt.Errorf("checkpoint directory is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating checkpoint directory: %w", err)
	}
	staging := filepath.Join(dir, stagingDir)
	if err := os.RemoveAll(staging); err != nil { // Only ever holds an interrupted save.
		return nil, fmt.Errorf("cleaning %s: %w", staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	c := &Checkpointer{dir: dir, keep: keep, store: store}
	names, err := c.List()
	if err != nil {
		return nil, err
	}
	if len(names) > 0 {
		// GoMLX's handler loads lazily (a variable gets its saved value when the model creates
		// it, keeping its trainable flag) and its Save writes back the values not consumed yet.
		// It reads and writes one directory, so give it the latest checkpoint in staging.
		c.loaded = names[len(names)-1]
		for _, ext := range []string{".bin", ".json"} {
			if err := linkOrCopy(filepath.Join(dir, c.loaded+ext), filepath.Join(staging, c.loaded+ext)); err != nil {
				return nil, err
			}
		}
	}
	c.staging, err = checkpoint.Build(store).Dir(staging).Keep(1).Done()
	if err != nil {
		if c.loaded != "" {
			return nil, fmt.Errorf("loading checkpoint %s from %s: %w", c.loaded, dir, err)
		}
		return nil, fmt.Errorf("opening checkpoint staging directory: %w", err)
	}
	return c, nil
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
	for _, ext := range []string{".bin", ".json"} { // Data first, metadata (what List looks for) last.
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
		for _, ext := range []string{".json", ".bin"} { // Metadata first: never a json without its bin.
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
