package rl

import (
	"fmt"

	"github.com/moeboost/moeboost/boosting/trees"
)

// Obs is a batch of observations: numeric features [N, NumDim] and categorical features
// [N, CatDim], both row-major.
type Obs struct {
	N, NumDim, CatDim int
	Num               []float32
	Cat               []string
}

// Gather returns the rows idx of o (copied).
func (o Obs) Gather(idx []int) Obs {
	out := Obs{N: len(idx), NumDim: o.NumDim, CatDim: o.CatDim,
		Num: make([]float32, len(idx)*o.NumDim), Cat: make([]string, len(idx)*o.CatDim)}
	for i, r := range idx {
		copy(out.Num[i*o.NumDim:(i+1)*o.NumDim], o.Num[r*o.NumDim:(r+1)*o.NumDim])
		copy(out.Cat[i*o.CatDim:(i+1)*o.CatDim], o.Cat[r*o.CatDim:(r+1)*o.CatDim])
	}
	return out
}

func (o Obs) data() *trees.Data {
	return &trees.Data{N: o.N, NumFeatures: o.NumDim, CatFeatures: o.CatDim, Num: o.Num, Cat: o.Cat}
}

// Approximator is a function approximator for actor-critic learning: it maps observations to
// outputs (policy logits or means, and/or the value) and is updated from per-sample
// gradients of the loss with respect to those outputs. Boosted trees (Trees) and neural
// networks (NN) implement it, so PPO and A2C are written once for both.
type Approximator interface {
	// OutDim is the number of outputs.
	OutDim() int
	// Predict returns the outputs [N, OutDim].
	Predict(obs Obs) ([]float32, error)
	// Update makes one update from grads [N, OutDim], the gradients of the per-sample losses
	// (n * dL/dout for a loss L averaged over the batch): trees grow one tree fitted to them;
	// a network takes one optimizer step on the mean loss.
	Update(obs Obs, grads []float32) error
	// Updates is the number of updates made (trees grown, optimizer steps).
	Updates() int
}

// Incremental is implemented by approximators whose later predictions are their earlier ones
// plus a cheap correction (tree ensembles: the contribution of the trees added since).
type Incremental interface {
	// AddSince adds to out (predictions made after `version` updates) the change caused by the
	// updates since.
	AddSince(obs Obs, version int, out []float32) error
}

// Trees is an Approximator backed by a tree ensemble: Update grows exactly one tree on the
// batch (GBRL's step).
type Trees struct {
	Ens *trees.Ensemble
}

// NewTrees returns a tree approximator with outDim outputs for observations with numF numeric
// and catF categorical features.
func NewTrees(numF, catF, outDim int, tc trees.TreeConfig, lrs []trees.LR, bias []float32) (*Trees, error) {
	e, err := trees.New(trees.Config{OutDim: outDim, NumFeatures: numF, CatFeatures: catF, Tree: tc, LRs: lrs, Bias: bias})
	if err != nil {
		return nil, err
	}
	return &Trees{Ens: e}, nil
}

// OutDim implements Approximator.
func (t *Trees) OutDim() int { return t.Ens.OutDim() }

// Predict implements Approximator.
func (t *Trees) Predict(obs Obs) ([]float32, error) { return t.Ens.Predict(obs.data(), nil) }

// Update implements Approximator.
func (t *Trees) Update(obs Obs, grads []float32) error { return t.Ens.Step(obs.data(), grads) }

// Updates implements Approximator.
func (t *Trees) Updates() int { return t.Ens.NumTrees() }

// AddSince implements Incremental.
func (t *Trees) AddSince(obs Obs, version int, out []float32) error {
	if version > t.Ens.NumTrees() {
		return fmt.Errorf("rl: version %d is newer than the ensemble (%d trees)", version, t.Ens.NumTrees())
	}
	return t.Ens.AddTrees(obs.data(), version, t.Ens.NumTrees(), out)
}
