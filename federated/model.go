package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// MLP is a classifier objective on a dense table: a one-hidden-layer tanh network (softmax
// regression when Hidden = 0) with the mean softmax cross-entropy loss, its gradient one
// compiled GoMLX function (graph.Gradient) shared by every client.
type MLP struct {
	X                  []float64 // row-major N×D features
	Y                  []int     // class ids
	D, Hidden, Classes int

	mu       sync.Mutex
	gradExec *graph.Exec
	predExec *graph.Exec
}

// NewMLP builds the objective on backend be for the N×D features x and labels y.
func NewMLP(be compute.Backend, x []float64, y []int, d, hidden, classes int) (*MLP, error) {
	if be == nil {
		return nil, fmt.Errorf("federated: backend is nil")
	}
	if d < 1 || classes < 2 || hidden < 0 || len(x) != len(y)*d {
		return nil, fmt.Errorf("federated: MLP with d = %d, hidden = %d, classes = %d on %d values for %d labels; need d ≥ 1, classes ≥ 2, hidden ≥ 0, len(x) = d·len(y)", d, hidden, classes, len(x), len(y))
	}
	m := &MLP{X: x, Y: y, D: d, Hidden: hidden, Classes: classes}
	var err error
	if m.gradExec, err = graph.NewExec(be, func(w, xb, yb *graph.Node) *graph.Node {
		return graph.Gradient(m.loss(w, xb, yb), w)[0]
	}); err != nil {
		return nil, err
	}
	if m.predExec, err = graph.NewExec(be, func(w, xb *graph.Node) *graph.Node {
		return graph.ArgMax(m.logits(w, xb), 1)
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// Dim is the number of parameters.
func (m *MLP) Dim() int {
	if m.Hidden == 0 {
		return m.D*m.Classes + m.Classes
	}
	return m.D*m.Hidden + m.Hidden + m.Hidden*m.Classes + m.Classes
}

func (m *MLP) logits(w, x *graph.Node) *graph.Node {
	off := 0
	take := func(dims ...int) *graph.Node {
		n := 1
		for _, d := range dims {
			n *= d
		}
		p := graph.Reshape(graph.Slice(w, graph.AxisRange(off, off+n)), dims...)
		off += n
		return p
	}
	h, in := x, m.D
	if m.Hidden > 0 {
		w1, b1 := take(m.D, m.Hidden), take(1, m.Hidden)
		h = graph.Tanh(graph.Add(graph.MatMul(x, w1), b1))
		in = m.Hidden
	}
	w2, b2 := take(in, m.Classes), take(1, m.Classes)
	return graph.Add(graph.MatMul(h, w2), b2)
}

func (m *MLP) loss(w, x, onehot *graph.Node) *graph.Node {
	ll := graph.Mul(graph.LogSoftmax(m.logits(w, x), 1), onehot)
	return graph.Neg(graph.ReduceAllMean(graph.ReduceSum(ll, 1)))
}

// Init returns Glorot-uniform weights and zero biases, deterministic in seed.
func (m *MLP) Init(seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x1417))
	w := make([]float64, 0, m.Dim())
	layer := func(in, out int) {
		lim := math.Sqrt(6 / float64(in+out))
		for range in * out {
			w = append(w, (2*rng.Float64()-1)*lim)
		}
		w = append(w, make([]float64, out)...)
	}
	if m.Hidden > 0 {
		layer(m.D, m.Hidden)
		layer(m.Hidden, m.Classes)
	} else {
		layer(m.D, m.Classes)
	}
	return w
}

// Grad returns the gradient of the mean cross-entropy over examples idx at w.
func (m *MLP) Grad(w []float64, idx []int) ([]float64, error) {
	if len(w) != m.Dim() {
		return nil, fmt.Errorf("federated: %d weights; the MLP has %d", len(w), m.Dim())
	}
	xb := make([]float64, len(idx)*m.D)
	yb := make([]float64, len(idx)*m.Classes)
	for r, i := range idx {
		copy(xb[r*m.D:], m.X[i*m.D:(i+1)*m.D])
		yb[r*m.Classes+m.Y[i]] = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	outs, err := m.gradExec.Exec(w, tensors.FromFlatDataAndDimensions(xb, len(idx), m.D), tensors.FromFlatDataAndDimensions(yb, len(idx), m.Classes))
	if err != nil {
		return nil, err
	}
	g, err := tensors.CopyFlatData[float64](outs[0])
	outs[0].MustFinalizeAll()
	return g, err
}

// Accuracy returns the fraction of the rows of x (row-major, D features) whose predicted class
// equals y.
func (m *MLP) Accuracy(w, x []float64, y []int) (float64, error) {
	if len(y) == 0 || len(x) != len(y)*m.D {
		return 0, fmt.Errorf("federated: accuracy on %d values for %d labels (D = %d)", len(x), len(y), m.D)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	outs, err := m.predExec.Exec(w, tensors.FromFlatDataAndDimensions(x, len(y), m.D))
	if err != nil {
		return 0, err
	}
	defer outs[0].MustFinalizeAll()
	pred, err := tensors.CopyFlatData[int32](outs[0])
	if err != nil {
		return 0, err
	}
	ok := 0
	for i, p := range pred {
		if int(p) == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(y)), nil
}

// Close releases the compiled functions.
func (m *MLP) Close() {
	m.gradExec.Finalize()
	m.predExec.Finalize()
}

// Quadratic is the least-squares objective of client data rows: example i has a row a_i and
// target b_i, loss ½(a_iᵀw − b_i)²; Grad returns the mean gradient over idx (plain float64, no
// graph: the tests' closed-form problem).
type Quadratic struct {
	A    []float64 // row-major N×D
	B    []float64
	Dims int
}

// Dim is the number of parameters.
func (q *Quadratic) Dim() int { return q.Dims }

// Grad returns (1/|idx|) Σ a_i(a_iᵀw − b_i).
func (q *Quadratic) Grad(w []float64, idx []int) ([]float64, error) {
	g := make([]float64, q.Dims)
	for _, i := range idx {
		a := q.A[i*q.Dims : (i+1)*q.Dims]
		r := -q.B[i]
		for j, v := range a {
			r += v * w[j]
		}
		axpy(g, r/float64(len(idx)), a)
	}
	return g, nil
}
