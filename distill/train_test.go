package distill_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

// digitsData is a small standardized split of the bundled digits (8×8 images, 10 classes).
type digitsData struct {
	train, test *data.Table
}

var digitsCache *digitsData

func digits(t *testing.T) *digitsData {
	t.Helper()
	if digitsCache != nil {
		return digitsCache
	}
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	tr, te, err := tab.Split(0.3, 1)
	require.NoError(t, err)
	_, tr, others := data.Standardize(tr, false, te)
	digitsCache = &digitsData{train: tr, test: others[0]}
	return digitsCache
}

func (d *digitsData) batches(t *testing.T, indices bool) (*data.Batches, *data.Batches) {
	tr, err := data.NewTrainBatches(d.train, 64, 7)
	require.NoError(t, err)
	te, err := data.NewEvalBatches(d.test, 512)
	require.NoError(t, err)
	if indices {
		// GoMLX's trainer wants the same number of inputs in training and evaluation.
		tr, te = tr.WithIndices(), te.WithIndices()
	}
	return tr, te
}

// mlp is a one-hidden-layer MLP that taps its hidden layer as "hidden".
func mlp(hidden int) distill.ModelFn {
	return func(scope *model.Scope, x *Node) []*Node {
		h := glayers.DenseWithBias(scope.In("hidden"), x, hidden)
		h = Max(h, ZerosLike(h))
		distill.Tap(scope, "hidden", h)
		return []*Node{glayers.DenseWithBias(scope.In("out"), h, 10)}
	}
}

func runDistiller(t *testing.T, name string, cfg distill.Config, steps int, dir string) (*train.Result, *distill.Distiller) {
	t.Helper()
	d := digits(t)
	if cfg.NumClasses == 0 {
		cfg.NumClasses = 10
	}
	cfg.NumTrain = d.train.N
	cfg.StepsPerEpoch = d.train.N / 64
	dist, err := distill.NewDistiller(cfg)
	require.NoError(t, err)
	tr, te := d.batches(t, cfg.UseIndices)
	res, err := train.Run(context.Background(), train.Config{Name: name, Model: dist.Model, LossFn: dist.Loss, Optimizer: "adam",
		LearningRate: 3e-3, Steps: steps, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}}, EvalEvery: max(1, steps/5),
		Metrics: []string{"accuracy"}, Seed: 3, CheckpointDir: dir, CheckpointEvery: max(1, steps/2)})
	require.NoError(t, err)
	return res, dist
}

// trainTeacher trains a wider MLP teacher with cross-entropy.
func trainTeacher(t *testing.T, steps int) *train.Result {
	t.Helper()
	d := digits(t)
	tr, te := d.batches(t, false)
	res, err := distill.TrainTeacher(context.Background(), train.Config{Name: "teacher", Optimizer: "adam", LearningRate: 3e-3,
		Steps: steps, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}}, EvalEvery: steps, Metrics: []string{"accuracy"}, Seed: 1}, mlp(64))
	require.NoError(t, err)
	return res
}

var teacherCache *train.Result

func teacher(t *testing.T) *train.Result {
	if teacherCache == nil {
		teacherCache = trainTeacher(t, 150)
	}
	return teacherCache
}

func values(t *testing.T, store *model.Store, prefix string) map[string][]float32 {
	out := map[string][]float32{}
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		val := v.MustValue()
		if val.DType().IsFloat() && val.DType().Size() == 4 {
			out[v.Path()] = tensors.MustCopyFlatData[float32](val)
		}
	}
	return out
}

func TestDistillerFrozenTeacherKDFitNet(t *testing.T) {
	te := teacher(t)
	require.Greater(t, te.Final["test/accuracy"], 0.85)
	frozen, err := distill.NewFrozen(mlp(64), te.Store, "/")
	require.NoError(t, err)
	kd, err := distill.NewKD(distill.KDConfig{Temperature: 4, Alpha: distill.Float(0.5)})
	require.NoError(t, err)
	fit, err := distill.NewFitNet(distill.FitNetConfig{StudentTap: "hidden", TeacherTap: "hidden"})
	require.NoError(t, err)
	res, d := runDistiller(t, "kd+fitnet", distill.Config{Student: mlp(16), Teacher: frozen,
		Terms: []distill.WeightedTerm{{Name: "kd", Term: kd}, {Name: "fitnet", Term: fit, Weight: 0.1,
			Schedule: distill.Schedule{Kind: "linear", Start: 0, End: 50, From: 1, To: 0}}}}, 60, "")
	require.Greater(t, res.Final["test/accuracy"], 0.7)
	for _, k := range []string{"distill/kd", "distill/fitnet", "distill/fitnet_weight"} {
		require.Contains(t, res.Final, k)
	}
	// The teacher copies and the regressor exist in the training store, not in the export.
	require.NotEmpty(t, values(t, res.Store, "/distill/teacher/"))
	require.NotEmpty(t, values(t, res.Store, "/distill/fitnet/regressor/"))
	exp, err := distill.Export(res.Store)
	require.NoError(t, err)
	for v := range exp.IterVariables() {
		require.True(t, strings.HasPrefix(v.Path(), "/student/"), v.Path())
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 3*64), 3, 64)
	a, err := res.Predict(x)
	require.NoError(t, err)
	b, err := train.Predict(res.Backend, exp, d.Model, x)
	require.NoError(t, err)
	require.Equal(t, tensors.MustCopyFlatData[float32](a[0]), tensors.MustCopyFlatData[float32](b[0]))
	// Only what the teacher model uses was copied (not its optimizer state or step counters).
	for v := range res.Store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/distill/teacher/") {
			require.True(t, strings.HasPrefix(v.Path(), "/distill/teacher/hidden/") || strings.HasPrefix(v.Path(), "/distill/teacher/out/"), v.Path())
			require.False(t, v.Trainable, v.Path())
		}
	}
	// The frozen teacher's copies were not trained.
	tv := values(t, te.Store, "/hidden/")
	for p, v := range tv {
		require.Equal(t, v, values(t, res.Store, "/distill/teacher"+p)["/distill/teacher"+p], p)
	}
}
