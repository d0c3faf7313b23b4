package quant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// DenseWeights returns the paths of the Dense weight matrices of a trained store, sorted:
// every trainable float32 variable named "weights" of rank 2 ([inputs, outputs], GoMLX's
// layers.Dense). Embedding tables, norms and biases are not Dense weights and stay float32, as
// in the paper (weight-only quantization of the linear layers).
func DenseWeights(store *model.Store) []string {
	var out []string
	for v := range store.IterVariables() {
		if v.Trainable && v.Name() == "weights" && v.Shape().Rank() == 2 && v.DType() == dtypes.Float32 {
			out = append(out, v.Path())
		}
	}
	slices.Sort(out)
	return out
}

// denseMatrix reads the [K, N] Dense weight at path as the row-major [N, K] matrix W of y = W·x.
func denseMatrix(store *model.Store, path string) (w []float32, n, k int, err error) {
	v := store.GetVariable(path)
	if v == nil {
		return nil, 0, 0, fmt.Errorf("quant: no variable %q in the store (Dense weights: %q)", path, DenseWeights(store))
	}
	if v.Shape().Rank() != 2 || v.DType() != dtypes.Float32 {
		return nil, 0, 0, fmt.Errorf("quant: variable %q is %s; a Dense weight is a rank-2 float32 [inputs, outputs] matrix", path, v.Shape())
	}
	t, err := v.Value()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("quant: %q: %w", path, err)
	}
	k, n = v.Shape().Dim(0), v.Shape().Dim(1)
	flat := tensors.MustCopyFlatData[float32](t) // [K, N]
	w = make([]float32, n*k)
	for i := range k {
		for j := range n {
			w[j*k+i] = flat[i*n+j]
		}
	}
	return w, n, k, nil
}

// QuantizeDense quantizes the Dense weight at path ([K, N] in the store) to a Matrix of N rows
// (outputs) and K columns (inputs), grouped along the inputs as in the paper.
func QuantizeDense(store *model.Store, path string, cfg Config) (*Matrix, error) {
	w, n, k, err := denseMatrix(store, path)
	if err != nil {
		return nil, err
	}
	m, err := Quantize(w, n, k, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (variable %q)", err, path)
	}
	return m, nil
}

// DequantizeStore is the dequantize-on-load path used for accuracy: a clone of store in which
// each Dense weight in paths holds its quantized-then-dequantized value (float32), so that the
// unchanged model graph evaluates the quantized model; it also returns the quantized matrices
// by path. The original store is not modified.
func DequantizeStore(store *model.Store, paths []string, cfg Config) (*model.Store, map[string]*Matrix, error) {
	clone, err := store.Clone()
	if err != nil {
		return nil, nil, fmt.Errorf("quant: cloning the store: %w", err)
	}
	mats := map[string]*Matrix{}
	for _, p := range paths {
		m, err := QuantizeDense(store, p, cfg)
		if err != nil {
			clone.Finalize()
			return nil, nil, err
		}
		if err := clone.GetVariable(p).SetValue(tensors.FromFlatDataAndDimensions(m.DequantizeTransposed(), m.Cols, m.Rows)); err != nil {
			clone.Finalize()
			return nil, nil, fmt.Errorf("quant: setting %q: %w", p, err)
		}
		mats[p] = m
	}
	return clone, mats, nil
}

// Dense is a quantized Dense layer for inference on the host: y = x·W + b (GoMLX's Dense, W
// [inputs, outputs]) with W held only in BCQ form and multiplied by the LUT kernel, outside the
// graph.
type Dense struct {
	W *Matrix
	// Bias is [outputs], nil when the layer has none.
	Bias   []float32
	kernel *Kernel
}

// NewDense reads the Dense layer of scope (its "weights" and, if present, "biases") from a
// trained store and quantizes it; maxBatch bounds the rows of one Apply.
func NewDense(store *model.Store, scope string, cfg Config, maxBatch int) (*Dense, error) {
	scope = strings.TrimSuffix(scope, "/")
	m, err := QuantizeDense(store, scope+"/weights", cfg)
	if err != nil {
		return nil, err
	}
	d := &Dense{W: m}
	if v := store.GetVariable(scope + "/biases"); v != nil {
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("quant: %q: %w", scope+"/biases", err)
		}
		d.Bias = tensors.MustCopyFlatData[float32](t)
		if len(d.Bias) != m.Rows {
			return nil, fmt.Errorf("quant: %q has %d values for %d outputs", scope+"/biases", len(d.Bias), m.Rows)
		}
	}
	if d.kernel, err = NewKernel(m, maxBatch); err != nil {
		return nil, err
	}
	return d, nil
}

// Apply computes y [batch, outputs] = x [batch, inputs] · W + b with the LUT kernel.
func (d *Dense) Apply(y, x []float32, batch int) error {
	if err := d.kernel.MatMul(y, x, batch); err != nil {
		return err
	}
	if d.Bias != nil {
		for b := range batch {
			row := y[b*d.W.Rows : (b+1)*d.W.Rows]
			for i, v := range d.Bias {
				row[i] += v
			}
		}
	}
	return nil
}
