package optbench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestZeroLossFraction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logits []float32
		labels []int
		stable bool
		want   float64
	}{
		// float32: exp(-20) ≈ 2e-9 is below half an ulp of 1 (6e-8), so log Σ exp rounds to 0
		// and the example's loss is exactly 0 (Softmax Collapse); a margin of 10 (4.5e-5) is not.
		{"softmax collapsed", []float32{20, 0, 0}, []int{0}, false, 1},
		{"softmax margin 10", []float32{10, 0, 0}, []int{0}, false, 0},
		{"softmax wrong class", []float32{20, 0, 0}, []int{1}, false, 0},
		{"softmax half", []float32{30, 0, 1, 2}, []int{0, 0}, false, 0.5},
		// StableMax in float64: s(1e3) = 1001 against s(-1e20) = 1e-20 rounds to ratio 1; s(5) = 6
		// against s(-1) = 0.5 does not.
		{"stablemax collapsed", []float32{1e3, -1e20, -1e20}, []int{0}, true, 1},
		{"stablemax not", []float32{5, -1, -1}, []int{0}, true, 0},
		{"stablemax where softmax collapses", []float32{30, 0, 0}, []int{0}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, zeroLossFractionOf(tc.logits, tc.labels, tc.stable))
		})
	}
}

func TestGrokStopValidate(t *testing.T) {
	soft, stable := grokArms()[0], grokArms()[1]
	refFirst := []grokArm{stable, soft}
	collapse := func(level, farBelow float64, ref string) grokStop {
		return grokStop{Accuracy: 0.9, CollapseEvals: 4, CollapseLevel: level, FarBelow: farBelow, Reference: ref}
	}
	for _, tc := range []struct {
		name string
		stop grokStop
		arms []grokArm
		err  string // "" when valid
	}{
		{"off", grokStop{}, refFirst, ""},
		{"accuracy only", grokStop{Accuracy: 0.9}, []grokArm{soft, stable}, ""},
		{"both rules", collapse(1, 0.25, stable.name), refFirst, ""},
		{"accuracy above 1", grokStop{Accuracy: 1.5}, refFirst, "accuracy=1.5 must be in [0, 1]"},
		{"negative evaluations", grokStop{CollapseEvals: -1}, refFirst, "collapse_evals=-1 must be >= 0"},
		{"level 0", collapse(0, 0.25, stable.name), refFirst, "collapse_level=0 must be in (0, 1]"},
		{"far below 1", collapse(1, 1, stable.name), refFirst, "far_below=1 must be in (0, 1)"},
		{"unknown reference", collapse(1, 0.25, "nope"), refFirst, `reference="nope" must be the task's first arm`},
		{"reference not first", collapse(1, 0.25, stable.name), []grokArm{soft, stable}, `reference="stablemax+adamw" must be the task's first arm`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.stop.validate(tc.arms)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// The monitor's rules on hand-made evaluations: a grokked arm stops at the threshold; a
// collapsed arm stops only after enough consecutive collapsed evaluations and only while far
// below the reference at the same step (the reference's last value once it stopped).
func TestGrokMonitorRules(t *testing.T) {
	type ev struct {
		step     int
		acc, zl  float64
		wantStop bool
	}
	ref := &refCurve{name: "ref", steps: []float64{100, 200, 300, 400}, acc: []float64{0.2, 0.4, 0.6, 0.8}}
	flat := &refCurve{name: "flat", steps: []float64{100, 200, 300}, acc: []float64{0, 0, 0}}
	collapse := grokStop{CollapseEvals: 2, CollapseLevel: 1, FarBelow: 0.25}
	for _, tc := range []struct {
		name    string
		stop    grokStop
		ref     *refCurve
		evs     []ev
		reason  string
		refAcc  float64 // the reference's accuracy recorded at the stop (collapse rule)
		records int     // zero-loss fractions recorded
	}{
		{"grokked", grokStop{Accuracy: 0.9}, nil,
			[]ev{{100, 0.5, 0, false}, {200, 0.95, 0, true}}, "grokked: test accuracy 0.950 >= 0.9 at step 200", 0, 0},
		{"collapse needs consecutive evaluations", collapse, ref,
			[]ev{{100, 0.01, 1, false}, {200, 0.01, 0.9, false}, {300, 0.01, 1, false}, {400, 0.01, 1, true}},
			"collapsed: zero-loss fraction >= 1 at 2 consecutive evaluations, test accuracy 0.010 < 0.25 x ref's 0.800 at step 400", 0.8, 4},
		{"collapsed but not far below", collapse, ref,
			[]ev{{100, 0.1, 1, false}, {200, 0.2, 1, false}, {300, 0.2, 1, false}}, "", 0, 3},
		{"reference at chance decides nothing", collapse, flat,
			[]ev{{100, 0, 1, false}, {200, 0, 1, false}, {300, 0, 1, false}}, "", 0, 3},
		{"reference stopped earlier", collapse, ref,
			[]ev{{500, 0.1, 1, false}, {600, 0.1, 1, true}},
			"test accuracy 0.100 < 0.25 x ref's 0.800 at step 600", 0.8, 2},
		{"the reference arm itself only groks", grokStop{Accuracy: 0.9, CollapseEvals: 1, CollapseLevel: 1, FarBelow: 0.5}, nil,
			[]ev{{100, 0, 1, false}, {200, 0.91, 1, true}}, "grokked: test accuracy 0.910", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var next float64
			m := &grokMonitor{stop: tc.stop, reference: tc.ref, zeroLoss: func(*train.Result) (float64, error) { return next, nil }}
			for _, e := range tc.evs {
				next = e.zl
				err := m.OnEval(train.EvalPoint{Step: e.step, Metrics: map[string]float64{"test/accuracy": e.acc}}, nil)
				if e.wantStop {
					require.ErrorIs(t, err, train.ErrStop, "step %d", e.step)
					require.Equal(t, e.step, m.StopStep)
				} else {
					require.NoError(t, err, "step %d", e.step)
					require.Zero(t, m.StopStep)
				}
			}
			require.Contains(t, m.Reason, tc.reason)
			if tc.reason == "" {
				require.Empty(t, m.Reason)
			}
			require.Equal(t, tc.refAcc, m.RefAccuracy)
			require.Len(t, m.fractions, tc.records)
		})
	}
}

// The monitor ends a real training run: the run stops at the deciding evaluation and its final
// metrics are that evaluation's.
func TestGrokMonitorStopsRun(t *testing.T) {
	full := ModularAddition(11)
	trainT, testT, err := full.Split(0.3, 1)
	require.NoError(t, err)
	trainDS, err := data.NewTrainBatches(trainT, trainT.N, 1)
	require.NoError(t, err)
	testDS, err := data.NewEvalBatches(testT, 4096)
	require.NoError(t, err)
	arm := grokArms()[0]
	store := model.NewStore()
	store.SetParams(arm.params)
	opt, err := optimizers.New(store.RootScope(), arm.optimizer)
	require.NoError(t, err)
	ref := &refCurve{name: "ref", steps: []float64{0}, acc: []float64{0.9}}
	m := &grokMonitor{stop: grokStop{CollapseEvals: 3, CollapseLevel: 1, FarBelow: 0.5}, reference: ref,
		zeroLoss: func(*train.Result) (float64, error) { return 1, nil }} // pretend every example collapsed
	res, err := train.Run(context.Background(), train.Config{Name: "stop", Backend: backend.MustDefault(), Store: store, Seed: 1,
		Model: grokModel(11, 16), Loss: arm.loss, OptimizerImpl: opt, Steps: 1000, Train: trainDS,
		Eval: []train.EvalSet{{Name: "test", Data: testDS}}, Metrics: []string{"accuracy"}, EvalEvery: 20, Callbacks: []train.Callback{m}})
	require.NoError(t, err)
	require.Equal(t, 60, res.Steps)
	require.True(t, res.StoppedEarly)
	require.Equal(t, 60, m.StopStep)
	require.Equal(t, res.History[len(res.History)-1].Metrics, res.Final)
	require.Len(t, res.History, 3)
	require.True(t, strings.HasPrefix(m.Reason, "collapsed: zero-loss fraction >= 1 at 3 consecutive evaluations"), m.Reason)
}

// A tiny grokking task runs both halves' machinery: rows per arm and metric, collapse
// checkpoints, the training set learned, and the stop rules' record. At p = 11 neither arm
// generalizes, so the collapsed softmax arm must not stop (the reference is not above it)
// and both run their whole budget.
func TestGrokTaskRows(t *testing.T) {
	var out bytes.Buffer
	opts := suite.Options{Backend: backend.MustDefault(), Out: &out, Seeds: 1, PlotDir: t.TempDir()}
	arms := grokArms()
	task := grokTask{P: 11, TrainFrac: 0.7, Hidden: 32, Steps: 300, QuickSteps: 300, EvalEvery: 50, QuickEvalEvery: 50,
		Arms: []grokArm{arms[1], arms[0]}, Checkpoints: 3, Purpose: "test",
		Stop: grokStop{Accuracy: 0.9, CollapseEvals: 2, CollapseLevel: 1, FarBelow: 0.25, Reference: arms[1].name}}
	rows, err := runGrokTask(context.Background(), opts, task)
	require.NoError(t, err)
	require.Len(t, rows, 2*4)
	for _, r := range rows {
		require.Equal(t, "add_mod_11", r.Task)
		require.Equal(t, 300, r.Steps, r.Arm)
		require.Equal(t, 300, r.Extra["step_budget"])
		require.Equal(t, []float64{300}, r.Extra["steps_run"], r.Arm)
		require.Equal(t, []string{"no stop rule decided: ran all 300 steps"}, r.Extra["stop_reason"], r.Arm)
		switch r.Metric {
		case "train_accuracy":
			require.Greater(t, r.Value, 0.9, r.Arm)
		case "zero_loss_fraction":
			require.GreaterOrEqual(t, r.Value, 0.0)
			require.LessOrEqual(t, r.Value, 1.0)
			cp := r.Extra["checkpoints_seed1"].(map[string]any)
			if r.Arm == arms[1].name { // the reference: the evenly spaced checkpoints
				require.Equal(t, []float64{100, 200, 300}, cp["step"], r.Arm)
			} else { // compared with the reference: every evaluation
				require.Equal(t, []float64{50, 100, 150, 200, 250, 300}, cp["step"], r.Arm)
				require.Len(t, r.Extra["reference_accuracy_at_stop"], 1)
			}
		}
	}
	require.Contains(t, out.String(), "Grokking (test half): (a + b) mod 11, 70% train")
	require.Contains(t, out.String(), "softmax+adamw seed 1: no stop rule decided: ran all 300 steps")

	task.Stop.Reference = arms[0].name
	_, err = runGrokTask(context.Background(), opts, task)
	require.ErrorContains(t, err, `reference="softmax+adamw" must be the task's first arm`)
}

// The StableMax half's setting is the one documented (changing it needs a new run): StableMax
// runs first as the reference and stops at 90% test accuracy; softmax stops once collapsed
// (every training example at zero loss for 4 evaluations) far below it.
func TestGrokTasks(t *testing.T) {
	tasks := grokTasks()
	require.Len(t, tasks, 2)
	require.Equal(t, grokStop{}, tasks[0].Stop, "the ⊥Grad half runs all its steps")
	sm := tasks[1]
	require.Equal(t, 59, sm.P)
	require.Equal(t, 0.7, sm.TrainFrac)
	require.Equal(t, []string{"stablemax+adamw", "softmax+adamw"}, []string{sm.Arms[0].name, sm.Arms[1].name})
	require.Equal(t, 0.0, sm.Arms[0].params[optimizers.ParamWeightDecay])
	require.Equal(t, 0.0, sm.Arms[1].params[optimizers.ParamWeightDecay])
	require.NoError(t, sm.Stop.validate(sm.Arms))
	require.Equal(t, 0.9, sm.Stop.Accuracy)
	require.Equal(t, 1.0, sm.Stop.CollapseLevel)
}
