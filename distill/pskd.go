package distill

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/moeboost/moeboost/train"
)

// PSKDConfig configures Progressive Self-Knowledge Distillation.
type PSKDConfig struct {
	// AlphaT is α_T, the final weight of the past predictions (default 0.8).
	AlphaT float64
	// Epochs is the total number of training epochs E of the α schedule (default 300, the
	// paper's CIFAR-100 run; set it to the run's length).
	Epochs int
}

// PSKD is Progressive Self-Knowledge Distillation: the model is its own teacher through a
// memory of its predictions from the previous epoch, mixed into the targets with a weight
// that grows linearly over training.
//
// Paper: Kim et al., "Self-Knowledge Distillation with Progressive Refinement of Targets",
// ICCV 2021, arXiv:2006.12000.
// Reference code: lgcnsai/PS-KD-Pytorch main.py (train) and loss/pskd_loss.py
// (Custom_CrossEntropy_PSKD).
//
// Rule, with i_b the dataset index of row b, P the memory [N, C] and e the 0-based epoch:
//
//	α_e = max(0, α_T·(e + 1)/E)
//	at e = 0 the visited rows are first set to the one-hot labels
//	t_b = (1 − α_e)·onehot(y_b) + α_e·P[i_b]
//	L = (1/B)·Σ_b Σ_c −t_bc·log softmax(z_b)_c
//	then P[i_b] ← sg(softmax(z_b)) (this forward pass: training mode, pre-step weights)
//
// The memory is the non-trainable variable "/distill/<term>/predictions" (float32, as the
// official all_predictions): checkpoints carry it and resume is exact. Needs sample ids
// (data.NewTrainBatches(...).WithIndices()), NumTrain and StepsPerEpoch.
//
// Deviations: none (golden-tested, both phases).
type PSKD struct {
	alphaT float64
	epochs int
}

// NewPSKD validates cfg and returns the term.
func NewPSKD(cfg PSKDConfig) (*PSKD, error) {
	p := &PSKD{alphaT: cfg.AlphaT, epochs: cfg.Epochs}
	if p.alphaT == 0 {
		p.alphaT = 0.8
	}
	if p.epochs == 0 {
		p.epochs = 300
	}
	if p.alphaT < 0 || p.alphaT > 1 {
		return nil, fmt.Errorf("distill: pskd alpha_T=%g must be in [0, 1]", p.alphaT)
	}
	if p.epochs < 1 {
		return nil, fmt.Errorf("distill: pskd epochs=%d must be >= 1", p.epochs)
	}
	return p, nil
}

// Check implements Checker.
func (p *PSKD) Check(info Info) error {
	if !info.UsesIndices {
		return errors.New("distill: pskd needs sample ids: set Config.UseIndices and use data.NewTrainBatches(...).WithIndices()")
	}
	if info.NumTrain < 1 || info.NumClasses < 1 || info.StepsPerEpoch < 1 {
		return fmt.Errorf("distill: pskd needs num_train (%d), num_classes (%d) and steps_per_epoch (%d) >= 1", info.NumTrain, info.NumClasses, info.StepsPerEpoch)
	}
	if info.Views != 1 {
		return errors.New("distill: pskd keeps one prediction per sample: it cannot be combined with views")
	}
	return nil
}

// Alpha returns α_e = max(0, α_T·(e+1)/E) for the 0-based epoch e (a scalar node).
func (p *PSKD) Alpha(epoch *Node) *Node {
	a := MulScalar(AddScalar(epoch, 1), p.alphaT/float64(p.epochs))
	return Max(a, ZerosLike(a))
}

// PSKDStep is one PS-KD step on logits [B, C] for the rows indices [B] (int32) of memory
// [N, C]: it returns the soft targets [B, C], the loss and the updated memory. alpha is α_e
// and firstEpoch (boolean scalar) says e = 0.
func PSKDStep(memory, indices, labels, logits, alpha, firstEpoch *Node) (targets, loss, newMemory *Node) {
	idx := ExpandAxes(FlatLabels(indices), -1) // [B, 1]
	onehot := OneHotLike(labels, logits)
	prev := ConvertDType(Gather(memory, idx), logits.DType()) // P[i_b]
	prev = Where(firstEpoch, onehot, prev)                    // epoch 0: rows set to one-hot first
	alpha = ConvertDType(alpha, logits.DType())
	targets = StopGradient(Add(Mul(OneMinus(alpha), onehot), Mul(alpha, prev)))
	b := float64(logits.Shape().Dimensions[0])
	loss = DivScalar(Neg(ReduceAllSum(Mul(targets, LogSoftmax(logits, -1)))), b)
	rows := ConvertDType(StopGradient(Softmax(logits, -1)), memory.DType())
	newMemory = ScatterUpdate(memory, idx, rows, false, true)
	return targets, loss, newMemory
}

// Loss implements Term.
func (p *PSKD) Loss(ctx *Context) *Node {
	g := ctx.Student.Graph()
	mem := ctx.Scope.WithInitializer(initializer.Zero).
		VariableWithShape("predictions", shapes.Make(dtypes.Float32, ctx.NumTrain, ctx.NumClasses)).SetTrainable(false)
	epoch := ctx.Epoch()
	alpha := p.Alpha(epoch)
	first := Equal(epoch, ZerosLike(epoch))
	_, loss, newMem := PSKDStep(mem.NodeValue(g), ctx.Indices, ctx.Labels, ctx.Student, alpha, first)
	mem.SetNodeValue(newMem)
	train.Report("distill/pskd_alpha", alpha)
	return loss
}

func init() {
	train.DeclareParam("pskd_alpha_t", 0.8, "distill: PS-KD final weight α_T of past predictions")
	train.DeclareParam("pskd_epochs", 300, "distill: PS-KD total epochs E of the α schedule")
	Register("pskd", func(scope *model.Scope) (Term, error) {
		return NewPSKD(PSKDConfig{AlphaT: model.GetParamOr(scope, "pskd_alpha_t", 0.8), Epochs: model.GetParamOr(scope, "pskd_epochs", 300)})
	})
}
