package datadistill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/moeboost/moeboost/internal/registry"
)

// Config sets trajectory matching (MTT: Cazenavette et al., "Dataset distillation by matching
// training trajectories", CVPR 2022, Alg. 1; official GeorgeCazenavette/mtt-distillation
// distill.py) and the AST switches (Shen et al., "Efficient dataset distillation through
// alignment with smooth and high-quality expert trajectories", arXiv 2310.10541; official
// shenjiyuan123/AST-Alignment-with-Smooth-Expert distill.py).
type Config struct {
	// IPC is the number of synthetic examples per class.
	IPC int
	// SynSteps N: student steps on the synthetic set per iteration (--syn_steps, 20);
	// ExpertEpochs M: how many expert epochs ahead the target is (--expert_epochs, 3);
	// MaxStartEpoch T⁺: start epochs are drawn from [0, T⁺) (--max_start_epoch, 25).
	SynSteps, ExpertEpochs, MaxStartEpoch int
	// Iterations of distillation.
	Iterations int
	// LRImg and LRLR are the SGD (momentum 0.5) learning rates of the synthetic examples and
	// of the learned student LR α (--lr_img 1000, --lr_lr 1e-5); LRInit initializes α
	// (--lr_teacher 0.01). α is kept ≥ 1e-8 (the official code does not bound it).
	LRImg, LRLR, LRInit float64
	// Init is how the synthetic set starts: "real" (random real examples of each class, MTT's
	// --pix_init real), "noise" (standard normal) or "kmeans" (AST's representative init: per
	// class, k-means with k = IPC on a trained expert's logits, the real example nearest each
	// centre).
	Init string
	// InnerMomentum μ of the student's SGD on the synthetic set (AST: --mom 0.9; MTT: 0),
	// b ← μb + g, θ ← θ − αb.
	InnerMomentum float64
	// Balance scales the student's loss by the start epoch s (AST --balance_loss): with
	// h = T⁺/2, × log₅(s − h + 8) when s ≥ h, else ÷ log₅(h − s + 8).
	Balance bool
	// MiddleMatching adds ‖θ_{n_i} − θ*_{s+i}‖²/‖θ*_s − θ*_{s+i}‖² at the student steps
	// n_i = (N/M)·i, i = 1..M−1 (AST --agg_middle_loss, weight 1).
	MiddleMatching bool
	// Seed drives the start epochs, expert choice and initialization.
	Seed uint64
}

// Presets registered by name: "mtt" is MTT's defaults, "ast" adds AST's switches (experts for
// "ast" are trained with ASTExperts).
var presets = registry.NewKind[func() Config]("dataset_distiller")

func init() {
	presets.Register("mtt", MTTConfig)
	presets.Register("ast", ASTConfig)
}

// Preset returns the registered configuration name.
func Preset(name string) (Config, error) {
	f, err := presets.Get(name)
	if err != nil {
		return Config{}, err
	}
	return f(), nil
}

// Presets lists the registered configurations.
func Presets() []string { return presets.Names() }

// MTTConfig returns MTT's defaults (1 example per class).
func MTTConfig() Config {
	return Config{IPC: 1, SynSteps: 20, ExpertEpochs: 3, MaxStartEpoch: 25, Iterations: 5000, LRImg: 1000, LRLR: 1e-5, LRInit: 0.01, Init: "real", Seed: 1}
}

// ASTConfig returns MTT's defaults with AST's switches on: representative (k-means) init,
// inner momentum 0.9, balanced inner loss and intermediate matching.
func ASTConfig() Config {
	c := MTTConfig()
	c.Init, c.InnerMomentum, c.Balance, c.MiddleMatching = "kmeans", 0.9, true, true
	return c
}

// ASTExperts returns AST's smooth-expert recipe (buffer.py --optim SGDMOM, --loss_decay,
// --gp True): LR 0.003, momentum 0.9, L2 1e-3, clipping loss and gradient penalty λ = 2.
func ASTExperts(epochs, batch int) ExpertConfig {
	return ExpertConfig{Epochs: epochs, Batch: batch, LR: 0.003, Momentum: 0.9, L2: 1e-3, LossDecay: true, GradPenalty: 2}
}

// Validate checks every setting against the expert trajectories' length.
func (c Config) Validate(epochs int) error {
	switch {
	case c.IPC < 1:
		return fmt.Errorf("datadistill: IPC = %d; must be ≥ 1", c.IPC)
	case c.SynSteps < 1 || c.ExpertEpochs < 1 || c.MaxStartEpoch < 1 || c.Iterations < 0:
		return fmt.Errorf("datadistill: syn steps %d, expert epochs %d, max start epoch %d must be ≥ 1 and iterations %d ≥ 0", c.SynSteps, c.ExpertEpochs, c.MaxStartEpoch, c.Iterations)
	case c.MaxStartEpoch-1+c.ExpertEpochs > epochs:
		return fmt.Errorf("datadistill: max start epoch %d + expert epochs %d needs trajectories of ≥ %d epochs; the experts have %d", c.MaxStartEpoch, c.ExpertEpochs, c.MaxStartEpoch-1+c.ExpertEpochs, epochs)
	case !(c.LRImg > 0) || !(c.LRLR >= 0) || !(c.LRInit > 0):
		return fmt.Errorf("datadistill: lr_img %v and lr_init %v must be > 0, lr_lr %v ≥ 0", c.LRImg, c.LRInit, c.LRLR)
	case !(c.InnerMomentum >= 0 && c.InnerMomentum < 1):
		return fmt.Errorf("datadistill: inner momentum %v must be in [0, 1)", c.InnerMomentum)
	case c.MiddleMatching && c.SynSteps < c.ExpertEpochs:
		return fmt.Errorf("datadistill: middle matching needs syn steps %d ≥ expert epochs %d", c.SynSteps, c.ExpertEpochs)
	}
	switch c.Init {
	case "real", "noise", "kmeans":
	default:
		return fmt.Errorf("datadistill: init %q unknown; known are \"real\", \"noise\", \"kmeans\"", c.Init)
	}
	return nil
}

// balance is AST's start-epoch factor.
func (c Config) balance(s int) float64 {
	if !c.Balance {
		return 1
	}
	h := c.MaxStartEpoch / 2
	if s >= h {
		return math.Log(float64(s-h+8)) / math.Log(5)
	}
	return 1 / (math.Log(float64(h-s+8)) / math.Log(5))
}

// middleSteps are the student steps n_i = (N/M)·i, i = 1..M−1, matched to expert epoch s+i.
func (c Config) middleSteps() []int {
	if !c.MiddleMatching {
		return nil
	}
	var out []int
	for i := 1; i < c.ExpertEpochs; i++ {
		if n := (c.SynSteps / c.ExpertEpochs) * i; n < c.SynSteps {
			out = append(out, n)
		}
	}
	return out
}

// Result is a distilled set.
type Result struct {
	// X holds Classes·IPC rows (class-major: IPC rows of class 0 first), Y their labels.
	Data *Dataset
	// LR is the learned student learning rate α.
	LR float64
	// Losses is the matching loss of each iteration (1 = no better than the start point).
	Losses []float64
}

// Distill learns a synthetic set from expert trajectories (MTT Alg. 1): each iteration picks
// an expert and a start epoch s, trains a student from θ*_s for N steps on the synthetic set
// with LR α, and moves the synthetic examples and α down the gradient of
// ‖θ_N − θ*_{s+M}‖² / ‖θ*_s − θ*_{s+M}‖² (through all N steps, second order). progress, if
// not nil, is called after each iteration.
func Distill(ctx context.Context, be compute.Backend, m MLP, real *Dataset, experts []Trajectory, c Config, progress func(it int, loss float64)) (*Result, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := real.Validate(); err != nil {
		return nil, err
	}
	if len(experts) == 0 {
		return nil, fmt.Errorf("datadistill: no expert trajectories")
	}
	epochs := len(experts[0]) - 1
	for i, t := range experts {
		if len(t)-1 != epochs {
			return nil, fmt.Errorf("datadistill: expert %d has %d epochs, expert 0 has %d", i, len(t)-1, epochs)
		}
	}
	if err := c.Validate(epochs); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(c.Seed, 0x64697374))
	syn, err := initialSet(real, m, experts[0][epochs], c, r)
	if err != nil {
		return nil, err
	}
	mt, err := newMatcher(be, m, c, syn)
	if err != nil {
		return nil, err
	}
	defer mt.exec.Finalize()
	alpha := c.LRInit
	velX := make([]float32, len(syn.X))
	velA := 0.0
	res := &Result{Data: syn}
	for it := range c.Iterations {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		traj := experts[r.IntN(len(experts))]
		s := r.IntN(c.MaxStartEpoch)
		var middles []Params
		for i := range c.middleSteps() {
			middles = append(middles, traj[s+i+1])
		}
		loss, gx, ga, err := mt.eval(syn.X, alpha, c.balance(s), traj[s], traj[s+c.ExpertEpochs], middles)
		if err != nil {
			return nil, fmt.Errorf("datadistill iteration %d: %w", it, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("datadistill diverged at iteration %d (matching loss %v): lower lr_img %v or lr_lr %v", it, loss, c.LRImg, c.LRLR)
		}
		// PyTorch's SGD with momentum 0.5: v ← 0.5v + g, p ← p − lr·v.
		for i := range syn.X {
			velX[i] = 0.5*velX[i] + gx[i]
			syn.X[i] -= float32(c.LRImg) * velX[i]
		}
		velA = 0.5*velA + ga
		alpha = max(alpha-c.LRLR*velA, 1e-8)
		res.Losses = append(res.Losses, loss)
		if progress != nil {
			progress(it, loss)
		}
	}
	res.LR = alpha
	return res, nil
}

// matcher is the compiled matching loss of one synthetic set's shape and its gradients.
type matcher struct {
	m    MLP
	c    Config
	k, d int
	exec *graph.Exec
}

// newMatcher compiles the matching loss for a synthetic set shaped like syn (its labels fixed):
// inputs x, α, the balance factor, θ*_s, θ*_{s+M} and the middle targets; outputs the loss and
// its gradients with respect to x and α.
func newMatcher(be compute.Backend, m MLP, c Config, syn *Dataset) (*matcher, error) {
	np := len(m.Shapes())
	mids := c.middleSteps()
	k := syn.N
	oneHot := syn.oneHot(seq(k))
	exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
		x, alpha, factor := in[0], in[1], in[2]
		start := in[3 : 3+np]
		target := in[3+np : 3+2*np]
		middle := in[3+2*np:]
		oh := graph.Reshape(graph.Const(x.Graph(), oneHot), k, syn.Classes)
		w := start
		var buf []*graph.Node
		var extra *graph.Node
		mi := 0
		for n := range c.SynSteps {
			loss := graph.Mul(CrossEntropy(m.Logits(w, x), oh), factor)
			g := graph.Gradient(loss, w...)
			if c.InnerMomentum > 0 && buf != nil {
				for i := range g {
					g[i] = graph.Add(graph.MulScalar(buf[i], c.InnerMomentum), g[i])
				}
			}
			buf = g
			next := make([]*graph.Node, np)
			for i := range w {
				next[i] = graph.Sub(w[i], graph.Mul(alpha, g[i]))
			}
			w = next
			if mi < len(mids) && n+1 == mids[mi] {
				tgt := middle[mi*np : (mi+1)*np]
				term := graph.Div(sqDist(w, tgt), graph.StopGradient(sqDist(start, tgt)))
				if extra == nil {
					extra = term
				} else {
					extra = graph.Add(extra, term)
				}
				mi++
			}
		}
		grand := graph.Div(sqDist(w, target), graph.StopGradient(sqDist(start, target)))
		if extra != nil {
			grand = graph.Add(grand, extra)
		}
		grads := graph.Gradient(grand, x, alpha)
		return []*graph.Node{graph.Reshape(grand, 1), grads[0], graph.Reshape(grads[1], 1)}
	})
	if err != nil {
		return nil, err
	}
	return &matcher{m: m, c: c, k: k, d: syn.D, exec: exec}, nil
}

// eval returns the matching loss and its gradients with respect to x and α.
func (mt *matcher) eval(x []float32, alpha, factor float64, start, target Params, middles []Params) (loss float64, gx []float32, galpha float64, err error) {
	args := []any{tensors.FromFlatDataAndDimensions(x, mt.k, mt.d), float32(alpha), float32(factor)}
	args = append(args, paramTensors(mt.m, start)...)
	args = append(args, paramTensors(mt.m, target)...)
	for _, p := range middles {
		args = append(args, paramTensors(mt.m, p)...)
	}
	outs, err := mt.exec.Call(args...)
	if err != nil {
		return 0, nil, 0, err
	}
	loss = float64(tensors.MustCopyFlatData[float32](outs[0])[0])
	gx = tensors.MustCopyFlatData[float32](outs[1])
	galpha = float64(tensors.MustCopyFlatData[float32](outs[2])[0])
	for _, o := range outs {
		o.MustFinalizeAll()
	}
	return loss, gx, galpha, nil
}

// sqDist is Σ‖a_i − b_i‖² over the parameter tensors.
func sqDist(a, b []*graph.Node) *graph.Node {
	var s *graph.Node
	for i := range a {
		d := graph.ReduceAllSum(graph.Square(graph.Sub(a[i], b[i])))
		if s == nil {
			s = d
		} else {
			s = graph.Add(s, d)
		}
	}
	return s
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// byClass lists the rows of each class.
func byClass(d *Dataset) [][]int {
	out := make([][]int, d.Classes)
	for i, y := range d.Y {
		out[y] = append(out[y], i)
	}
	return out
}

// RandomSubset returns ipc random real examples of each class (fewer when a class has fewer).
func RandomSubset(d *Dataset, ipc int, seed uint64) (*Dataset, error) {
	if ipc < 1 {
		return nil, fmt.Errorf("datadistill: IPC = %d; must be ≥ 1", ipc)
	}
	r := rand.New(rand.NewPCG(seed, 0x726e64))
	var idx []int
	for c, rows := range byClass(d) {
		if len(rows) == 0 {
			return nil, fmt.Errorf("datadistill: class %d has no examples", c)
		}
		perm := r.Perm(len(rows))
		for _, j := range perm[:min(ipc, len(rows))] {
			idx = append(idx, rows[j])
		}
	}
	return d.subset(idx), nil
}

func (d *Dataset) subset(idx []int) *Dataset {
	y := make([]int, len(idx))
	for i, j := range idx {
		y[i] = d.Y[j]
	}
	return &Dataset{X: d.rows(idx), Y: y, N: len(idx), D: d.D, Classes: d.Classes}
}

// Initial returns the synthetic set Distill would start from (class-major, IPC rows per class):
// c.Init of real's examples, "kmeans" clustering the logits of the network with parameters
// expert. With "kmeans" it is AST's representative real subset.
func Initial(real *Dataset, m MLP, expert Params, c Config) (*Dataset, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := real.Validate(); err != nil {
		return nil, err
	}
	if c.IPC < 1 {
		return nil, fmt.Errorf("datadistill: IPC = %d; must be ≥ 1", c.IPC)
	}
	return initialSet(real, m, expert, c, rand.New(rand.NewPCG(c.Seed, 0x64697374)))
}

// initialSet builds the starting synthetic set (class-major, IPC rows per class).
func initialSet(real *Dataset, m MLP, expert Params, c Config, r *rand.Rand) (*Dataset, error) {
	classes := byClass(real)
	var idx []int
	for cl, rows := range classes {
		if len(rows) < c.IPC {
			return nil, fmt.Errorf("datadistill: class %d has %d examples, fewer than IPC %d", cl, len(rows), c.IPC)
		}
		switch c.Init {
		case "kmeans":
			idx = append(idx, representatives(real, m, expert, rows, c.IPC, r)...)
		default:
			perm := r.Perm(len(rows))
			for _, j := range perm[:c.IPC] {
				idx = append(idx, rows[j])
			}
		}
	}
	syn := real.subset(idx)
	if c.Init == "noise" {
		for i := range syn.X {
			syn.X[i] = float32(r.NormFloat64())
		}
	}
	return syn, nil
}

// representatives is AST's representative init for one class: k-means (k = ipc) on the
// expert's logits of the class's real examples, and the example nearest each centre. (AST's
// code clusters into 10 and keeps int(ipc/10) per cluster, which selects nothing for ipc < 10;
// this follows the paper's description.)
func representatives(real *Dataset, m MLP, expert Params, rows []int, ipc int, r *rand.Rand) []int {
	logits := make([][]float64, len(rows))
	for i, j := range rows {
		logits[i] = HostLogits(m, expert, real.X[j*real.D:(j+1)*real.D])
	}
	centres := kmeans(logits, ipc, r)
	out := make([]int, 0, ipc)
	used := map[int]bool{}
	for _, ctr := range centres {
		best, bi := math.Inf(1), -1
		for i, l := range logits {
			if used[i] {
				continue
			}
			if d := sqd(l, ctr); d < best {
				best, bi = d, i
			}
		}
		used[bi] = true
		out = append(out, rows[bi])
	}
	return out
}

func sqd(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return s
}

// kmeans runs Lloyd's algorithm with k-means++ seeding (as scikit-learn's KMeans, which AST
// calls) and returns the k centres.
func kmeans(pts [][]float64, k int, r *rand.Rand) [][]float64 {
	centres := [][]float64{append([]float64(nil), pts[r.IntN(len(pts))]...)}
	d2 := make([]float64, len(pts))
	for len(centres) < k {
		total := 0.0
		for i, p := range pts {
			d2[i] = math.Inf(1)
			for _, c := range centres {
				d2[i] = min(d2[i], sqd(p, c))
			}
			total += d2[i]
		}
		u := r.Float64() * total
		pick := len(pts) - 1
		for i, d := range d2 {
			if u -= d; u <= 0 {
				pick = i
				break
			}
		}
		centres = append(centres, append([]float64(nil), pts[pick]...))
	}
	assign := make([]int, len(pts))
	for range 100 {
		changed := false
		for i, p := range pts {
			best, bi := math.Inf(1), 0
			for j, c := range centres {
				if d := sqd(p, c); d < best {
					best, bi = d, j
				}
			}
			if assign[i] != bi {
				assign[i], changed = bi, true
			}
		}
		for j := range centres {
			n := 0
			sum := make([]float64, len(pts[0]))
			for i, p := range pts {
				if assign[i] == j {
					n++
					for t := range p {
						sum[t] += p[t]
					}
				}
			}
			if n > 0 {
				for t := range sum {
					sum[t] /= float64(n)
				}
				centres[j] = sum
			}
		}
		if !changed {
			break
		}
	}
	return centres
}

// HostLogits evaluates the MLP on one example on the host (float64 accumulation).
func HostLogits(m MLP, p Params, x []float32) []float64 {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	layers := len(m.Sizes) - 1
	for l := range layers {
		in, out := m.Sizes[l], m.Sizes[l+1]
		w, b := p[2*l], p[2*l+1]
		next := make([]float64, out)
		for o := range out {
			s := float64(b[o])
			for i := range in {
				s += h[i] * float64(w[i*out+o])
			}
			if l+1 < layers {
				if m.Act == "tanh" {
					s = math.Tanh(s)
				} else {
					s = max(s, 0)
				}
			}
			next[o] = s
		}
		h = next
	}
	return h
}

// Accuracy is the fraction of ds the MLP classifies correctly.
func Accuracy(m MLP, p Params, ds *Dataset) float64 {
	right := 0
	for i := range ds.N {
		l := HostLogits(m, p, ds.X[i*ds.D:(i+1)*ds.D])
		arg := 0
		for j := range l {
			if l[j] > l[arg] {
				arg = j
			}
		}
		if arg == ds.Y[i] {
			right++
		}
	}
	return float64(right) / float64(ds.N)
}

// EvalConfig is MTT's evaluation (utils.evaluate_synset): fresh networks trained on the set by
// SGD with momentum 0.9 and weight decay 5e-4 at the given LR, ×0.1 after half the epochs.
type EvalConfig struct {
	Epochs, Batch, Nets int
	LR                  float64
	Seed                uint64
}

// Evaluate trains c.Nets fresh MLPs on train and returns each one's accuracy on test.
func Evaluate(ctx context.Context, be compute.Backend, m MLP, train, test *Dataset, c EvalConfig) ([]float64, error) {
	if c.Epochs < 1 || c.Batch < 1 || c.Nets < 1 || !(c.LR > 0) {
		return nil, fmt.Errorf("datadistill eval: epochs %d, batch %d, nets %d must be ≥ 1 and LR %v > 0", c.Epochs, c.Batch, c.Nets, c.LR)
	}
	if err := train.Validate(); err != nil {
		return nil, err
	}
	tr, err := newTrainer(be, m, 0.9, 5e-4, 0)
	if err != nil {
		return nil, err
	}
	defer tr.exec.Finalize()
	batch := min(c.Batch, train.N)
	var accs []float64
	for n := range c.Nets {
		r := rand.New(rand.NewPCG(c.Seed+uint64(n), 0x6576616c))
		p := m.Init(c.Seed + uint64(n) + 5000)
		v := zerosLike(p)
		lr := c.LR
		for ep := range c.Epochs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if ep == c.Epochs/2+1 {
				lr *= 0.1
			}
			perm := r.Perm(train.N)
			for b := 0; b+batch <= train.N; b += batch {
				idx := perm[b : b+batch]
				if _, err := tr.step(p, v, train.rows(idx), train.oneHot(idx), batch, train.D, train.Classes, float32(lr), 1); err != nil {
					return nil, err
				}
			}
		}
		accs = append(accs, Accuracy(m, p, test))
	}
	return accs, nil
}
