package guide_test

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/data"
	"github.com/moeboost/moeboost/train/losses"
)

// guide:register-optimizer
// newSignSGD builds signSGD: Bernstein et al., "signSGD: Compressed Optimisation for
// Non-Convex Problems", ICML 2018, Algorithm 1: p ← p − lr·sign(g). It is a chain of two of
// moeboost's transforms, so the learning rate comes from the same variable as every other
// optimizer's (schedules apply) and the update is logged by parameter group.
func newSignSGD(scope *model.Scope) (optimizer.Interface, error) {
	lr := model.GetParamOr(scope, optimizers.ParamLearningRate, 1e-3)
	if !(lr > 0) || math.IsInf(lr, 0) {
		return nil, fmt.Errorf("sign_sgd: learning_rate=%g must be > 0", lr)
	}
	return optimizers.NewOptimizer("sign_sgd", lr, optimizers.GroupConfig{}, false,
		optimizers.PerParam("sign", func(u *optimizers.Update, p *optimizers.Param) { p.U = graph.Sign(p.U) }),
		optimizers.ApplyUpdate(), // p ← p − lr·U
	), nil
}

func init() { optimizers.Register("sign_sgd", newSignSGD) }

// guide:end

// guide:register-router
// newCosineMoE is an MoE layer with a router of your own: cosine routing in the style of X-MoE
// (Chi et al., "On the Representation Collapse of Sparse Mixture of Experts", NeurIPS 2022):
// the token is projected to 16 dimensions and scored against 16-dimensional expert embeddings
// by cosine similarity over a temperature, s_i = cos(W·x, e_i)/τ. The rest is moeboost's: top-k
// selection and gates (moe.Route), capacity slots (Assign), gather/scatter dispatch to the
// experts (moe.Dispatch) and the Switch balance loss. Deviations: τ = 0.07 is fixed, and the
// details of X-MoE's reference code (initialization and rescaling of the expert embeddings)
// are left out: this shows the plumbing, it does not reproduce X-MoE.
func newCosineMoE(cfg moe.Config) (layers.FFN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.Defaults()
	const dim, tau = 16, 0.07
	return func(scope *model.Scope, h *graph.Node, layer int, carry layers.Carry) (*graph.Node, layers.Carry) {
		dims := h.Shape().Dimensions
		d := dims[len(dims)-1]
		x := graph.Reshape(h, h.Shape().Size()/d, d) // [T, d]
		rs := scope.In("router")
		z := graph.L2Normalize(glayers.Dense(rs.In("proj"), x, false, dim), -1) // [T, 16]
		e := rs.VariableWithShape("experts", shapes.Make(h.DType(), cfg.NumExperts, dim)).NodeValue(h.Graph())
		e = graph.L2Normalize(e, -1)                                              // [E, 16]
		logits := graph.DivScalar(graph.MatMul(z, graph.Transpose(e, 0, 1)), tau) // [T, E]
		r := moe.Route(logits, cfg, cfg.NumExperts)
		training := scope.IsTraining(h.Graph())
		cf := map[bool]float64{true: cfg.CapacityFactor, false: cfg.EvalCapacityFactor}[training]
		r.Assign(int(math.Ceil(cf*float64(cfg.TopK*r.T)/float64(cfg.NumExperts))), cfg)
		experts := func(scope *model.Scope, x *graph.Node) *graph.Node { // [E, C, d] -> [E, C, d]
			return layers.ExpertFFN(scope.In("experts"), x, layers.ExpertFFNConfig{NumExperts: cfg.NumExperts, Hidden: cfg.Hidden, Activation: cfg.Activation})
		}
		y := moe.Dispatch(scope, x, r, experts, false) // [T, d]
		if training {
			train.AddExtraLoss(fmt.Sprintf("cosine/l%d/balance_loss", layer), cfg.BalanceWeight, moe.BalanceLoss(r, cfg.BalanceMode, true))
		}
		return graph.Reshape(y, dims...), carry
	}, nil
}

func init() { moe.Register("cosine", newCosineMoE) }

// guide:end

// guide:register-loss
// paramLabelSmoothing is the store parameter of the label-smoothed cross-entropy.
const paramLabelSmoothing = "label_smoothing"

// newLabelSmoothedCE builds the cross-entropy with label smoothing of Szegedy et al.,
// "Rethinking the Inception Architecture for Computer Vision", CVPR 2016, Sec. 7: the target
// is q' = (1 − ε)·onehot(y) + ε/K, and the loss −Σ_k q'_k·log softmax(z)_k, averaged over the
// batch. Labels are int [B, 1] (as for "cross_entropy"), logits [B, K].
func newLabelSmoothedCE(scope *model.Scope) (losses.Fn, error) {
	eps := model.GetParamOr(scope, paramLabelSmoothing, 0.1)
	if !(eps >= 0 && eps < 1) {
		return nil, fmt.Errorf("label_smoothed_ce: %s=%g must be in [0, 1)", paramLabelSmoothing, eps)
	}
	return func(labels, predictions []*graph.Node) *graph.Node {
		logits := predictions[0]
		k := logits.Shape().Dim(-1)
		y := graph.Reshape(labels[0], logits.Shape().Dim(0))                                             // [B]
		q := graph.AddScalar(graph.MulScalar(graph.OneHot(y, k, logits.DType()), 1-eps), eps/float64(k)) // Sec. 7: q'
		return graph.ReduceAllMean(graph.Neg(graph.ReduceSum(graph.Mul(q, graph.LogSoftmax(logits, -1)), -1)))
	}, nil
}

func init() {
	losses.Register("label_smoothed_ce", newLabelSmoothedCE)
	train.DeclareParam(paramLabelSmoothing, 0.1, "label smoothing ε of label_smoothed_ce") // so -set accepts it
}

// guide:end

// digitsRun trains a small MLP on the bundled digits with the optimizer and loss named in
// settings (GoMLX's -set syntax) and returns the run.
func digitsRun(loss, settings string) (*train.Result, error) {
	table, _ := data.Builtin("digits")
	trainT, testT, _ := table.Split(0.3, 1)
	_, trainT, others := data.Standardize(trainT, false, testT)
	tr, _ := data.NewTrainBatches(trainT, 64, 1)
	te, _ := data.NewEvalBatches(others[0], 512)
	return train.Run(context.Background(), train.Config{
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{32}, Out: 10})}
		},
		Loss: loss, Settings: settings, Steps: 150, Train: tr, Eval: []train.EvalSet{{Name: "test", Data: te}},
		Metrics: []string{"accuracy"}, Seed: 1,
	})
}

// guide:register-examples
// Example_registerOptimizer selects the registered signSGD by name, as -set does; GoMLX's own
// optimizer lookup finds it too.
func Example_registerOptimizer() {
	fmt.Println("registered:", slices.Contains(optimizers.Names(), "sign_sgd"))
	_, known := optimizer.KnownOptimizers["sign_sgd"]
	fmt.Println("known to GoMLX:", known)
	res, err := digitsRun("cross_entropy", "optimizer=sign_sgd;learning_rate=0.001")
	if err != nil {
		panic(err)
	}
	fmt.Println("test accuracy >= 0.85:", res.Final["test/accuracy"] >= 0.85)
	_, err = digitsRun("cross_entropy", "optimizer=sign_sgd;learning_rate=-1")
	fmt.Println(err)
	// Output:
	// registered: true
	// known to GoMLX: true
	// test accuracy >= 0.85: true
	// train: sign_sgd: learning_rate=-1 must be > 0
}

// Example_registerRouter puts the cosine-routed MoE layer in the FFN slot of a transformer
// stack by name and trains the character model of Example_moeLanguageModel with it.
func Example_registerRouter() {
	fmt.Println(moe.Names())
	ffn, err := moe.New("cosine", moe.Config{NumExperts: 4, TopK: 2, Hidden: 64})
	if err != nil {
		panic(err)
	}
	text := []rune("the quick brown fox jumps over the lazy dog. ")
	var ids []int32
	for range 20 {
		for _, c := range text {
			ids = append(ids, int32(slices.Index(text, c))) // id: first position of the character
		}
	}
	block := layers.BlockConfig{DModel: 32, NumHeads: 4, FFN: ffn, Causal: true}
	res, err := train.Run(context.Background(), train.Config{
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, len(text), 32)
			h = layers.Stack(scope.In("stack"), layers.PositionalEmbedding(scope.In("pos"), h), 1, block)
			return []*graph.Node{layers.MLP(scope.In("head"), h, layers.MLPConfig{Out: len(text)})}
		},
		Loss: "cross_entropy", Optimizer: "adamw", LearningRate: 3e-3, Steps: 40, EvalEvery: 20,
		Train: &windows{ids: ids, batch: 16, seq: 32, seed: 1}, Seed: 1,
	})
	if err != nil {
		panic(err)
	}
	first, last := res.History[0].Metrics["train/loss"], res.Final["train/loss"]
	fmt.Println("loss decreased:", last < first, "balance loss reported:", res.Final["cosine/l0/balance_loss"] > 0)
	_, err = moe.New("cosine", moe.Config{NumExperts: 4, TopK: 5})
	fmt.Println(err)
	// Output:
	// [adam adamoe cosine expert_choice momentum robust smoe]
	// loss decreased: true balance loss reported: true
	// moe: top_k=5 must be in [1, num_experts=4]
}

// Example_registerLoss trains with the registered label-smoothed cross-entropy, its ε set the
// way a command line's -set would.
func Example_registerLoss() {
	fmt.Println("registered:", slices.Contains(losses.Names(), "label_smoothed_ce"))
	res, err := digitsRun("label_smoothed_ce", "optimizer=adam;learning_rate=0.003;label_smoothing=0.2")
	if err != nil {
		panic(err)
	}
	fmt.Println("test accuracy >= 0.9:", res.Final["test/accuracy"] >= 0.9)
	_, err = digitsRun("label_smoothed_ce", "label_smoothing=1.5")
	fmt.Println(err)
	// Output:
	// registered: true
	// test accuracy >= 0.9: true
	// train: label_smoothed_ce: label_smoothing=1.5 must be in [0, 1)
}

// guide:end
