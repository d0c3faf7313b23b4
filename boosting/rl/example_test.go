package rl_test

import (
	"fmt"

	"github.com/moeboost/moeboost/boosting/rl"
)

// GBRL's tuned CartPole-v1 PPO setting: 8 environments x 128 steps, minibatches of 64, one
// epoch, separate actor and critic ensembles with SGD learning rates 0.029 and 0.015.
func ExamplePreset() {
	cfg, err := rl.Preset("CartPole-v1", rl.PPO, rl.ModelTrees)
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.NumEnvs, cfg.NSteps, cfg.BatchSize, cfg.Epochs, cfg.PolicyLR, cfg.ValueLR, cfg.Target)
	// Output: 8 128 64 1 0.029 0.015 475
}
