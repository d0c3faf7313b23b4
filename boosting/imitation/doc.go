// Package imitation is imitation learning from expert demonstrations: behaviour cloning and
// adversarial imitation with an off-policy learner, in particular AILBoost (boosted mixtures
// of policies against one discriminator trained on a weighted replay of every past policy).
//
// Paper: J. D. Chang, D. Sreenivas, Y. Huang, K. Brantley, W. Sun, "Adversarial Imitation
// Learning via Boosting", ICLR 2024, arXiv 2404.08513 (reference code: Cornell-RL/ailboost).
// Baselines: J. Ho, S. Ermon, "Generative Adversarial Imitation Learning", NeurIPS 2016;
// I. Kostrikov et al., "Discriminator-Actor-Critic", ICLR 2019 (absorbing states). Learner:
// T. Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", arXiv 1812.05905, and
// P. Christodoulou, "Soft Actor-Critic for Discrete Action Settings", arXiv 1910.07207.
//
// Methods are plugins (Register, Get; kind "imitation_method"): "ailboost", "dac" and "gail"
// (adversarial.go: one SAC learner, three discriminator replays) and "bc" (bc.go). Experts are
// the project's PPO agents (expert.go, demonstrations cached on disk), evaluation runs fresh
// episodes and draws one member per episode from a Mixture (eval.go, the official
// boosted_eval). The AILBoost round, its official defaults and the laptop-scale deviations are
// documented on advParams and adversarial.train.
package imitation
