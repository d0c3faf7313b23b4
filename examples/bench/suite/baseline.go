package suite

import (
	"fmt"
	"math"

	"github.com/moeboost/moeboost/train/data"
	"gonum.org/v1/gonum/mat"
)

// Baseline arms every regression table reports beside its models, fitted on each training
// fold and scored on the same test fold: ArmConstant predicts the training mean (what any model
// must beat), ArmLinear is ordinary least squares with an intercept (what a model must beat to
// have learned more than a line).
const (
	ArmConstant = "constant"
	ArmLinear   = "linear"
)

// BaselineArms lists the regression baselines in table order.
var BaselineArms = []string{ArmConstant, ArmLinear}

// linearRidge is the ridge added to the centered normal equations, relative to their mean
// diagonal: small enough to leave well-posed fits at least squares (sklearn's LinearRegression),
// large enough to make constant or collinear features solvable.
const linearRidge = 1e-8

// BaselinePredict fits the baseline arm on tr and returns its predictions for te's rows, in the
// target's units of tr: ArmConstant, the training mean; ArmLinear, least squares with an
// intercept, w = (XcᵀXc + λI)⁻¹Xcᵀyc on the training-centered Xc, yc, λ = 1e-8·trace(XcᵀXc)/D.
func BaselinePredict(arm string, tr, te *data.Table) ([]float64, error) {
	if tr == nil || te == nil || tr.N < 1 || tr.D != te.D {
		return nil, fmt.Errorf("baseline %s: need a non-empty training table and a test table with the same features", arm)
	}
	var yMean float64
	for _, y := range tr.Y {
		yMean += y
	}
	yMean /= float64(tr.N)
	pred := make([]float64, te.N)
	switch arm {
	case ArmConstant:
		for i := range pred {
			pred[i] = yMean
		}
		return pred, nil
	case ArmLinear:
	default:
		return nil, fmt.Errorf("baseline arm %q unknown: use %q or %q", arm, ArmConstant, ArmLinear)
	}
	d := tr.D
	xMean := make([]float64, d)
	for i := range tr.N {
		for j, v := range tr.Row(i) {
			xMean[j] += v
		}
	}
	for j := range xMean {
		xMean[j] /= float64(tr.N)
	}
	gram := mat.NewSymDense(d, nil)
	xty := mat.NewVecDense(d, nil)
	xc := make([]float64, d)
	for i := range tr.N {
		for j, v := range tr.Row(i) {
			xc[j] = v - xMean[j]
		}
		yc := tr.Y[i] - yMean
		for a := range d {
			xty.SetVec(a, xty.AtVec(a)+xc[a]*yc)
			for b := a; b < d; b++ {
				gram.SetSym(a, b, gram.At(a, b)+xc[a]*xc[b])
			}
		}
	}
	var trace float64
	for j := range d {
		trace += gram.At(j, j)
	}
	lambda := linearRidge * trace / float64(d)
	if !(lambda > 0) {
		lambda = linearRidge // every feature constant: w = 0, the constant baseline
	}
	for j := range d {
		gram.SetSym(j, j, gram.At(j, j)+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(gram) {
		return nil, fmt.Errorf("baseline linear: normal equations of %s (%d rows, %d features) not positive definite", tr.Name, tr.N, d)
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, xty); err != nil {
		return nil, fmt.Errorf("baseline linear: %s: %w", tr.Name, err)
	}
	for i := range te.N {
		p := yMean
		for j, v := range te.Row(i) {
			p += (v - xMean[j]) * w.AtVec(j)
		}
		pred[i] = p
	}
	return pred, nil
}

// BaselineRMSE fits the baseline arm on tr and returns its RMSE on te, multiplied by unscale
// (the target's std when tr and te hold a standardized target, else 1).
func BaselineRMSE(arm string, tr, te *data.Table, unscale float64) (float64, error) {
	pred, err := BaselinePredict(arm, tr, te)
	if err != nil {
		return 0, err
	}
	return RMSE(pred, te.Y) * unscale, nil
}

// RMSE returns sqrt(mean((pred − y)²)).
func RMSE(pred, y []float64) float64 {
	var s float64
	for i := range y {
		s += (pred[i] - y[i]) * (pred[i] - y[i])
	}
	return math.Sqrt(s / float64(len(y)))
}
