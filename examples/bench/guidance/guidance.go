// Package guidance is the `guidance` benchmark: classifier-free guidance (CFG, Ho & Salimans
// 2022) against adaptive projected guidance (APG; Sadat, Hilliges, Weber, "Eliminating
// Oversaturation and Artifacts of High Guidance Scales in Diffusion Models", ICLR 2025) on a
// small class-conditional DDPM (package diffusion) trained on the bundled 8×8 digits.
//
// Full mode: 3 seeds (70/30 split, denoiser and classifier retrained per seed), 5000 denoiser
// steps, 24 samples per class, 50 DDIM steps. -quick: 1 seed, 2500 steps, 16 samples per class.
// Arms: "cfg" and "apg r=1", "apg r=2.5" (eta 0, beta -0.75; r in x0 units, 2.5 the paper
// code's default). Saturation counts pixels with |x| >= 0.98 after clipping to [-1, 1]; the
// diversity (mean within-class pixel L2) also rises with CFG's high-w pixel noise, so read it
// together with the Fréchet distance. The anchor row is the real test split (its Fréchet
// distance: real training vs test features).
package guidance

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"gonum.org/v1/gonum/mat"

	"github.com/moeboost/moeboost/diffusion"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

const name = "guidance"

// Setup sizes one run.
type Setup struct {
	Seeds, DenoiserSteps, ClassifierSteps, PerClass, DDIMSteps int
	Hidden, Layers                                             int
	Ws, Rs                                                     []float64
}

// Arm is one guidance rule: CFG, or APG with eta 0, beta -0.75 and norm threshold R.
type Arm struct {
	Name string
	Rule string
	Cfg  diffusion.Config
}

// Arms returns CFG and one APG arm per threshold r (paper defaults eta = 0, beta = -0.75).
func (s Setup) Arms() []Arm {
	arms := []Arm{{Name: "cfg", Rule: "cfg"}}
	for _, r := range s.Rs {
		arms = append(arms, Arm{Name: fmt.Sprintf("apg r=%g", r), Rule: "apg", Cfg: diffusion.Config{Eta: 0, Momentum: -0.75, NormThreshold: r}})
	}
	return arms
}

// Metrics are the benchmark's per-(w, arm) measurements, in row order, with whether higher is better.
var Metrics = []struct {
	Name   string
	Higher bool
}{{"accuracy", true}, {"saturation", false}, {"mean_abs", false}, {"diversity", true}, {"frechet", false}}

func init() {
	suite.Register(name, suite.Func{
		Desc: "CFG vs APG (Sadat et al. ICLR 2025) guidance on a class-conditional DDPM over 8x8 digits: accuracy, saturation, diversity, Frechet distance vs w",
		Fn: func(ctx context.Context, o suite.Options) ([]suite.Result, error) {
			s := Setup{Seeds: o.SeedsOr(3, 1), DenoiserSteps: 5000, ClassifierSteps: 1500, PerClass: 24, DDIMSteps: 50,
				Hidden: 256, Layers: 3, Ws: []float64{1, 3, 5, 8, 12, 15}, Rs: []float64{1, 2.5}}
			if o.Quick {
				s.DenoiserSteps, s.ClassifierSteps, s.PerClass = 2500, 800, 16 // 1 seed
			}
			return Run(ctx, o, s)
		},
	})
}

// pixels scales digits' 0..16 intensities to [-1, 1].
func pixels(t *data.Table) []float64 {
	x := make([]float64, len(t.X))
	for i, v := range t.X {
		x[i] = v/8 - 1
	}
	return x
}

// Run trains one denoiser and one classifier per seed and evaluates every (w, arm).
func Run(ctx context.Context, o suite.Options, s Setup) ([]suite.Result, error) {
	if o.DataFile != "" || o.TextFile != "" {
		o.Logf("guidance: -data/-text do not apply (the benchmark generates 8x8 images of the bundled digits); ignoring them")
	}
	tab, err := data.Builtin("digits")
	if err != nil {
		return nil, err
	}
	arms := s.Arms()
	type key struct {
		w      float64
		arm    string
		metric string
	}
	vals := map[key][]float64{}
	real := map[string][]float64{}
	bar := suite.NewProgress(s.Seeds*(2+len(s.Ws)*len(arms)), name)
	defer bar.Done()
	var dSteps int
	for seed := range s.Seeds {
		tr, te, err := tab.Split(0.3, uint64(seed)+1)
		if err != nil {
			return nil, err
		}
		xtr, xte := pixels(tr), pixels(te)
		ytr := make([]int, tr.N)
		for i, v := range tr.Y {
			ytr[i] = int(v)
		}
		clf, err := trainClassifier(ctx, o, tr, xtr, s, int64(seed))
		if err != nil {
			return nil, err
		}
		bar.Add(1)
		d := diffusion.Denoiser{Pixels: tr.D, Classes: tab.NumClasses, Hidden: s.Hidden, Layers: s.Layers, TimeDim: 32, T: 1000}
		store, err := diffusion.Train(ctx, o.Backend, xtr, ytr, diffusion.TrainConfig{Denoiser: d, Batch: 256,
			Steps: s.DenoiserSteps, LR: 2e-3, Optimizer: "adamw", LabelDrop: 0.15, Seed: int64(seed)})
		if err != nil {
			return nil, err
		}
		dSteps = s.DenoiserSteps
		bar.Add(1)
		sampler, err := diffusion.NewSampler(o.Backend, store, d)
		if err != nil {
			return nil, err
		}
		teFeat, teLogits, err := clf(xte, te.N)
		if err != nil {
			return nil, err
		}
		yte := make([]int, te.N)
		for i, v := range te.Y {
			yte[i] = int(v)
		}
		rm := measure(xte, yte, teLogits, teFeat, teFeat, tr.D, d.Classes)
		// The anchor's Fréchet distance is the real training images' against the test images'
		// (the finite-sample floor; test against itself would be 0 by construction).
		trFeat, _, err := clf(xtr, tr.N)
		if err != nil {
			sampler.Close()
			return nil, err
		}
		rm["frechet"] = Frechet(trFeat, teFeat, len(teFeat)/te.N)
		for k, v := range rm {
			real[k] = append(real[k], v)
		}
		classes := make([]int, 0, d.Classes*s.PerClass)
		for c := range d.Classes {
			for range s.PerClass {
				classes = append(classes, c)
			}
		}
		for _, w := range s.Ws {
			for _, a := range arms {
				if err := ctx.Err(); err != nil {
					sampler.Close()
					return nil, err
				}
				g, err := diffusion.New(a.Rule, a.Cfg)
				if err != nil {
					sampler.Close()
					return nil, err
				}
				x, err := sampler.Sample(classes, g, w, s.DDIMSteps, uint64(1000*seed+7))
				if err != nil {
					sampler.Close()
					return nil, err
				}
				for i := range x {
					x[i] = min(1, max(-1, x[i]))
				}
				feat, logits, err := clf(x, len(classes))
				if err != nil {
					sampler.Close()
					return nil, err
				}
				for k, v := range measure(x, classes, logits, feat, teFeat, tr.D, d.Classes) {
					vals[key{w, a.Name, k}] = append(vals[key{w, a.Name, k}], v)
				}
				if seed == 0 && (w == 3 || w == 12) {
					if p := o.PlotPath(name, fmt.Sprintf("samples-%s-w%g", strings.ReplaceAll(a.Name, " r=", "-r"), w)); p != "" {
						if err := saveGrid(p, x, d.Classes, s.PerClass, 8); err != nil {
							sampler.Close()
							return nil, err
						}
					}
				}
				bar.Add(1)
			}
		}
		sampler.Close()
	}
	var rows []suite.Result
	for _, m := range Metrics {
		r := suite.Row(name, "digits real test", "real-test", m.Name, real[m.Name], 0, 0)
		r.Extra["higher_is_better"] = m.Higher
		rows = append(rows, r.AsAnchor())
	}
	for _, w := range s.Ws {
		for _, a := range arms {
			for _, m := range Metrics {
				r := suite.Row(name, fmt.Sprintf("digits w=%g", w), a.Name, m.Name, vals[key{w, a.Name, m.Name}], 0, dSteps)
				r.Extra["higher_is_better"] = m.Higher
				r.Extra["w"] = w
				r.Extra["ddim_steps"] = s.DDIMSteps
				r.Extra["samples_per_class"] = s.PerClass
				rows = append(rows, r)
			}
		}
	}
	if o.Out != nil {
		suite.PrintTable(o.Out, rows)
	}
	if p := o.PlotPath(name, "metrics"); p != "" {
		var charts []suite.Chart
		for _, m := range Metrics {
			c := suite.Chart{Title: "guidance: " + m.Name + " vs w", XLabel: "guidance scale w", YLabel: m.Name}
			for _, a := range arms {
				sr := suite.Series{Name: a.Name}
				for _, w := range s.Ws {
					mu, sd := suite.MeanStd(vals[key{w, a.Name, m.Name}])
					sr.X, sr.Y, sr.Err = append(sr.X, w), append(sr.Y, mu), append(sr.Err, sd)
				}
				c.Series = append(c.Series, sr)
			}
			mu, _ := suite.MeanStd(real[m.Name])
			c.Series = append(c.Series, suite.Series{Name: "real test", X: []float64{s.Ws[0], s.Ws[len(s.Ws)-1]}, Y: []float64{mu, mu}})
			charts = append(charts, c)
		}
		if err := suite.SavePlots(p, charts...); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// classifierFn returns the penultimate features [n, F] and logits [n, classes] of n images.
type classifierFn func(x []float64, n int) (feat, logits []float64, err error)

// trainClassifier trains a 2-hidden-layer SiLU MLP (128, 64 units) on the real training images
// with cross-entropy and returns its feature/logit function (the 64-d penultimate layer is the
// feature space of the Fréchet distance).
func trainClassifier(ctx context.Context, o suite.Options, tr *data.Table, x []float64, s Setup, seed int64) (classifierFn, error) {
	t := tr.Clone()
	t.X = x
	batches, err := data.NewTrainBatches(t, 128, uint64(seed)+11)
	if err != nil {
		return nil, err
	}
	classes := tr.NumClasses
	net := func(scope *model.Scope, in *graph.Node) (feat, logits *graph.Node) {
		silu := func(v *graph.Node) *graph.Node { return graph.Mul(v, graph.Sigmoid(v)) }
		h := silu(layers.Dense(scope.In("h1"), in, true, 128))
		feat = silu(layers.Dense(scope.In("h2"), h, true, 64))
		return feat, layers.Dense(scope.In("out"), feat, true, classes)
	}
	res, err := train.Run(ctx, train.Config{
		Name: "digits-classifier", Backend: o.Backend, Seed: seed,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			_, l := net(scope.In("clf"), in[0])
			return []*graph.Node{l}
		},
		Loss: "cross_entropy", Optimizer: "adamw", LearningRate: 2e-3, Steps: s.ClassifierSteps, EvalEvery: s.ClassifierSteps, Train: batches,
	})
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(o.Backend, res.Store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		f, l := net(scope.In("clf"), in[0])
		return []*graph.Node{f, l}
	})
	if err != nil {
		return nil, err
	}
	return func(xs []float64, n int) ([]float64, []float64, error) {
		xf := make([]float32, len(xs))
		for i, v := range xs {
			xf[i] = float32(v)
		}
		out, err := exec.Call(tensors.FromFlatDataAndDimensions(xf, n, len(xs)/n))
		if err != nil {
			return nil, nil, err
		}
		f32, l32 := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		out[0].MustFinalizeAll()
		out[1].MustFinalizeAll()
		f, l := make([]float64, len(f32)), make([]float64, len(l32))
		for i, v := range f32 {
			f[i] = float64(v)
		}
		for i, v := range l32 {
			l[i] = float64(v)
		}
		return f, l, nil
	}, nil
}

// measure computes, for images x [n, p] in [-1, 1] of classes y: accuracy of the classifier
// (argmax logits == y), saturation (fraction of pixels with |x| >= 0.98), mean |x|, diversity
// (mean pairwise L2 distance between images of the same class, averaged over classes) and the
// Fréchet distance between the features and the reference features ref.
func measure(x []float64, y []int, logits, feat, ref []float64, p, classes int) map[string]float64 {
	n := len(y)
	acc, sat, mabs := 0.0, 0.0, 0.0
	for i := range n {
		best := 0
		for c := range classes {
			if logits[i*classes+c] > logits[i*classes+best] {
				best = c
			}
		}
		if best == y[i] {
			acc++
		}
	}
	for _, v := range x {
		if math.Abs(v) >= 0.98 {
			sat++
		}
		mabs += math.Abs(v)
	}
	div, nc := 0.0, 0
	for c := range classes {
		var idx []int
		for i, v := range y {
			if v == c {
				idx = append(idx, i)
			}
		}
		if len(idx) < 2 {
			continue
		}
		s, k := 0.0, 0
		for a := range idx {
			for b := a + 1; b < len(idx); b++ {
				d := 0.0
				for j := range p {
					t := x[idx[a]*p+j] - x[idx[b]*p+j]
					d += t * t
				}
				s += math.Sqrt(d)
				k++
			}
		}
		div += s / float64(k)
		nc++
	}
	return map[string]float64{"accuracy": acc / float64(n), "saturation": sat / float64(len(x)),
		"mean_abs": mabs / float64(len(x)), "diversity": div / float64(max(nc, 1)), "frechet": Frechet(feat, ref, len(feat)/n)}
}

// meanCov returns the mean and the (n-1) covariance of rows of a [n, d] matrix.
func meanCov(a []float64, d int) ([]float64, *mat.SymDense) {
	n := len(a) / d
	mu := make([]float64, d)
	for i := range n {
		for j := range d {
			mu[j] += a[i*d+j] / float64(n)
		}
	}
	cov := mat.NewSymDense(d, nil)
	for j := range d {
		for k := j; k < d; k++ {
			s := 0.0
			for i := range n {
				s += (a[i*d+j] - mu[j]) * (a[i*d+k] - mu[k])
			}
			cov.SetSym(j, k, s/float64(max(n-1, 1)))
		}
	}
	return mu, cov
}

// Frechet is the Fréchet distance between Gaussians fitted to a and b ([n, d] rows; Heusel et
// al. 2017, FID): |μa-μb|² + tr(Σa + Σb - 2(Σa^½ Σb Σa^½)^½), the matrix square roots by
// symmetric eigendecomposition (negative eigenvalues from round-off clipped to 0).
func Frechet(a, b []float64, d int) float64 {
	ma, ca := meanCov(a, d)
	mb, cb := meanCov(b, d)
	dist := 0.0
	for j := range d {
		dist += (ma[j] - mb[j]) * (ma[j] - mb[j])
	}
	var eig mat.EigenSym
	if !eig.Factorize(ca, true) {
		return math.NaN()
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	sq := mat.NewDense(d, d, nil)
	for j := range d {
		sq.Set(j, j, math.Sqrt(max(vals[j], 0)))
	}
	var sa, m1 mat.Dense
	sa.Product(&v, sq, v.T())
	m1.Product(&sa, cb, &sa)
	inner := mat.NewSymDense(d, nil)
	for j := range d {
		for k := j; k < d; k++ {
			inner.SetSym(j, k, (m1.At(j, k)+m1.At(k, j))/2)
		}
	}
	var e2 mat.EigenSym
	if !e2.Factorize(inner, false) {
		return math.NaN()
	}
	tr := 0.0
	for _, l := range e2.Values(nil) {
		tr += math.Sqrt(max(l, 0))
	}
	for j := range d {
		dist += ca.At(j, j) + cb.At(j, j)
	}
	return dist - 2*tr
}

// saveGrid writes one row per class of up to cols 8×8 samples (x in [-1, 1], classes in order
// with perClass samples each), each pixel drawn 4×4, white = 1.
func saveGrid(path string, x []float64, classes, perClass, cols int) error {
	const side = 8
	cols = min(cols, perClass)
	rows := make([][][]float64, classes)
	for c := range classes {
		for k := range cols {
			off := (c*perClass + k) * side * side
			cell := make([]float64, side*side)
			for i, v := range x[off : off+side*side] {
				cell[i] = (v + 1) / 2
			}
			rows[c] = append(rows[c], cell)
		}
	}
	return suite.SaveImageGrid(path, rows, side, 4)
}
