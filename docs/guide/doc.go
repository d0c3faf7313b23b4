// Package guide holds the runnable code of moeboost's guide to writing models (docs/guide.md):
// every listing in the guide is an Example function in this package's tests, so `go test
// ./docs/guide` compiles and runs each one and checks its printed output, and a test checks
// that the listings in guide.md are the code in these files, word for word.
//
// The examples, each a few seconds on the pure-Go backend:
//
//   - Example_moeLanguageModel: a character-level MoE language model (layers.Stack with a
//     MomentumSMoE FFN slot, an optimizer by name, train.Run, checkpoints and resumption,
//     evaluation in bits per character);
//   - Example_gbnnOnCSV: GBNN (gradient-boosted one-hidden-layer network) on a CSV file;
//   - Example_gbrlCartPole: GBRL (PPO with gradient-boosted trees) on CartPole;
//   - Example_distillation: a student distilled from a teacher with Hinton's KD plus a term
//     written for the occasion;
//   - Example_registerOptimizer, Example_registerRouter, Example_registerLoss: plugins of your
//     own, registered by name next to the built-in ones.
package guide
