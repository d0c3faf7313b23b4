package distill_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/train"
	"github.com/stretchr/testify/require"
)

// termFunc adapts a function to distill.Term (for probes in tests).
type termFunc func(ctx *distill.Context) *Node

func (f termFunc) Loss(ctx *distill.Context) *Node { return f(ctx) }

func ceTerm(t *testing.T) distill.Term {
	h, err := distill.NewHardLabel(nil, "cross_entropy")
	require.NoError(t, err)
	return h
}

// snapshot copies every variable of the store (weights, optimizer state, memories, EMA
// copies, flags, RNG, global step), except GoMLX's per-trainer display metrics.
func snapshot(t *testing.T, store *model.Store) map[string][]byte {
	out := map[string][]byte{}
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/metrics/") {
			continue
		}
		var b []byte
		require.NoError(t, v.MustValue().ConstBytes(func(data []byte) { b = append([]byte(nil), data...) }))
		out[v.Path()] = b
	}
	return out
}

// Every non-trainable state survives checkpoint and resume: a run interrupted at step 25 and
// resumed to 50 ends bit-identical to an uninterrupted one (PS-KD's memory crosses an epoch
// boundary at step 19; the EMA and FST teachers' copies and flags; MDB's difficulty memory).
func TestResumeBitIdenticalWithState(t *testing.T) {
	te := teacher(t)
	frozen, err := distill.NewFrozen(mlp(64), te.Store, "/")
	require.NoError(t, err)
	kd, err := distill.NewKD(distill.KDConfig{})
	require.NoError(t, err)
	pskd, err := distill.NewPSKD(distill.PSKDConfig{Epochs: 3})
	require.NoError(t, err)
	mdb, err := distill.NewMDB(distill.MDBConfig{})
	require.NoError(t, err)
	ema, err := distill.NewEMA(distill.EMAConfig{Momentum: distill.Float(0.9)})
	require.NoError(t, err)
	fst, err := distill.NewEMA(distill.EMAConfig{Momentum: distill.Float(0.9), LookAhead: 2})
	require.NoError(t, err)
	cases := []struct {
		name string
		cfg  distill.Config
		want string // a state variable that must exist
	}{
		{"pskd", distill.Config{Student: mlp(16), UseIndices: true, Terms: []distill.WeightedTerm{{Name: "pskd", Term: pskd}}}, "/distill/pskd/predictions"},
		{"mdb", distill.Config{Student: mlp(16), UseIndices: true, Terms: []distill.WeightedTerm{{Name: "mdb", Term: mdb}}}, "/distill/mdb/difficulty"},
		{"ema", distill.Config{Student: mlp(16), Teacher: ema, Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}}}, "/distill/teacher/ema_initialized"},
		{"fst", distill.Config{Student: mlp(16), Teacher: fst, Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}}}, "/distill/teacher/hidden/dense/weights"},
		{"frozen+kd+warmup", distill.Config{Student: mlp(16), Teacher: frozen, Terms: []distill.WeightedTerm{{Name: "ce", Term: ceTerm(t)},
			{Name: "kd", Term: kd, Schedule: distill.Schedule{Kind: "warmup", Warmup: 2, Epochs: true}}}}, "/distill/teacher/out/dense/weights"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			full, _ := runDistiller(t, c.name, c.cfg, 50, t.TempDir())
			want := snapshot(t, full.Store)
			require.Contains(t, want, c.want)
			dir := t.TempDir()
			runDistiller(t, c.name, c.cfg, 25, dir)
			resumed, _ := runDistiller(t, c.name, c.cfg, 50, dir)
			require.Equal(t, 25, resumed.StartStep)
			got := snapshot(t, resumed.Store)
			require.Equal(t, len(want), len(got))
			for k, v := range want {
				require.Equal(t, v, got[k], "variable %s differs after resume", k)
			}
		})
	}
}

// An EMA teacher with momentum 0 is the student: its logits equal the student's at every step.
func TestEMAMomentumZeroIsStudent(t *testing.T) {
	diff := termFunc(func(ctx *distill.Context) *Node {
		return ReduceAllMax(Abs(Sub(ctx.Teacher, ctx.Student)))
	})
	for _, m := range []float64{0, 0.9} {
		ema, err := distill.NewEMA(distill.EMAConfig{Momentum: distill.Float(m)})
		require.NoError(t, err)
		res, _ := runDistiller(t, "ema", distill.Config{Student: mlp(16), Teacher: ema,
			Terms: []distill.WeightedTerm{{Name: "ce", Term: ceTerm(t)}, {Name: "diff", Term: diff, Weight: 1e-9}}}, 20, "")
		if m == 0 {
			require.Equal(t, 0.0, res.Final["distill/diff"], "momentum 0: teacher logits == student logits")
		} else {
			require.Greater(t, res.Final["distill/diff"], 1e-4, "momentum 0.9: the teacher lags the student")
		}
	}
}

// Cached logits served by sample id give the same distillation as the frozen teacher graph.
func TestCachedTeacherMatchesFrozen(t *testing.T) {
	te := teacher(t)
	d := digits(t)
	logits, err := distill.CacheLogits(te.Backend, te.Store, mlp(64), d.train)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "teacher.logits")
	require.NoError(t, distill.SaveLogits(path, logits))
	loaded, err := distill.LoadLogits(path)
	require.NoError(t, err)
	require.Equal(t, logits.Shape(), loaded.Shape())
	cached, err := distill.NewCached(loaded)
	require.NoError(t, err)
	frozen, err := distill.NewFrozen(mlp(64), te.Store, "/")
	require.NoError(t, err)
	kd, err := distill.NewKD(distill.KDConfig{})
	require.NoError(t, err)
	terms := []distill.WeightedTerm{{Name: "kd", Term: kd}}
	a, _ := runDistiller(t, "cached", distill.Config{Student: mlp(16), Teacher: cached, UseIndices: true, Terms: terms}, 30, "")
	b, _ := runDistiller(t, "frozen", distill.Config{Student: mlp(16), Teacher: frozen, Terms: terms}, 30, "")
	va, vb := values(t, a.Store, "/student/"), values(t, b.Store, "/student/")
	require.Equal(t, len(vb), len(va))
	for k, x := range va {
		require.InDeltaSlice(t, toF64(vb[k]), toF64(x), 1e-4, k)
	}
}

func toF64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// onStep records the values under a prefix after the first step of a run.
type onStep struct {
	t      *testing.T
	prefix string
	first  map[string][]float32
}

func (o *onStep) OnStep(step int, res *train.Result) error {
	if o.first == nil {
		o.first = values(o.t, res.Store, o.prefix)
	}
	return nil
}

func TestRunStagesFreezeAndResume(t *testing.T) {
	te := teacher(t)
	d := digits(t)
	frozen, err := distill.NewFrozen(mlp(64), te.Store, "/")
	require.NoError(t, err)
	fit, err := distill.NewFitNet(distill.FitNetConfig{StudentTap: "hidden", TeacherTap: "hidden"})
	require.NoError(t, err)
	kd, err := distill.NewKD(distill.KDConfig{})
	require.NoError(t, err)
	hint, err := distill.NewDistiller(distill.Config{Student: mlp(16), Teacher: frozen, Terms: []distill.WeightedTerm{{Name: "fitnet", Term: fit}}})
	require.NoError(t, err)
	kdd, err := distill.NewDistiller(distill.Config{Student: mlp(16), Teacher: frozen, Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}}})
	require.NoError(t, err)
	stages := []distill.Stage{
		{Name: "hint", Steps: 30, Model: kdd.Model, LossFn: kdd.Loss, Freeze: []string{"/student/out"}},
		{Name: "kd", Steps: 30, Model: kdd.Model, LossFn: kdd.Loss, ResetOptimizer: true},
	}
	stages[0].Model, stages[0].LossFn = hint.Model, hint.Loss
	base := func(dir string, cb train.Callback) train.Config {
		tr, ev := d.batches(t, false)
		c := train.Config{Name: "stages", Optimizer: "adam", LearningRate: 3e-3, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: ev}},
			EvalEvery: 30, Metrics: []string{"accuracy"}, Seed: 5, CheckpointDir: dir, CheckpointEvery: 30}
		if cb != nil {
			c.Callbacks = []train.Callback{cb}
		}
		return c
	}
	probe := &onStep{t: t, prefix: "/student/out/"}
	dir := t.TempDir()
	results, err := distill.RunStages(context.Background(), base(dir, probe), stages[:1])
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, 30, results[0].Steps)
	afterHint := values(t, results[0].Store, "/student/out/")
	require.Equal(t, probe.first, afterHint, "the frozen head did not change during the hint stage")
	require.Contains(t, results[0].Final, "distill/fitnet")
	// Resuming the two-stage run from the same directory skips the finished hint stage.
	results, err = distill.RunStages(context.Background(), base(dir, nil), stages)
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, 30, results[0].StartStep)
	require.Equal(t, 60, results[0].Steps)
	require.NotEqual(t, afterHint, values(t, results[0].Store, "/student/out/"), "the head trains in the KD stage")
	require.Greater(t, results[0].Final["test/accuracy"], 0.5)
}

func block(width int) distill.BlockFn {
	return func(scope *model.Scope, h *Node) *Node {
		h = glayers.DenseWithBias(scope.In("dense"), h, width)
		return Max(h, ZerosLike(h))
	}
}

func head(scope *model.Scope, h *Node) *Node { return glayers.DenseWithBias(scope.In("dense"), h, 10) }

func runLocal(t *testing.T, method string, cfg distill.LocalConfig, steps int) *train.Result {
	return runLocalCkpt(t, method, cfg, steps, "")
}

func runLocalCkpt(t *testing.T, method string, cfg distill.LocalConfig, steps int, dir string) *train.Result {
	t.Helper()
	l, err := distill.NewLocalLearner(method, cfg)
	require.NoError(t, err)
	d := digits(t)
	tr, te := d.batches(t, false)
	res, err := train.Run(context.Background(), train.Config{Name: method, Model: l.Model, LossFn: l.Loss, Optimizer: "adam", LearningRate: 3e-3,
		Steps: steps, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}}, EvalEvery: steps, Metrics: []string{"accuracy"}, Seed: 2,
		CheckpointDir: dir, CheckpointEvery: max(1, steps/2)})
	require.NoError(t, err)
	return res
}

func TestLocalLearningMAN(t *testing.T) {
	blocks := []distill.BlockFn{block(32), block(32), block(32), block(32)}
	cfg := distill.LocalConfig{Blocks: blocks, Head: head, NumClasses: 10, AuxHidden: 32}
	man := runLocal(t, "man", cfg, 200)
	require.Greater(t, man.Final["test/accuracy"], 0.5) // Local learning converges slower than end-to-end.
	require.Contains(t, man.Final, "local/0")
	lb := values(t, man.Store, "/distill/local/lb0/")
	ema := values(t, man.Store, "/distill/local/ema0/")
	next := values(t, man.Store, "/student/block1/")
	require.NotEmpty(t, lb)
	for p, v := range next {
		rel := strings.TrimPrefix(p, "/student/block1/")
		e := ema["/distill/local/ema0/"+rel]
		require.Len(t, e, len(v))
		require.NotEqual(t, v, e, "the EMA copy lags the block")
	}
	// λ interpolation as the code: r = stage(next)/(K−2) = 1/2 with every block in stage 1.
	l, err := distill.NewLocalLearner("man", cfg)
	require.NoError(t, err)
	xx, xy := l.Lambdas(0)
	require.Equal(t, 2.5, xx)
	require.Equal(t, 0.25, xy)

	// Module isolation: with no auxiliary signal, greedy local learning leaves every block but
	// the last at its initial value (their inputs and outputs are detached), while end-to-end
	// training moves them.
	zero := cfg
	zero.LambdaXX1, zero.LambdaXY1 = distill.Float(0), distill.Float(0)
	greedy := runLocal(t, "greedy", zero, 5)
	e2e := runLocal(t, "e2e", zero, 5)
	init := runLocal(t, "greedy", zero, 1)
	// One step of Adam with a zero gradient is a zero update; compare after 1 and 5 steps.
	require.Equal(t, values(t, init.Store, "/student/block0/"), values(t, greedy.Store, "/student/block0/"))
	require.NotEqual(t, values(t, init.Store, "/student/block3/"), values(t, greedy.Store, "/student/block3/"))
	require.NotEqual(t, values(t, init.Store, "/student/block0/"), values(t, e2e.Store, "/student/block0/"))

	// MAN's EMA and learnable copies (and their flags) survive checkpoint and resume.
	full := snapshot(t, runLocalCkpt(t, "man", cfg, 30, t.TempDir()).Store)
	dir := t.TempDir()
	runLocalCkpt(t, "man", cfg, 15, dir)
	got := snapshot(t, runLocalCkpt(t, "man", cfg, 30, dir).Store)
	require.Contains(t, got, "/distill/local/ema0_initialized")
	require.Equal(t, len(full), len(got))
	for k, v := range full {
		require.Equal(t, v, got[k], k)
	}
}

func TestHARDAugmentorAndMDCS(t *testing.T) {
	te := teacher(t)
	frozen, err := distill.NewFrozen(mlp(64), te.Store, "/")
	require.NoError(t, err)
	aug, err := distill.NewAugmenter("hard_affine", distill.HARDConfig{Height: 8, Width: 8})
	require.NoError(t, err)
	term, err := distill.NewHARDTerm(nil)
	require.NoError(t, err)
	res, _ := runDistiller(t, "hard", distill.Config{Student: mlp(16), Teacher: frozen, Views: aug.Views,
		Terms: []distill.WeightedTerm{{Name: "hard", Term: term}}}, 250, "")
	require.Greater(t, res.Final["test/accuracy"], 0.6)
	require.Contains(t, res.Final, "distill/hard_reg")
	// The augmentor found inputs where teacher and student disagree more than on clean ones.
	require.Greater(t, res.Final["distill/hard_kl_augmented"], res.Final["distill/hard_kl_clean"])
	require.NotEmpty(t, values(t, res.Store, "/distill/views/"))

	d := digits(t)
	counts := make([]float64, 10)
	for _, y := range d.train.Y {
		counts[int(y)]++
	}
	mdcs, err := distill.NewMDCS(distill.MDCSConfig{ClassCounts: counts, WarmupEpochs: 1})
	require.NoError(t, err)
	experts := func(scope *model.Scope, x *Node) []*Node {
		h := glayers.DenseWithBias(scope.In("stem"), x, 32)
		h = Max(h, ZerosLike(h))
		return distill.MDCSExperts(scope.In("experts"), h, 3, 10, 16, 30)
	}
	res, _ = runDistiller(t, "mdcs", distill.Config{Student: experts, Views: distill.NoiseViews(0.1, 0.5, 0.2), Combine: distill.MeanOutputs,
		Terms: []distill.WeightedTerm{{Name: "mdcs", Term: mdcs}}}, 60, "")
	require.Greater(t, res.Final["test/accuracy"], 0.6)
	require.Greater(t, res.Final["distill/mdcs_kl"], 0.0)
}

func TestConfigErrors(t *testing.T) {
	kd, err := distill.NewKD(distill.KDConfig{})
	require.NoError(t, err)
	pskd, err := distill.NewPSKD(distill.PSKDConfig{})
	require.NoError(t, err)
	cases := []struct {
		cfg  distill.Config
		want string
	}{
		{distill.Config{}, "Config.Student is nil"},
		{distill.Config{Student: mlp(4)}, "no terms"},
		{distill.Config{Student: mlp(4), Terms: []distill.WeightedTerm{{Name: "KD", Term: kd}}}, `name "KD" must be lower snake_case`},
		{distill.Config{Student: mlp(4), Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}}}, "kd needs a teacher"},
		{distill.Config{Student: mlp(4), Terms: []distill.WeightedTerm{{Name: "pskd", Term: pskd}}}, "pskd needs sample ids"},
		{distill.Config{Student: mlp(4), Terms: []distill.WeightedTerm{{Name: "a", Term: kd}, {Name: "a", Term: kd}}}, `"a" used twice`},
		{distill.Config{Student: mlp(4), Terms: []distill.WeightedTerm{{Name: "a", Term: ceTerm(t), Schedule: distill.Schedule{Kind: "warmup", Warmup: 2, Epochs: true}}}}, "steps_per_epoch is 0"},
	}
	for _, c := range cases {
		_, err := distill.NewDistiller(c.cfg)
		require.ErrorContains(t, err, c.want)
	}
	_, err = distill.NewKD(distill.KDConfig{Temperature: -1})
	require.ErrorContains(t, err, "kd temperature=-1 must be > 0")
	_, err = distill.NewDKD(distill.DKDConfig{Variant: "paper"})
	require.ErrorContains(t, err, `dkd variant "paper" unknown`)
	_, err = distill.NewMI(distill.MIConfig{Alpha: 1.5})
	require.ErrorContains(t, err, "mi alpha=1.5 must be in (0, 1)")
	_, err = distill.NewEMA(distill.EMAConfig{Momentum: distill.Float(2)})
	require.ErrorContains(t, err, "ema momentum=2 must be in [0, 1]")
	_, err = distill.NewMDCS(distill.MDCSConfig{ClassCounts: []float64{3, 0}})
	require.ErrorContains(t, err, "class count[1]=0 must be > 0")
	_, err = distill.NewHARD(distill.HARDConfig{})
	require.ErrorContains(t, err, "needs the image height=0 and width=0")
	_, err = distill.NewLocalLearner("backprop", distill.LocalConfig{})
	require.ErrorContains(t, err, `unknown local_learner "backprop"`)
	_, err = distill.New(model.NewStore().RootScope(), "kd2")
	require.ErrorContains(t, err, `unknown distiller "kd2": known distillers are`)
	_, err = distill.New(model.NewStore().RootScope(), "mdcs")
	require.ErrorContains(t, err, "mdcs_class_counts")
}

func TestRegistries(t *testing.T) {
	for _, n := range []string{"at", "ce", "dcd", "dist", "dkd", "dkd_mdcs", "fitnet", "hard", "infonce", "kd", "lskd", "mdb", "mdcs", "mi_alpha", "nwj", "pkt", "pskd", "rkd", "tuba"} {
		require.Contains(t, distill.Names(), n)
	}
	require.Equal(t, []string{"cached", "ema", "frozen", "fst"}, distill.TeacherNames())
	require.Equal(t, []string{"hard_additive", "hard_affine"}, distill.Augmenters())
	require.Equal(t, []string{"e2e", "greedy", "man"}, distill.LocalMethods())
	store := model.NewStore()
	store.SetParam("kd_temperature", 2.0)
	store.SetParam("kd_alpha", 0.0)
	term, err := distill.New(store.RootScope(), "kd")
	require.NoError(t, err)
	require.IsType(t, &distill.KD{}, term)
	for _, n := range distill.Names() {
		if n == "mdcs" {
			continue // needs class counts
		}
		_, err := distill.New(model.NewStore().RootScope(), n)
		require.NoError(t, err, n)
	}
	_, err = distill.NewTeacher(store.RootScope(), "fst", distill.TeacherDeps{})
	require.NoError(t, err)
}
