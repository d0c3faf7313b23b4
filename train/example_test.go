package train_test

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// ExampleRun trains an MLP on the bundled digits dataset and evaluates it on a held-out split.
func ExampleRun() {
	table, _ := data.Builtin("digits")
	trainT, testT, _ := table.Split(0.2, 1)
	_, trainT, rest := data.Standardize(trainT, false, testT)
	trainDS, _ := data.NewTrainBatches(trainT, 64, 1)
	testDS, _ := data.NewEvalBatches(rest[0], 512)
	res, err := train.Run(context.Background(), train.Config{
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{128}, Out: 10})}
		},
		Loss: "cross_entropy", Optimizer: "adam", LearningRate: 3e-3, Steps: 500, Train: trainDS,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: 25},
		Eval:     []train.EvalSet{{Name: "test", Data: testDS}}, Metrics: []string{"accuracy"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", res.Steps, "evaluations:", len(res.History), "accuracy >= 0.95:", res.Final["test/accuracy"] >= 0.95)
	// Output: steps: 500 evaluations: 10 accuracy >= 0.95: true
}
