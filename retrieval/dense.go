package retrieval

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/internal/registry"
	mlayers "github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train"
)

// Encoder is the dual encoder's tower, shared by queries and documents as in the official
// STAR code (DRhard model.py RobertaDot): e = LayerNorm(Linear(pool(tokens))), scores ⟨e_q, e_d⟩.
// Here pool is the mean of learned token embeddings over the non-padding tokens (a
// bag-of-embeddings tower instead of RoBERTa's [CLS] state: laptop scale).
type Encoder struct {
	Vocab, Dim, MaxLen int
}

// Encode builds the embeddings of ids [n, L] (int32, 0 = padding).
func (e Encoder) Encode(scope *model.Scope, ids *graph.Node) *graph.Node {
	emb := mlayers.Embedding(scope.In("embed"), ids, dtypes.Float32, e.Vocab, e.Dim)
	mask := graph.ConvertDType(graph.NotEqual(ids, graph.ScalarZero(ids.Graph(), ids.DType())), dtypes.Float32)
	sum := graph.ReduceSum(graph.Mul(emb, graph.InsertAxes(mask, -1)), 1)
	cnt := graph.Max(graph.ReduceSum(mask, 1), graph.Const(ids.Graph(), float32(1)))
	h := graph.Div(sum, graph.InsertAxes(cnt, -1))
	h = layers.Dense(scope.In("head"), h, true, e.Dim)
	return norm.LayerNorm(scope.In("ln"), h, -1).Done()
}

// pad packs token sequences into [len(seqs), L] (truncated, zero-padded).
func pad(seqs [][]int32, l int) *tensors.Tensor {
	out := make([]int32, len(seqs)*l)
	for i, s := range seqs {
		copy(out[i*l:(i+1)*l], s[:min(len(s), l)])
	}
	return tensors.FromFlatDataAndDimensions(out, len(seqs), l)
}

// Embedder runs a trained tower.
type Embedder struct {
	enc  Encoder
	exec *model.Exec
}

// NewEmbedder compiles the tower of store (inference mode).
func NewEmbedder(be compute.Backend, store *model.Store, enc Encoder) (*Embedder, error) {
	exec, err := model.NewExec(be, store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		scope.Store().SetTraining(in[0].Graph(), false)
		return []*graph.Node{enc.Encode(scope.In("tower"), in[0])}
	})
	if err != nil {
		return nil, err
	}
	return &Embedder{enc: enc, exec: exec}, nil
}

// Embed returns the embeddings of seqs, row-major [len(seqs), Dim], in chunks of 256.
func (e *Embedder) Embed(seqs [][]int32) ([]float32, error) {
	var out []float32
	for lo := 0; lo < len(seqs); lo += 256 {
		res, err := e.exec.Call(pad(seqs[lo:min(lo+256, len(seqs))], e.enc.MaxLen))
		if err != nil {
			return nil, err
		}
		out = append(out, tensors.MustCopyFlatData[float32](res[0])...)
		res[0].MustFinalizeAll()
	}
	return out, nil
}

// Close releases the compiled tower.
func (e *Embedder) Close() { e.exec.Finalize() }

// Negatives says where each query's extra negative comes from and whether the other queries'
// positives serve as negatives too.
type Negatives struct {
	// InBatch adds the batch's other positives as negatives (STAR's "random negatives").
	InBatch bool
	// Pool returns the candidates of training example i to sample its negative from (nil:
	// uniform over the corpus). Relevant documents are always excluded.
	Pool func(i int) []int
}

// Schemes are the registered negative-sampling schemes: the name and whether it uses in-batch
// negatives and a static hard pool. "rand-neg" is the paper's Rand-Neg, "bm25-neg" static BM25
// negatives only (its Hard-Neg baseline), "star" STAR (static hard negatives from a warm-up
// model, shared across the batch, plus in-batch negatives).
type Scheme struct {
	InBatch bool
	// Pool names the hard pool: "" (uniform), "bm25" or "dense" (a warm-up model's top-k).
	Pool string
}

var schemes = registry.NewKind[Scheme]("retrieval_negatives")

func init() {
	schemes.Register("rand-neg", Scheme{})
	schemes.Register("bm25-neg", Scheme{Pool: "bm25"})
	schemes.Register("star", Scheme{InBatch: true, Pool: "dense"})
}

// SchemeByName returns a registered scheme.
func SchemeByName(name string) (Scheme, error) { return schemes.Get(name) }

// TrainConfig sets dual-encoder training.
type TrainConfig struct {
	Encoder      Encoder
	Batch, Steps int
	LR           float64
	Optimizer    string
	Seed         int64
	Progress     bool
}

// pairBatches yields STAR-style batches: every sampled query with one positive and one
// negative (from neg); the loss masks (rel_pair_mask, hard_pair_mask) exclude every relevant
// document, not just the sampled positive.
type pairBatches struct {
	c       *Corpus
	train   []Example
	neg     Negatives
	batch   int
	maxLen  int
	seed    uint64
	inBatch float32
}

func (p *pairBatches) Name() string { return "retrieval-pairs" }

func (p *pairBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		r := rand.New(rand.NewPCG(p.seed, 0x73746172))
		order := make([]int, len(p.train))
		for i := range order {
			order[i] = i
		}
		pos := len(order)
		for {
			b := p.batch
			ex := make([]int, b)
			for i := range ex {
				if pos == len(order) {
					r.Shuffle(len(order), func(a, c int) { order[a], order[c] = order[c], order[a] })
					pos = 0
				}
				ex[i], pos = order[pos], pos+1
			}
			seqs := make([][]int32, 0, 3*b)
			posDoc := make([]int, b)
			negDoc := make([]int, b)
			for i, e := range ex {
				rel := p.train[e].Rel
				posDoc[i] = rel[r.IntN(len(rel))]
				negDoc[i] = p.sampleNeg(r, e)
			}
			for _, e := range ex {
				seqs = append(seqs, p.train[e].Query)
			}
			for i, d := range posDoc {
				if t := p.train[ex[i]].Pos; t != nil {
					seqs = append(seqs, t)
				} else {
					seqs = append(seqs, p.c.Docs[d])
				}
			}
			for _, d := range negDoc {
				seqs = append(seqs, p.c.Docs[d])
			}
			rel := make([]float32, b*b)
			hard := make([]float32, b*b)
			for i, e := range ex {
				for j := range b {
					if j != i && !slices.Contains(p.train[e].Rel, posDoc[j]) {
						rel[i*b+j] = p.inBatch
					}
					if !slices.Contains(p.train[e].Rel, negDoc[j]) {
						hard[i*b+j] = 1
					}
				}
			}
			batch := gtrain.Batch{Inputs: []*tensors.Tensor{pad(seqs, p.maxLen)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(rel, b, b), tensors.FromFlatDataAndDimensions(hard, b, b)}}
			if !yield(batch, nil) {
				return
			}
		}
	}
}

func (p *pairBatches) sampleNeg(r *rand.Rand, e int) int {
	rel := p.train[e].Rel
	if p.neg.Pool != nil {
		var cands []int
		for _, d := range p.neg.Pool(e) {
			if !slices.Contains(rel, d) {
				cands = append(cands, d)
			}
		}
		if len(cands) > 0 {
			return cands[r.IntN(len(cands))]
		}
	}
	for {
		if d := r.IntN(len(p.c.Docs)); !slices.Contains(rel, d) {
			return d
		}
	}
}

// softplus is log(1 + eˣ), computed stably.
func softplus(x *graph.Node) *graph.Node {
	return graph.Add(graph.Max(x, graph.ScalarZero(x.Graph(), x.DType())), graph.Log1p(graph.Exp(graph.Neg(graph.Abs(x)))))
}

// pairLoss is DRhard's inbatch_train/randneg_train loss (model.py): for each query its
// positive against every masked negative, −log softmax([s⁺, s⁻])₀ = softplus(s⁻ − s⁺), summed
// and divided by the number of masked pairs of both kinds.
func pairLoss(labels, preds []*graph.Node) *graph.Node {
	relMask, hardMask := labels[0], labels[1]
	b := relMask.Shape().Dim(0)
	e := preds[0]
	eq := graph.Slice(e, graph.AxisRange(0, b))
	ep := graph.Slice(e, graph.AxisRange(b, 2*b))
	en := graph.Slice(e, graph.AxisRange(2*b, 3*b))
	s1 := graph.MatMul(eq, graph.Transpose(ep, 0, 1))
	s2 := graph.MatMul(eq, graph.Transpose(en, 0, 1))
	posScore := graph.InsertAxes(graph.ReduceSum(graph.Mul(eq, ep), -1), -1)
	l1 := graph.Mul(softplus(graph.Sub(s1, posScore)), relMask)
	l2 := graph.Mul(softplus(graph.Sub(s2, posScore)), hardMask)
	num := graph.Add(graph.ReduceAllSum(l1), graph.ReduceAllSum(l2))
	den := graph.Max(graph.Add(graph.ReduceAllSum(relMask), graph.ReduceAllSum(hardMask)), graph.Const(e.Graph(), float32(1)))
	return graph.Div(num, den)
}

// TrainPairs trains a tower on the training examples with a negative-sampling scheme and
// returns its store.
func TrainPairs(ctx context.Context, be compute.Backend, c *Corpus, examples []Example, neg Negatives, cfg TrainConfig) (*model.Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	inBatch := float32(0)
	if neg.InBatch {
		inBatch = 1
	}
	if len(examples) < cfg.Batch {
		return nil, fmt.Errorf("retrieval: %d training examples, fewer than the batch %d", len(examples), cfg.Batch)
	}
	ds := &pairBatches{c: c, train: examples, neg: neg, batch: cfg.Batch, maxLen: cfg.Encoder.MaxLen, seed: uint64(cfg.Seed), inBatch: inBatch}
	enc := cfg.Encoder
	res, err := train.Run(ctx, train.Config{
		Name: "retrieval", Backend: be, Seed: cfg.Seed,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{enc.Encode(scope.In("tower"), in[0])}
		},
		LossFn: pairLoss, Optimizer: cfg.Optimizer, LearningRate: cfg.LR, ClipGlobalNorm: 1,
		Schedule: train.ScheduleConfig{Kind: "linear", WarmupSteps: max(1, cfg.Steps/10), TotalSteps: cfg.Steps},
		Steps:    cfg.Steps, EvalEvery: cfg.Steps, Train: ds, Progress: cfg.Progress,
	})
	if err != nil {
		return nil, err
	}
	return res.Store, nil
}

func (cfg *TrainConfig) validate() error {
	e := cfg.Encoder
	if e.Vocab < 3 || e.Dim < 1 || e.MaxLen < 1 {
		return fmt.Errorf("retrieval: encoder vocab %d, dim %d, max length %d must be ≥ 3, 1, 1", e.Vocab, e.Dim, e.MaxLen)
	}
	if cfg.Batch < 2 || cfg.Steps < 1 || !(cfg.LR > 0) {
		return fmt.Errorf("retrieval: batch %d must be ≥ 2, steps %d ≥ 1 and LR %v > 0", cfg.Batch, cfg.Steps, cfg.LR)
	}
	if cfg.Optimizer == "" {
		cfg.Optimizer = "adamw"
	}
	return nil
}

// ADOREConfig sets ADORE (DRhard adore/train.py): the query tower is trained against a fixed
// document index; each step retrieves the top TopK documents with the current query
// embeddings and applies the LambdaLoss-style pairwise loss weighted by |1/rank_i − 1/rank_j|
// (ranks beyond MetricCut count as 1/rank = 0).
type ADOREConfig struct {
	TopK, MetricCut int
}

// adoreBatches retrieves with the current query tower and yields candidate embeddings, their
// pair weights and the query tokens.
type adoreBatches struct {
	c       *Corpus
	train   []int
	batch   int
	cfg     ADOREConfig
	docs    *Flat
	embed   *Embedder
	maxLen  int
	seed    uint64
	maxRel  int
	lastErr error
}

func (a *adoreBatches) Name() string { return "adore" }

// Iter implements the dataset: the search uses the store's current (detached) query tower.
func (a *adoreBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		r := rand.New(rand.NewPCG(a.seed, 0x61646f72))
		order := append([]int(nil), a.train...)
		pos := len(order)
		nc := a.cfg.TopK + a.maxRel
		d := a.docs.Dim
		for {
			qs := make([]int, a.batch)
			seqs := make([][]int32, a.batch)
			for i := range qs {
				if pos == len(order) {
					r.Shuffle(len(order), func(x, y int) { order[x], order[y] = order[y], order[x] })
					pos = 0
				}
				qs[i], pos = order[pos], pos+1
				seqs[i] = a.c.Queries[qs[i]]
			}
			qe, err := a.embed.Embed(seqs)
			if err != nil {
				yield(gtrain.Batch{}, err)
				return
			}
			cands := make([]float32, a.batch*nc*d)
			weights := make([]float32, a.batch*nc*nc)
			for i, q := range qs {
				top := a.docs.Search(qe[i*d:(i+1)*d], a.cfg.TopK)[0]
				labels := make([]bool, 0, nc)
				for _, doc := range top {
					labels = append(labels, slices.Contains(a.c.Rel[q], doc))
				}
				list := top
				found := false
				for _, l := range labels {
					found = found || l
				}
				if !found { // no positive retrieved: append them after the retrieved list
					for _, doc := range a.c.Rel[q] {
						list = append(list, doc)
						labels = append(labels, true)
					}
				}
				inv := make([]float64, len(list))
				for k := range list {
					if k < a.cfg.MetricCut {
						inv[k] = 1 / float64(k+1)
					}
				}
				numPos := 0.0
				for x := range list {
					for y := range list {
						if labels[x] && !labels[y] {
							numPos++
						}
					}
				}
				for k, doc := range list {
					copy(cands[(i*nc+k)*d:(i*nc+k+1)*d], a.docs.Vecs[doc*d:(doc+1)*d])
				}
				for x := range list {
					for y := range list {
						if labels[x] && !labels[y] && numPos > 0 {
							weights[(i*nc+x)*nc+y] = float32(math.Abs(inv[x]-inv[y]) / numPos / float64(a.batch))
						}
					}
				}
			}
			batch := gtrain.Batch{
				Inputs: []*tensors.Tensor{pad(seqs, a.maxLen), tensors.FromFlatDataAndDimensions(cands, a.batch, nc, d)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(weights, a.batch, nc, nc)},
			}
			if !yield(batch, nil) {
				return
			}
		}
	}
}

// adoreLoss: Σ_b Σ_{i,j: y_i > y_j} w_ij·log(1 + exp(−(s_i − s_j))) with w already divided by
// the number of positive pairs and the batch size (adore/train.py: C_pos and C_neg summed over
// both orders, divided by 2·#pos_pairs, averaged over the batch).
func adoreLoss(labels, preds []*graph.Node) *graph.Node {
	w := labels[0]
	s := preds[0]                                                      // [B, C]
	diff := graph.Sub(graph.InsertAxes(s, -1), graph.InsertAxes(s, 1)) // s_i − s_j
	return graph.ReduceAllSum(graph.Mul(w, softplus(graph.Neg(diff))))
}

// TrainADORE continues a trained tower (star, not modified) as the query tower against the
// fixed document index docs built by that same tower, and returns the new store (its tower
// encodes queries; documents keep docs).
func TrainADORE(ctx context.Context, be compute.Backend, c *Corpus, trainQ []int, star *model.Store, docs *Flat, cfg TrainConfig, ac ADOREConfig) (*model.Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if ac.TopK < 1 || ac.MetricCut < 1 {
		return nil, fmt.Errorf("retrieval adore: top-k %d and metric cut %d must be ≥ 1", ac.TopK, ac.MetricCut)
	}
	store := model.NewStore()
	for v := range star.IterVariables() {
		if !strings.HasPrefix(v.Scope(), "/tower") {
			continue // optimizer state and counters start afresh
		}
		val, err := v.Value()
		if err != nil {
			return nil, err
		}
		cl, err := val.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := store.Scope(v.Scope()).CreateVariable(v.Name(), cl); err != nil {
			return nil, err
		}
	}
	emb, err := NewEmbedder(be, store, cfg.Encoder)
	if err != nil {
		return nil, err
	}
	defer emb.Close()
	maxRel := 0
	for _, r := range c.Rel {
		maxRel = max(maxRel, len(r))
	}
	ds := &adoreBatches{c: c, train: trainQ, batch: cfg.Batch, cfg: ac, docs: docs, embed: emb, maxLen: cfg.Encoder.MaxLen, seed: uint64(cfg.Seed), maxRel: maxRel}
	enc := cfg.Encoder
	_, err = train.Run(ctx, train.Config{
		Name: "adore", Backend: be, Seed: cfg.Seed, Store: store,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			eq := enc.Encode(scope.In("tower"), in[0])                                           // [B, d]
			return []*graph.Node{graph.ReduceSum(graph.Mul(graph.InsertAxes(eq, 1), in[1]), -1)} // [B, C]
		},
		LossFn: adoreLoss, Optimizer: cfg.Optimizer, LearningRate: cfg.LR, ClipGlobalNorm: 1,
		Schedule: train.ScheduleConfig{Kind: "linear", WarmupSteps: max(1, cfg.Steps/10), TotalSteps: cfg.Steps},
		Steps:    cfg.Steps, EvalEvery: cfg.Steps, Train: ds, Progress: cfg.Progress,
	})
	if err != nil {
		return nil, err
	}
	return store, nil
}
