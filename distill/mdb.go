package distill

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train"
)

// MDBConfig configures momentum difficulty boosting.
type MDBConfig struct {
	// Momentum μ of the per-sample difficulty memory (default 0.9).
	Momentum float64
	// Temperature τ of the batch softmax over difficulties (default 1, in nats of loss).
	Temperature float64
	// MaxWeight caps a sample's weight (default 0: no cap), so one hard (or mislabelled)
	// sample cannot dominate a batch.
	MaxWeight float64
}

// MDB is momentum difficulty boosting: per-sample weights from a momentum-averaged memory of
// each sample's loss, boosting the hard ones without ignoring the easy ones.
//
// Paper: Bhattacharyya et al., "Diffusion Deepfake", 2024, arXiv:2404.01579 (abstract only:
// "a momentum difficulty boosting strategy ... dynamically assigning appropriate sample
// weights based on the sample difficulty").
// Reference code: none published. The rule below is OUR design from the abstract, not the
// paper's formula (unverified).
//
// Rule, with ℓ_b the per-example cross-entropy of row b, i_b its sample id and D [N] the
// difficulty memory (initialized to −1 = unseen):
//
//	d_b = ℓ_b if D[i_b] < 0 (first visit), else μ·D[i_b] + (1 − μ)·sg(ℓ_b)
//	w_b = B·softmax_b(d_b / τ)        (mean weight 1; optionally capped at MaxWeight)
//	L = (1/B)·Σ_b sg(w_b)·ℓ_b,   then D[i_b] ← d_b
//
// Every sample keeps a weight > 0 (the softmax never zeroes one), the hardest in the batch get
// the most. Defaults μ = 0.9, τ = 1. The memory is the non-trainable variable
// "/distill/<term>/difficulty", saved in checkpoints. Needs sample ids and NumTrain.
//
// Deviations: the whole rule is a design choice documented here (no official code).
type MDB struct {
	mu, tau, maxW float64
}

// NewMDB validates cfg and returns the term.
func NewMDB(cfg MDBConfig) (*MDB, error) {
	m := &MDB{mu: cfg.Momentum, tau: cfg.Temperature, maxW: cfg.MaxWeight}
	if m.mu == 0 {
		m.mu = 0.9
	}
	if m.tau == 0 {
		m.tau = 1
	}
	if m.mu < 0 || m.mu >= 1 {
		return nil, fmt.Errorf("distill: mdb momentum=%g must be in [0, 1)", m.mu)
	}
	if !(m.tau > 0) {
		return nil, fmt.Errorf("distill: mdb temperature=%g must be > 0", m.tau)
	}
	if m.maxW < 0 || (m.maxW > 0 && m.maxW < 1) {
		return nil, fmt.Errorf("distill: mdb max_weight=%g must be 0 (no cap) or >= 1", m.maxW)
	}
	return m, nil
}

// Check implements Checker.
func (m *MDB) Check(info Info) error {
	if !info.UsesIndices || info.NumTrain < 1 {
		return errors.New("distill: mdb needs sample ids (Config.UseIndices, WithIndices()) and num_train")
	}
	return nil
}

// Step returns the loss and the updated memory for logits [B, C], labels and sample ids [B].
func (m *MDB) Step(memory, indices, labels, logits *Node) (loss, weights, newMemory *Node) {
	idx := ExpandAxes(FlatLabels(indices), -1)
	l := CrossEntropyPerExample(logits, labels)               // ℓ_b
	prev := ConvertDType(Gather(memory, idx), logits.DType()) // [B, 1]
	prev = Reshape(prev, prev.Shape().Dimensions[0])          // D[i_b]
	sl := StopGradient(l)
	d := Where(LessThan(prev, ZerosLike(prev)), sl, Add(MulScalar(prev, m.mu), MulScalar(sl, 1-m.mu)))
	b := float64(l.Shape().Dimensions[0])
	w := MulScalar(Softmax(DivScalar(d, m.tau), 0), b) // B·softmax_b(d/τ)
	if m.maxW > 0 {
		w = Min(w, scalarLike(w, m.maxW))
	}
	w = StopGradient(w)
	loss = ReduceAllMean(Mul(w, l))
	newMemory = ScatterUpdate(memory, idx, ExpandAxes(ConvertDType(d, memory.DType()), -1), false, true)
	return loss, w, newMemory
}

// Loss implements Term.
func (m *MDB) Loss(ctx *Context) *Node {
	g := ctx.Student.Graph()
	init := func(g *Graph, s shapes.Shape) *Node { return MulScalar(Ones(g, s), -1) }
	mem := ctx.Scope.WithInitializer(init).VariableWithShape("difficulty", shapes.Make(dtypes.Float32, ctx.NumTrain, 1)).SetTrainable(false)
	loss, w, newMem := m.Step(mem.NodeValue(g), ctx.Indices, ctx.Labels, ctx.Student)
	mem.SetNodeValue(newMem)
	train.Report("distill/mdb_max_weight", ReduceAllMax(w))
	return loss
}

func init() {
	train.DeclareParam("mdb_momentum", 0.9, "distill: MDB difficulty momentum μ")
	train.DeclareParam("mdb_temperature", 1.0, "distill: MDB softmax temperature τ")
	Register("mdb", func(scope *model.Scope) (Term, error) {
		return NewMDB(MDBConfig{Momentum: model.GetParamOr(scope, "mdb_momentum", 0.9), Temperature: model.GetParamOr(scope, "mdb_temperature", 1.0)})
	})
}
