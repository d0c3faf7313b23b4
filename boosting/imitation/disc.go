package imitation

import (
	"fmt"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	glayers "github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
)

// Divergences the discriminator can estimate.
const (
	// DivergenceRKL is AILBoost's default ("rkl" in the official boosting.yaml): D = tanh(f),
	// loss mean_E exp(-D) + mean_π D, reward D(s, a).
	DivergenceRKL = "rkl"
	// DivergenceJS is GAIL's and DAC's binary cross-entropy on logits (expert label 1),
	// reward the logit log D - log(1 - D).
	DivergenceJS = "js"
)

// discriminator scores state-action rows (the official nets.Discriminator: Linear-ReLU-
// Linear-ReLU-Linear, hidden 64, with a tanh output for "rkl") and is trained with the
// official loss plus the WGAN-GP gradient penalty on mixed expert/policy rows
// (utils.compute_gradient_penalty: 10 * sum_i (||∇_x D(x_i)||_2 - 1)^2 / B).
type discriminator struct {
	divergence string
	gpWeight   float64
	lr         float64
	inDim      int
	hidden     []int
	store      *model.Store
	scoreExec  *model.Exec
	trainExec  *model.Exec
	updates    int
}

func newDiscriminator(backend compute.Backend, inDim int, hidden []int, divergence string, gpWeight, lr float64, seed uint64) (*discriminator, error) {
	if divergence != DivergenceRKL && divergence != DivergenceJS {
		return nil, fmt.Errorf("imitation: divergence %q unknown: use %q or %q", divergence, DivergenceRKL, DivergenceJS)
	}
	if !(gpWeight >= 0) || !(lr > 0) {
		return nil, fmt.Errorf("imitation: gradient penalty %g must be >= 0 and learning rate %g > 0", gpWeight, lr)
	}
	d := &discriminator{divergence: divergence, gpWeight: gpWeight, lr: lr, inDim: inDim, hidden: hidden, store: model.NewStore()}
	if err := d.store.SetRNGStateFromSeed(int64(seed)); err != nil {
		return nil, err
	}
	var err error
	d.scoreExec, err = model.NewExec(backend, d.store, func(scope *model.Scope, x *Node) *Node {
		return d.forward(scope, x)
	})
	if err != nil {
		return nil, err
	}
	d.trainExec, err = model.NewExec(backend, d.store, d.trainGraph)
	return d, err
}

// forward returns D(x) [B]: tanh-bounded for "rkl", the logit for "js".
func (d *discriminator) forward(scope *model.Scope, x *Node) *Node {
	h := x
	ds := scope.At("disc")
	for i, w := range d.hidden {
		h = relu2(glayers.Dense(ds.At("l%d", i), h, true, w))
	}
	out := Reshape(glayers.Dense(ds.At("l%d", len(d.hidden)), h, true, 1), -1)
	if d.divergence == DivergenceRKL {
		out = Tanh(out)
	}
	return out
}

// relu2 is max(x, 0) written as x * stop_gradient(1[x > 0]), whose gradient graph is itself
// differentiable (the gradient penalty differentiates D's input gradient again; GoMLX's Max
// gradient has no gradient of its own).
func relu2(x *Node) *Node {
	mask := StopGradient(ConvertDType(GreaterThan(x, ZerosLike(x)), x.DType()))
	return Mul(x, mask)
}

// trainGraph takes one Adam step on the loss of expert rows xe [B, X] against policy rows xp
// [B, X] plus the gradient penalty at u*xe + (1-u)*xp (u [B, 1] uniform); it returns (loss,
// penalty).
func (d *discriminator) trainGraph(scope *model.Scope, xe, xp, u *Node) []*Node {
	g := xe.Graph()
	b := float64(xe.Shape().Dimensions[0])
	de, dp := d.forward(scope, xe), d.forward(scope, xp)
	var loss *Node
	switch d.divergence {
	case DivergenceRKL:
		// torch.mean(exp(-D_E) + D_π) over the B pairs.
		loss = ReduceAllMean(Add(Exp(Neg(de)), dp))
	case DivergenceJS:
		// BCE with logits, expert 1 and policy 0, summed over 2B rows and divided by B.
		bce := func(z *Node, label float64) *Node {
			// max(z, 0) - z*label + log(1 + exp(-|z|))
			return Add(Sub(Max(z, ZerosLike(z)), MulScalar(z, label)), Log1P(Exp(Neg(Abs(z)))))
		}
		loss = DivScalar(Add(ReduceAllSum(bce(de, 1)), ReduceAllSum(bce(dp, 0))), b)
	}
	mix := Add(Mul(u, xe), Mul(OneMinus(u), xp))
	dm := d.forward(scope, mix)
	gx := Gradient(ReduceAllSum(dm), mix)[0]
	norm := Sqrt(AddScalar(ReduceSum(Square(gx), -1), 1e-12))
	penalty := DivScalar(MulScalar(ReduceAllSum(Square(AddScalar(norm, -1))), d.gpWeight), b)
	total := Add(loss, penalty)
	vars, nodes := trainables(scope.At("disc"), g)
	grads := Gradient(total, nodes...)
	adamGroup{"disc", d.lr}.apply(d.store, vars, grads)
	return []*Node{loss, penalty}
}

// score returns D(x) for n rows.
func (d *discriminator) score(x []float32, n int) ([]float32, error) {
	out, err := d.scoreExec.Exec1(tensors.FromFlatDataAndDimensions(x, n, d.inDim))
	if err != nil {
		return nil, err
	}
	defer out.FinalizeAll()
	return tensors.MustCopyFlatData[float32](out), nil
}

// step trains on one batch of b expert and b policy rows with mixing coefficients u [b].
func (d *discriminator) step(xe, xp, u []float32, b int) (loss, penalty float64, err error) {
	outs, err := d.trainExec.Exec(tensors.FromFlatDataAndDimensions(xe, b, d.inDim),
		tensors.FromFlatDataAndDimensions(xp, b, d.inDim), tensors.FromFlatDataAndDimensions(u, b, 1))
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, o := range outs {
			o.FinalizeAll()
		}
	}()
	d.updates++
	return float64(tensors.ToScalar[float32](outs[0])), float64(tensors.ToScalar[float32](outs[1])), nil
}
