package certified

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// MLPConfig is an IBP-trainable MLP: Dense → [BN] → ReLU per hidden layer, then a Dense
// output layer (elided into the margin specification for bounds).
type MLPConfig struct {
	In      int
	Hidden  []int
	Classes int
	BN      bool
	// IBPInit draws every weight matrix but the last from N(0, (√(2π)/fan_in)²)
	// (manual_init.py:25–32); otherwise hidden weights use Kaiming-normal N(0, 2/fan_in).
	// The last layer is N(0, 1/fan_in) in both cases.
	IBPInit bool
}

// Validate reports a bad field by name.
func (c MLPConfig) Validate() error {
	if c.In < 1 {
		return fmt.Errorf("certified: mlp in=%d, want >= 1", c.In)
	}
	if c.Classes < 2 {
		return fmt.Errorf("certified: mlp classes=%d, want >= 2", c.Classes)
	}
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("certified: mlp hidden[%d]=%d, want >= 1", i, h)
		}
	}
	if len(c.Hidden) == 0 {
		return fmt.Errorf("certified: mlp has no hidden layer, want at least one (the regularizers need a ReLU)")
	}
	return nil
}

// Trainer trains an MLPConfig network with IBP (Adam, gradient-norm clipping at 10 as
// train.py:113 with --grad-norm 10) and evaluates clean and IBP-verified accuracy.
type Trainer struct {
	cfg      MLPConfig
	store    *model.Store
	step     *model.Exec
	eval     *model.Exec
	params   []*model.Variable // trainable: w, b, gamma, beta
	LR       float64
	ClipNorm float64
	// Tau is the regularizer tolerance τ (0.5, argparser.py:18).
	Tau float64
}

const bnEps = 1e-5
const bnMomentum = 0.1

// NewTrainer builds the network's variables (initialized from seed) and its step and
// evaluation programs.
func NewTrainer(b compute.Backend, cfg MLPConfig, seed uint64, lr float64) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !(lr > 0) {
		return nil, fmt.Errorf("certified: learning rate %g, want > 0", lr)
	}
	t := &Trainer{cfg: cfg, store: model.NewStore(), LR: lr, ClipNorm: 10, Tau: 0.5}
	r := rand.New(rand.NewPCG(seed, 0x1b9))
	dims := append(append([]int{cfg.In}, cfg.Hidden...), cfg.Classes)
	root := t.store.RootScope()
	for i := 0; i+1 < len(dims); i++ {
		in, out := dims[i], dims[i+1]
		last := i+2 == len(dims)
		std := math.Sqrt(1 / float64(in))
		if !last {
			std = math.Sqrt(2 / float64(in))
			if cfg.IBPInit {
				std, _ = IBPInitStd(in)
			}
		}
		w := make([]float32, in*out)
		for j := range w {
			w[j] = float32(r.NormFloat64() * std)
		}
		s := root.In("layer%d", i)
		wv, err := s.CreateVariable("w", tensors.FromFlatDataAndDimensions(w, in, out))
		if err != nil {
			return nil, err
		}
		bv, err := s.CreateVariable("b", tensors.FromFlatDataAndDimensions(make([]float32, out), out))
		if err != nil {
			return nil, err
		}
		t.params = append(t.params, wv, bv)
		if cfg.BN && !last {
			ones := make([]float32, out)
			for j := range ones {
				ones[j] = 1
			}
			for _, nv := range []struct {
				name string
				v    []float32
			}{{"gamma", ones}, {"beta", make([]float32, out)}, {"run_mean", make([]float32, out)}, {"run_var", append([]float32(nil), ones...)}} {
				vv, err := s.CreateVariable(nv.name, tensors.FromFlatDataAndDimensions(nv.v, out))
				if err != nil {
					return nil, err
				}
				if nv.name == "run_mean" || nv.name == "run_var" {
					vv.Trainable = false
				} else {
					t.params = append(t.params, vv)
				}
			}
		}
	}
	var err error
	t.step, err = model.NewExec(b, t.store, t.stepGraph)
	if err != nil {
		return nil, err
	}
	t.eval, err = model.NewExec(b, t.store, t.evalGraph)
	if err != nil {
		return nil, err
	}
	return t, nil
}

type bnStats struct {
	mean, variance  *graph.Node
	runMean, runVar *model.Variable
}

type fwd struct {
	logits, margins *graph.Node
	pre             []Bounds
	input           Bounds
	stats           []bnStats
}

// forward runs the clean pass and the IBP pass. BN uses the clean pass's batch statistics
// when training (applied to the bounds as the same per-feature affine map) and the running
// statistics otherwise.
func (t *Trainer) forward(scope *model.Scope, x, y, eps *graph.Node, training bool) fwd {
	var f fwd
	lo := graph.Max(graph.Sub(x, eps), graph.ZerosLike(x))
	hi := graph.Min(graph.Add(x, eps), graph.OnesLike(x))
	f.input = Bounds{Lower: lo, Upper: hi}
	bnds := f.input
	h := x
	n := len(t.cfg.Hidden) + 1
	for i := range n {
		s := scope.In("layer%d", i)
		w := s.GetVariable("w").ValueGraph(x)
		bias := s.GetVariable("b").ValueGraph(x)
		if i == n-1 {
			f.logits = graph.Add(graph.MatMul(h, w), graph.InsertAxes(bias, 0))
			f.margins = MarginLower(bnds, w, bias, y)
			break
		}
		z := graph.Add(graph.MatMul(h, w), graph.InsertAxes(bias, 0))
		bnds = Dense(bnds, w, bias)
		if t.cfg.BN {
			gamma := s.GetVariable("gamma").ValueGraph(x)
			beta := s.GetVariable("beta").ValueGraph(x)
			var mean, variance *graph.Node
			if training {
				mean = graph.ReduceMean(z, 0)
				variance = graph.ReduceMean(graph.Square(graph.Sub(z, graph.InsertAxes(mean, 0))), 0)
				f.stats = append(f.stats, bnStats{mean, variance, s.GetVariable("run_mean"), s.GetVariable("run_var")})
			} else {
				mean = s.GetVariable("run_mean").ValueGraph(x)
				variance = s.GetVariable("run_var").ValueGraph(x)
			}
			scale := graph.Mul(gamma, graph.Inverse(graph.Sqrt(graph.AddScalar(variance, bnEps))))
			shift := graph.Sub(beta, graph.Mul(mean, scale))
			z = graph.Add(graph.Mul(z, graph.InsertAxes(scale, 0)), graph.InsertAxes(shift, 0))
			bnds = Affine(bnds, scale, shift)
		}
		f.pre = append(f.pre, bnds)
		h = relu(z)
		bnds = ReLU(bnds)
	}
	return f
}

// stepGraph: inputs x [B, in] float32, y [B] int32, eps, lambda (regularizer weight, 0 = off)
// scalars float32. Natural cross-entropy when eps = 0, else the IBP robust cross-entropy
// (train.py:84–96), plus λ·(L_tight + L_relu). Returns the loss.
func (t *Trainer) stepGraph(scope *model.Scope, xs []*graph.Node) *graph.Node {
	x, y, eps, lambda := xs[0], xs[1], xs[2], xs[3]
	f := t.forward(scope, x, y, eps, true)
	// Natural CE = CE of the logit margins z_y − z_j.
	onehot := graph.OneHot(y, t.cfg.Classes, x.DType())
	zy := graph.ReduceSum(graph.Mul(f.logits, onehot), -1)
	natural := VerifiedLoss(graph.Sub(graph.InsertAxes(zy, -1), f.logits))
	robust := VerifiedLoss(f.margins)
	tight, rb, err := Regularizers(f.input, f.pre, t.Tau)
	if err != nil {
		panic(err)
	}
	isRobust := graph.GreaterThan(eps, graph.ZerosLike(eps))
	loss := graph.Where(isRobust, graph.Add(robust, graph.Mul(lambda, graph.Add(tight, rb))), natural)

	vars := t.params
	nodes := make([]*graph.Node, len(vars))
	for i, v := range vars {
		nodes[i] = v.ValueGraph(x)
	}
	grads := graph.Gradient(loss, nodes...)
	// Global-norm clipping.
	var sq *graph.Node
	for _, g := range grads {
		s := graph.ReduceAllSum(graph.Square(g))
		if sq == nil {
			sq = s
		} else {
			sq = graph.Add(sq, s)
		}
	}
	norm := graph.Sqrt(sq)
	factor := graph.Min(graph.OnesLike(norm), graph.Div(graph.Scalar(x.Graph(), x.DType(), t.ClipNorm), graph.AddScalar(norm, 1e-6)))
	// Adam (β1 0.9, β2 0.999, ε 1e-8), bias-corrected.
	stepVar := scope.VariableWithValue("adam_step", float32(0))
	stepVar.Trainable = false
	k := graph.AddScalar(stepVar.ValueGraph(x), 1)
	stepVar.SetValueGraph(k)
	c1 := graph.OneMinus(graph.Pow(graph.Scalar(x.Graph(), x.DType(), 0.9), k))
	c2 := graph.OneMinus(graph.Pow(graph.Scalar(x.Graph(), x.DType(), 0.999), k))
	adam := scope.In("adam")
	for i, v := range vars {
		g := graph.Mul(grads[i], factor)
		ms := adam.In("v%d", i)
		m := ms.VariableWithValue("m", tensors.FromShape(v.Shape()))
		s := ms.VariableWithValue("s", tensors.FromShape(v.Shape()))
		m.Trainable, s.Trainable = false, false
		mv := graph.Add(graph.MulScalar(m.ValueGraph(x), 0.9), graph.MulScalar(g, 0.1))
		sv := graph.Add(graph.MulScalar(s.ValueGraph(x), 0.999), graph.MulScalar(graph.Square(g), 0.001))
		m.SetValueGraph(mv)
		s.SetValueGraph(sv)
		upd := graph.Div(graph.Div(mv, c1), graph.AddScalar(graph.Sqrt(graph.Div(sv, c2)), 1e-8))
		v.SetValueGraph(graph.Sub(nodes[i], graph.MulScalar(upd, t.LR)))
	}
	// BN running statistics (PyTorch momentum 0.1, unbiased running variance).
	if t.cfg.BN {
		bsz := float64(x.Shape().Dimensions[0])
		for _, st := range f.stats {
			rm, rv := st.runMean, st.runVar
			rm.SetValueGraph(graph.Add(graph.MulScalar(rm.ValueGraph(x), 1-bnMomentum), graph.MulScalar(st.mean, bnMomentum)))
			unb := graph.MulScalar(st.variance, bsz/math.Max(bsz-1, 1))
			rv.SetValueGraph(graph.Add(graph.MulScalar(rv.ValueGraph(x), 1-bnMomentum), graph.MulScalar(unb, bnMomentum)))
		}
	}
	return loss
}

// evalGraph: inputs x, y, eps; returns (clean correct, verified) as float32 [B] 0/1.
func (t *Trainer) evalGraph(scope *model.Scope, xs []*graph.Node) []*graph.Node {
	x, y, eps := xs[0], xs[1], xs[2]
	f := t.forward(scope, x, y, eps, false)
	pred := graph.ArgMax(f.logits, -1, y.DType())
	correct := graph.ConvertDType(graph.Equal(pred, y), x.DType())
	ver := graph.ConvertDType(Verified(f.margins, y), x.DType())
	return []*graph.Node{correct, graph.Mul(ver, correct)}
}

// Step runs one training step on a batch (x row-major [n, in] in [0, 1], labels y) at ε = eps
// with regularizer weight lambda, and returns the loss.
func (t *Trainer) Step(x []float32, y []int32, eps, lambda float64) (float64, error) {
	n := len(y)
	outs, err := t.step.Call(tensors.FromFlatDataAndDimensions(x, n, t.cfg.In), tensors.FromFlatDataAndDimensions(y, n),
		float32(eps), float32(lambda))
	if err != nil {
		return 0, err
	}
	return float64(outs[0].Value().(float32)), nil
}

// Evaluate returns clean accuracy and IBP-verified accuracy (correct and certified at eps,
// the complement of the verified error) on x, y, in evaluation mode (BN running statistics).
func (t *Trainer) Evaluate(x []float32, y []int32, eps float64) (clean, verified float64, err error) {
	n := len(y)
	outs, err := t.eval.Call(tensors.FromFlatDataAndDimensions(x, n, t.cfg.In), tensors.FromFlatDataAndDimensions(y, n), float32(eps))
	if err != nil {
		return 0, 0, err
	}
	c := tensors.MustCopyFlatData[float32](outs[0])
	v := tensors.MustCopyFlatData[float32](outs[1])
	for i := range c {
		clean += float64(c[i])
		verified += float64(v[i])
	}
	return clean / float64(n), verified / float64(n), nil
}

// Close frees the compiled programs.
func (t *Trainer) Close() {
	t.step.Finalize()
	t.eval.Finalize()
}
