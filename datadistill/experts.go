package datadistill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Dataset is a classification set held as float32 rows.
type Dataset struct {
	// X holds N rows of D features, row-major; Y the class ids in [0, Classes).
	X       []float32
	Y       []int
	N, D    int
	Classes int
}

// Validate checks the dataset's sizes and labels.
func (d *Dataset) Validate() error {
	if d.N < 1 || d.D < 1 || d.Classes < 2 {
		return fmt.Errorf("datadistill: dataset of %d rows, %d features, %d classes; need ≥ 1, ≥ 1, ≥ 2", d.N, d.D, d.Classes)
	}
	if len(d.X) != d.N*d.D || len(d.Y) != d.N {
		return fmt.Errorf("datadistill: dataset has %d values and %d labels for %d rows of %d features", len(d.X), len(d.Y), d.N, d.D)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("datadistill: label %d of row %d is outside [0, %d)", y, i, d.Classes)
		}
	}
	for i, v := range d.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("datadistill: feature %d of row %d is %v; features must be finite", i%d.D, i/d.D, v)
		}
	}
	return nil
}

// oneHot returns the one-hot labels of rows idx.
func (d *Dataset) oneHot(idx []int) []float32 {
	oh := make([]float32, len(idx)*d.Classes)
	for i, j := range idx {
		oh[i*d.Classes+d.Y[j]] = 1
	}
	return oh
}

func (d *Dataset) rows(idx []int) []float32 {
	out := make([]float32, 0, len(idx)*d.D)
	for _, j := range idx {
		out = append(out, d.X[j*d.D:(j+1)*d.D]...)
	}
	return out
}

// Trajectory is one expert's parameters at initialization and after every epoch (the official
// buffer.py's "timestamps").
type Trajectory []Params

// ExpertConfig sets how experts train. The MTT defaults (buffer.py) are plain SGD, LR 0.01, no
// momentum, no weight decay, batch 256, 50 epochs; AST's smooth experts (Shen et al. 2023,
// buffer.py) add SGD momentum 0.9 and L2 1e-3 (at LR 0.003), the "clipping loss" LossDecay and a
// gradient penalty.
type ExpertConfig struct {
	Epochs, Batch    int
	LR, Momentum, L2 float64
	// LossDecay multiplies the cross-entropy by 0.5, 0.55, ..., 0.95 in epochs 0-9 (AST's
	// --loss_decay), then 1.
	LossDecay bool
	// GradPenalty λ > 0 adds λ·mean((‖∇_x Σ f(x)‖₂ − 1)²) (AST's --gp, λ = 2) with the norm over
	// each example's features. AST's code takes it over the channel axis of an image batch (for
	// grayscale, per pixel); on flat features the per-example norm is its analogue.
	GradPenalty float64
}

// DefaultExpertConfig returns MTT's expert recipe with the given epochs and batch.
func DefaultExpertConfig() ExpertConfig {
	return ExpertConfig{Epochs: 50, Batch: 256, LR: 0.01}
}

// Validate checks every setting.
func (c ExpertConfig) Validate() error {
	if c.Epochs < 1 || c.Batch < 1 {
		return fmt.Errorf("datadistill experts: epochs = %d, batch = %d; both must be ≥ 1", c.Epochs, c.Batch)
	}
	if !(c.LR > 0) || math.IsInf(c.LR, 0) {
		return fmt.Errorf("datadistill experts: LR = %v; must be a finite value > 0", c.LR)
	}
	if !(c.Momentum >= 0 && c.Momentum < 1) {
		return fmt.Errorf("datadistill experts: momentum = %v; must be in [0, 1)", c.Momentum)
	}
	if !(c.L2 >= 0) || !(c.GradPenalty >= 0) {
		return fmt.Errorf("datadistill experts: L2 = %v, gradient penalty = %v; both must be ≥ 0", c.L2, c.GradPenalty)
	}
	return nil
}

// lossDecay is AST's clipping-loss factor at epoch e.
func (c ExpertConfig) lossDecay(e int) float64 {
	if c.LossDecay && e < 10 {
		return 0.5 + 0.05*float64(e)
	}
	return 1
}

// trainer is a compiled SGD step of an MLP: params, velocity, x, one-hot, lr, loss factor ->
// params, velocity (PyTorch's SGD: v ← μv + g + λθ, θ ← θ − lr·v).
type trainer struct {
	mlp  MLP
	exec *graph.Exec
	np   int
}

func newTrainer(be compute.Backend, m MLP, momentum, l2, gp float64) (*trainer, error) {
	np := len(m.Shapes())
	exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
		params, vel := in[:np], in[np:2*np]
		x, oh, lr, factor := in[2*np], in[2*np+1], in[2*np+2], in[2*np+3]
		loss := graph.Mul(CrossEntropy(m.Logits(params, x), oh), factor)
		if gp > 0 {
			gx := graph.Gradient(graph.ReduceAllSum(m.Logits(params, x)), x)[0]
			nrm := graph.Sqrt(graph.AddScalar(graph.ReduceSum(graph.Square(gx), -1), 1e-12))
			loss = graph.Add(loss, graph.MulScalar(graph.ReduceAllMean(graph.Square(graph.AddScalar(nrm, -1))), gp))
		}
		grads := graph.Gradient(loss, params...)
		out := make([]*graph.Node, 0, 2*np+1)
		newV := make([]*graph.Node, np)
		for i, p := range params {
			g := grads[i]
			if l2 > 0 {
				g = graph.Add(g, graph.MulScalar(p, l2))
			}
			if momentum > 0 {
				g = graph.Add(graph.MulScalar(vel[i], momentum), g)
			}
			newV[i] = g
			out = append(out, graph.Sub(p, graph.Mul(lr, g)))
		}
		return append(append(out, newV...), graph.Reshape(loss, 1))
	})
	if err != nil {
		return nil, err
	}
	return &trainer{mlp: m, exec: exec, np: np}, nil
}

func paramTensors(m MLP, p Params) []any {
	out := make([]any, len(p))
	for i, sh := range m.Shapes() {
		out[i] = tensors.FromFlatDataAndDimensions(p[i], sh...)
	}
	return out
}

// step runs one SGD step in place on p and v.
func (t *trainer) step(p, v Params, x, oh []float32, batch, d, classes int, lr, factor float32) (float32, error) {
	args := append(paramTensors(t.mlp, p), paramTensors(t.mlp, v)...)
	args = append(args, tensors.FromFlatDataAndDimensions(x, batch, d), tensors.FromFlatDataAndDimensions(oh, batch, classes), lr, factor)
	outs, err := t.exec.Call(args...)
	if err != nil {
		return 0, err
	}
	for i := range t.np {
		p[i] = tensors.MustCopyFlatData[float32](outs[i])
		v[i] = tensors.MustCopyFlatData[float32](outs[t.np+i])
	}
	loss := tensors.MustCopyFlatData[float32](outs[2*t.np])[0]
	for _, o := range outs {
		o.MustFinalizeAll()
	}
	return loss, nil
}

func zerosLike(p Params) Params {
	z := make(Params, len(p))
	for i := range p {
		z[i] = make([]float32, len(p[i]))
	}
	return z
}

// TrainExperts trains n experts (seeds seed, seed+1, ...) on ds and returns their trajectories:
// the parameters at initialization and after each epoch. Batches are drawn from a fresh
// permutation each epoch; the last incomplete batch of an epoch is dropped (one compiled shape).
func TrainExperts(ctx context.Context, be compute.Backend, m MLP, ds *Dataset, c ExpertConfig, n int, seed uint64, progress func()) ([]Trajectory, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if m.Sizes[0] != ds.D || m.Sizes[len(m.Sizes)-1] != ds.Classes {
		return nil, fmt.Errorf("datadistill: MLP %v does not fit %d features and %d classes", m.Sizes, ds.D, ds.Classes)
	}
	if n < 1 {
		return nil, fmt.Errorf("datadistill: %d experts; need ≥ 1", n)
	}
	batch := min(c.Batch, ds.N)
	tr, err := newTrainer(be, m, c.Momentum, c.L2, c.GradPenalty)
	if err != nil {
		return nil, err
	}
	defer tr.exec.Finalize()
	out := make([]Trajectory, 0, n)
	for e := range n {
		r := rand.New(rand.NewPCG(seed+uint64(e), 0x657870))
		p := m.Init(seed + uint64(e) + 1000)
		v := zerosLike(p)
		traj := Trajectory{p.Clone()}
		lr := c.LR
		for ep := range c.Epochs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			perm := r.Perm(ds.N)
			for b := 0; b+batch <= ds.N; b += batch {
				idx := perm[b : b+batch]
				loss, err := tr.step(p, v, ds.rows(idx), ds.oneHot(idx), batch, ds.D, ds.Classes, float32(lr), float32(c.lossDecay(ep)))
				if err != nil {
					return nil, fmt.Errorf("datadistill expert %d epoch %d: %w", e, ep, err)
				}
				if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
					return nil, fmt.Errorf("datadistill expert %d diverged at epoch %d (loss %v): lower the LR %v", e, ep, loss, c.LR)
				}
			}
			traj = append(traj, p.Clone())
		}
		out = append(out, traj)
		if progress != nil {
			progress()
		}
	}
	return out, nil
}
