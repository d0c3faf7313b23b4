// Package pimoebench is the `pi-moe` benchmark: physics-informed hard constraints with a
// mixture of experts (PI-HC-MoE; Chalapathi, Du, Krishnapriyan, ICLR 2024) on 1-D
// diffusion-sorption (the official code's 1-D problem, PDEBench; the issue named
// diffusion-reaction, but the paper and its code use diffusion-sorption), with package physics.
//
// Protocol, laptop-scale: a 64 × 32 (x, t) grid of x ∈ [0, 1], t ∈ [0, 500 s]; one fixed
// initial field u0 = 0.1 + 0.05 sin(πx) (PDEBench draws random ones; no data is downloaded);
// ground truth from the explicit finite-difference solver refined 4× in x. A 2-32-32-16 tanh
// MLP of the normalised (x, t) replaces the FNO and emits N = 16 basis functions; training is
// physics-only (loss weights PDE = IC = BC = 1, data 0, as the official ds.yaml) with Adam
// lr 1e-3 and clipping by global norm 1.0 (no learning-rate decay at these step counts).
//
//   - soft-pinn (PI-SC, anchor): u = Σ w_k φ_k with w trained jointly by the physics loss.
//   - hard-global (PI-HC): w* from one Levenberg-Marquardt NLLS over 1000 sampled PDE points
//     plus every IC/BC row, the gradient through w* by the implicit function theorem.
//   - hard-moe-4 (PI-HC-MoE): 4 experts on a fixed split of x into 4 chunks, each its own NLLS
//     over 250 PDE points of its chunk plus the global IC/BC rows; outputs stitched.
//
// Rows: Task = diffusion-sorption, Metric = rel_l2 (‖u-u_ref‖₂/‖u_ref‖₂ on the grid, the
// official metric), pde_residual (RMS of u_t - D/R(u)·u_xx over the grid), physics_loss;
// MsPerStep = median training step. Extra: per-seed values, mean LM iterations per expert
// solve and the number of solves that hit 100 iterations. Plot: pi-moe-loss.png, physics
// loss against step (mean over seeds) per arm.
package pimoebench

import (
	"context"
	"fmt"
	"math"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/physics"
)

const benchName = "pi-moe"

func init() {
	suite.Register(benchName, suite.Func{
		Desc: "PI-HC-MoE (physics-informed hard constraints, K=4 x-experts) vs one global hard constraint vs soft-constraint PINN on 1-D diffusion-sorption: relative L2, PDE residual, ms/step",
		Fn:   run,
	})
}

// Setup is one benchmark configuration.
type Setup struct {
	Nx, Nt, Refine int
	Basis, Hidden  int
	Steps, Seeds   int
	GlobalSamples  int
	Experts        int
	ExpertSamples  int
	LR, Clip       float64
}

// DefaultSetup returns the full or quick configuration.
func DefaultSetup(quick bool) Setup {
	s := Setup{Nx: 64, Nt: 32, Refine: 4, Basis: 16, Hidden: 32, Steps: 400, Seeds: 3,
		GlobalSamples: 1000, Experts: 4, ExpertSamples: 250, LR: 1e-3, Clip: 1}
	if quick {
		s.Steps, s.Seeds = 80, 1
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	if opts.DataFile != "" || opts.TextFile != "" {
		fmt.Fprintln(opts.Out, "pi-moe: -data/-text do not apply (the benchmark solves a PDE on its own grid); ignored.")
	}
	return Run(ctx, opts, s)
}

// Arm names.
const (
	ArmSoft   = "soft-pinn"
	ArmGlobal = "hard-global"
	ArmMoE    = "hard-moe-4"
)

// Run trains every arm for every seed (arms interleaved per seed) and returns the rows.
func Run(ctx context.Context, opts suite.Options, s Setup) ([]suite.Result, error) {
	prob := physics.DiffusionSorption(s.Nx, s.Nt)
	ref, err := prob.Reference(s.Refine)
	if err != nil {
		return nil, err
	}
	arms := []string{ArmSoft, ArmGlobal, ArmMoE}
	cfgs := map[string]physics.TrainConfig{
		ArmSoft:   {Method: physics.Soft},
		ArmGlobal: {Method: physics.Hard, HC: physics.HardConstraint{Experts: 1, Samples: s.GlobalSamples}},
		ArmMoE:    {Method: physics.Hard, HC: physics.HardConstraint{Experts: s.Experts, Samples: s.ExpertSamples}},
	}
	type acc struct {
		rel, res, loss, ms, iters []float64
		notConv                   int
		curve                     []float64
	}
	results := map[string]*acc{}
	bar := suite.NewProgress(len(arms)*s.Seeds, benchName)
	defer bar.Done()
	for seed := range s.Seeds {
		for _, arm := range arms {
			cfg := cfgs[arm]
			cfg.Basis, cfg.Hidden, cfg.Steps, cfg.LR, cfg.Clip, cfg.Seed = s.Basis, s.Hidden, s.Steps, s.LR, s.Clip, uint64(seed+1)
			bar.Describe(fmt.Sprintf("%s seed %d", arm, seed+1))
			r, err := physics.Train(ctx, &prob, ref, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s seed %d: %w", arm, seed+1, err)
			}
			a := results[arm]
			if a == nil {
				a = &acc{curve: make([]float64, s.Steps)}
				results[arm] = a
			}
			a.rel = append(a.rel, r.RelL2)
			a.res = append(a.res, r.PDEResidual)
			a.loss = append(a.loss, r.Loss)
			a.ms = append(a.ms, r.MsPerStep)
			a.iters = append(a.iters, r.MeanLMIters)
			a.notConv += r.NotConv
			for i, v := range r.LossCurve {
				a.curve[i] += v / float64(s.Seeds)
			}
			bar.Add(1)
		}
	}
	var rows []suite.Result
	var chart suite.Chart
	chart = suite.Chart{Title: "pi-moe: physics loss (mean over seeds), 1-D diffusion-sorption", XLabel: "step", YLabel: "physics loss", LogY: true}
	for _, arm := range arms {
		a := results[arm]
		ms, _ := suite.MeanStd(a.ms)
		for _, m := range []struct {
			name string
			v    []float64
		}{{"rel_l2", a.rel}, {"pde_residual", a.res}, {"physics_loss", a.loss}} {
			row := suite.Row(benchName, "diffusion-sorption", arm, m.name, m.v, ms, s.Steps)
			row.Extra["higher_is_better"] = false
			if arm != ArmSoft {
				it, _ := suite.MeanStd(a.iters)
				row.Extra["mean_lm_iters"] = it
				row.Extra["lm_not_converged"] = a.notConv
			}
			if arm == ArmSoft {
				row = row.AsAnchor()
			}
			rows = append(rows, row)
		}
		xs := make([]float64, len(a.curve))
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		chart.Series = append(chart.Series, suite.Series{Name: arm, X: xs, Y: a.curve})
	}
	if path := opts.PlotPath(benchName, "loss"); path != "" {
		if err := suite.SavePlots(path, chart); err != nil {
			return nil, err
		}
	}
	if opts.Out != nil {
		fmt.Fprintf(opts.Out, "pi-moe: %d×%d (x, t) grid, %d basis functions, %d steps, %d seeds; reference max |u| = %.3g\n",
			s.Nx, s.Nt, s.Basis, s.Steps, s.Seeds, maxAbs(ref))
	}
	return rows, nil
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}
