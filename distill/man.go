package distill

import (
	"errors"
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// BlockFn builds one block of a network split into local modules: h [B, ...] in, out.
type BlockFn func(scope *model.Scope, h *Node) *Node

// LocalConfig configures supervised local learning of a network split into blocks (one local
// module per block).
type LocalConfig struct {
	// Blocks are the network's blocks in order (at least 2); Head maps the last block's
	// output to logits (required).
	Blocks []BlockFn
	Head   BlockFn
	// NumClasses sizes the auxiliary classifiers (required).
	NumClasses int
	// Momentum m of the EMA copies (default 0.995, the README's CIFAR/ImageNet commands; the
	// code's default is 0.999).
	Momentum *float64
	// LambdaXX1, LambdaXY1 weight reconstruction and classification of the first auxiliary
	// module and LambdaXX2, LambdaXY2 the last one, interpolated linearly in between (defaults
	// 5, 0.5, 0, 0: the README's CIFAR command).
	LambdaXX1, LambdaXY1 *float64
	LambdaXX2, LambdaXY2 float64
	// Stages gives each block's stage number (the ResNet stage in the reference code), used
	// in the interpolation ratio r = stage(next block)/(K − 2) exactly as the code computes it
	// (default: every block in stage 1).
	Stages []int
	// AuxHidden is the auxiliary classifier's hidden width (default 128, the code's
	// aux_net_feature_dim).
	AuxHidden int
}

// LocalLearner trains a network with local losses: each module's input is detached, so its
// weights learn only from its own auxiliary loss, as InfoPro; with the Momentum Auxiliary
// Network (MAN) each auxiliary path also runs an EMA copy and a learnable copy of the next
// block, giving the module a glimpse of what comes after it.
//
// Paper: Su et al., "Momentum Auxiliary Network for Supervised Local Learning", ECCV 2024,
// arXiv:2407.05623; InfoPro: Wang et al., "Revisiting Locally Supervised Learning", ICLR 2021.
// Reference code: JunhaoSu0/MAN "Exp on CIFAR-SVHN-STL/networks/resnetInfoPro_MAN.py"
// (InfoProResNet.forward).
//
// Rule, with K blocks b_1..b_K, x the input, h_k = b_k(sg(h_{k−1})) (end-to-end: no sg):
//
//	man:    y_k = LB_k(h_k) + EMA_k(h_k)   (LB_k a trainable copy and EMA_k a frozen EMA copy
//	                                        of b_{k+1}, both starting equal to it)
//	greedy: y_k = h_k
//	L_k = λxx(r)·MSE(decoder_k(y_k), x) + λxy(r)·CE(aux_k(y_k), y),   k < K
//	λ(r) = λ₁·(1 − r) + λ₂·r,   r = stage(k+1)/(K − 2) (0 when K ≤ 2)
//	L = CE(head(h_K), y) + Σ_k L_k
//	after the step's forward: θ_EMA_k ← m·θ_EMA_k + (1 − m)·θ_{b_{k+1}} (pre-update weights)
//
// The copies and the auxiliary networks live under "/distill/local" (dropped by Export); the
// blocks and head under "/student".
//
// Deviations: the decoder is linear to the flattened input and the auxiliary classifier a
// one-hidden-layer MLP (the code's are convolutional for images); the auxiliary classifier
// uses cross-entropy (the code's local_loss_mode 'contrast' option is not implemented); all
// local losses are summed into one backward pass, which gives each module the same gradient
// as the code's per-module backward because the module inputs are detached.
type LocalLearner struct {
	cfg         LocalConfig
	method      string
	m, xx1, xy1 float64
	stashKey    *int
}

var localMethods = registry.NewKind[string]("local_learner")

func init() {
	localMethods.Register("e2e", "e2e")
	localMethods.Register("greedy", "greedy")
	localMethods.Register("man", "man")
}

// LocalMethods returns the registered local-learning methods ("e2e", "greedy", "man").
func LocalMethods() []string { return localMethods.Names() }

// NewLocalLearner validates cfg and returns the learner for method ("e2e", "greedy" or
// "man").
func NewLocalLearner(method string, cfg LocalConfig) (*LocalLearner, error) {
	m, err := localMethods.Get(method)
	if err != nil {
		return nil, err
	}
	if len(cfg.Blocks) < 2 || cfg.Head == nil {
		return nil, fmt.Errorf("distill: local learning needs >= 2 blocks (got %d) and a head", len(cfg.Blocks))
	}
	if cfg.NumClasses < 2 {
		return nil, fmt.Errorf("distill: local learning num_classes=%d must be >= 2", cfg.NumClasses)
	}
	if cfg.Stages != nil && len(cfg.Stages) != len(cfg.Blocks) {
		return nil, fmt.Errorf("distill: local learning has %d stages for %d blocks", len(cfg.Stages), len(cfg.Blocks))
	}
	if cfg.AuxHidden == 0 {
		cfg.AuxHidden = 128
	}
	l := &LocalLearner{cfg: cfg, method: m, m: floatOr(cfg.Momentum, 0.995), xx1: floatOr(cfg.LambdaXX1, 5), xy1: floatOr(cfg.LambdaXY1, 0.5), stashKey: new(int)}
	if l.m < 0 || l.m > 1 {
		return nil, fmt.Errorf("distill: local learning momentum=%g must be in [0, 1]", l.m)
	}
	for name, v := range map[string]float64{"lambda_xx1": l.xx1, "lambda_xy1": l.xy1, "lambda_xx2": cfg.LambdaXX2, "lambda_xy2": cfg.LambdaXY2} {
		if v < 0 {
			return nil, fmt.Errorf("distill: local learning %s=%g must be >= 0", name, v)
		}
	}
	if cfg.AuxHidden < 1 {
		return nil, fmt.Errorf("distill: local learning aux_hidden=%d must be >= 1", cfg.AuxHidden)
	}
	return l, nil
}

// Lambdas returns (λxx, λxy) of auxiliary module k (0-based, k < K−1).
func (l *LocalLearner) Lambdas(k int) (xx, xy float64) {
	n := len(l.cfg.Blocks)
	r := 0.0
	if n > 2 {
		stage := 1
		if l.cfg.Stages != nil {
			stage = l.cfg.Stages[k+1]
		}
		r = float64(stage) / float64(n-2) // ratio = lo/(local_module_num − 2), lo = next block's stage
	}
	return l.xx1*(1-r) + l.cfg.LambdaXX2*r, l.xy1*(1-r) + l.cfg.LambdaXY2*r
}

type localStash struct {
	scope  *model.Scope
	x      *Node
	hs     []*Node
	logits *Node
}

type localKey struct{ k *int }

// Model is the train.ModelFn (input: features).
func (l *LocalLearner) Model(scope *model.Scope, inputs []*Node) []*Node {
	g := inputs[0].Graph()
	x := inputs[0]
	sscope := scope.In(StudentScope)
	training := scope.IsTraining(g)
	h := x
	var hs []*Node
	for k, b := range l.cfg.Blocks {
		if training && l.method != "e2e" && k > 0 {
			h = StopGradient(h) // local modules: the input is detached
		}
		h = b(sscope.In("block%d", k), h)
		hs = append(hs, h)
	}
	logits := l.cfg.Head(sscope.In("head"), h)
	if training {
		g.AttachState(localKey{l.stashKey}, &localStash{scope: scope, x: x, hs: hs, logits: logits})
	}
	return []*Node{logits}
}

// Loss is the train.LossFn: the head's cross-entropy plus, in training, the local losses
// (each reported as "local/<k>").
func (l *LocalLearner) Loss(labels, predictions []*Node) *Node {
	g := predictions[0].Graph()
	ce := CrossEntropyMean(predictions[0], labels[0])
	st, _ := g.State(localKey{l.stashKey}).(*localStash)
	if st == nil || l.method == "e2e" {
		return ce
	}
	store := st.scope.Store()
	lscope := st.scope.In(DistillScope).In("local")
	x := FlattenBatch(st.x)
	for k := 0; k < len(l.cfg.Blocks)-1; k++ {
		hk := st.hs[k]
		y := hk
		if l.method == "man" {
			next := model.JoinPath("/"+StudentScope, fmt.Sprintf("block%d", k+1))
			lbPath := model.JoinPath(lscope.Scope(), fmt.Sprintf("lb%d", k))
			emaPath := model.JoinPath(lscope.Scope(), fmt.Sprintf("ema%d", k))
			lbPairs := mirrorVars(g, store, next, lbPath, true)
			emaPairs := mirrorVars(g, store, next, emaPath, false)
			if len(lbPairs) == 0 {
				panic(errors.New("distill: MAN: the next block has no variables"))
			}
			copyOnFirstUse(g, lbPairs, initFlag(g, store, lbPath+"_initialized"))
			emaVals := copyOnFirstUse(g, emaPairs, initFlag(g, store, emaPath+"_initialized"))
			lb := l.cfg.Blocks[k+1](store.Scope(lbPath), hk)
			ema := l.cfg.Blocks[k+1](store.Scope(emaPath), hk)
			y = Add(lb, ema) // y = LB(x) + EMA(x)
			m := Scalar(g, y.DType(), l.m)
			for i, p := range emaPairs {
				p.dst.SetNodeValue(emaUpdate(emaVals[i], StopGradient(p.src.NodeValue(g)), m)) // θ_EMA ← m·θ_EMA + (1−m)·θ
			}
		}
		yf := FlattenBatch(y)
		xx, xy := l.Lambdas(k)
		as := lscope.In("aux%d", k)
		var lk *Node
		if xx > 0 {
			rec := layers.MLP(as.In("decoder"), yf, layers.MLPConfig{Out: x.Shape().Dimensions[1]})
			lk = MulScalar(ReduceAllMean(Square(Sub(rec, StopGradient(x)))), xx)
		}
		if xy > 0 {
			logits := layers.MLP(as.In("classifier"), yf, layers.MLPConfig{Hidden: []int{l.cfg.AuxHidden}, Out: l.cfg.NumClasses})
			c := MulScalar(CrossEntropyMean(logits, labels[0]), xy)
			if lk == nil {
				lk = c
			} else {
				lk = Add(lk, c)
			}
		}
		if lk == nil {
			continue // Both weights 0 at this depth: no local signal (as the code).
		}
		train.AddExtraLoss(fmt.Sprintf("local/%d", k), 1, lk)
	}
	return ce
}
