package distill

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// DISTConfig configures DIST.
type DISTConfig struct {
	// Beta weights the inter-class relation, Gamma the intra-class relation, Tau is the
	// temperature (defaults 1, 1, 1: hunto/DIST_KD and torchdistill's DISTLoss).
	Beta, Gamma, Tau float64
}

// DIST is distillation from a stronger teacher by matching Pearson correlations of the
// softened predictions, across classes (inter) and across the batch (intra).
//
// Paper: Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022,
// arXiv:2205.10536.
// Reference code: hunto/DIST_KD classification/lib/models/losses/dist_kd.py; torchdistill
// DISTLoss.
//
// Rule, with y = softmax(z/τ) [B, C] and ρ(a, b) = cos(a − mean a, b − mean b), cos(a, b) =
// a·b / (‖a‖‖b‖ + 1e-8):
//
//	inter = 1 − mean_b ρ(y_s[b,:], y_t[b,:])     intra = 1 − mean_c ρ(y_s[:,c], y_t[:,c])
//	L = τ²·(β·inter + γ·intra)
//
// Deviations: none.
type DIST struct{ beta, gamma, tau float64 }

// NewDIST validates cfg and returns the loss.
func NewDIST(cfg DISTConfig) (*DIST, error) {
	d := &DIST{beta: cfg.Beta, gamma: cfg.Gamma, tau: cfg.Tau}
	if d.beta == 0 {
		d.beta = 1
	}
	if d.gamma == 0 {
		d.gamma = 1
	}
	if d.tau == 0 {
		d.tau = 1
	}
	if d.beta < 0 || d.gamma < 0 || !(d.tau > 0) {
		return nil, fmt.Errorf("distill: dist beta=%g, gamma=%g must be >= 0 and tau=%g > 0", d.beta, d.gamma, d.tau)
	}
	return d, nil
}

// Check implements Checker.
func (d *DIST) Check(info Info) error { return needTeacher(info, "dist") }

// pearsonRows is ρ between matching rows of a and b [N, M].
func pearsonRows(a, b *Node) *Node {
	a = Sub(a, ReduceAndKeep(a, ReduceMean, -1))
	b = Sub(b, ReduceAndKeep(b, ReduceMean, -1))
	num := ReduceSum(Mul(a, b), -1)
	den := AddScalar(Mul(Sqrt(ReduceSum(Square(a), -1)), Sqrt(ReduceSum(Square(b), -1))), 1e-8)
	return Div(num, den)
}

// Parts returns the inter- and intra-class relation losses (before τ², β, γ).
func (d *DIST) Parts(student, teacher *Node) (inter, intra *Node) {
	ys := Softmax(DivScalar(student, d.tau), -1)
	yt := Softmax(DivScalar(teacher, d.tau), -1)
	inter = OneMinus(ReduceAllMean(pearsonRows(ys, yt)))
	intra = OneMinus(ReduceAllMean(pearsonRows(Transpose(ys, 0, 1), Transpose(yt, 0, 1))))
	return inter, intra
}

// Compute returns τ²·(β·inter + γ·intra).
func (d *DIST) Compute(student, teacher *Node) *Node {
	inter, intra := d.Parts(student, teacher)
	return MulScalar(Add(MulScalar(inter, d.beta), MulScalar(intra, d.gamma)), d.tau*d.tau)
}

// Loss implements Term.
func (d *DIST) Loss(ctx *Context) *Node { return d.Compute(ctx.Student, ctx.Teacher) }

func init() {
	train.DeclareParam("dist_tau", 1.0, "distill: DIST temperature")
	Register("dist", func(scope *model.Scope) (Term, error) {
		return NewDIST(DISTConfig{Tau: model.GetParamOr(scope, "dist_tau", 1.0)})
	})
}
