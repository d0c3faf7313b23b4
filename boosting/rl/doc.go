// Package rl is actor-critic reinforcement learning over a function-approximator interface
// that gradient-boosted trees (GBRL) and GoMLX neural networks both implement: PPO and A2C with
// GAE, discrete (categorical logits) and continuous (Gaussian means with a learned
// state-independent log-std) actions, reward/observation normalization, and periodic
// deterministic evaluation. Environments live in package envs.
//
// Paper: B. Fuhrer, C. Tessler, G. Dalal, "Gradient Boosting Reinforcement Learning", ICML 2025,
// arXiv 2407.08250; J. Schulman et al., "Proximal Policy Optimization Algorithms", 2017;
// V. Mnih et al., "Asynchronous Methods for Deep Reinforcement Learning" (A2C), 2016.
//
// Reference code: NVlabs/gbrl_sb3 algos/ppo.py, algos/a2c.py, experiments/gym/*.sh (presets),
// config/defaults.yaml; NVlabs/gbrl (ActorCritic step, clip_grad_norm); DLR-RM/stable-baselines3
// (RolloutBuffer GAE, VecNormalize, timeout bootstrapping, MlpPolicy).
//
// How an update works: the RL loss is written in Go with its per-sample output gradients
// (lossGrads, checked against finite differences):
//
//	PPO: l_i = -min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i) - c_ent H_i + c_vf 0.5 (R_i - V_i)^2
//	A2C: l_i = -A_i log pi(a_i|s_i) - c_ent H_i + c_vf (R_i - V_i)^2
//	GAE: delta_t = r_t + gamma V_{t+1} (1 - done) - V_t, A_t = delta_t + gamma lambda (1 - done) A_{t+1}
//
// and each approximator receives g_i = n * dL/d(outputs_i) for the minibatch mean L. Trees
// (GBRL) grow exactly one tree per minibatch on g (per-sample clipped: policy rows by norm
// MaxPolicyGradNorm, values by value MaxValueGradNorm), with the learning rate applied at
// prediction time; in shared mode one ensemble outputs [policy..., value] with separate
// learning-rate slices. A network (NN) takes one Adam step on (1/n) sum_i <out_i, g_i>, whose
// parameter gradient is exactly backpropagation of L. Timeouts bootstrap with the value of the
// final observation (Stable-Baselines3). During PPO's epochs, tree predictions of the rollout
// are refreshed incrementally (only the trees added since are evaluated).
//
// Deviations: GBRL's per-sample gradient clipping divides clipped rows element-wise by
// themselves (a bug setting them to +c); we scale by the norm. The network uses GoMLX's
// default initialization, not Stable-Baselines3's orthogonal one, and Adam for A2C (SB3:
// RMSprop). AWR, control variates and GBRL's per-sample Adam tree optimizer are not
// implemented. Observations are float32 as in gymnasium; random streams are Go's PCG.
package rl
