package distillbench

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
)

// MISpec sizes the "mi-bounds" benchmark: Dim pairs of standard normals with correlation ρ
// (true MI −(Dim/2)·log(1 − ρ²)), batches of Batch fresh samples per step.
type MISpec struct {
	Dim, Batch, Steps int
	TrueMI            []float64
	// Estimators: "infonce", "nwj", "tuba" or "mi_alpha=<α>".
	Estimators []string
	// Hidden and Out size the separable critic (and the baseline's hidden layer).
	Hidden, Out int
	LR          float64
}

// DefaultMISpec is the full benchmark (Poole et al.'s setting, shorter); quick has fewer MI
// levels, estimators and steps.
func DefaultMISpec(quick bool) MISpec {
	s := MISpec{Dim: 20, Batch: 128, Steps: 1200, TrueMI: []float64{2, 4, 6, 8, 10},
		Estimators: []string{"infonce", "nwj", "tuba", "mi_alpha=0.01", "mi_alpha=0.5", "mi_alpha=0.99"}, Hidden: 64, Out: 32, LR: 1e-3}
	if quick {
		s.Steps, s.Batch, s.Hidden, s.Out, s.TrueMI = 900, 64, 64, 16, []float64{2, 6, 10}
		s.Estimators = []string{"infonce", "nwj", "tuba", "mi_alpha=0.5"}
	}
	return s
}

// tickDataset drives the training loop: the samples are drawn in the graph from the store's
// random generator, so each batch only carries the step counter.
type tickDataset struct{ step int64 }

func (d *tickDataset) Name() string       { return "gaussians" }
func (d *tickDataset) SetStep(step int64) { d.step = step }
func (d *tickDataset) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			d.step++
			b := gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromScalar(float32(d.step))}, Labels: []*tensors.Tensor{tensors.FromScalar(float32(0))}}
			if !yield(b, nil) {
				return
			}
		}
	}
}

func estimatorBound(name string) (bound string, alpha float64) {
	if a, ok := strings.CutPrefix(name, "mi_alpha="); ok {
		var x float64
		fmt.Sscan(a, &x)
		return "mi_alpha", x
	}
	return name, 0.5
}

// miModel builds, for every true MI level and estimator, a fresh batch of correlated Gaussians
// and the estimator's bound with its own critic; each bound is reported as
// "bound/<level>/<estimator>" and −bound is minimized.
func miModel(spec MISpec, mis map[string]*distill.MI) train.ModelFn {
	return func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		for li, mi := range spec.TrueMI {
			level := scope.In("level%d", li)
			rho := distill.CorrelationForMI(spec.Dim, mi)
			shape := shapes.Make(dtypes.Float32, spec.Batch, spec.Dim)
			x := scope.RandomNormal(g, shape)
			eps := scope.RandomNormal(g, shape)
			y := Add(MulScalar(x, rho), MulScalar(eps, math.Sqrt(1-rho*rho))) // corr(x_k, y_k) = ρ
			for _, est := range spec.Estimators {
				b := mis[est].Bound(level.In("%s", strings.ReplaceAll(strings.ReplaceAll(est, "=", "_"), ".", "p")), x, y)
				name := fmt.Sprintf("bound/%g/%s", mi, est)
				train.Report(name, b)
				train.AddExtraLoss("neg_"+name, 1, Neg(b))
			}
		}
		return []*Node{ScalarZero(g, dtypes.Float32)}
	}
}

// MIResult holds each estimator's final estimate (mean bound over the last fifth of
// training) and its curve, by true MI.
type MIResult struct {
	Estimate  map[string][]float64 // estimator -> per true MI
	Curves    map[string]suite.Series
	MsPerStep float64
}

// RunMI trains every critic for one seed.
func RunMI(ctx context.Context, opts suite.Options, spec MISpec, seed int) (*MIResult, error) {
	mis := map[string]*distill.MI{}
	for _, est := range spec.Estimators {
		bound, alpha := estimatorBound(est)
		m, err := distill.NewMI(distill.MIConfig{StudentTap: "x", TeacherTap: "y", Bound: bound, Alpha: alpha, Hidden: spec.Hidden, Out: spec.Out})
		if err != nil {
			return nil, fmt.Errorf("estimator %q: %w", est, err)
		}
		mis[est] = m
	}
	res, err := train.Run(ctx, train.Config{Name: fmt.Sprintf("mi/seed%d", seed), Backend: opts.Backend, Seed: int64(seed),
		Model: miModel(spec, mis), NoLoss: true, Optimizer: "adam", LearningRate: spec.LR, Steps: spec.Steps,
		Train: &tickDataset{}, EvalEvery: max(1, spec.Steps/5), Progress: true})
	if err != nil {
		return nil, err
	}
	out := &MIResult{Estimate: map[string][]float64{}, Curves: map[string]suite.Series{}, MsPerStep: res.MsPerStep}
	for _, est := range spec.Estimators {
		for _, mi := range spec.TrueMI {
			name := fmt.Sprintf("bound/%g/%s", mi, est)
			out.Estimate[est] = append(out.Estimate[est], res.Final[name])
			x, y := res.Curve(name)
			out.Curves[name] = suite.Series{Name: est, X: x, Y: y}
		}
	}
	return out, nil
}

func runMIBounds(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	return runMIBoundsSpec(ctx, opts, DefaultMISpec(opts.Quick))
}

func runMIBoundsSpec(ctx context.Context, opts suite.Options, spec MISpec) ([]suite.Result, error) {
	seeds := opts.SeedsOr(1, 1)
	est := map[string][][]float64{} // estimator -> level -> per seed
	var ms []float64
	var first *MIResult
	for s := 1; s <= seeds; s++ {
		r, err := RunMI(ctx, opts, spec, s)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", s, err)
		}
		if s == 1 {
			first = r
		}
		ms = append(ms, r.MsPerStep)
		for e, vals := range r.Estimate {
			if est[e] == nil {
				est[e] = make([][]float64, len(spec.TrueMI))
			}
			for li, v := range vals {
				est[e][li] = append(est[e][li], v)
			}
		}
	}
	logB := math.Log(float64(spec.Batch))
	msMean, _ := suite.MeanStd(ms)
	task := fmt.Sprintf("gaussian-d%d-b%d", spec.Dim, spec.Batch)
	opts.Logf("\nmi-bounds: %d correlated Gaussian pairs, batch %d (log B = %.2f nats), separable critic %d-%d, %d steps, %d seed(s): estimate (nats) vs true MI",
		spec.Dim, spec.Batch, logB, spec.Hidden, spec.Out, spec.Steps, seeds)
	header := fmt.Sprintf("%-15s", "estimator")
	for _, mi := range spec.TrueMI {
		header += fmt.Sprintf(" %8s", fmt.Sprintf("MI=%g", mi))
	}
	opts.Logf("%s", header)
	var rows []suite.Result
	for _, e := range spec.Estimators {
		line := fmt.Sprintf("%-15s", e)
		for li, mi := range spec.TrueMI {
			r := suite.Row("mi-bounds", task, e, fmt.Sprintf("estimate@mi=%g", mi), est[e][li], msMean, spec.Steps)
			r.Extra["true_mi"] = mi
			r.Extra["log_batch"] = logB
			rows = append(rows, r)
			line += fmt.Sprintf(" %8.3f", r.Value)
		}
		opts.Logf("%s", line)
	}
	opts.Logf("(InfoNCE ≤ log B = %.2f by construction: it saturates once the true MI exceeds it.)", logB)
	if p := opts.PlotPath("mi-bounds", task); p != "" && first != nil {
		vs := suite.Chart{Title: fmt.Sprintf("MI estimates vs truth (d=%d, batch %d)", spec.Dim, spec.Batch), XLabel: "true MI (nats)", YLabel: "estimate (nats)"}
		vs.Series = append(vs.Series, suite.Series{Name: "truth", X: spec.TrueMI, Y: spec.TrueMI},
			suite.Series{Name: "log B", X: []float64{spec.TrueMI[0], spec.TrueMI[len(spec.TrueMI)-1]}, Y: []float64{logB, logB}})
		for _, e := range spec.Estimators {
			m := make([]float64, len(spec.TrueMI))
			for li := range spec.TrueMI {
				m[li], _ = suite.MeanStd(est[e][li])
			}
			vs.Series = append(vs.Series, suite.Series{Name: e, X: spec.TrueMI, Y: m})
		}
		top := spec.TrueMI[len(spec.TrueMI)-1]
		curves := suite.Chart{Title: fmt.Sprintf("training curves at true MI = %g (seed 1)", top), XLabel: "step", YLabel: "bound (nats, mean between evaluations)"}
		for _, e := range spec.Estimators {
			curves.Series = append(curves.Series, first.Curves[fmt.Sprintf("bound/%g/%s", top, e)])
		}
		if err := suite.SavePlots(p, vs, curves); err != nil {
			return rows, err
		}
		opts.Logf("plot: %s", p)
	}
	return rows, nil
}
