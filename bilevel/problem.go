package bilevel

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Problem is a bilevel problem
//
//	min_x Upper(x, y*(x))   where   y*(x) ∈ argmin_y { Lower(x, y) : Constraints(x, y) ≤ 0 }
//
// over flat float64 vectors x (the upper, or hyper-, variable) and y (the lower variable).
// Upper and Lower build scalar graph nodes from x and y (shapes [len(X0)] and [len(Y0)], dtype
// Float64); the data they read are graph constants they create. Both must be twice
// differentiable in y (the implicit methods differentiate ∇_y Lower once more).
type Problem struct {
	// Name labels error messages.
	Name string
	// X0 and Y0 are the initial upper and lower variables; their lengths fix the sizes.
	X0, Y0 []float64
	// Upper is the upper objective F(x, y); Lower the lower objective g(x, y), strongly convex
	// in y for the implicit methods (AID, BO-REP).
	Upper, Lower func(x, y *graph.Node) *graph.Node
	// Constraints, optional, returns the vector c(x, y) of the lower problem's constraints
	// (feasible where every entry is ≤ 0). Only LV-HBA handles constraints; the implicit methods
	// refuse a problem that has them.
	Constraints func(x, y *graph.Node) *graph.Node
	// Project, optional, maps (x, y) in place to (a point close to) its Euclidean projection
	// onto {(x, y) : x ∈ X, y ∈ Y, c(x, y) ≤ 0} (LV-HBA's projection step, Yao et al. Alg. 1).
	Project func(x, y []float64) error
}

// validate checks the problem's fields.
func (p *Problem) validate() error {
	name := p.Name
	if name == "" {
		name = "bilevel problem"
	}
	switch {
	case len(p.X0) == 0:
		return fmt.Errorf("%s: X0 is empty; the upper variable needs at least one entry", name)
	case len(p.Y0) == 0:
		return fmt.Errorf("%s: Y0 is empty; the lower variable needs at least one entry", name)
	case p.Upper == nil || p.Lower == nil:
		return fmt.Errorf("%s: Upper and Lower objectives are both required", name)
	}
	for i, v := range p.X0 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: X0[%d] = %v; initial values must be finite", name, i, v)
		}
	}
	for i, v := range p.Y0 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: Y0[%d] = %v; initial values must be finite", name, i, v)
		}
	}
	return nil
}

// Oracle evaluates a Problem's derivatives on a backend: gradients, Hessian-vector products
// ∇²_yy g·z and mixed products ∇²_xy g·z (by differentiating ∇_y g·z once more, GoMLX's
// reverse mode applied twice), each compiled once and reused.
type Oracle struct {
	p       *Problem
	be      compute.Backend
	nx, ny  int
	mu      sync.Mutex
	execs   map[string]*graph.Exec
	calls   int
	hasCons bool
}

// NewOracle validates p and prepares its derivative functions on be (compiled lazily).
func NewOracle(be compute.Backend, p *Problem) (*Oracle, error) {
	if be == nil {
		return nil, errors.New("bilevel: backend is nil")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &Oracle{p: p, be: be, nx: len(p.X0), ny: len(p.Y0), execs: map[string]*graph.Exec{}, hasCons: p.Constraints != nil}, nil
}

// Problem returns the oracle's problem.
func (o *Oracle) Problem() *Problem { return o.p }

// Calls returns the number of compiled-function calls made so far (a cost measure).
func (o *Oracle) Calls() int { return o.calls }

// Close releases the compiled functions.
func (o *Oracle) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.execs {
		e.Finalize()
	}
	o.execs = map[string]*graph.Exec{}
}

// exec returns the compiled function under key, building it with build on first use.
func (o *Oracle) exec(key string, build func([]*graph.Node) []*graph.Node) (*graph.Exec, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.execs[key]; ok {
		return e, nil
	}
	e, err := graph.NewExec(o.be, build)
	if err != nil {
		return nil, fmt.Errorf("bilevel %s: compiling %s: %w", o.p.Name, key, err)
	}
	o.execs[key] = e
	return e, nil
}

// call runs the compiled function key on args and returns its outputs as float64 slices.
func (o *Oracle) call(key string, build func([]*graph.Node) []*graph.Node, args ...any) ([][]float64, error) {
	e, err := o.exec(key, build)
	if err != nil {
		return nil, err
	}
	outs, err := e.Call(args...)
	if err != nil {
		return nil, fmt.Errorf("bilevel %s: %s: %w", o.p.Name, key, err)
	}
	o.calls++
	res := make([][]float64, len(outs))
	for i, t := range outs {
		v, err := tensors.CopyFlatData[float64](t)
		t.MustFinalizeAll()
		if err != nil {
			return nil, err
		}
		res[i] = v
	}
	return res, nil
}

// scalarLen1 reshapes a scalar to [1] so that every output is a flat vector.
func scalarLen1(n *graph.Node) *graph.Node { return graph.Reshape(n, 1) }

// Values returns F(x, y) and g(x, y).
func (o *Oracle) Values(x, y []float64) (upper, lower float64, err error) {
	out, err := o.call("values", func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{scalarLen1(o.p.Upper(in[0], in[1])), scalarLen1(o.p.Lower(in[0], in[1]))}
	}, x, y)
	if err != nil {
		return 0, 0, err
	}
	return out[0][0], out[1][0], nil
}

// maxUnroll bounds the gradient steps unrolled into one compiled function.
const maxUnroll = 10

// LowerSteps runs steps plain gradient steps y ← y − lr·∇_y g(x, y) from y and returns the
// result (y is not modified).
func (o *Oracle) LowerSteps(x, y []float64, lr float64, steps int) ([]float64, error) {
	if steps < 0 {
		return nil, fmt.Errorf("bilevel: lower steps = %d; must be ≥ 0", steps)
	}
	cur := y
	for steps > 0 {
		k := min(steps, maxUnroll)
		out, err := o.call(fmt.Sprintf("lower-steps-%d", k), func(in []*graph.Node) []*graph.Node {
			x, y, lr := in[0], in[1], in[2]
			for range k {
				g := graph.Gradient(o.p.Lower(x, y), y)[0]
				y = graph.Sub(y, graph.Mul(lr, g))
			}
			return []*graph.Node{y}
		}, x, cur, lr)
		if err != nil {
			return nil, err
		}
		cur = out[0]
		steps -= k
	}
	if &cur[0] == &y[0] {
		cur = append([]float64(nil), y...)
	}
	return cur, nil
}

// LowerGrad returns ∇_y g(x, y).
func (o *Oracle) LowerGrad(x, y []float64) ([]float64, error) {
	out, err := o.call("lower-grad", func(in []*graph.Node) []*graph.Node {
		return graph.Gradient(o.p.Lower(in[0], in[1]), in[1])
	}, x, y)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Hyper holds the second-order quantities of the implicit hypergradient at (x, y, z).
type Hyper struct {
	// GradXF and GradYF are ∇_x F(x, y) and ∇_y F(x, y).
	GradXF, GradYF []float64
	// HZ is ∇²_yy g(x, y)·z and JZ is ∇²_xy g(x, y)·z (= ∇_x (∇_y g(x, y)·z)).
	HZ, JZ []float64
}

// Hypergradient returns h = ∇_x F − ∇²_xy g·z, the implicit hypergradient estimate when z
// solves ∇²_yy g·z = ∇_y F (Ghadimi & Wang 2018, eq. 2.4).
func (h *Hyper) Hypergradient() []float64 {
	out := make([]float64, len(h.GradXF))
	for i := range out {
		out[i] = h.GradXF[i] - h.JZ[i]
	}
	return out
}

// HyperAt evaluates ∇_x F, ∇_y F, ∇²_yy g·z and ∇²_xy g·z at (x, y, z).
func (o *Oracle) HyperAt(x, y, z []float64) (*Hyper, error) {
	if len(z) != o.ny {
		return nil, fmt.Errorf("bilevel: z has %d entries; the lower variable has %d", len(z), o.ny)
	}
	out, err := o.call("hyper", func(in []*graph.Node) []*graph.Node {
		x, y, z := in[0], in[1], in[2]
		gf := graph.Gradient(o.p.Upper(x, y), x, y)
		gy := graph.Gradient(o.p.Lower(x, y), y)[0]
		second := graph.Gradient(graph.ReduceAllSum(graph.Mul(gy, graph.StopGradient(z))), x, y)
		return []*graph.Node{gf[0], gf[1], second[1], second[0]}
	}, x, y, z)
	if err != nil {
		return nil, err
	}
	return &Hyper{GradXF: out[0], GradYF: out[1], HZ: out[2], JZ: out[3]}, nil
}

// FixedPointZ runs steps of z ← z − ν(∇²_yy g·z − ∇_y F) at (x, y) from z (the linear system
// of the implicit hypergradient solved by gradient descent on ½zᵀHz − zᵀ∇_y F; Grazzi et al.
// 2020's fixed-point method) and returns the new z and the Hyper quantities at the final z.
func (o *Oracle) FixedPointZ(x, y, z []float64, nu float64, steps int) ([]float64, *Hyper, error) {
	cur := z
	for steps > 0 {
		k := min(steps, maxUnroll)
		out, err := o.call(fmt.Sprintf("fixed-point-%d", k), func(in []*graph.Node) []*graph.Node {
			x, y, z, nu := in[0], in[1], in[2], in[3]
			gyF := graph.StopGradient(graph.Gradient(o.p.Upper(x, y), y)[0])
			gy := graph.Gradient(o.p.Lower(x, y), y)[0]
			for range k {
				hz := graph.Gradient(graph.ReduceAllSum(graph.Mul(gy, graph.StopGradient(z))), y)[0]
				z = graph.Sub(z, graph.Mul(nu, graph.Sub(hz, gyF)))
			}
			return []*graph.Node{z}
		}, x, y, cur, nu)
		if err != nil {
			return nil, nil, err
		}
		cur = out[0]
		steps -= k
	}
	h, err := o.HyperAt(x, y, cur)
	if err != nil {
		return nil, nil, err
	}
	return cur, h, nil
}

// LVTheta is LV-HBA's inner primal-dual quantities at (x, θ, λ): ∇_θ g(x, θ) + J_θ c(x, θ)ᵀλ
// and c(x, θ) (empty without constraints).
func (o *Oracle) LVTheta(x, theta, lambda []float64) (grad, cons []float64, err error) {
	if !o.hasCons {
		g, err := o.LowerGrad(x, theta)
		return g, nil, err
	}
	out, err := o.call("lv-theta", func(in []*graph.Node) []*graph.Node {
		x, th, lam := in[0], in[1], in[2]
		c := o.p.Constraints(x, th)
		lag := graph.Add(o.p.Lower(x, th), graph.ReduceAllSum(graph.Mul(graph.StopGradient(lam), c)))
		return []*graph.Node{graph.Gradient(lag, th)[0], c}
	}, x, theta, lambda)
	if err != nil {
		return nil, nil, err
	}
	return out[0], out[1], nil
}

// LVOuter holds the gradients of LV-HBA's penalized (x, y) step.
type LVOuter struct {
	// GradXF, GradYF: ∇F(x, y); GradXg, GradYg: ∇g(x, y); GradXLag: ∇_x [g(x, θ) + λᵀc(x, θ)].
	GradXF, GradYF, GradXg, GradYg, GradXLag []float64
}

// LVOuterAt evaluates LVOuter at (x, y, θ, λ).
func (o *Oracle) LVOuterAt(x, y, theta, lambda []float64) (*LVOuter, error) {
	build := func(in []*graph.Node) []*graph.Node {
		x, y, th := in[0], in[1], in[2]
		gF := graph.Gradient(o.p.Upper(x, y), x, y)
		gg := graph.Gradient(o.p.Lower(x, y), x, y)
		lag := o.p.Lower(x, th)
		if o.hasCons {
			lag = graph.Add(lag, graph.ReduceAllSum(graph.Mul(graph.StopGradient(in[3]), o.p.Constraints(x, th))))
		}
		return []*graph.Node{gF[0], gF[1], gg[0], gg[1], graph.Gradient(lag, x)[0]}
	}
	args := []any{x, y, theta}
	if o.hasCons {
		args = append(args, lambda)
	}
	out, err := o.call("lv-outer", build, args...)
	if err != nil {
		return nil, err
	}
	return &LVOuter{GradXF: out[0], GradYF: out[1], GradXg: out[2], GradYg: out[3], GradXLag: out[4]}, nil
}

// Constraints returns c(x, y), or nil when the problem has none.
func (o *Oracle) Constraints(x, y []float64) ([]float64, error) {
	if !o.hasCons {
		return nil, nil
	}
	out, err := o.call("constraints", func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{o.p.Constraints(in[0], in[1])}
	}, x, y)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}
