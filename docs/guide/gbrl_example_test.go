package guide_test

import (
	"context"
	"fmt"

	"github.com/moeboost/moeboost/boosting/rl"
	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// guide:gbrl
// Example_gbrlCartPole trains GBRL, PPO whose actor and critic are gradient-boosted tree
// ensembles that grow one tree per minibatch, on CartPole, starting from the tuned settings
// of the GBRL paper's scripts.
func Example_gbrlCartPole() {
	fmt.Println("environments:", envs.Names())
	cfg, err := rl.Preset("CartPole-v1", rl.PPO, rl.ModelTrees)
	if err != nil {
		panic(err)
	}
	cfg.TotalSteps, cfg.EvalEvery, cfg.Seed = 51_200, 10_240, 1 // a short run; the paper's is 1M steps
	res, err := rl.Train(context.Background(), cfg, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("evaluations:", len(res.Curve), "trees grown:", res.Updates)
	// A uniformly random policy keeps the pole up for about 22 steps.
	fmt.Println("mean return above 100:", res.FinalReturn > 100)
	// Output:
	// environments: [acrobot-v1 cartpole-v1 keydoor-5x5-v0 mountaincar-v0 pendulum-v1]
	// evaluations: 5 trees grown: 1600
	// mean return above 100: true
}

// guide:end
