package rl

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/boosting/trees"
)

// Algorithms and models.
const (
	PPO = "ppo"
	A2C = "a2c"
	// ModelTrees uses boosted-tree approximators (GBRL); ModelNN a GoMLX network.
	ModelTrees = "trees"
	ModelNN    = "nn"
)

// Config configures one training run. Zero numeric fields take the defaults of gbrl_sb3's
// config/defaults.yaml (PPO: 8 environments x 128 steps... see withDefaults); Preset returns the
// per-environment hyperparameters of GBRL's experiment scripts.
type Config struct {
	// Env is the environment (registry name or gymnasium id).
	Env string
	// Algo is PPO (default) or A2C; Model is ModelTrees (default) or ModelNN.
	Algo, Model string
	// NumEnvs x NSteps transitions per rollout (defaults 16 x 128).
	NumEnvs, NSteps int
	// BatchSize and Epochs of PPO's minibatch updates (defaults 128 and 10; A2C uses the whole
	// rollout once).
	BatchSize, Epochs int
	// Gamma and GAELambda (defaults 0.99 and 0.95).
	Gamma, GAELambda float64
	// ClipRange is PPO's ratio clip (default 0.2); LinearClip decays it to 0 over the run.
	ClipRange  float64
	LinearClip bool
	// EntCoef (default 0) and VFCoef (default 0.5) weight the entropy bonus and value loss.
	EntCoef, VFCoef float64
	// NoAdvantageNorm turns off per-minibatch advantage normalization (on by default).
	NoAdvantageNorm bool
	// NormReward and NormObs: Stable-Baselines3 VecNormalize of rewards and numeric
	// observations.
	NormReward, NormObs bool
	// MaxPolicyGradNorm and MaxValueGradNorm clip the per-sample output gradients (GBRL;
	// 0 = none).
	MaxPolicyGradNorm, MaxValueGradNorm float64
	// TotalSteps is the environment-step budget (default 1,000,000).
	TotalSteps int
	Seed       uint64
	// EvalEvery (env steps, default 20,000) and EvalEpisodes (default 10): deterministic
	// evaluations on separate environments.
	EvalEvery, EvalEpisodes int
	// StopAtTarget ends training at the first evaluation whose mean return is >= Target.
	Target       float64
	StopAtTarget bool

	// Trees (GBRL): Shared uses one ensemble for policy and value; Tree configures the trees
	// (default depth 4, oblivious, 250 quantile bins, cosine); PolicyLR and ValueLR are the
	// SGD learning rates of the two output slices (defaults 0.05 and 0.005).
	Shared            bool
	Tree              trees.TreeConfig
	PolicyLR, ValueLR float64
	// LogStdInit (default -2 for trees, 0 for networks) and LogStdLR (default 0.0017, linear
	// to LogStdMinLR 0.000475 for trees; networks train the log-std with their own learning
	// rate) for continuous actions.
	LogStdInit, LogStdLR, LogStdMinLR float64

	// NN configures the network arm; Backend computes it.
	NN      NNConfig
	Backend compute.Backend
}

func (c Config) withDefaults() Config {
	if c.Algo == "" {
		c.Algo = PPO
	}
	if c.Model == "" {
		c.Model = ModelTrees
	}
	if c.NumEnvs == 0 {
		c.NumEnvs = 16
	}
	if c.NSteps == 0 {
		c.NSteps = 128
	}
	if c.BatchSize == 0 {
		c.BatchSize = 128
	}
	if c.Epochs == 0 {
		c.Epochs = 10
	}
	if c.Gamma == 0 {
		c.Gamma = 0.99
	}
	if c.GAELambda == 0 {
		c.GAELambda = 0.95
	}
	if c.ClipRange == 0 {
		c.ClipRange = 0.2
	}
	if c.VFCoef == 0 {
		c.VFCoef = 0.5
	}
	if c.TotalSteps == 0 {
		c.TotalSteps = 1_000_000
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 20_000
	}
	if c.EvalEpisodes == 0 {
		c.EvalEpisodes = 10
	}
	if c.PolicyLR == 0 {
		c.PolicyLR = 0.05
	}
	if c.ValueLR == 0 {
		c.ValueLR = 0.005
	}
	if c.LogStdInit == 0 && c.Model == ModelTrees {
		c.LogStdInit = -2
	}
	if c.LogStdLR == 0 {
		c.LogStdLR = 0.0017
	}
	if c.LogStdMinLR == 0 {
		c.LogStdMinLR = 0.000475
	}
	if c.Tree.Threads == 0 {
		c.Tree.Threads = 1
	}
	return c
}

// Validate reports a bad configuration.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := envs.SpecOf(c.Env); err != nil {
		return err
	}
	if c.Algo != PPO && c.Algo != A2C {
		return fmt.Errorf("rl: algo=%q must be %q or %q", c.Algo, PPO, A2C)
	}
	if c.Model != ModelTrees && c.Model != ModelNN {
		return fmt.Errorf("rl: model=%q must be %q or %q", c.Model, ModelTrees, ModelNN)
	}
	if c.NumEnvs < 1 || c.NSteps < 1 {
		return fmt.Errorf("rl: num_envs=%d and n_steps=%d must be >= 1", c.NumEnvs, c.NSteps)
	}
	if c.Algo == PPO && (c.BatchSize < 2 || c.Epochs < 1) {
		return fmt.Errorf("rl: batch_size=%d must be >= 2 and epochs=%d >= 1", c.BatchSize, c.Epochs)
	}
	for name, v := range map[string]float64{"gamma": c.Gamma, "gae_lambda": c.GAELambda} {
		if !(v > 0 && v <= 1) {
			return fmt.Errorf("rl: %s=%g must be in (0, 1]", name, v)
		}
	}
	if !(c.ClipRange > 0) || c.EntCoef < 0 || c.VFCoef < 0 || math.IsNaN(c.EntCoef) {
		return fmt.Errorf("rl: clip_range=%g must be > 0, ent_coef=%g and vf_coef=%g >= 0", c.ClipRange, c.EntCoef, c.VFCoef)
	}
	if c.TotalSteps < c.NumEnvs*c.NSteps {
		return fmt.Errorf("rl: total_steps=%d is less than one rollout (%d)", c.TotalSteps, c.NumEnvs*c.NSteps)
	}
	if c.EvalEvery < 1 || c.EvalEpisodes < 1 {
		return fmt.Errorf("rl: eval_every=%d and eval_episodes=%d must be >= 1", c.EvalEvery, c.EvalEpisodes)
	}
	if c.Model == ModelTrees {
		if !(c.PolicyLR > 0) || !(c.ValueLR > 0) {
			return fmt.Errorf("rl: policy_lr=%g and value_lr=%g must be > 0", c.PolicyLR, c.ValueLR)
		}
		spec, _ := envs.SpecOf(c.Env)
		if err := c.Tree.Validate(spec.NumObs + spec.CatObs); err != nil {
			return err
		}
	} else if c.Backend == nil {
		return fmt.Errorf("rl: model %q needs Config.Backend", ModelNN)
	}
	return nil
}

// Preset returns the hyperparameters of GBRL's experiment scripts (gbrl_sb3
// experiments/gym/{ppo,a2c}_{gbrl,nn}.sh) for env, algo and model, with total steps 1M (the
// scripts' budget; 100k for CartPole NN-PPO as in ppo_nn.sh). Environments without a script
// (KeyDoor-5x5) use GBRL's MiniGrid PPO setting (16 x 256, batch 512, 20 epochs, gamma 0.99,
// lambda 0.95, policy lr 0.171, value lr 0.01, cosine). A2C settings without a script copy
// CartPole's.
func Preset(env, algo, model string) (Config, error) {
	spec, err := envs.SpecOf(env)
	if err != nil {
		return Config{}, err
	}
	c := Config{Env: spec.ID, Algo: algo, Model: model, NormReward: true}
	id := spec.ID
	switch {
	case model == ModelTrees && algo == PPO:
		switch id {
		case "CartPole-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 8, 128, 64, 1
			c.Gamma, c.GAELambda, c.PolicyLR, c.ValueLR = 0.98, 0.8, 0.029, 0.015
			c.MaxPolicyGradNorm, c.MaxValueGradNorm = 100, 10
		case "Acrobot-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 128, 512, 20
			c.Gamma, c.GAELambda, c.PolicyLR, c.ValueLR = 0.99, 0.94, 0.160275707585934, 0.034185252451467855
		case "MountainCar-v0":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 512, 256, 20
			c.Gamma, c.GAELambda, c.PolicyLR, c.ValueLR = 0.999, 0.98, 0.03113195249121072, 0.0031781512018050338
			c.EntCoef, c.MaxPolicyGradNorm, c.MaxValueGradNorm = 0.033440814554543896, 100, 10
		case "Pendulum-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 256, 512, 20
			c.Gamma, c.GAELambda, c.PolicyLR, c.ValueLR = 0.9147245889494424, 0.9375823088645378, 0.031246793805561623, 0.01315225738736567
			c.MaxPolicyGradNorm, c.MaxValueGradNorm = 100, 10
		default:
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 256, 512, 20
			c.Gamma, c.GAELambda, c.PolicyLR, c.ValueLR = 0.99, 0.95, 0.171, 0.01
		}
	case model == ModelTrees && algo == A2C:
		c.NumEnvs, c.NSteps, c.Gamma, c.GAELambda = 16, 8, 0.99, 1
		c.PolicyLR, c.ValueLR, c.VFCoef, c.NormReward = 0.13522782541918751, 0.04741932245744507, 0.5, false
		switch id {
		case "Acrobot-v1":
			c.NumEnvs, c.PolicyLR, c.ValueLR = 4, 0.7941291726157867, 0.03156352960142528
		case "MountainCar-v0":
			c.PolicyLR, c.ValueLR = 0.6402117929865448, 0.0327367056021962
		case "Pendulum-v1":
			c.NumEnvs, c.NSteps, c.Gamma, c.GAELambda = 32, 10, 0.9, 0.9
			c.EntCoef, c.PolicyLR, c.ValueLR, c.LogStdLR = 1e-5, 0.0031713221315178178, 0.05696582939066114, 0.000184599955396231
		}
	case model == ModelNN && algo == PPO:
		c.NN = NNConfig{}
		c.NormReward = false
		switch id {
		case "CartPole-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 8, 32, 256, 20
			c.Gamma, c.GAELambda, c.LinearClip = 0.98, 0.8, true
			c.NN.LR, c.NN.LinearLR, c.TotalSteps = 0.001, true, 100_000
		case "Acrobot-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 256, 64, 4
			c.Gamma, c.GAELambda, c.NormObs, c.NormReward = 0.99, 0.94, true, true
		case "MountainCar-v0":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 16, 64, 4
			c.Gamma, c.GAELambda, c.NormObs, c.NormReward = 0.99, 0.98, true, true
		case "Pendulum-v1":
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 4, 1024, 64, 10
			c.Gamma, c.GAELambda, c.NN.LR, c.TotalSteps = 0.9, 0.95, 0.001, 100_000
		default:
			c.NumEnvs, c.NSteps, c.BatchSize, c.Epochs = 16, 128, 64, 4
		}
	case model == ModelNN && algo == A2C:
		// Stable-Baselines3's A2C defaults (RMSprop replaced by Adam): 5 steps, lr 7e-4,
		// gamma 0.99, lambda 1, vf 0.5, max_grad_norm 0.5; 16 environments.
		c.NumEnvs, c.NSteps, c.Gamma, c.GAELambda, c.VFCoef = 16, 5, 0.99, 1, 0.5
		c.NN = NNConfig{LR: 7e-4}
		c.NoAdvantageNorm, c.NormReward = true, false
	default:
		return Config{}, fmt.Errorf("rl: no preset for algo=%q model=%q", algo, model)
	}
	if c.TotalSteps == 0 {
		c.TotalSteps = 1_000_000
	}
	if spec.HasRewardThreshold {
		c.Target = spec.RewardThreshold
	}
	return c, nil
}
