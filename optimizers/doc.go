// Package optimizers holds moeboost's optimizers, registered by name (see Register, Names, New,
// FromStore) and usable anywhere GoMLX takes an optimizer.Interface, train.Trainer included:
// every one also accepts precomputed gradients (train.OptimizeWithGradients), so gradients can be
// clipped, checked or accumulated before it.
//
// # Registered optimizers
//
//	adabelief       AdaBelief (Zhuang et al. 2020), adabelief-pytorch 0.2.1 with its RAdam rectification
//	adamp, sgdp     AdamP and SGDP (Heo et al. 2021), clovaai/AdamP
//	adamw           AdamW (Loshchilov & Hutter 2019), torch.optim.AdamW (replaces GoMLX's "adamw")
//	adan            Adan (Xie et al. 2024), sail-sg/Adan
//	fira            Fira (Chen et al. 2024), xichen-fy/Fira: low-rank Adam plus a scaled full-rank residual
//	frugal          FRUGAL (Zmushko et al. 2025), the paper's algorithm: AdamW in a subspace, signSGD outside
//	lion            Lion (Chen et al. 2023), google/automl
//	mkor            MKOR (Mozaffari et al. 2023), Mohammad-Mozaffari/mkor: rank-1 Kronecker preconditioning
//	perpgrad        ⊥Grad (Prieto et al. 2025) around any optimizer; also perpgrad+adamw, perpgrad+sgd and,
//	                through New, "perpgrad+NAME" for any NAME
//	sgd             SGD with (Nesterov) momentum, torch.optim.SGD (replaces GoMLX's "sgd")
//	sgd_sai         SGD-SaI (Xu et al. 2024), AnonymousAlethiometer/SGD_SaI
//	spam            SPAM (Huang et al. 2025), TianjinYellow/SPAM-Optimizer
//	stable_spam     Stable-SPAM (Huang et al. 2025), TianjinYellow/StableSPAM
//
// GoMLX's other optimizers ("adam", "adamax", "rmsprop") stay reachable through New. Each
// optimizer's doc comment gives the paper, the reference code, the rule as that code runs it,
// the defaults, the state it keeps and its deviations; the golden tests replay the reference
// implementations' trajectories (testdata/golden/optimizers with ../shared/golden/optimizers)
// step by step.
//
// # Composition
//
// In the manner of optax, an optimizer (type Optimizer) is a chain of small named transforms
// (type Transform) over one update (type Update): each parameter (type Param) carries its value
// p, its raw gradient g and the update U under construction, and the chain ends with
// ApplyUpdate, p ← p − lr·U. The shared transforms are ScaleByAdam (moments, bias corrections,
// AMSGrad, Nesterov), DecoupledWeightDecay / ProximalWeightDecay / FixedWeightDecay /
// L2WeightDecay, ClipByGlobalNorm, ClipSpikes (SPAM), ProjectRadial (AdamP/SGDP),
// OrthogonalizeGradient (⊥Grad), and the low-rank projection of lowrank.go (Fira, FRUGAL); an
// optimizer's own file adds only what is specific to it, with PerParam or Func.
//
// # State, learning rate, step
//
// Optimizer state lives in named, non-trainable store variables under
// /optimizers/<name>/<variable path>/<state>, so GoMLX checkpoints carry it and a resumed run
// continues bit-identically (tested for every optimizer). The learning rate is read at every
// step from GoMLX's learning-rate variable (optimizer.LearningRateVar, /optimizers/learning_rate,
// created with the "learning_rate" param or the paper's default): a schedule or a new value
// never recompiles. Every update increments GoMLX's global step and the optimizer's own step
// counter (/optimizers/<name>/step), which the bias corrections use.
//
// # Parameter groups
//
// GroupConfig decides per variable, by rank and by path pattern, whether weight decay applies
// (default: not to tensors of rank < 2, i.e. biases and norm scales) and whether low-rank
// optimizers project it (2-D weights, minus excluded patterns such as embeddings). The partition
// is logged once per optimizer. Set "optimizer_decay_all" for the reference codes' single-group
// behaviour.
//
// # Hyperparameters
//
// Each optimizer has a Config whose zero value is the paper's defaults, a Validate method and a
// New function; the registered factories read the same fields from the store params listed by
// Params (shared names such as "learning_rate", "beta1", "weight_decay", "momentum", and
// prefixed ones such as "spam_delta_t" or "fira_rank"), so -set "optimizer=lion;beta2=0.98"
// works wherever the command line knows them (train.ApplySettings accepts the params declared
// with train.DeclareParam; Params lists them with a default that fixes their type). A bad value
// is an error naming it and what is allowed, before any graph is built.
//
// # GoMLX v0.28.2 / Go backend notes
//
// core/graph has no SVD, QR or eigendecomposition, so projectors are computed in the graph by a
// Jacobi eigensolver (SymEig) run only on refresh steps. On the Go backend (compute v0.1.2) there
// is no DynamicSlice, a While inside an If branch (any closure inside a closure) fails, and If
// gave nondeterministic wrong values in optimizer graphs; so computations done only on some
// steps run in a While loop with an iteration budget of 0 or 1 whose state carries everything
// they read (gatedCompute), and values shared by several ops inside a loop body go through one
// op first (owned). GoMLX caches scalar constants per graph rather than per function, so code
// inside closures builds its constants with lit. Whole-tensor reductions use matrix-vector
// products (see sumAll), several times faster than ReduceSum on large tensors on that backend.
package optimizers
