package data

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// linearRidge is the ridge LinearPredict adds to the centered normal equations, relative to
// their mean diagonal: small enough to leave well-posed fits at least squares (sklearn's
// LinearRegression), large enough to make constant or collinear features solvable.
const linearRidge = 1e-8

// MeanPredict returns the regression baseline every model must beat: the training target's
// mean, for each of te's rows.
func MeanPredict(tr, te *Table) ([]float64, error) {
	if err := baselineTables(tr, te); err != nil {
		return nil, fmt.Errorf("mean baseline: %w", err)
	}
	mean := meanOf(tr.Y)
	pred := make([]float64, te.N)
	for i := range pred {
		pred[i] = mean
	}
	return pred, nil
}

// LinearPredict fits ordinary least squares with an intercept on tr and returns its
// predictions for te's rows: w = (XcᵀXc + λI)⁻¹Xcᵀyc on the training-centered Xc, yc, with a
// tiny ridge λ = 1e-8·trace(XcᵀXc)/D, and ŷ = ȳ + (x − x̄)·w.
func LinearPredict(tr, te *Table) ([]float64, error) {
	if err := baselineTables(tr, te); err != nil {
		return nil, fmt.Errorf("linear baseline: %w", err)
	}
	d := tr.D
	yMean := meanOf(tr.Y)
	xMean := make([]float64, d)
	for i := range tr.N {
		for j, v := range tr.Row(i) {
			xMean[j] += v
		}
	}
	for j := range xMean {
		xMean[j] /= float64(tr.N)
	}
	gram := make([]float64, d*d) // upper triangle of XcᵀXc
	xty := make([]float64, d)
	xc := make([]float64, d)
	for i := range tr.N {
		for j, v := range tr.Row(i) {
			xc[j] = v - xMean[j]
		}
		yc := tr.Y[i] - yMean
		for a := range d {
			xty[a] += xc[a] * yc
			row := gram[a*d : (a+1)*d]
			for b := a; b < d; b++ {
				row[b] += xc[a] * xc[b]
			}
		}
	}
	var trace float64
	for j := range d {
		trace += gram[j*d+j]
	}
	lambda := linearRidge * trace / float64(d)
	if !(lambda > 0) {
		lambda = linearRidge // every feature constant: w = 0, the mean baseline
	}
	sym := mat.NewSymDense(d, nil)
	for a := range d {
		for b := a; b < d; b++ {
			sym.SetSym(a, b, gram[a*d+b])
		}
		sym.SetSym(a, a, gram[a*d+a]+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		return nil, fmt.Errorf("linear baseline: normal equations of %s (%d rows, %d features) are not positive definite", tr.Name, tr.N, d)
	}
	var w mat.VecDense
	if err := chol.SolveVecTo(&w, mat.NewVecDense(d, xty)); err != nil {
		return nil, fmt.Errorf("linear baseline: %s: %w", tr.Name, err)
	}
	pred := make([]float64, te.N)
	for i := range te.N {
		p := yMean
		for j, v := range te.Row(i) {
			p += (v - xMean[j]) * w.AtVec(j)
		}
		pred[i] = p
	}
	return pred, nil
}

// RMSE returns sqrt(mean((pred − y)²)).
func RMSE(pred, y []float64) float64 {
	var s float64
	for i := range y {
		s += (pred[i] - y[i]) * (pred[i] - y[i])
	}
	return math.Sqrt(s / float64(len(y)))
}

func baselineTables(tr, te *Table) error {
	if tr == nil || te == nil || tr.N < 1 || tr.D != te.D {
		return fmt.Errorf("need a non-empty training table and a test table with the same features")
	}
	return nil
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
