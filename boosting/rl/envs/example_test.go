package envs_test

import (
	"fmt"

	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// Run four CartPole copies with a fixed policy until the first episode ends.
func Example() {
	v, err := envs.NewVec("CartPole-v1", 4, 42)
	if err != nil {
		panic(err)
	}
	for len(v.Episodes()) == 0 {
		v.Step([]int{1, 1, 1, 1}, nil) // always push right: the pole falls quickly
	}
	fmt.Println(v.Spec().ID, v.Spec().MaxEpisodeSteps, v.Spec().RewardThreshold)
	fmt.Println(envs.Names())
	// Output:
	// CartPole-v1 500 475
	// [acrobot-v1 cartpole-v1 keydoor-5x5-v0 mountaincar-v0 pendulum-v1]
}
