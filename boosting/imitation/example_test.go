package imitation_test

import (
	"context"
	"fmt"

	"github.com/moeboost/moeboost/boosting/imitation"
	"github.com/moeboost/moeboost/train/backend"
)

func ExampleMethods() {
	fmt.Println(imitation.Methods())
	// Output: [ailboost bc dac gail]
}

// AILBoost from four demonstrations of the project's PPO expert on Pendulum, scored as the
// official code scores it: the boosted mixture on fresh episodes, normalized so that 0 is a
// uniform random policy and 1 the expert.
func Example_aILBoost() {
	ctx := context.Background()
	demos, expertReturn, err := imitation.ExpertDemos(ctx, "pendulum-v1", 4, 0, imitation.DefaultExpertCache())
	if err != nil {
		panic(err)
	}
	ailboost, err := imitation.Get("ailboost")
	if err != nil {
		panic(err)
	}
	res, err := ailboost(ctx, demos, imitation.Config{Backend: backend.MustDefault(), Seed: 1, EnvSteps: 10_000,
		Params: map[string]float64{"eta": 0.05}}, nil)
	if err != nil {
		panic(err)
	}
	returns, err := imitation.Evaluate("pendulum-v1", res.Policy, 20, 12345)
	if err != nil {
		panic(err)
	}
	random, err := imitation.RandomReturn("pendulum-v1", 20, 12345)
	if err != nil {
		panic(err)
	}
	mean := 0.0
	for _, r := range returns {
		mean += r / float64(len(returns))
	}
	fmt.Printf("normalized return %.2f\n", imitation.Normalized(mean, random, expertReturn))
}
