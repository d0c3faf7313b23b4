package diffusion

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	mlayers "github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// Denoiser is an ε-prediction MLP over flat images (Ho et al. 2020, "Denoising Diffusion
// Probabilistic Models", Eq. 14 objective): h = SiLU(Dense([x_t, emb(t)])) + E[c], then Layers
// residual blocks h += Dense(SiLU(Dense(h))), and a linear read-out to Pixels. emb(t) is the
// sinusoidal embedding of the Transformer (Vaswani et al. 2017, Sec. 3.5) as in DDPM's U-Net;
// E is a (Classes+1)×Hidden table whose last row is the null class used for the unconditional
// prediction of classifier-free guidance (Ho & Salimans 2022, Sec. 3.2).
type Denoiser struct {
	Pixels, Classes, Hidden, Layers, TimeDim int
	// T is the number of diffusion steps of the training schedule (CosineAlphaBar(T)).
	T int
}

// Null is the class index of the unconditional (null) class.
func (d Denoiser) Null() int { return d.Classes }

// Validate checks the sizes.
func (d Denoiser) Validate() error {
	if d.Pixels < 1 || d.Classes < 1 || d.Hidden < 1 || d.Layers < 0 || d.T < 1 {
		return fmt.Errorf("diffusion: denoiser pixels=%d classes=%d hidden=%d T=%d must be >= 1 and layers=%d >= 0",
			d.Pixels, d.Classes, d.Hidden, d.T, d.Layers)
	}
	if d.TimeDim < 2 || d.TimeDim%2 != 0 {
		return fmt.Errorf("diffusion: time embedding size %d must be even and >= 2", d.TimeDim)
	}
	return nil
}

func silu(x *graph.Node) *graph.Node { return graph.Mul(x, graph.Sigmoid(x)) }

// timeEmbedding is [sin(t·f_i), cos(t·f_i)], f_i = 10000^(-i/(half-1)), t the integer step.
func timeEmbedding(t *graph.Node, dim int) *graph.Node {
	g := t.Graph()
	half := dim / 2
	freqs := make([]float32, half)
	for i := range freqs {
		freqs[i] = float32(math.Exp(-math.Log(10000) * float64(i) / float64(max(half-1, 1))))
	}
	arg := graph.Mul(graph.InsertAxes(t, -1), graph.Const(g, [][]float32{freqs}))
	return graph.Concatenate([]*graph.Node{graph.Sin(arg), graph.Cos(arg)}, -1)
}

// Build returns the ε prediction [b, Pixels] for x_t [b, Pixels] (float32), t [b] (float32
// step index in 1..T) and c [b] (int32 class, Classes = null).
func (d Denoiser) Build(scope *model.Scope, xt, t, c *graph.Node) *graph.Node {
	in := graph.Concatenate([]*graph.Node{xt, timeEmbedding(t, d.TimeDim)}, -1)
	h := silu(layers.Dense(scope.In("in"), in, true, d.Hidden))
	h = graph.Add(h, mlayers.Embedding(scope.In("class"), c, dtypes.Float32, d.Classes+1, d.Hidden))
	for l := range d.Layers {
		s := scope.In("block%d", l)
		u := layers.Dense(s.In("a"), silu(h), true, d.Hidden)
		h = graph.Add(h, layers.Dense(s.In("b"), silu(u), true, d.Hidden))
	}
	return layers.Dense(scope.In("out"), silu(h), true, d.Pixels)
}

// TrainConfig sets denoiser training.
type TrainConfig struct {
	Denoiser     Denoiser
	Batch, Steps int
	LR           float64
	// Optimizer is a registered optimizer name ("adamw" if empty).
	Optimizer string
	// LabelDrop is the probability of replacing the class by the null class (Ho & Salimans
	// 2022 use 0.1-0.2; 0.15 here).
	LabelDrop float64
	Seed      int64
	Progress  bool
}

func (c *TrainConfig) validate() error {
	if err := c.Denoiser.Validate(); err != nil {
		return err
	}
	if c.Batch < 1 || c.Steps < 1 || !(c.LR > 0) {
		return fmt.Errorf("diffusion: batch %d and steps %d must be >= 1 and LR %v > 0", c.Batch, c.Steps, c.LR)
	}
	if !(c.LabelDrop >= 0 && c.LabelDrop < 1) {
		return fmt.Errorf("diffusion: label dropout %v must be in [0, 1)", c.LabelDrop)
	}
	if c.Optimizer == "" {
		c.Optimizer = "adamw"
	}
	return nil
}

// noisedBatches yields DDPM training batches (Ho et al. 2020, Alg. 1): t ~ U{1..T},
// ε ~ N(0, I), x_t = √ᾱ_t·x0 + √(1-ᾱ_t)·ε; inputs (x_t, t, class with dropout to null),
// label ε.
type noisedBatches struct {
	x     []float64 // [n, p] in [-1, 1]
	y     []int
	p     int
	ab    []float64
	d     Denoiser
	batch int
	drop  float64
	seed  uint64
}

func (nb *noisedBatches) Name() string { return "diffusion-noised" }

func (nb *noisedBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		r := rand.New(rand.NewPCG(nb.seed, 0x64646d70))
		n := len(nb.y)
		for {
			xt := make([]float32, nb.batch*nb.p)
			eps := make([]float32, nb.batch*nb.p)
			ts := make([]float32, nb.batch)
			cs := make([]int32, nb.batch)
			for i := range nb.batch {
				k := r.IntN(n)
				t := 1 + r.IntN(nb.d.T)
				a, b := math.Sqrt(nb.ab[t]), math.Sqrt(1-nb.ab[t])
				for j := range nb.p {
					e := r.NormFloat64()
					eps[i*nb.p+j] = float32(e)
					xt[i*nb.p+j] = float32(a*nb.x[k*nb.p+j] + b*e)
				}
				ts[i] = float32(t)
				cs[i] = int32(nb.y[k])
				if r.Float64() < nb.drop {
					cs[i] = int32(nb.d.Null())
				}
			}
			b := gtrain.Batch{
				Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(xt, nb.batch, nb.p),
					tensors.FromFlatDataAndDimensions(ts, nb.batch), tensors.FromFlatDataAndDimensions(cs, nb.batch)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(eps, nb.batch, nb.p)},
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}

// Train fits the denoiser to images x ([n, Pixels] row-major, scaled to [-1, 1]) with classes
// y in [0, Classes) by the simplified DDPM loss ‖ε − ε_θ(x_t, t, c)‖² (Ho et al. 2020, Eq. 14,
// "mse" loss) under the cosine schedule, and returns the trained store.
func Train(ctx context.Context, be compute.Backend, x []float64, y []int, cfg TrainConfig) (*model.Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := cfg.Denoiser
	if len(y) == 0 || len(x) != len(y)*d.Pixels {
		return nil, fmt.Errorf("diffusion: %d pixel values for %d images of %d pixels", len(x), len(y), d.Pixels)
	}
	for i, c := range y {
		if c < 0 || c >= d.Classes {
			return nil, fmt.Errorf("diffusion: class %d of image %d outside [0, %d)", c, i, d.Classes)
		}
	}
	ab, err := CosineAlphaBar(d.T)
	if err != nil {
		return nil, err
	}
	ds := &noisedBatches{x: x, y: y, p: d.Pixels, ab: ab, d: d, batch: cfg.Batch, drop: cfg.LabelDrop, seed: uint64(cfg.Seed)}
	res, err := train.Run(ctx, train.Config{
		Name: "diffusion", Backend: be, Seed: cfg.Seed,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{d.Build(scope.In("denoiser"), in[0], in[1], in[2])}
		},
		Loss: "mse", Optimizer: cfg.Optimizer, LearningRate: cfg.LR, ClipGlobalNorm: 1,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: max(1, cfg.Steps/20), TotalSteps: cfg.Steps},
		Steps:    cfg.Steps, EvalEvery: cfg.Steps, Train: ds, Progress: cfg.Progress,
	})
	if err != nil {
		return nil, err
	}
	return res.Store, nil
}
