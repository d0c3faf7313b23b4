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
// Two tasks differ only in how the PDE rows are scaled (physics.Problem.PDEScale), in the
// NLLS and in the loss alike: diffusion-sorption is the official residual in physical time
// (u_t ~ 1/500 s⁻¹, so the IC/BC rows dominate both the solve and the loss);
// diffusion-sorption-pdex500 multiplies it by T = 500 (the residual in τ = t/T units), so the
// PDE rows weigh as much as the boundary rows. pde_residual is always in physical units.
//
// Rows: Task = diffusion-sorption | diffusion-sorption-pdex500, Metric = rel_l2 (‖u-u_ref‖₂/‖u_ref‖₂ on the grid, the
// official metric), pde_residual (RMS of u_t - D/R(u)·u_xx over the grid), physics_loss;
// MsPerStep = median training step. Extra: per-seed values, mean LM iterations per expert
// solve and the number of solves that hit 100 iterations. Plots: pi-moe-TASK.png, physics
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
	// Scales are the tasks: physics.Problem.PDEScale of each (0: the official residual in
	// physical time; 500 = T: the residual in τ = t/T units).
	Scales []float64
}

// TaskName names the task of a PDE scale.
func TaskName(scale float64) string {
	if scale == 0 || scale == 1 {
		return "diffusion-sorption"
	}
	return fmt.Sprintf("diffusion-sorption-pdex%g", scale)
}

// DefaultSetup returns the full or quick configuration.
func DefaultSetup(quick bool) Setup {
	s := Setup{Nx: 64, Nt: 32, Refine: 4, Basis: 16, Hidden: 32, Steps: 400, Seeds: 3,
		GlobalSamples: 1000, Experts: 4, ExpertSamples: 250, LR: 1e-3, Clip: 1, Scales: []float64{0, 500}}
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
	if len(s.Scales) == 0 {
		return nil, fmt.Errorf("pi-moe: no tasks (Setup.Scales is empty)")
	}
	bar := suite.NewProgress(3*s.Seeds*len(s.Scales), benchName)
	defer bar.Done()
	var rows []suite.Result
	for _, sc := range s.Scales {
		r, err := runTask(ctx, opts, s, sc, bar)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

func runTask(ctx context.Context, opts suite.Options, s Setup, scale float64, bar *suite.Progress) ([]suite.Result, error) {
	task := TaskName(scale)
	prob := physics.DiffusionSorption(s.Nx, s.Nt)
	prob.PDEScale = scale
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
	for seed := range s.Seeds {
		for _, arm := range arms {
			cfg := cfgs[arm]
			cfg.Basis, cfg.Hidden, cfg.Steps, cfg.LR, cfg.Clip, cfg.Seed = s.Basis, s.Hidden, s.Steps, s.LR, s.Clip, uint64(seed+1)
			bar.Describe(fmt.Sprintf("%s %s seed %d", task, arm, seed+1))
			r, err := physics.Train(ctx, &prob, ref, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s %s seed %d: %w", task, arm, seed+1, err)
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
	chart = suite.Chart{Title: "pi-moe: physics loss (mean over seeds), " + task, XLabel: "step", YLabel: "physics loss", LogY: true}
	for _, arm := range arms {
		a := results[arm]
		ms, _ := suite.MeanStd(a.ms)
		for _, m := range []struct {
			name string
			v    []float64
		}{{"rel_l2", a.rel}, {"pde_residual", a.res}, {"physics_loss", a.loss}} {
			row := suite.Row(benchName, task, arm, m.name, m.v, ms, s.Steps)
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
	if path := opts.PlotPath(benchName, task); path != "" {
		if err := suite.SavePlots(path, chart); err != nil {
			return nil, err
		}
	}
	if opts.Out != nil {
		fmt.Fprintf(opts.Out, "pi-moe %s: %d×%d (x, t) grid, %d basis functions, %d steps, %d seeds; reference max |u| = %.3g\n",
			task, s.Nx, s.Nt, s.Basis, s.Steps, s.Seeds, maxAbs(ref))
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
