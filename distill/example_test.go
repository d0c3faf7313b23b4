package distill_test

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/train/backend"
)

// Hinton's KD on one example: (1 − α)·CE + α·T²·KL, here with α = 0.5 and T = 2.
func ExampleKD() {
	kd, err := distill.NewKD(distill.KDConfig{Temperature: 2, Alpha: distill.Float(0.5)})
	if err != nil {
		panic(err)
	}
	student := tensors.FromValue([][]float32{{0, 0}})
	teacher := tensors.FromValue([][]float32{{float32(math.Log(3)), 0}})
	labels := tensors.FromValue([]int32{0})
	loss := MustExecOnce(backend.MustDefault(), func(s, t, y *Node) *Node { return kd.Compute(s, t, y) }, student, teacher, labels)
	fmt.Printf("loss = %.4f\n", loss.Value())
	// Output: loss = 0.4193
}

// DKD's distiller warms its loss up over 20 epochs: min(epoch/20, 1).
func ExampleSchedule() {
	s := distill.Schedule{Kind: "warmup", Warmup: 20, Epochs: true}
	for _, epoch := range []float64{0, 5, 20, 40} {
		fmt.Printf("epoch %2.0f: %.2f\n", epoch, s.At(epoch))
	}
	// Output:
	// epoch  0: 0.00
	// epoch  5: 0.25
	// epoch 20: 1.00
	// epoch 40: 1.00
}

// A student distilled from a trained teacher with KD plus a FitNet hint on the tapped hidden
// layer; train.Run takes d.Model and d.Loss. Configuration mistakes are reported before any
// graph is built.
func ExampleNewDistiller() {
	student := func(scope *model.Scope, x *Node) []*Node {
		h := glayers.DenseWithBias(scope.In("hidden"), x, 16)
		h = distill.Tap(scope, "hidden", Max(h, ZerosLike(h)))
		return []*Node{glayers.DenseWithBias(scope.In("out"), h, 10)}
	}
	kd, _ := distill.NewKD(distill.KDConfig{})
	hint, _ := distill.NewFitNet(distill.FitNetConfig{StudentTap: "hidden", TeacherTap: "hidden"})
	_, err := distill.NewDistiller(distill.Config{Student: student, Terms: []distill.WeightedTerm{
		{Name: "kd", Term: kd},
		{Name: "fitnet", Term: hint, Weight: 0.1, Schedule: distill.Schedule{Kind: "linear", End: 1000, From: 1, To: 0}},
	}})
	fmt.Println(err)
	// Output: term "kd": distill: kd needs a teacher (Config.Teacher)
}
