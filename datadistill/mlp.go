package datadistill

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/graph"
)

// MLP is a functional multilayer perceptron whose parameters are explicit tensors (W₁, b₁, W₂,
// b₂, ...), the form trajectory matching needs: the student is trained from an expert's
// parameters inside the graph and differentiated through its own training (the official code's
// ReparamModule plays this role for PyTorch modules).
type MLP struct {
	// Sizes are the layer widths, input first and classes last (e.g. 64, 128, 10).
	Sizes []int
	// Act is the hidden activation: "relu" or "tanh".
	Act string
}

// Validate checks the architecture.
func (m MLP) Validate() error {
	if len(m.Sizes) < 2 {
		return fmt.Errorf("datadistill: MLP sizes %v need at least input and output widths", m.Sizes)
	}
	for _, s := range m.Sizes {
		if s < 1 {
			return fmt.Errorf("datadistill: MLP sizes %v must all be ≥ 1", m.Sizes)
		}
	}
	if m.Sizes[len(m.Sizes)-1] < 2 {
		return fmt.Errorf("datadistill: MLP output width %d must be ≥ 2 classes", m.Sizes[len(m.Sizes)-1])
	}
	if m.Act != "relu" && m.Act != "tanh" {
		return fmt.Errorf("datadistill: activation %q unknown; known are \"relu\", \"tanh\"", m.Act)
	}
	return nil
}

// Shapes returns the shape of each parameter tensor, in order W₁ [in, out], b₁ [out], ...
func (m MLP) Shapes() [][]int {
	var s [][]int
	for l := 0; l+1 < len(m.Sizes); l++ {
		s = append(s, []int{m.Sizes[l], m.Sizes[l+1]}, []int{m.Sizes[l+1]})
	}
	return s
}

// Params is one set of MLP parameters, one flat slice per tensor of Shapes.
type Params [][]float32

// Clone returns a deep copy.
func (p Params) Clone() Params {
	c := make(Params, len(p))
	for i, t := range p {
		c[i] = append([]float32(nil), t...)
	}
	return c
}

// SqDist returns Σ (p − q)² over every parameter, in float64.
func (p Params) SqDist(q Params) float64 {
	s := 0.0
	for i := range p {
		for j := range p[i] {
			d := float64(p[i][j]) - float64(q[i][j])
			s += d * d
		}
	}
	return s
}

// Init draws parameters as PyTorch's nn.Linear does (the official code's default init):
// W and b of layer l uniform in ±1/√fan_in, fan_in = Sizes[l].
func (m MLP) Init(seed uint64) Params {
	r := rand.New(rand.NewPCG(seed, 0x6d7474))
	var p Params
	for l := 0; l+1 < len(m.Sizes); l++ {
		bound := 1 / math.Sqrt(float64(m.Sizes[l]))
		for _, n := range []int{m.Sizes[l] * m.Sizes[l+1], m.Sizes[l+1]} {
			t := make([]float32, n)
			for i := range t {
				t[i] = float32((2*r.Float64() - 1) * bound)
			}
			p = append(p, t)
		}
	}
	return p
}

// Logits builds the network's output for x [batch, in] from the parameter nodes.
func (m MLP) Logits(params []*graph.Node, x *graph.Node) *graph.Node {
	h := x
	layers := len(m.Sizes) - 1
	for l := range layers {
		w, b := params[2*l], params[2*l+1]
		h = graph.Add(graph.MatMul(h, w), graph.BroadcastToDims(graph.InsertAxes(b, 0), h.Shape().Dimensions[0], m.Sizes[l+1]))
		if l+1 < layers {
			switch m.Act {
			case "tanh":
				h = graph.Tanh(h)
			default:
				// max(h, 0) as h·step(h): its gradient is again a product, so the student's
				// training step stays differentiable (second order).
				h = graph.Mul(h, graph.StopGradient(graph.ConvertDType(graph.GreaterThan(h, graph.ScalarZero(h.Graph(), h.DType())), h.DType())))
			}
		}
	}
	return h
}

// CrossEntropy is the mean cross-entropy of logits against one-hot labels [batch, classes].
func CrossEntropy(logits, oneHot *graph.Node) *graph.Node {
	return graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(graph.LogSoftmax(logits), oneHot), -1)))
}

// SGDStep returns params − lr·∇_params loss (the gradient kept differentiable).
func SGDStep(params []*graph.Node, loss, lr *graph.Node) []*graph.Node {
	grads := graph.Gradient(loss, params...)
	out := make([]*graph.Node, len(params))
	for i, p := range params {
		out[i] = graph.Sub(p, graph.Mul(lr, grads[i]))
	}
	return out
}
