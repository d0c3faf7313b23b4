package datadistill

import (
	"testing"

	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// goldenCase is one file of testdata/golden/datadistill (gen_datadistill.py, PyTorch autograd
// in float64 re-stating the official MTT/AST code).
type goldenCase struct {
	Kind           string      `json:"kind"`
	Sizes          []int       `json:"sizes"`
	Act            string      `json:"act"`
	Classes        int         `json:"classes"`
	IPC            int         `json:"ipc"`
	SynSteps       int         `json:"syn_steps"`
	ExpertEpochs   int         `json:"expert_epochs"`
	InnerMomentum  float64     `json:"inner_momentum"`
	MiddleMatching bool        `json:"middle_matching"`
	Factor         float64     `json:"factor"`
	Alpha          float64     `json:"alpha"`
	X              []float64   `json:"x"`
	Labels         []int       `json:"labels"`
	Start          [][]float64 `json:"start"`
	Target         [][]float64 `json:"target"`

	Loss      float64   `json:"loss"`
	GradX     []float64 `json:"grad_x"`
	GradAlpha float64   `json:"grad_alpha"`
	// ast_expert_step
	LR          float64     `json:"lr"`
	Momentum    float64     `json:"momentum"`
	L2          float64     `json:"l2"`
	LossDecay   float64     `json:"loss_decay"`
	GradPenalty float64     `json:"grad_penalty"`
	Params      [][]float64 `json:"params"`
	Velocity    [][]float64 `json:"velocity"`
	NewParams   [][]float64 `json:"new_params"`
	NewVelocity [][]float64 `json:"new_velocity"`
}

func toParams(v [][]float64) Params {
	p := make(Params, len(v))
	for i, t := range v {
		p[i] = f32(t)
	}
	return p
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestGolden runs every matching-loss and expert-step case: our float32 graphs against the
// float64 PyTorch reference (tolerances are float32's).
func TestGolden(t *testing.T) {
	files := golden.Select(t, "datadistill", func(f golden.File) golden.Verdict {
		switch f.String("kind") {
		case "mtt_matching", "ast_expert_step":
			return golden.Mine
		}
		return golden.Unknown
	})
	require.NotEmpty(t, files)
	be := backend.MustDefault()
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var c goldenCase
		require.NoError(t, f.Decode(&c))
		m := MLP{Sizes: c.Sizes, Act: c.Act}
		require.NoError(t, m.Validate())
		d := c.Sizes[0]
		switch c.Kind {
		case "mtt_matching":
			var raw struct {
				Middles [][][]float64 `json:"middles"`
			}
			require.NoError(t, f.Decode(&raw))
			syn := &Dataset{X: f32(c.X), Y: c.Labels, N: len(c.Labels), D: d, Classes: c.Classes}
			require.NoError(t, syn.Validate())
			cfg := Config{IPC: c.IPC, SynSteps: c.SynSteps, ExpertEpochs: c.ExpertEpochs, InnerMomentum: c.InnerMomentum, MiddleMatching: c.MiddleMatching}
			mt, err := newMatcher(be, m, cfg, syn)
			require.NoError(t, err)
			defer mt.exec.Finalize()
			var middles []Params
			for _, p := range raw.Middles {
				middles = append(middles, toParams(p))
			}
			require.Len(t, middles, len(cfg.middleSteps()))
			loss, gx, ga, err := mt.eval(syn.X, c.Alpha, c.Factor, toParams(c.Start), toParams(c.Target), middles)
			require.NoError(t, err)
			golden.RequireScalar(t, "loss", loss, c.Loss, 1e-6, 1e-4)
			golden.RequireClose(t, "grad_x", f64(gx), c.GradX, 1e-5, 1e-3)
			golden.RequireScalar(t, "grad_alpha", ga, c.GradAlpha, 1e-5, 1e-3)
		case "ast_expert_step":
			tr, err := newTrainer(be, m, c.Momentum, c.L2, c.GradPenalty)
			require.NoError(t, err)
			defer tr.exec.Finalize()
			p, v := toParams(c.Params), toParams(c.Velocity)
			oh := make([]float32, len(c.Labels)*c.Classes)
			for i, y := range c.Labels {
				oh[i*c.Classes+y] = 1
			}
			loss, err := tr.step(p, v, f32(c.X), oh, len(c.Labels), d, c.Classes, float32(c.LR), float32(c.LossDecay))
			require.NoError(t, err)
			golden.RequireScalar(t, "loss", float64(loss), c.Loss, 1e-6, 1e-4)
			for i := range p {
				golden.RequireClose(t, "new params", f64(p[i]), c.NewParams[i], 1e-6, 1e-4)
				if c.Momentum > 0 {
					golden.RequireClose(t, "new velocity", f64(v[i]), c.NewVelocity[i], 1e-6, 1e-4)
				}
			}
		}
	})
}
