// Package distillbench holds the distillation benchmarks of the suite:
//
//   - "distill": digits, a wide teacher MLP distilled into a small student MLP; arms teacher,
//     student (alone), kd, dkd, ps-kd (self-distillation), fitnet+kd; metrics test accuracy
//     and expected calibration error (ECE, 15 bins), over 3 seeds.
//   - "longtail": long-tailed digits (classes subsampled exponentially, imbalance 1:50); arms
//     ce, logit-adjustment, mdcs, dice; metrics overall accuracy and few-shot-class accuracy on
//     the balanced test split.
//   - "mi-bounds": correlated Gaussians with a known mutual information; each bound of
//     Distiller (InfoNCE, NWJ, TUBA, I_α) trained with a separable critic, its estimate
//     against the truth (InfoNCE saturates at log batch size).
//
// Every benchmark prints a paper-style table to opts.Out, writes PNG plots to opts.PlotDir and
// honours -quick and -seeds.
package distillbench

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

func init() {
	suite.Register("distill", suite.Func{
		Desc: "digits: wide MLP teacher -> small student; student vs KD, DKD, PS-KD, FitNet+KD (accuracy, ECE)",
		Fn:   runDistill,
	})
	suite.Register("longtail", suite.Func{
		Desc: "long-tailed digits (1:50): CE vs logit adjustment vs MDCS vs Dice (overall and few-shot accuracy)",
		Fn:   runLongTail,
	})
	suite.Register("mi-bounds", suite.Func{
		Desc: "MI lower bounds (InfoNCE, NWJ, TUBA, I_alpha) on correlated Gaussians vs the true MI",
		Fn:   runMIBounds,
	})
}

// ECE is the expected calibration error with nbins equal-width confidence bins:
// Σ_b (n_b/N)·|accuracy_b − mean confidence_b|, with the confidence = max softmax probability.
func ECE(probs [][]float64, labels []int, nbins int) float64 {
	count := make([]float64, nbins)
	conf := make([]float64, nbins)
	acc := make([]float64, nbins)
	for i, p := range probs {
		best, arg := -1.0, 0
		for c, v := range p {
			if v > best {
				best, arg = v, c
			}
		}
		b := int(math.Ceil(best*float64(nbins))) - 1 // bins (k/n, (k+1)/n], as PS-KD's ECE
		b = min(max(b, 0), nbins-1)
		count[b]++
		conf[b] += best
		if arg == labels[i] {
			acc[b]++
		}
	}
	ece := 0.0
	n := float64(len(probs))
	for b := range nbins {
		if count[b] > 0 {
			ece += count[b] / n * math.Abs(acc[b]/count[b]-conf[b]/count[b])
		}
	}
	return ece
}

// Accuracy returns the fraction of rows whose argmax is the label, overall and restricted to
// the classes in subset (nil: NaN).
func Accuracy(probs [][]float64, labels []int, subset map[int]bool) (all, sub float64) {
	var ok, n, okS, nS float64
	for i, p := range probs {
		arg := 0
		for c := range p {
			if p[c] > p[arg] {
				arg = c
			}
		}
		hit := 0.0
		if arg == labels[i] {
			hit = 1
		}
		ok += hit
		n++
		if subset[labels[i]] {
			okS += hit
			nS++
		}
	}
	sub = math.NaN()
	if nS > 0 {
		sub = okS / nS
	}
	return ok / n, sub
}

// predictProbs runs fn (a train.ModelFn whose first output is logits) over the rows of t and
// returns the softmax probabilities.
func predictProbs(b compute.Backend, store *model.Store, fn train.ModelFn, t *data.Table) ([][]float64, error) {
	xs := make([]float32, len(t.X))
	for i, v := range t.X {
		xs[i] = float32(v)
	}
	outs, err := train.Predict(b, store, fn, tensors.FromFlatDataAndDimensions(xs, t.N, t.D))
	if err != nil {
		return nil, err
	}
	logits := tensors.MustCopyFlatData[float32](outs[0])
	c := outs[0].Shape().Dimensions[1]
	probs := make([][]float64, t.N)
	for i := range probs {
		row := logits[i*c : (i+1)*c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		p := make([]float64, c)
		s := 0.0
		for k, v := range row {
			p[k] = math.Exp(float64(v) - m)
			s += p[k]
		}
		for k := range p {
			p[k] /= s
		}
		probs[i] = p
	}
	return probs, nil
}

func labelsOf(t *data.Table) []int {
	out := make([]int, t.N)
	for i, y := range t.Y {
		out[i] = int(y)
	}
	return out
}

func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}
