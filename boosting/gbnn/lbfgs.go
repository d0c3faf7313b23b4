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
// computed by one GoMLX graph in Float64. The graph is compiled once per fit (the subsample
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

// lossAndGrad is the graph: θ [P], x [n, D], r [n, K] → loss (scalar), ∂loss/∂θ [P].
func (f *lbfgsFitter) lossAndGrad(theta, x, r *graph.Node) (*graph.Node, *graph.Node) {
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
	w1, b1 := take(dm.d, dm.j), take(dm.j)
	w2, b2 := take(dm.j, dm.k), take(dm.k)
	h := dense(f.act.graph(dense(x, w1, b1)), w2, b2)
	loss := halfMSE([]*graph.Node{r}, []*graph.Node{h})
	if f.alpha > 0 {
		n := float64(x.Shape().Dimensions[0])
		l2 := graph.Add(graph.ReduceAllSum(graph.Square(w1)), graph.ReduceAllSum(graph.Square(w2)))
		loss = graph.Add(loss, graph.MulScalar(l2, 0.5*f.alpha/n)) // + ½·alpha·Σ‖W‖²/n
	}
	return loss, graph.Gradient(loss, theta)[0]
}

func (f *lbfgsFitter) close() { f.exec.Finalize() }

func (f *lbfgsFitter) fit(ctx context.Context, x, r []float64, n int, init *Stage, _ uint64) (*Stage, error) {
	dm := f.dm
	xt := tensors.FromFlatDataAndDimensions(append([]float64(nil), x...), n, dm.d)
	rt := tensors.FromFlatDataAndDimensions(append([]float64(nil), r...), n, dm.k)
	defer xt.MustFinalizeAll()
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
		outs, err := f.exec.Call(tt, xt, rt)
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
	out := &Stage{FitLoss: loss}
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
