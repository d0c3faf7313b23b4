package data

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// HeavyTailedCounts returns a synthetic regression table shaped like public count data sets
// (bike rentals, insurance claims): n rows, 9 features, and a heavy-tailed count target with
// a weak signal. Features: x0..x3 standard normal, x4, x5 lognormal (skewed), x6 a Poisson(3)
// count, x7 a 0/1 flag, x8 pure noise. The target is negative binomial (a gamma-Poisson
// mixture with shape 0.5, variance μ + 2μ²):
//
//	log μ = 0.8 + 0.3·x0 − 0.2·x1 + 0.15·tanh(x2·x3) + 0.1·log(x4) + 0.2·x7
//
// At 20000 rows the target has mean ≈ 2.6 and std ≈ 4.4, a least-squares line explains about
// 5% of its variance, and the largest counts lie 10 to 20 standard deviations above the mean.
func HeavyTailedCounts(n int, seed uint64) *Table {
	r := Rand(seed)
	const d = 9
	t := &Table{Name: "heavytail", N: n, D: d, Task: Regression,
		X: make([]float64, 0, n*d), Y: make([]float64, 0, n)}
	for range n {
		x := make([]float64, d)
		for j := range 4 {
			x[j] = r.NormFloat64()
		}
		x[4], x[5] = math.Exp(0.7*r.NormFloat64()), math.Exp(r.NormFloat64())
		x[6] = float64(poisson(r, 3))
		if r.Float64() < 0.3 {
			x[7] = 1
		}
		x[8] = r.NormFloat64()
		logMu := 0.8 + 0.3*x[0] - 0.2*x[1] + 0.15*math.Tanh(x[2]*x[3]) + 0.1*math.Log(x[4]) + 0.2*x[7]
		lambda := math.Exp(logMu) * gamma(r, 0.5) / 0.5 // mean-1 gamma mixing, shape 0.5
		t.X = append(t.X, x...)
		t.Y = append(t.Y, float64(poisson(r, lambda)))
	}
	return t
}

// WriteCSV writes t as a moeboost CSV (header "N,D,target" for regression, then one row per
// example, label last).
func WriteCSV(w io.Writer, t *Table) error {
	if t.Task != Regression {
		return fmt.Errorf("WriteCSV writes regression tables, %s is %s", t.Name, t.Task)
	}
	if _, err := fmt.Fprintf(w, "%d,%d,target\n", t.N, t.D); err != nil {
		return err
	}
	var b strings.Builder
	for i := range t.N {
		b.Reset()
		for _, v := range t.Row(i) {
			b.WriteString(strconv.FormatFloat(v, 'g', 8, 64))
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(t.Y[i], 'g', -1, 64))
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// gamma draws from Gamma(shape, 1) (Marsaglia and Tsang 2000; shape < 1 by boosting with
// U^(1/shape)).
func gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// poisson draws from Poisson(lambda) by counting unit-rate exponential arrivals before
// lambda (exact; O(lambda) draws, fine for the small means used here).
func poisson(r *rand.Rand, lambda float64) int {
	k := 0
	for s := r.ExpFloat64(); s < lambda; s += r.ExpFloat64() {
		k++
	}
	return k
}
