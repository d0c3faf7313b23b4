// Package moe holds moeboost's sparse mixture-of-experts layers for the FFN slot of
// layers.Block / layers.Stack (layers.FFN):
//
//   - the router (Route, SelectTopK): top-k token-choice gating for any k with both weight
//     orders (top-k-then-softmax, softmax-then-top-k with optional renormalization before or
//     after dropping), jitter and Shazeer noisy top-k gating; expert-choice routing
//     (NewExpertChoice); an optional always-on shared expert (Config.SharedHidden);
//   - dispatch (Routing.Assign, Dispatch): gather/scatter into fixed-capacity expert buffers
//     (capacity factor, separate train and eval values, dropping in slot-major, token or
//     score priority) by default, a dropless mode, and a dense-all masked reference path
//     (the test oracle); the per-expert compute is layers.ExpertFFN;
//   - losses (BalanceLoss in Switch, first-choice and per-slot forms, ZLoss, CV2 of
//     Importance and Load): joined to the objective with train.AddExtraLoss under
//     configurable weights, never globals;
//   - per-layer metrics with train.Report ("moe/l<i>/tokens_min|max|std", "util_min|max",
//     "dead_experts", "dropped", "entropy", "balance_loss", "z_loss", AdaMoE's
//     "true_per_token"), which reach the progress bar, the history, JSON and plots;
//   - the layer variants: SMoE (NewSMoE), heavy-ball MomentumSMoE (NewMomentumSMoE),
//     AdamSMoE (NewAdamSMoE), Robust MomentumSMoE (NewRobustSMoE), AdaMoE with null experts
//     (NewAdaMoE), expert choice (NewExpertChoice). The momentum state travels from layer to
//     layer in layers.Carry; Config.Reference selects the official post-LN layout.
//
// Registered names (registry kind "moe_layer", New(name, cfg)): "adam", "adamoe",
// "expert_choice", "momentum", "robust", "smoe". Every Config field is also a store param
// ("moe", "moe_num_experts", "moe_top_k", ...: see ConfigFromParams and FromParams), so
// -set "moe=momentum;moe_num_experts=8;moe_top_k=2" selects a layer from the command line.
//
// GoMLX v0.28 on the Go backend: graph.TopK has no gradient (routing only selects on stopped
// scores and takes gate values by a one-hot product), and graph.CumSum is O(n²) (slot
// positions use BlockedCumSum). BenchmarkSelect, BenchmarkCumSum and BenchmarkMoEBlockStep
// measure these choices.
package moe
