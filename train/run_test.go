package train_test

import (
	"context"
	"os"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func mlp(scope *model.Scope, inputs []*graph.Node) []*graph.Node {
	x := layers.DenseWithBias(scope.In("h"), inputs[0], 32)
	x = activation.Relu(x)
	return []*graph.Node{layers.DenseWithBias(scope.In("out"), x, 10)}
}

func digits(t *testing.T) (*data.Batches, *data.Batches) {
	tab, err := data.Builtin("digits")
	require.NoError(t, err)
	tr, te, err := tab.Split(0.2, 1)
	require.NoError(t, err)
	_, tr, others := data.Standardize(tr, false, te)
	trainDS, err := data.NewTrainBatches(tr, 64, 1)
	require.NoError(t, err)
	testDS, err := data.NewEvalBatches(others[0], 512)
	require.NoError(t, err)
	return trainDS, testDS
}

func TestRunDigits(t *testing.T) {
	trainDS, testDS := digits(t)
	res, err := train.Run(context.Background(), train.Config{
		Name: "digits", Model: mlp, Loss: "cross_entropy", Optimizer: "adam", LearningRate: 3e-3,
		Steps: 300, Train: trainDS, Eval: []train.EvalSet{{Name: "test", Data: testDS}},
		Metrics: []string{"accuracy"}, EvalEvery: 100, Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: 10},
	})
	require.NoError(t, err)
	require.Equal(t, 300, res.Steps)
	require.Len(t, res.History, 3)
	require.Greater(t, res.Final["test/accuracy"], 0.9)
	require.Contains(t, res.Final, "lr")
	require.Contains(t, res.Final, "grad_norm")
	t.Logf("final %v ms/step=%.3f", res.Final, res.MsPerStep)
}
