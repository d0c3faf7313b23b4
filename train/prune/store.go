package prune

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// MaskScope is the store scope that holds the masks: the mask of the variable at path P is the
// non-trainable variable "/prune_mask" + P, of P's shape and dtype, 1 where the weight is kept
// and 0 where it is pruned. Living in the store, masks are saved and restored with the model
// (train.Checkpointer saves every variable).
const MaskScope = "prune_mask"

// MaskPath is the store path of the mask of the variable at path.
func MaskPath(path string) string { return "/" + MaskScope + path }

// Save writes the masks into store as non-trainable variables (see MaskScope), in the dtype
// of the masked variable (float32 when the variable is not in the store yet); existing masks
// of the same variables are overwritten.
func (m *Masks) Save(store *model.Store) error {
	for _, l := range m.Layers {
		dt := dtypes.Float32
		if v := store.GetVariable(l.Path); v != nil {
			dt = v.DType()
			if !slices.Equal(v.Shape().Dimensions, l.Dims) {
				return fmt.Errorf("prune: mask of %s has shape %v but the variable has %v", l.Path, l.Dims, v.Shape().Dimensions)
			}
		}
		t, err := maskTensor(l, dt)
		if err != nil {
			return err
		}
		if v := store.GetVariable(MaskPath(l.Path)); v != nil {
			if err := v.SetValue(t); err != nil {
				return fmt.Errorf("prune: %w", err)
			}
			v.SetTrainable(false)
			continue
		}
		v, err := store.CreateVariable(MaskPath(l.Path), t)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		v.SetTrainable(false)
	}
	return nil
}

func maskTensor(l Layer, dt dtypes.DType) (*tensors.Tensor, error) {
	switch dt {
	case dtypes.Float32:
		f := make([]float32, len(l.Keep))
		for i, k := range l.Keep {
			if k {
				f[i] = 1
			}
		}
		return tensors.FromFlatDataAndDimensions(f, l.Dims...), nil
	case dtypes.Float64:
		f := make([]float64, len(l.Keep))
		for i, k := range l.Keep {
			if k {
				f[i] = 1
			}
		}
		return tensors.FromFlatDataAndDimensions(f, l.Dims...), nil
	}
	return nil, fmt.Errorf("prune: %s has dtype %s: only float32 and float64 variables can be masked", l.Path, dt)
}

// Load reads the masks saved in store (see Save); a store without masks gives empty Masks.
// Masks still held by a checkpoint loader (GoMLX loads variables lazily, when first asked
// for) are loaded into the store first.
func Load(store *model.Store) (*Masks, error) {
	m := &Masks{}
	prefix := "/" + MaskScope + "/"
	if l, ok := store.Loader().(interface {
		LoadedVariables() map[string]*tensors.Tensor
	}); ok {
		var pending []string
		for key := range l.LoadedVariables() {
			// GoMLX's checkpoint keys are "var:" + path.
			if _, path, found := strings.Cut(key, ":"); found && strings.HasPrefix(path, prefix) {
				pending = append(pending, path)
			}
		}
		for _, path := range pending {
			store.GetVariable(path) // consumes the loader's value
		}
	}
	for v := range store.IterVariables() {
		path, ok := strings.CutPrefix(v.Path(), prefix)
		if !ok {
			continue
		}
		v.SetTrainable(false) // a checkpoint restores variables as trainable
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("prune: mask %s: %w", v.Path(), err)
		}
		vals, err := toFloat64(t)
		if err != nil {
			return nil, fmt.Errorf("prune: mask %s: %w", v.Path(), err)
		}
		keep := make([]bool, len(vals))
		for i, x := range vals {
			switch x {
			case 0:
			case 1:
				keep[i] = true
			default:
				return nil, fmt.Errorf("prune: mask %s holds %g at element %d: masks are 0 or 1", v.Path(), x, i)
			}
		}
		m.Layers = append(m.Layers, Layer{Path: "/" + path, Dims: slices.Clone(v.Shape().Dimensions), Keep: keep})
	}
	slices.SortFunc(m.Layers, func(a, b Layer) int { return cmp.Compare(a.Path, b.Path) })
	return m, nil
}

// Apply multiplies every masked variable of store by its mask (host side), so pruned weights
// are exactly zero; the masks are also saved into store (see Save), where the Optimizer wrapper
// finds them.
func (m *Masks) Apply(store *model.Store) error {
	for _, l := range m.Layers {
		v := store.GetVariable(l.Path)
		if v == nil {
			return fmt.Errorf("prune: masked variable %s is not in the store", l.Path)
		}
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("prune: %s: %w", l.Path, err)
		}
		nt, err := t.LocalClone()
		if err != nil {
			return fmt.Errorf("prune: %s: %w", l.Path, err)
		}
		if err := maskInPlace(nt, l); err != nil {
			return err
		}
		if err := v.SetValue(nt); err != nil {
			return fmt.Errorf("prune: %s: %w", l.Path, err)
		}
	}
	return m.Save(store)
}

func maskInPlace(t *tensors.Tensor, l Layer) error {
	if !slices.Equal(t.Shape().Dimensions, l.Dims) {
		return fmt.Errorf("prune: mask of %s has shape %v but the variable has %v", l.Path, l.Dims, t.Shape().Dimensions)
	}
	switch t.DType() {
	case dtypes.Float32:
		tensors.MustMutableFlatData(t, func(f []float32) {
			for i, k := range l.Keep {
				if !k {
					f[i] = 0
				}
			}
		})
	case dtypes.Float64:
		tensors.MustMutableFlatData(t, func(f []float64) {
			for i, k := range l.Keep {
				if !k {
					f[i] = 0
				}
			}
		})
	default:
		return fmt.Errorf("prune: %s has dtype %s: only float32 and float64 variables can be masked", l.Path, t.DType())
	}
	return nil
}

// ResetToInit writes into store a copy of every trainable variable of init (the dense run's
// initialization θ0, e.g. a Clone of its store taken before training), multiplied by its mask
// where masks has one, and saves the masks into store: the lottery-ticket rewind m ⊙ θ0 of the
// paper (prune.py, reinitialize=True). Kept weights are bit-identical to θ0. Variables are
// created in store when missing; the model then reuses them instead of initializing.
func ResetToInit(store, init *model.Store, masks *Masks) error {
	for v := range init.IterVariables() {
		if !v.Trainable || strings.HasPrefix(v.Path(), "/"+MaskScope+"/") {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("prune: init variable %s: %w", v.Path(), err)
		}
		nt, err := t.LocalClone()
		if err != nil {
			return fmt.Errorf("prune: init variable %s: %w", v.Path(), err)
		}
		if masks != nil {
			if l, ok := masks.Layer(v.Path()); ok {
				if err := maskInPlace(nt, l); err != nil {
					return err
				}
			}
		}
		if dst := store.GetVariable(v.Path()); dst != nil {
			if err := dst.SetValue(nt); err != nil {
				return fmt.Errorf("prune: %s: %w", v.Path(), err)
			}
			continue
		}
		if _, err := store.CreateVariable(v.Path(), nt); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
	}
	if masks == nil {
		return nil
	}
	for _, l := range masks.Layers {
		if init.GetVariable(l.Path) == nil {
			return fmt.Errorf("prune: masked variable %s is not in the init store", l.Path)
		}
	}
	return masks.Save(store)
}
