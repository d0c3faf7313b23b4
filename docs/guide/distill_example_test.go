package guide_test

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
)

// guide:distill-term
// logitMatching is a distillation term of your own: the logit regression of Ba and Caruana,
// "Do Deep Nets Really Need to be Deep?", NeurIPS 2014: the student regresses the teacher's
// logits with the L2 loss of their mimic models, averaged over the R rows of the batch:
// L = 1/(2R)·Σ_r ‖z_student,r − z_teacher,r‖².
type logitMatching struct{}

// Loss implements distill.Term: c.Student and c.Teacher are the logits [R, C] of the batch
// (the teacher's are constants).
func (logitMatching) Loss(c *distill.Context) *graph.Node {
	d := graph.Sub(c.Student, c.Teacher)                                                   // [R, C]
	return graph.MulScalar(graph.ReduceAllMean(graph.ReduceSum(graph.Square(d), -1)), 0.5) // L
}

// Registered by name, it can be selected like the built-in terms (distill.New).
func init() {
	distill.Register("logit_matching", func(*model.Scope) (distill.Term, error) { return logitMatching{}, nil })
}

// guide:end

// guide:distill
// Example_distillation trains a teacher on the bundled digits, then a 4x narrower student
// with Hinton's KD plus the logit-matching term above, scheduled to fade out.
func Example_distillation() {
	table, _ := data.Builtin("digits")
	trainT, testT, _ := table.Split(0.3, 1)
	_, trainT, others := data.Standardize(trainT, false, testT)
	testT = others[0]
	batches := func() (*data.Batches, *data.Batches) {
		tr, _ := data.NewTrainBatches(trainT, 64, 1)
		te, _ := data.NewEvalBatches(testT, 512)
		return tr, te
	}
	mlp := func(hidden int) distill.ModelFn {
		return func(scope *model.Scope, x *graph.Node) []*graph.Node {
			h := graph.Max(glayers.DenseWithBias(scope.In("hidden"), x, hidden), graph.ScalarZero(x.Graph(), x.DType()))
			return []*graph.Node{glayers.DenseWithBias(scope.In("out"), h, 10)}
		}
	}
	tr, te := batches()
	teacher, err := distill.TrainTeacher(context.Background(), train.Config{Optimizer: "adam", LearningRate: 3e-3,
		Steps: 150, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}}, Metrics: []string{"accuracy"}, Seed: 1}, mlp(64))
	if err != nil {
		panic(err)
	}
	frozen, err := distill.NewFrozen(mlp(64), teacher.Store, "/")
	if err != nil {
		panic(err)
	}

	kd, _ := distill.NewKD(distill.KDConfig{Temperature: 4, Alpha: distill.Float(0.9)})
	mine, err := distill.New(model.NewStore().RootScope(), "logit_matching")
	if err != nil {
		panic(err)
	}
	d, err := distill.NewDistiller(distill.Config{Student: mlp(16), Teacher: frozen, NumClasses: 10, Terms: []distill.WeightedTerm{
		{Name: "kd", Term: kd},
		{Name: "logit_matching", Term: mine, Weight: 0.05, Schedule: distill.Schedule{Kind: "linear", End: 200, From: 1, To: 0}},
	}})
	if err != nil {
		panic(err)
	}
	tr, te = batches()
	student, err := train.Run(context.Background(), train.Config{Model: d.Model, LossFn: d.Loss, Optimizer: "adam",
		LearningRate: 3e-3, Steps: 200, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}},
		Metrics: []string{"accuracy"}, Seed: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println("teacher accuracy >= 0.9:", teacher.Final["test/accuracy"] >= 0.9)
	fmt.Println("student accuracy >= 0.9:", student.Final["test/accuracy"] >= 0.9)
	_, reported := student.Final["distill/logit_matching"]
	w := func(p train.EvalPoint) float64 { return p.Metrics["distill/logit_matching_weight"] } // mean since the last evaluation
	fmt.Printf("term reported: %v, its weight fades: %.3f -> %.3f\n", reported, w(student.History[0]), w(student.History[len(student.History)-1]))
	// Output:
	// teacher accuracy >= 0.9: true
	// student accuracy >= 0.9: true
	// term reported: true, its weight fades: 0.048 -> 0.003
}

// guide:end
