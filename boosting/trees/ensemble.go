package trees

import (
	"fmt"
	"math"
)

// Learning-rate schedules.
const (
	// Constant keeps lr = Init.
	Constant = "constant"
	// Linear is GBRL's LinearScheduler: lr(t) = Init + ((t+1)/T)*(Final - Init), never below
	// Final.
	Linear = "linear"
)

// LR is the learning rate of one slice [Start, Stop) of the outputs as a function of the tree
// index t (GBRL's SGD optimizer with a scheduler). It is applied at prediction time, so it can
// be changed after the trees were grown.
type LR struct {
	Start, Stop int
	// Schedule is Constant (default) or Linear.
	Schedule string
	Init     float64
	// Final and T: Linear only.
	Final float64
	T     int
}

// At returns the learning rate of tree t.
func (l LR) At(t int) float64 {
	if l.Schedule != Linear {
		return l.Init
	}
	progress := (float64(t) + 1) / float64(l.T)
	lr := l.Init + progress*(l.Final-l.Init)
	if lr < l.Final {
		return l.Final
	}
	return lr
}

func (l LR) validate(outDim int) error {
	if l.Start < 0 || l.Stop > outDim || l.Start >= l.Stop {
		return fmt.Errorf("trees: learning-rate slice [%d, %d) must be a non-empty part of [0, %d)", l.Start, l.Stop, outDim)
	}
	if math.IsNaN(l.Init) || math.IsInf(l.Init, 0) {
		return fmt.Errorf("trees: learning rate %g must be finite", l.Init)
	}
	switch l.Schedule {
	case "", Constant:
	case Linear:
		if l.T < 1 {
			return fmt.Errorf("trees: linear learning-rate schedule T=%d must be >= 1", l.T)
		}
		if math.IsNaN(l.Final) || math.IsInf(l.Final, 0) {
			return fmt.Errorf("trees: final learning rate %g must be finite", l.Final)
		}
	default:
		return fmt.Errorf("trees: learning-rate schedule %q must be %q or %q", l.Schedule, Constant, Linear)
	}
	return nil
}

// Config configures an Ensemble.
type Config struct {
	// OutDim is the number of outputs (required).
	OutDim int
	// NumFeatures and CatFeatures describe the inputs (at least one feature).
	NumFeatures, CatFeatures int
	// Tree configures how Step grows trees.
	Tree TreeConfig
	// LRs cover the outputs with learning rates; outputs not covered use 1. Default: one
	// constant learning rate 1 over all outputs.
	LRs []LR
	// Bias is the initial prediction (default zeros).
	Bias []float32
}

// Validate reports a bad configuration.
func (c Config) Validate() error {
	if c.OutDim < 1 {
		return fmt.Errorf("trees: out_dim=%d must be >= 1", c.OutDim)
	}
	if c.NumFeatures < 0 || c.CatFeatures < 0 || c.NumFeatures+c.CatFeatures == 0 {
		return fmt.Errorf("trees: num_features=%d, cat_features=%d: need at least one feature", c.NumFeatures, c.CatFeatures)
	}
	if err := c.Tree.Validate(c.NumFeatures + c.CatFeatures); err != nil {
		return err
	}
	for _, l := range c.LRs {
		if err := l.validate(c.OutDim); err != nil {
			return err
		}
	}
	if c.Bias != nil && len(c.Bias) != c.OutDim {
		return fmt.Errorf("trees: %d bias values for out_dim=%d", len(c.Bias), c.OutDim)
	}
	return nil
}

// Ensemble is a sum of trees with vector leaves, predicting
//
//	F_k(x) = Bias_k - sum_t lr_k(t) * leaf_t(x)_k
//
// as GBRL does: leaves store raw mean gradients and the learning rate lr_k(t) of output k's
// slice is applied at prediction time (Reference code: NVlabs/gbrl, predictor.cpp,
// optimizer.cpp SGDOptimizer, scheduler.h). Step grows one tree on a batch of samples and
// their gradients with respect to the outputs.
//
// An Ensemble is not safe for concurrent use.
type Ensemble struct {
	outDim, numF, catF int
	tree               TreeConfig
	Bias               []float32
	trees              []*Tree
	lrs                []LR
	cats               map[string]int32
	catList            []string

	flat   []flatTree // prediction cache, in sync with trees unless dirty
	pack   oblPack
	grower *grower
	bins   binned
	xbuf   []float32
}

// New returns an empty ensemble.
func New(cfg Config) (*Ensemble, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Ensemble{outDim: cfg.OutDim, numF: cfg.NumFeatures, catF: cfg.CatFeatures,
		tree: cfg.Tree.WithDefaults(), cats: map[string]int32{}}
	e.Bias = make([]float32, cfg.OutDim)
	copy(e.Bias, cfg.Bias)
	e.lrs = normalizeLRs(cfg.LRs)
	if len(e.lrs) == 0 {
		e.lrs = []LR{{Start: 0, Stop: cfg.OutDim, Schedule: Constant, Init: 1}}
	}
	return e, nil
}

// OutDim returns the number of outputs.
func (e *Ensemble) OutDim() int { return e.outDim }

// Features returns the numbers of numeric and categorical features.
func (e *Ensemble) Features() (numeric, categorical int) { return e.numF, e.catF }

// TreeConfig returns the tree configuration Step uses.
func (e *Ensemble) TreeConfig() TreeConfig { return e.tree }

// SetTreeConfig changes how later trees are grown.
func (e *Ensemble) SetTreeConfig(c TreeConfig) error {
	if err := c.Validate(e.numF + e.catF); err != nil {
		return err
	}
	e.tree = c.WithDefaults()
	return nil
}

// NumTrees returns the number of trees.
func (e *Ensemble) NumTrees() int { return len(e.trees) }

// Tree returns tree i (do not modify it).
func (e *Ensemble) Tree(i int) *Tree { return e.trees[i] }

// LRs returns the learning rates.
func (e *Ensemble) LRs() []LR { return append([]LR(nil), e.lrs...) }

// SetLRs replaces the learning rates; they apply to every tree, old and new.
func (e *Ensemble) SetLRs(lrs []LR) error {
	for _, l := range lrs {
		if err := l.validate(e.outDim); err != nil {
			return err
		}
	}
	e.lrs = normalizeLRs(lrs)
	e.flat = e.flat[:0]
	e.pack = oblPack{}
	return nil
}

func normalizeLRs(lrs []LR) []LR {
	out := append([]LR(nil), lrs...)
	for i := range out {
		if out[i].Schedule == "" {
			out[i].Schedule = Constant
		}
	}
	return out
}

// lrOf returns the learning rate of output k for tree t (1 when no slice covers k).
func (e *Ensemble) lrOf(k, t int) float64 {
	for _, l := range e.lrs {
		if k >= l.Start && k < l.Stop {
			return l.At(t)
		}
	}
	return 1
}

// Step grows one tree on the batch d with per-sample gradients grads ([N, OutDim]) of the loss
// with respect to the outputs and appends it (GBRL's step). As in GBRL, pass n*dL/dF for a
// loss averaged over the batch.
func (e *Ensemble) Step(d *Data, grads []float32) error {
	t, err := e.FitTree(d, grads)
	if err != nil {
		return err
	}
	return e.AddTree(t)
}

func (e *Ensemble) checkData(d *Data) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if d.NumFeatures != e.numF || d.CatFeatures != e.catF {
		return fmt.Errorf("trees: data has %d numeric and %d categorical features, the ensemble %d and %d",
			d.NumFeatures, d.CatFeatures, e.numF, e.catF)
	}
	return nil
}

// FitTree grows a tree on (d, grads) as Step does, without adding it.
func (e *Ensemble) FitTree(d *Data, grads []float32) (*Tree, error) {
	if err := e.checkData(d); err != nil {
		return nil, err
	}
	if err := checkGrads(grads, d.N, e.outDim); err != nil {
		return nil, err
	}
	if d.N == 0 {
		return nil, fmt.Errorf("trees: cannot grow a tree on an empty batch")
	}
	if e.grower == nil {
		e.grower = &grower{}
	}
	g := e.grower
	prepareGrower(g, &e.bins, e.tree, d, grads, e.outDim, 0)
	t := &Tree{}
	g.grow(t)
	return t, nil
}

// prepareGrower bins d and sets up g for gradients grads.
func prepareGrower(g *grower, b *binned, cfg TreeConfig, d *Data, grads []float32, k, sample int) {
	g.cfg, g.k, g.b, g.g = cfg, k, b, grads
	g.fw = cfg.FeatureWeights
	g.sc = scorer{k: k, lambda: cfg.Lambda, minData: float64(cfg.MinDataInLeaf)}
	switch {
	case cfg.Score == L2:
		g.sc.kind = scoreL2
	case cfg.CosineForm == "paper":
		g.sc.kind = scoreCosPaper
	default:
		g.sc.kind = scoreCosCode
	}
	g.withQ = g.sc.kind == scoreCosCode
	g.s = k + 1
	if g.withQ {
		g.s++
	}
	n := d.N
	var rowNorm []float64
	if g.withQ || d.CatFeatures > 0 {
		g.q = resize(g.q, n)
		for r := 0; r < n; r++ {
			var s float64
			for _, v := range grads[r*k : r*k+k] {
				s += float64(v) * float64(v)
			}
			g.q[r] = s
		}
		rowNorm = g.q
	}
	g.sc.std = g.sc.kind == scoreL2 && !cfg.NoStandardize
	if g.sc.std {
		// GBRL centres each column and divides it by its (population) standard deviation
		// before scoring; a constant column has no say.
		g.sc.mu, g.sc.inv = resize(g.sc.mu, k), resize(g.sc.inv, k)
		for j := 0; j < k; j++ {
			var m float64
			for r := 0; r < n; r++ {
				m += float64(grads[r*k+j])
			}
			m /= float64(n)
			var v float64
			for r := 0; r < n; r++ {
				dv := float64(grads[r*k+j]) - m
				v += dv * dv
			}
			sd := math.Sqrt(v / float64(n))
			g.sc.mu[j] = m
			g.sc.inv[j] = 0
			if sd > 0 {
				g.sc.inv[j] = 1 / sd
			}
		}
	}
	b.bin(d, binOptions{bins: cfg.Bins, split: cfg.Split, threads: cfg.Threads, sample: sample, rowNorm: rowNorm})
}

// AddTree appends a tree (grown by FitTree, or loaded) after checking it.
func (e *Ensemble) AddTree(t *Tree) error {
	if err := t.validate(e.numF+e.catF, e.outDim); err != nil {
		return fmt.Errorf("trees: bad tree: %w", err)
	}
	for i := range t.Splits {
		s := &t.Splits[i]
		if s.IsCat {
			if int(s.Feature) < e.numF {
				return fmt.Errorf("trees: categorical split on numeric feature %d", s.Feature)
			}
			s.code = float32(e.intern(s.Category))
		} else if int(s.Feature) >= e.numF {
			return fmt.Errorf("trees: numeric split on categorical feature %d", s.Feature)
		}
	}
	e.trees = append(e.trees, t)
	return nil
}

func (e *Ensemble) intern(s string) int32 {
	if c, ok := e.cats[s]; ok {
		return c
	}
	c := int32(len(e.catList))
	e.cats[s] = c
	e.catList = append(e.catList, s)
	return c
}

// Truncate keeps the first n trees.
func (e *Ensemble) Truncate(n int) {
	if n < len(e.trees) {
		e.trees = e.trees[:n]
		if len(e.flat) > n {
			e.flat = e.flat[:n]
		}
		e.pack = oblPack{}
	}
}

// Importance returns each feature's total split gain over all trees (numeric features first).
func (e *Ensemble) Importance() []float64 {
	imp := make([]float64, e.numF+e.catF)
	for _, t := range e.trees {
		for _, s := range t.Splits {
			imp[s.Feature] += s.Gain
		}
	}
	return imp
}
