// Package imitation is imitation learning from expert demonstrations: behaviour cloning and
// adversarial imitation with an off-policy learner, in particular AILBoost (boosted mixtures
// of policies against one discriminator trained on a weighted replay of every past policy).
//
// Paper: J. D. Chang, D. Sreenivas, Y. Huang, K. Brantley, W. Sun, "Adversarial Imitation
// Learning via Boosting", ICLR 2024, arXiv 2404.08513 (reference code: Cornell-RL/ailboost).
// Baselines: J. Ho, S. Ermon, "Generative Adversarial Imitation Learning", NeurIPS 2016;
// I. Kostrikov et al., "Discriminator-Actor-Critic", ICLR 2019 (absorbing states).
package imitation
