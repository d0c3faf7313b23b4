package gbnn

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"gonum.org/v1/gonum/optimize"
)

// lbfgsFitter is the official weak-learner fit (sklearn MLPRegressor with solver="lbfgs"):
// full-batch L-BFGS on ½·mean((r−h)²) + ½·alpha·Σ‖W‖²/n over the packed parameters
// θ = [W1, B1, W2, B2], run on the host by gonum/optimize, with the loss and its gradient
// computed by one GoMLX graph in Float64 (backward pass written out, see lossAndGrad). The graph is compiled once per fit (the subsample
// size is the same at every stage) and reused by all T stages.
//
// sklearn calls scipy's L-BFGS-B with maxiter=max_iter, maxfun=15000, gtol=tol (0 in GBNN),
// 10 correction pairs and scipy's ftol 2.22e-9 (stop when the relative decrease of the loss
// falls below it). Here: MajorIterations=max_iter, FuncEvaluations=15000, Store=10, and
// gonum's FunctionConverge with Relative=Absolute=2.22e-9 over 1 iteration.
//
// Deviations: gonum's line search (More–Thuente, strong Wolfe) is not scipy's (dcsrch, same
// conditions, different step choices), so iterates differ from sklearn's; no bounds (L-BFGS
// rather than L-BFGS-B, as sklearn passes none). A line search that fails to make progress
// ends the fit at the best point found, as scipy's ABNORMAL_TERMINATION does.
type lbfgsFitter struct {
	cfg   Config
	dm    dims
	act   activation
	alpha float64
	exec  *graph.Exec
}

// scipy's default ftol for L-BFGS-B (factr=1e7 times machine epsilon).
const scipyFTol = 2.220446049250313e-09

func newLBFGSFitter(cfg Config, b compute.Backend, dm dims, act activation) (*lbfgsFitter, error) {
	f := &lbfgsFitter{cfg: cfg, dm: dm, act: act, alpha: max(cfg.Alpha, 0)}
	var err error
	f.exec, err = graph.NewExec(b, f.lossAndGrad)
	if err != nil {
		return nil, err
	}
	f.exec.WithName("gbnn-lbfgs")
	return f, nil
}

func (f *lbfgsFitter) numParams() int {
	dm := f.dm
	return dm.d*dm.j + dm.j + dm.j*dm.k + dm.k
}

// unpack slices θ [P] into W1 [D, J], B1 [J], W2 [J, K], B2 [K].
func (f *lbfgsFitter) unpack(theta *graph.Node) (w1, b1, w2, b2 *graph.Node) {
	dm := f.dm
	at := 0
	take := func(dims ...int) *graph.Node { // Slices the next block of θ and reshapes it.
		size := 1
		for _, d := range dims {
			size *= d
		}
		v := graph.Reshape(graph.Slice(theta, graph.AxisRange(at, at+size)), dims...)
		at += size
		return v
	}
	w1, b1 = take(dm.d, dm.j), take(dm.j)
	w2, b2 = take(dm.j, dm.k), take(dm.k)
	return
}

// objective is sklearn MLPRegressor's loss at θ: ½·mean((r−h)²) + ½·alpha·Σ‖W‖²/n.
func (f *lbfgsFitter) objective(theta, x, r *graph.Node) *graph.Node {
	w1, b1, w2, b2 := f.unpack(theta)
	h := dense(f.act.graph(dense(x, w1, b1)), w2, b2)
	loss := halfMSE([]*graph.Node{r}, []*graph.Node{h})
	if f.alpha > 0 {
		n := float64(x.Shape().Dimensions[0])
		l2 := graph.Add(graph.ReduceAllSum(graph.Square(w1)), graph.ReduceAllSum(graph.Square(w2)))
		loss = graph.Add(loss, graph.MulScalar(l2, 0.5*f.alpha/n)) // + ½·alpha·Σ‖W‖²/n
	}
	return loss
}

// lossAndGrad is the graph: θ [P], x [n, D], xT [D, n] (x transposed once per stage),
// r [n, K] → loss (scalar), ∂loss/∂θ [P]. The backward pass is written out (and tested equal
// to GoMLX's autodiff of objective): the autodiff's ∂/∂W1 = xᵀ·δ makes the Go backend
// transpose x at every call, a third of an L-BFGS stage's time; with xT given, every matmul
// contracts the last axis of its left operand.
//
//	z = x·W1 + B1, a = σ(z), h = a·W2 + B2, e = (h − r)/(n·K)
//	∂W2 = aᵀ·e + alpha/n·W2, ∂B2 = Σ_rows e
//	δ = (e·W2ᵀ) ⊙ σ'(z),     ∂W1 = xᵀ·δ + alpha/n·W1, ∂B1 = Σ_rows δ
func (f *lbfgsFitter) lossAndGrad(theta, x, xT, r *graph.Node) (*graph.Node, *graph.Node) {
	dm := f.dm
	n := float64(x.Shape().Dimensions[0])
	w1, b1, w2, b2 := f.unpack(theta)
	// The two large products (n·D·J) contract the last axis of both operands: the layout the
	// Go backend runs with SIMD even when J < 8.
	w1T := graph.Transpose(w1, 0, 1)                                       // [J, D]
	z := graph.Add(graph.DotGeneral(x, []int{1}, nil, w1T, []int{1}, nil), // x·W1 [n, J]
		graph.ExpandLeftToRank(b1, 2))
	a := f.act.graph(z)                                                       // [n, J]
	h := dense(a, w2, b2)                                                     // [n, K]
	d := graph.Sub(h, r)                                                      // [n, K]
	loss := graph.MulScalar(graph.ReduceAllMean(graph.Square(d)), 0.5)        // ½·mean((r−h)²)
	e := graph.MulScalar(d, 1/(n*float64(dm.k)))                              // ∂loss/∂h
	gw2 := graph.DotGeneral(a, []int{0}, nil, e, []int{0}, nil)               // aᵀ·e [J, K]
	gb2 := graph.ReduceSum(e, 0)                                              // [K]
	delta := graph.Mul(graph.DotGeneral(e, []int{1}, nil, w2, []int{1}, nil), // e·W2ᵀ [n, J]
		f.act.deriv(z, a))
	gw1T := graph.DotGeneral(graph.Transpose(delta, 0, 1), []int{1}, nil, xT, []int{1}, nil) // δᵀ·x [J, D]
	gw1 := graph.Transpose(gw1T, 0, 1)                                                       // [D, J]
	gb1 := graph.ReduceSum(delta, 0)                                                         // [J]
	if f.alpha > 0 {
		c := f.alpha / n
		l2 := graph.Add(graph.ReduceAllSum(graph.Square(w1)), graph.ReduceAllSum(graph.Square(w2)))
		loss = graph.Add(loss, graph.MulScalar(l2, 0.5*c)) // + ½·alpha·Σ‖W‖²/n
		gw1 = graph.Add(gw1, graph.MulScalar(w1, c))
		gw2 = graph.Add(gw2, graph.MulScalar(w2, c))
	}
	grad := graph.Concatenate([]*graph.Node{
		graph.Reshape(gw1, dm.d*dm.j), gb1, graph.Reshape(gw2, dm.j*dm.k), gb2}, 0)
	return loss, grad
}

func (f *lbfgsFitter) close() { f.exec.Finalize() }

func (f *lbfgsFitter) fit(ctx context.Context, x, r []float64, n int, init *Stage, _ uint64) (*Stage, error) {
	dm := f.dm
	xt := tensors.FromFlatDataAndDimensions(append([]float64(nil), x...), n, dm.d)
	xT := make([]float64, len(x))
	for i := range n {
		for c := range dm.d {
			xT[c*n+i] = x[i*dm.d+c]
		}
	}
	xTt := tensors.FromFlatDataAndDimensions(xT, dm.d, n)
	rt := tensors.FromFlatDataAndDimensions(append([]float64(nil), r...), n, dm.k)
	defer xt.MustFinalizeAll()
	defer xTt.MustFinalizeAll()
	defer rt.MustFinalizeAll()

	// gonum asks for F and then the gradient at the same point: one graph call serves both.
	var lastX, lastGrad []float64
	var lastF float64
	var evalErr error
	eval := func(theta []float64) {
		if lastX != nil && equal(theta, lastX) {
			return
		}
		tt := tensors.FromFlatDataAndDimensions(append([]float64(nil), theta...), len(theta))
		outs, err := f.exec.Call(tt, xt, xTt, rt)
		tt.MustFinalizeAll()
		if err != nil {
			evalErr = err
			lastF, lastGrad = math.NaN(), make([]float64, len(theta))
		} else {
			lastF = tensors.ToScalar[float64](outs[0])
			lastGrad = tensors.MustCopyFlatData[float64](outs[1])
			for _, o := range outs {
				o.MustFinalizeAll()
			}
		}
		lastX = append(lastX[:0], theta...)
	}
	problem := optimize.Problem{
		Func: func(theta []float64) float64 { eval(theta); return lastF },
		Grad: func(grad, theta []float64) { eval(theta); copy(grad, lastGrad) },
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, evalErr
		},
	}
	theta0 := make([]float64, 0, f.numParams())
	theta0 = append(append(append(append(theta0, init.W1...), init.B1...), init.W2...), init.B2...)
	settings := &optimize.Settings{
		MajorIterations: f.cfg.MaxIter,
		FuncEvaluations: 15000, // sklearn's max_fun
		Converger:       &optimize.FunctionConverge{Absolute: scipyFTol, Relative: scipyFTol, Iterations: 1},
	}
	res, err := optimize.Minimize(problem, theta0, settings, &optimize.LBFGS{Store: 10})
	if evalErr != nil {
		return nil, fmt.Errorf("gbnn: lbfgs loss graph: %w", evalErr)
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if res == nil {
		return nil, fmt.Errorf("gbnn: lbfgs: %w", err)
	}
	if err != nil && !isLineSearchFailure(err) {
		return nil, fmt.Errorf("gbnn: lbfgs: %w", err)
	}
	theta, loss := res.X, res.F
	if math.IsInf(loss, 1) { // Stopped before the first major iteration: keep the start.
		eval(theta0)
		theta, loss = theta0, lastF
	}
	if !finiteAll(theta) || math.IsNaN(loss) {
		return nil, fmt.Errorf("gbnn: lbfgs ended at non-finite parameters or loss (loss %g)", loss)
	}
	out := &Stage{}
	at := 0
	for _, dst := range []struct {
		p    *[]float64
		size int
	}{{&out.W1, dm.d * dm.j}, {&out.B1, dm.j}, {&out.W2, dm.j * dm.k}, {&out.B2, dm.k}} {
		*dst.p = append([]float64(nil), theta[at:at+dst.size]...)
		at += dst.size
	}
	return out, nil
}

// isLineSearchFailure reports gonum's "no progress" ends, which keep the best point found.
func isLineSearchFailure(err error) bool {
	return errors.Is(err, optimize.ErrLinesearcherFailure) || errors.Is(err, optimize.ErrNoProgress) ||
		errors.Is(err, optimize.ErrLinesearcherBound) || errors.Is(err, optimize.ErrNonDescentDirection)
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func finiteAll(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}
