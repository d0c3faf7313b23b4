package multitask

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/moeboost/moeboost/train/data"
)

// Kind is a task head's kind.
type Kind int

// Task kinds.
const (
	// Classification: softmax cross-entropy over Classes classes; the metric is accuracy.
	Classification Kind = iota + 1
	// Regression: mean squared error on a scalar target; the metric is RMSE.
	Regression
)

func (k Kind) String() string {
	switch k {
	case Classification:
		return "classification"
	case Regression:
		return "regression"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Task is one head of the multi-task network.
type Task struct {
	Name string
	Kind Kind
	// Classes is the number of classes (Classification only, ≥ 2).
	Classes int
}

// Dataset holds N examples of D features and one target per task: Y[t][i] is the class id or
// the value of task t for example i.
type Dataset struct {
	N, D int
	X    []float64 // row-major [N, D]
	Y    [][]float64
}

// Config sizes the network and its training. Zero fields mean the defaults.
type Config struct {
	Tasks []Task
	// Hidden are the widths of the shared ReLU trunk; its last layer is the shared
	// representation Z. Default {128, 64}.
	Hidden []int
	// Combiner is the registered loss combiner ("equal", "pcgrad", "rep-mtl"). Default "equal".
	Combiner string
	// Params configures the combiner.
	Params Params
	// LR is Adam's learning rate (default 1e-3); Batch the mini-batch size (default 64; the
	// last partial batch of an epoch is dropped); Epochs the passes over the data (default 100).
	LR            float64
	Batch, Epochs int
	// Seed seeds the initialization, the batch order and PCGrad's task orders.
	Seed uint64
}

// WithDefaults returns c with its zero fields set.
func (c Config) WithDefaults() Config {
	if len(c.Hidden) == 0 {
		c.Hidden = []int{128, 64}
	}
	if c.Combiner == "" {
		c.Combiner = "equal"
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.Epochs == 0 {
		c.Epochs = 100
	}
	return c
}

// Validate reports a bad setting, naming the value and what is allowed.
func (c Config) Validate() error {
	d := c.WithDefaults()
	if len(d.Tasks) == 0 {
		return fmt.Errorf("multitask: no tasks: give at least one")
	}
	seen := map[string]bool{}
	for i, t := range d.Tasks {
		if t.Name == "" || seen[t.Name] {
			return fmt.Errorf("multitask: task %d name %q must be non-empty and unique", i, t.Name)
		}
		seen[t.Name] = true
		switch t.Kind {
		case Classification:
			if t.Classes < 2 {
				return fmt.Errorf("multitask: task %q classes=%d must be ≥ 2", t.Name, t.Classes)
			}
		case Regression:
		default:
			return fmt.Errorf("multitask: task %q kind=%v must be Classification or Regression", t.Name, t.Kind)
		}
	}
	for i, h := range d.Hidden {
		if h < 1 {
			return fmt.Errorf("multitask: hidden[%d]=%d must be ≥ 1", i, h)
		}
	}
	if !(d.LR > 0) || math.IsInf(d.LR, 0) {
		return fmt.Errorf("multitask: lr=%g must be finite and > 0", c.LR)
	}
	if d.Batch < 2 {
		return fmt.Errorf("multitask: batch=%d must be ≥ 2", c.Batch)
	}
	if d.Epochs < 1 {
		return fmt.Errorf("multitask: epochs=%d must be ≥ 1", c.Epochs)
	}
	if d.Combiner != "equal" && len(d.Tasks) < 2 {
		return fmt.Errorf("multitask: combiner %q needs ≥ 2 tasks, got %d", d.Combiner, len(d.Tasks))
	}
	return d.Params.RepMTL.Validate()
}

// Validate checks that the dataset fits the tasks.
func (ds *Dataset) Validate(tasks []Task) error {
	if ds.N < 1 || ds.D < 1 || len(ds.X) != ds.N*ds.D {
		return fmt.Errorf("multitask: dataset N=%d D=%d with %d feature values (want N·D, N, D ≥ 1)", ds.N, ds.D, len(ds.X))
	}
	if len(ds.Y) != len(tasks) {
		return fmt.Errorf("multitask: dataset has %d target columns for %d tasks", len(ds.Y), len(tasks))
	}
	for t, task := range tasks {
		if len(ds.Y[t]) != ds.N {
			return fmt.Errorf("multitask: task %q has %d targets for N=%d examples", task.Name, len(ds.Y[t]), ds.N)
		}
		for i, y := range ds.Y[t] {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				return fmt.Errorf("multitask: task %q target %d is %g (must be finite)", task.Name, i, y)
			}
			if task.Kind == Classification && (y != math.Trunc(y) || y < 0 || int(y) >= task.Classes) {
				return fmt.Errorf("multitask: task %q target %d is %g, want a class id in [0, %d)", task.Name, i, y, task.Classes)
			}
		}
	}
	return nil
}

const trunkScope = "trunk"

// Forward builds the network on x ([B, D]): the shared trunk (Dense+ReLU per hidden width) gives
// Z = the last hidden layer, and each task has a linear head on Z (hard parameter sharing).
// It returns Z and the head outputs (logits [B, Classes] or values [B]).
func Forward(scope *model.Scope, tasks []Task, hidden []int, x *Node) (z *Node, outs []*Node) {
	z = x
	trunk := scope.In(trunkScope)
	for i, h := range hidden {
		z = activation.Relu(layers.DenseWithBias(trunk.In("dense_%d", i), z, h))
	}
	outs = make([]*Node, len(tasks))
	for t, task := range tasks {
		hs := scope.In("head_%s", task.Name)
		switch task.Kind {
		case Classification:
			outs[t] = layers.DenseWithBias(hs, z, task.Classes)
		default:
			outs[t] = Reshape(layers.DenseWithBias(hs, z, 1), -1)
		}
	}
	return z, outs
}

// TaskLoss is the mean loss of one head: softmax cross-entropy against int32 class ids, or the
// squared error against float targets.
func TaskLoss(task Task, out, target *Node) *Node {
	if task.Kind == Classification {
		oh := OneHot(target, task.Classes, out.DType())
		return Neg(ReduceAllMean(ReduceSum(Mul(oh, LogSoftmax(out, -1)), -1)))
	}
	return ReduceAllMean(Square(Sub(out, target)))
}

// EpochLog is the mean of one epoch's step values.
type EpochLog struct {
	Epoch     int
	Objective float64
	Losses    []float64          // per task
	Terms     map[string]float64 // combiner terms (rep-mtl: "tsr", "csa")
}

// Net is a trained multi-task network.
type Net struct {
	cfg     Config
	backend compute.Backend
	store   *model.Store
	// History holds one entry per epoch.
	History []EpochLog
	// MsPerStep is the median wall time of a training step.
	MsPerStep float64
	// Steps is the number of optimizer steps taken.
	Steps int
}

type orderUser interface{ needsOrder() bool }

func (pcgrad) needsOrder() bool { return true }

// Fit trains a network on ds with cfg (float32, Adam, the configured combiner).
func Fit(ctx context.Context, be compute.Backend, cfg Config, ds *Dataset) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := ds.Validate(cfg.Tasks); err != nil {
		return nil, err
	}
	if ds.N < cfg.Batch {
		return nil, fmt.Errorf("multitask: batch=%d is larger than the %d training examples", cfg.Batch, ds.N)
	}
	comb, err := New(cfg.Combiner, cfg.Params)
	if err != nil {
		return nil, err
	}
	withOrder := false
	if o, ok := comb.(orderUser); ok {
		withOrder = o.needsOrder()
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, err
	}
	opt, ok := optimizer.Adam().LearningRate(cfg.LR).Done().(interface {
		UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType)
	})
	if !ok {
		return nil, fmt.Errorf("multitask: GoMLX Adam does not take gradients")
	}
	T := len(cfg.Tasks)
	terms := comb.TermNames()
	exec, err := model.NewExec(be, store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		z, outs := Forward(scope, cfg.Tasks, cfg.Hidden, in[0])
		losses := make([]*Node, T)
		for t, task := range cfg.Tasks {
			losses[t] = TaskLoss(task, outs[t], in[1+t])
		}
		sg := &StepGraph{Rep: z, Losses: losses}
		if withOrder {
			sg.Order = in[1+T]
		}
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				sg.Vars = append(sg.Vars, v)
				sg.Shared = append(sg.Shared, strings.HasPrefix(v.Path(), "/"+trunkScope+"/"))
			}
		}
		c := comb.Combine(sg)
		opt.UpdateGraphWithGradients(scope, c.Grads, dtypes.Float32)
		res := append([]*Node{c.Objective}, losses...)
		for _, name := range terms {
			res = append(res, c.Terms[name])
		}
		return res
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	net := &Net{cfg: cfg, backend: be, store: store}
	r := data.Rand(cfg.Seed + 0x5eed)
	perm := make([]int, ds.N)
	for i := range perm {
		perm[i] = i
	}
	B := cfg.Batch
	x := make([]float32, B*ds.D)
	var times []float64
	for ep := 0; ep < cfg.Epochs; ep++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		log := EpochLog{Epoch: ep + 1, Losses: make([]float64, T), Terms: map[string]float64{}}
		nb := ds.N / B
		for bi := 0; bi < nb; bi++ {
			idx := perm[bi*B : (bi+1)*B]
			for k, i := range idx {
				for j := 0; j < ds.D; j++ {
					x[k*ds.D+j] = float32(ds.X[i*ds.D+j])
				}
			}
			args := []any{tensors.FromFlatDataAndDimensions(append([]float32(nil), x...), B, ds.D)}
			for t, task := range cfg.Tasks {
				if task.Kind == Classification {
					y := make([]int32, B)
					for k, i := range idx {
						y[k] = int32(ds.Y[t][i])
					}
					args = append(args, y)
				} else {
					y := make([]float32, B)
					for k, i := range idx {
						y[k] = float32(ds.Y[t][i])
					}
					args = append(args, y)
				}
			}
			if withOrder {
				args = append(args, RandomOrders(r, T))
			}
			t0 := time.Now()
			res, err := exec.Exec(args...)
			if err != nil {
				return nil, fmt.Errorf("multitask: epoch %d step %d: %w", ep+1, bi, err)
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			vals := make([]float64, len(res))
			for i, t := range res {
				vals[i] = float64(tensors.ToScalar[float32](t))
				t.MustFinalizeAll()
			}
			if math.IsNaN(vals[0]) || math.IsInf(vals[0], 0) {
				return nil, fmt.Errorf("multitask: epoch %d step %d: the objective is not finite (%g)", ep+1, bi, vals[0])
			}
			log.Objective += vals[0] / float64(nb)
			for t := 0; t < T; t++ {
				log.Losses[t] += vals[1+t] / float64(nb)
			}
			for k, name := range terms {
				log.Terms[name] += vals[1+T+k] / float64(nb)
			}
			net.Steps++
		}
		net.History = append(net.History, log)
	}
	net.MsPerStep = median(times)
	return net, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// Predict returns, per task, the predicted class id (argmax of the logits) or value of each
// example of ds (its targets are not read).
func (n *Net) Predict(ds *Dataset) ([][]float64, error) {
	if ds.D < 1 || len(ds.X) != ds.N*ds.D {
		return nil, fmt.Errorf("multitask: predict: N=%d D=%d with %d values", ds.N, ds.D, len(ds.X))
	}
	cfg := n.cfg
	exec, err := model.NewExec(n.backend, n.store, func(scope *model.Scope, x *Node) []*Node {
		_, outs := Forward(scope, cfg.Tasks, cfg.Hidden, x)
		for t, task := range cfg.Tasks {
			if task.Kind == Classification {
				outs[t] = ConvertDType(ArgMax(outs[t], -1), dtypes.Float32)
			}
		}
		return outs
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	x := make([]float32, len(ds.X))
	for i, v := range ds.X {
		x[i] = float32(v)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, ds.N, ds.D))
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(res))
	for t, r := range res {
		v := tensors.MustCopyFlatData[float32](r)
		out[t] = make([]float64, len(v))
		for i, f := range v {
			out[t][i] = float64(f)
		}
		r.MustFinalizeAll()
	}
	return out, nil
}

// Describe is a one-line summary of the combiner and its settings.
func (n *Net) Describe() string {
	c, err := New(n.cfg.Combiner, n.cfg.Params)
	if err != nil {
		return n.cfg.Combiner
	}
	return describe(c)
}

// SaliencyTerms evaluates the Rep-MTL regularizers (RepMTLTerms, τ from the config or the default)
// on ds, in consecutive batches of the training batch size (the CSA term's negatives are the other
// samples of a batch), averaged over the full batches. It measures what the regularizers claim to
// move for any trained network, whichever combiner trained it. ds needs its targets.
func (n *Net) SaliencyTerms(ds *Dataset) (tsr, csa float64, err error) {
	cfg := n.cfg
	if len(cfg.Tasks) < 2 {
		return 0, 0, fmt.Errorf("multitask: saliency terms need ≥ 2 tasks, the network has %d", len(cfg.Tasks))
	}
	if err := ds.Validate(cfg.Tasks); err != nil {
		return 0, 0, err
	}
	B := cfg.Batch
	nb := ds.N / B
	if nb < 1 {
		return 0, 0, fmt.Errorf("multitask: saliency terms: %d examples make no batch of %d", ds.N, B)
	}
	tau := cfg.Params.RepMTL.WithDefaults().Tau
	exec, err := model.NewExec(n.backend, n.store, func(scope *model.Scope, in []*Node) []*Node {
		z, outs := Forward(scope, cfg.Tasks, cfg.Hidden, in[0])
		losses := make([]*Node, len(cfg.Tasks))
		for t, task := range cfg.Tasks {
			losses[t] = TaskLoss(task, outs[t], in[1+t])
		}
		a, b := RepMTLTerms(Saliency(losses, z), tau)
		return []*Node{a, b}
	})
	if err != nil {
		return 0, 0, err
	}
	defer exec.Finalize()
	for bi := 0; bi < nb; bi++ {
		x := make([]float32, B*ds.D)
		for k := 0; k < B; k++ {
			for j := 0; j < ds.D; j++ {
				x[k*ds.D+j] = float32(ds.X[(bi*B+k)*ds.D+j])
			}
		}
		args := []any{tensors.FromFlatDataAndDimensions(x, B, ds.D)}
		for t, task := range cfg.Tasks {
			if task.Kind == Classification {
				y := make([]int32, B)
				for k := range y {
					y[k] = int32(ds.Y[t][bi*B+k])
				}
				args = append(args, y)
			} else {
				y := make([]float32, B)
				for k := range y {
					y[k] = float32(ds.Y[t][bi*B+k])
				}
				args = append(args, y)
			}
		}
		res, err := exec.Exec(args...)
		if err != nil {
			return 0, 0, err
		}
		tsr += float64(tensors.ToScalar[float32](res[0])) / float64(nb)
		csa += float64(tensors.ToScalar[float32](res[1])) / float64(nb)
		for _, r := range res {
			r.MustFinalizeAll()
		}
	}
	return tsr, csa, nil
}
