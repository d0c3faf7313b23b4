package augment

import (
	"fmt"
	"strings"

	"github.com/moeboost/moeboost/internal/registry"
)

// Augmenter rewrites batches of images of one Format.
type Augmenter interface {
	// Augment rewrites every image of the batch x (Format().ImageSize() floats each) in
	// place. Image b draws its randomness from a stream fixed by (seed, b) alone, so the
	// result does not depend on anything but x and seed.
	Augment(x []float32, seed uint64) error
	// Format returns the image layout and value range the augmenter was built for.
	Format() Format
	// String names the augmentation and its settings, e.g. "randaugment(N=2, M=9)".
	String() string
}

// Config holds the settings of the registered augmentations; each reads the fields its
// documentation names (identity reads none).
type Config struct {
	// N is RandAugment's number of operations applied to each image, in [1, 10]; 0 means the
	// paper's ImageNet setting, 2.
	N int
	// M is RandAugment's global magnitude on the paper's scale, where 10 is the AutoAugment
	// maximum of every operation; values up to 30 extrapolate linearly, as the paper's
	// robustness sweeps do. 0 makes every operation the identity. Not defaulted: 0 is valid.
	M float64
	// Interpolation of the geometric operations: "nearest" (default, the reference code's)
	// or "bilinear".
	Interpolation string
}

// Factory builds an augmenter for images of format f.
type Factory func(f Format, cfg Config) (Augmenter, error)

var augmentations = registry.NewKind[Factory]("augmentation")

// Register adds an augmentation under name (lower snake case), from an init function; it
// panics on a duplicate name.
func Register(name string, factory Factory) { augmentations.Register(name, factory) }

// Names returns the registered augmentation names, sorted.
func Names() []string { return augmentations.Names() }

// New builds the augmentation registered under name, or returns an error naming an unknown
// name (with the known ones), a bad format or a bad setting.
func New(name string, f Format, cfg Config) (Augmenter, error) {
	factory, err := augmentations.Get(name)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return factory(f, cfg)
}

func init() {
	Register("identity", func(f Format, _ Config) (Augmenter, error) { return identity{f}, nil })
	Register("randaugment", func(f Format, cfg Config) (Augmenter, error) { return NewRandAugment(f, cfg) })
}

// identity is the no-augmentation arm.
type identity struct{ f Format }

func (a identity) Augment(x []float32, _ uint64) error { _, err := a.f.batch(x); return err }
func (a identity) Format() Format                      { return a.f }
func (a identity) String() string                      { return "identity" }

// splitmix64 is the SplitMix64 finalizer, used to derive independent stream seeds.
func splitmix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// quoted lists names as "a", "b", "c" for error messages.
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
