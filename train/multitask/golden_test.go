package multitask

import (
	"math"
	"os"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/golden"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	backend.MustDefault() // the Go backend prints its settings once: before the Example's output
	os.Exit(m.Run())
}

// repCase is one golden Rep-MTL case (see testdata/golden/multitask/README.md).
type repCase struct {
	B, D, H int
	Tasks   []struct {
		Kind    string `json:"kind"`
		Classes int    `json:"classes"`
	} `json:"tasks"`
	TSRWeight float64     `json:"tsr_weight"`
	CSAWeight float64     `json:"csa_weight"`
	Tau       float64     `json:"tau"`
	X         []float64   `json:"x"`
	W1        []float64   `json:"w1"`
	B1        []float64   `json:"b1"`
	HeadW     [][]float64 `json:"head_w"`
	HeadB     [][]float64 `json:"head_b"`
	Targets   [][]float64 `json:"targets"`
	Losses    []float64   `json:"losses"`
	TSR       float64     `json:"tsr"`
	CSA       float64     `json:"csa"`
	Objective float64     `json:"objective"`
	GradW1    []float64   `json:"grad_w1"`
	GradB1    []float64   `json:"grad_b1"`
	GradHeadW [][]float64 `json:"grad_head_w"`
	GradHeadB [][]float64 `json:"grad_head_b"`
}

func (c *repCase) tasks() []Task {
	out := make([]Task, len(c.Tasks))
	for i, t := range c.Tasks {
		out[i] = Task{Name: string(rune('a' + i)), Kind: Regression}
		if t.Kind == "classification" {
			out[i] = Task{Name: out[i].Name, Kind: Classification, Classes: t.Classes}
		}
	}
	return out
}

// repGraph evaluates the golden network in float64: inputs x, w1, b1, then per task w, b,
// target. Outputs: losses..., tsr, csa, objective, then d objective / d (w1, b1, w_t, b_t ...).
type repGraph struct {
	exec  *model.Exec
	tasks []Task
}

func newRepGraph(t *testing.T, tasks []Task, cfg RepMTLConfig) *repGraph {
	cfg = cfg.WithDefaults()
	exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, in []*Node) []*Node {
		x, w1, b1 := in[0], in[1], in[2]
		z := Max(Add(MatMul(x, w1), ExpandAxes(b1, 0)), ZerosLike(MatMul(x, w1))) // relu
		losses := make([]*Node, len(tasks))
		params := []*Node{w1, b1}
		for k, task := range tasks {
			w, b, y := in[3+3*k], in[4+3*k], in[5+3*k]
			out := Add(MatMul(z, w), ExpandAxes(b, 0))
			if task.Kind == Regression {
				out = Reshape(out, -1)
			}
			losses[k] = TaskLoss(task, out, y)
			params = append(params, w, b)
		}
		tsr, csa := RepMTLTerms(Saliency(losses, z), cfg.Tau)
		obj := Add(sumLosses(losses), Add(MulScalar(tsr, cfg.TSRWeight), MulScalar(csa, cfg.CSAWeight)))
		outs := append(append([]*Node{}, losses...), tsr, csa, obj)
		return append(outs, Gradient(obj, params...)...)
	})
	require.NoError(t, err)
	return &repGraph{exec: exec, tasks: tasks}
}

func (r *repGraph) eval(t *testing.T, c *repCase, w1 []float64) []*tensors.Tensor {
	args := []any{
		tensors.FromFlatDataAndDimensions(append([]float64(nil), c.X...), c.B, c.D),
		tensors.FromFlatDataAndDimensions(append([]float64(nil), w1...), c.D, c.H),
		c.B1,
	}
	for k, task := range r.tasks {
		out := 1
		if task.Kind == Classification {
			out = task.Classes
		}
		args = append(args, tensors.FromFlatDataAndDimensions(append([]float64(nil), c.HeadW[k]...), c.H, out), c.HeadB[k])
		if task.Kind == Classification {
			y := make([]int32, len(c.Targets[k]))
			for i, v := range c.Targets[k] {
				y[i] = int32(v)
			}
			args = append(args, y)
		} else {
			args = append(args, c.Targets[k])
		}
	}
	res, err := r.exec.Exec(args...)
	require.NoError(t, err)
	return res
}

func flat64(t *tensors.Tensor) []float64 { return tensors.MustCopyFlatData[float64](t) }

// TestRepMTLGolden compares the regularizer values and the second-order gradients of the
// objective with the float64 PyTorch re-statement (testdata/golden/multitask/gen_repmtl.py).
func TestRepMTLGolden(t *testing.T) {
	files := golden.Select(t, "multitask", func(f golden.File) golden.Verdict {
		if f.String("kind") == "repmtl" {
			return golden.Mine
		}
		return golden.Unknown
	})
	require.NotEmpty(t, files)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var c repCase
		require.NoError(t, f.Decode(&c))
		tasks := c.tasks()
		rg := newRepGraph(t, tasks, RepMTLConfig{TSRWeight: c.TSRWeight, CSAWeight: c.CSAWeight, Tau: c.Tau})
		defer rg.exec.Finalize()
		res := rg.eval(t, &c, c.W1)
		T := len(tasks)
		for k := 0; k < T; k++ {
			golden.RequireScalar(t, "loss", tensors.ToScalar[float64](res[k]), c.Losses[k], 1e-9, 1e-9)
		}
		golden.RequireScalar(t, "tsr", tensors.ToScalar[float64](res[T]), c.TSR, 1e-9, 1e-9)
		golden.RequireScalar(t, "csa", tensors.ToScalar[float64](res[T+1]), c.CSA, 1e-9, 1e-9)
		golden.RequireScalar(t, "objective", tensors.ToScalar[float64](res[T+2]), c.Objective, 1e-9, 1e-9)
		golden.RequireClose(t, "grad_w1", flat64(res[T+3]), c.GradW1, 1e-7, 1e-6)
		golden.RequireClose(t, "grad_b1", flat64(res[T+4]), c.GradB1, 1e-7, 1e-6)
		for k := 0; k < T; k++ {
			golden.RequireClose(t, "grad_head_w", flat64(res[T+5+2*k]), c.GradHeadW[k], 1e-7, 1e-6)
			golden.RequireClose(t, "grad_head_b", flat64(res[T+6+2*k]), c.GradHeadB[k], 1e-7, 1e-6)
		}
	})
}

// TestRepMTLFiniteDifferences checks d objective / d w1 (through the saliency: second order)
// against central differences of the objective, for the regularizers alone (zero task-loss
// contribution is impossible, so λ large makes them dominate) and for the default weights.
func TestRepMTLFiniteDifferences(t *testing.T) {
	files := golden.Select(t, "multitask", func(f golden.File) golden.Verdict {
		if f.String("kind") == "repmtl" {
			return golden.Mine
		}
		return golden.Unknown
	})
	require.NotEmpty(t, files)
	var c repCase
	require.NoError(t, files[0].Decode(&c))
	for _, tc := range []struct {
		name string
		cfg  RepMTLConfig
	}{
		{"defaults", RepMTLConfig{}},
		{"tsr_only_large", RepMTLConfig{TSRWeight: 10, NoCSA: true}},
		{"csa_only_large", RepMTLConfig{CSAWeight: 10, NoTSR: true, Tau: 0.3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rg := newRepGraph(t, c.tasks(), tc.cfg)
			defer rg.exec.Finalize()
			T := len(c.Tasks)
			res := rg.eval(t, &c, c.W1)
			grad := flat64(res[T+3])
			const h = 1e-6
			maxErr := 0.0
			for i := range c.W1 {
				wp := append([]float64(nil), c.W1...)
				wm := append([]float64(nil), c.W1...)
				wp[i] += h
				wm[i] -= h
				fp := tensors.ToScalar[float64](rg.eval(t, &c, wp)[T+2])
				fm := tensors.ToScalar[float64](rg.eval(t, &c, wm)[T+2])
				fd := (fp - fm) / (2 * h)
				require.InDelta(t, fd, grad[i], 1e-6*(1+math.Abs(fd)), "d obj / d w1[%d]", i)
				maxErr = math.Max(maxErr, math.Abs(fd-grad[i]))
			}
			t.Logf("max |finite difference − autodiff| over %d entries of w1: %.2e", len(c.W1), maxErr)
		})
	}
}

// TestRepMTLTermLimits checks the regularizers at their closed-form values: equal saliencies
// give TSR = log T; saliencies on disjoint units give TSR = 0; identical sample directions give
// CSA = log B; orthogonal one-hot samples with matching tasks give CSA = log(1 + (B−1)e^{−1/τ}).
func TestRepMTLTermLimits(t *testing.T) {
	const B, D = 4, 4
	oneHot := func(shift int) []float64 { // row b is e_{(b+shift) mod D}
		v := make([]float64, B*D)
		for b := 0; b < B; b++ {
			v[b*D+(b+shift)%D] = 1
		}
		return v
	}
	ones := make([]float64, B*D)
	for i := range ones {
		ones[i] = 2
	}
	for _, tc := range []struct {
		name          string
		sal           [][]float64
		tau           float64
		wantTSR       float64
		wantCSA       float64
		checkTSR, csa bool
	}{
		{"equal_saliencies_3_tasks", [][]float64{ones, ones, ones}, 0.1, math.Log(3), math.Log(B), true, true},
		{"disjoint_units", [][]float64{oneHot(0), oneHot(1)}, 0.5, 0, 0, true, false},
		{"aligned_onehot_samples", [][]float64{oneHot(0), oneHot(0)}, 0.5, 0, math.Log(1 + (B-1)*math.Exp(-1/0.5)), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, in []*Node) []*Node {
				tsr, csa := RepMTLTerms(in, tc.tau)
				return []*Node{tsr, csa}
			})
			require.NoError(t, err)
			defer exec.Finalize()
			args := make([]any, len(tc.sal))
			for i, s := range tc.sal {
				neg := append([]float64(nil), s...)
				for j := range neg {
					if j%3 == 0 {
						neg[j] = -neg[j] // the sign of a saliency does not matter (|S_t|)
					}
				}
				args[i] = tensors.FromFlatDataAndDimensions(neg, B, D)
			}
			res, err := exec.Exec(args...)
			require.NoError(t, err)
			if tc.checkTSR {
				require.InDelta(t, tc.wantTSR, tensors.ToScalar[float64](res[0]), 1e-6)
			}
			if tc.csa {
				require.InDelta(t, tc.wantCSA, tensors.ToScalar[float64](res[1]), 1e-6)
			}
		})
	}
}

func TestRepMTLConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  RepMTLConfig
		want string
	}{
		{RepMTLConfig{}, ""},
		{RepMTLConfig{TSRWeight: -1}, "tsr_weight=-1"},
		{RepMTLConfig{CSAWeight: math.NaN()}, "csa_weight=NaN"},
		{RepMTLConfig{Tau: -0.5}, "tau=-0.5"},
		{RepMTLConfig{NoTSR: true, NoCSA: true}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, tc.want)
	}
	d := RepMTLConfig{NoCSA: true}.WithDefaults()
	require.Equal(t, DefaultTSRWeight, d.TSRWeight)
	require.Zero(t, d.CSAWeight)
}
