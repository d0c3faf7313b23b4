package prune

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Layer is the keep mask of one pruned variable.
type Layer struct {
	// Path is the variable's path in the store, e.g. "/mlp/embed/weights".
	Path string
	// Dims is the variable's shape.
	Dims []int
	// Keep holds one flag per element, row-major: true keeps the weight, false prunes it.
	Keep []bool
}

// Size is the number of elements of the layer.
func (l Layer) Size() int { return len(l.Keep) }

// Pruned is the number of pruned (masked) elements.
func (l Layer) Pruned() int {
	n := 0
	for _, k := range l.Keep {
		if !k {
			n++
		}
	}
	return n
}

// Sparsity is the pruned fraction of the layer.
func (l Layer) Sparsity() float64 {
	if len(l.Keep) == 0 {
		return 0
	}
	return float64(l.Pruned()) / float64(len(l.Keep))
}

// Masks is a set of keep masks, one per pruned variable, sorted by path.
type Masks struct {
	Layers []Layer
}

// Layer returns the mask of the variable at path.
func (m *Masks) Layer(path string) (Layer, bool) {
	i, ok := slices.BinarySearchFunc(m.Layers, path, func(l Layer, p string) int { return cmp.Compare(l.Path, p) })
	if !ok {
		return Layer{}, false
	}
	return m.Layers[i], true
}

// Sparsity is the pruned fraction over every masked element.
func (m *Masks) Sparsity() float64 {
	pruned, total := 0, 0
	for _, l := range m.Layers {
		pruned += l.Pruned()
		total += l.Size()
	}
	if total == 0 {
		return 0
	}
	return float64(pruned) / float64(total)
}

// String lists each layer's pruned fraction.
func (m *Masks) String() string {
	parts := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		parts[i] = fmt.Sprintf("%s %v: %.3f", l.Path, l.Dims, l.Sparsity())
	}
	return fmt.Sprintf("sparsity %.3f (%s)", m.Sparsity(), strings.Join(parts, ", "))
}

// Scope values: how magnitude thresholds are taken.
const (
	// Global ranks every prunable weight of the network together (the paper's choice,
	// pruner.py _global_mask).
	Global = "global"
	// LayerWise prunes the same fraction of each variable (pruner.py _local_mask).
	LayerWise = "layer"
)

// Config configures magnitude pruning.
type Config struct {
	// Sparsity is the fraction of prunable weights set to zero, in [0, 1). The paper's code
	// calls the kept fraction "sparsity": its default 0.4 keeps 40%, i.e. Sparsity 0.6 here.
	Sparsity float64
	// Scope is Global (default, as the paper) or LayerWise.
	Scope string
	// Include selects the variables to prune; the default (nil) is DefaultInclude: every
	// trainable variable of rank >= 2 (weight matrices and embeddings, not biases or norm
	// scales), the paper pruning every weight matrix of its bias-free models.
	Include func(v *model.Variable) bool
}

// DefaultInclude selects the trainable variables of rank >= 2, outside the optimizer's and the
// masks' own scopes.
func DefaultInclude(v *model.Variable) bool {
	p := v.Path()
	return v.Trainable && v.Shape().Rank() >= 2 && !strings.HasPrefix(p, "/"+MaskScope+"/") && !strings.HasPrefix(p, "/optimizer")
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if !(c.Sparsity >= 0 && c.Sparsity < 1) {
		return fmt.Errorf("prune: sparsity=%g must be in [0, 1) (the pruned fraction)", c.Sparsity)
	}
	switch c.Scope {
	case "":
		c.Scope = Global
	case Global, LayerWise:
	default:
		return fmt.Errorf("prune: scope=%q must be %q or %q", c.Scope, Global, LayerWise)
	}
	if c.Include == nil {
		c.Include = DefaultInclude
	}
	return nil
}

// weights reads the selected variables' values as float64, sorted by path.
func weights(store *model.Store, include func(v *model.Variable) bool) (layers []Layer, values [][]float64, err error) {
	for v := range store.IterVariables() {
		if !include(v) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, nil, fmt.Errorf("prune: variable %s: %w", v.Path(), err)
		}
		vals, err := toFloat64(t)
		if err != nil {
			return nil, nil, fmt.Errorf("prune: variable %s: %w", v.Path(), err)
		}
		layers = append(layers, Layer{Path: v.Path(), Dims: slices.Clone(v.Shape().Dimensions), Keep: make([]bool, len(vals))})
		values = append(values, vals)
	}
	idx := make([]int, len(layers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(layers[a].Path, layers[b].Path) })
	sl, sv := make([]Layer, len(idx)), make([][]float64, len(idx))
	for i, j := range idx {
		sl[i], sv[i] = layers[j], values[j]
	}
	return sl, sv, nil
}

func toFloat64(t *tensors.Tensor) ([]float64, error) {
	switch t.DType() {
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out, nil
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t), nil
	}
	return nil, fmt.Errorf("dtype %s is not supported (float32 or float64)", t.DType())
}

// Magnitude returns the masks that prune the Sparsity fraction of the smallest |w| among the
// selected variables of store: ranked over the whole network (Global) or within each variable
// (LayerWise). Scores are |w| (pruner.py Mag); the number pruned is floor(Sparsity·n) over the
// n weights ranked together.
//
// Deviation: pruner.py takes the k-th smallest score as a threshold and prunes every score
// <= it, so weights tied with the threshold are all pruned; here ties are broken by layer and
// position, so exactly floor(Sparsity·n) weights are pruned. Trained weights are practically
// never tied, so the masks agree.
func Magnitude(store *model.Store, cfg Config) (*Masks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	layers, values, err := weights(store, cfg.Include)
	if err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("prune: no variable of the store is selected for pruning (%d variables)", store.NumVariables())
	}
	type ref struct{ layer, pos int }
	rank := func(refs []ref) {
		// Ascending |w|; ties by layer then position.
		slices.SortFunc(refs, func(a, b ref) int {
			if c := cmp.Compare(math.Abs(values[a.layer][a.pos]), math.Abs(values[b.layer][b.pos])); c != 0 {
				return c
			}
			if c := cmp.Compare(a.layer, b.layer); c != 0 {
				return c
			}
			return cmp.Compare(a.pos, b.pos)
		})
		k := int(cfg.Sparsity * float64(len(refs))) // pruner.py: k = int((1 - keep) · n)
		for i, r := range refs {
			layers[r.layer].Keep[r.pos] = i >= k
		}
	}
	if cfg.Scope == Global {
		var refs []ref
		for l, vals := range values {
			for p := range vals {
				refs = append(refs, ref{l, p})
			}
		}
		rank(refs)
	} else {
		for l, vals := range values {
			refs := make([]ref, len(vals))
			for p := range vals {
				refs[p] = ref{l, p}
			}
			rank(refs)
		}
	}
	return &Masks{Layers: layers}, nil
}

// Random returns masks of the same layers as ref, each pruning exactly as many weights as ref
// prunes in that layer, chosen uniformly at random: the paper's random-pruning control at equal
// (per-layer) sparsity. The same seed gives the same masks.
//
// Deviation: pruner.py's Rand draws Gaussian scores and thresholds them like the magnitude
// scores (globally), so its per-layer sparsity only matches in expectation; here it matches
// exactly.
func Random(ref *Masks, seed uint64) *Masks {
	out := &Masks{Layers: make([]Layer, len(ref.Layers))}
	for i, l := range ref.Layers {
		h := fnv.New64a()
		h.Write([]byte(l.Path))
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		keep := make([]bool, l.Size())
		for j := range keep {
			keep[j] = true
		}
		for _, j := range rng.Perm(l.Size())[:l.Pruned()] {
			keep[j] = false
		}
		out.Layers[i] = Layer{Path: l.Path, Dims: slices.Clone(l.Dims), Keep: keep}
	}
	return out
}
