package retrieval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// numbered returns n sentences "Sentence k has words w_k_1 ... ." with distinct words.
func numbered(n int) string {
	var b strings.Builder
	for k := range n {
		fmt.Fprintf(&b, "Sentence s%d has the words a%d b%d c%d d%d e%d. ", k, k, k, k, k, k)
	}
	return b.String()
}

func TestBuildCorpus(t *testing.T) {
	c, err := BuildCorpus(numbered(80), CorpusConfig{ChunkSentences: 3, MinQueryWords: 4, MaxVocab: 100000, MaxDocWords: 1000})
	require.NoError(t, err)
	require.Len(t, c.Docs, 20) // sentences 0-2, 4-6, ...: 80 / 4 chunks
	require.Len(t, c.Queries, 20)
	for q, ws := range c.QueryWords {
		// Query q is sentence 4q+3; its neighbours are chunks q and q+1 (the last has no next).
		require.Equal(t, fmt.Sprintf("s%d", 4*q+3), ws[1])
		if q < 19 {
			require.Equal(t, []int{q, q + 1}, c.Rel[q])
		} else {
			require.Equal(t, []int{q}, c.Rel[q])
		}
		for _, d := range c.Rel[q] {
			require.NotContains(t, c.DocWords[d], ws[1], "the query sentence is not in the collection")
		}
	}
	require.Equal(t, "<pad>", c.Vocab[0])
	require.Len(t, c.ICT, 60, "every sentence of every document")
	for _, e := range c.ICT {
		require.Len(t, e.Rel, 1)
		require.Len(t, e.Pos, 2*10, "the other two sentences of 10 words")
	}
	_, err = BuildCorpus("Too short. Really.", DefaultCorpusConfig())
	require.ErrorContains(t, err, "at least 10")
	_, err = BuildCorpus(numbered(80), CorpusConfig{})
	require.ErrorContains(t, err, "must be ≥ 1")
	train, dev, err := c.SplitQueries(0.25, 3)
	require.NoError(t, err)
	require.Len(t, dev, 5)
	require.Len(t, train, 15)
	_, _, err = c.SplitQueries(1, 3)
	require.ErrorContains(t, err, "dev fraction 1")
}

func TestBM25(t *testing.T) {
	docs := [][]string{{"light", "rays", "light"}, {"colours", "of", "light"}, {"prism", "refraction", "of", "rays", "rays"}}
	ix, err := NewBM25(docs, 0.9, 0.4)
	require.NoError(t, err)
	got := ix.Scores([]string{"rays", "prism", "rays"})
	// Lucene's BM25: idf = ln(1 + (N − df + 0.5)/(df + 0.5)), tf·(k1+1)/(tf + k1(1 − b + b·len/avg)).
	avg := 11.0 / 3
	term := func(tf, df, l float64) float64 {
		return math.Log(1+(3-df+0.5)/(df+0.5)) * tf * 1.9 / (tf + 0.9*(0.6+0.4*l/avg))
	}
	want := []float64{term(1, 2, 3), 0, term(2, 2, 5) + term(1, 1, 5)}
	require.InDeltaSlice(t, want, got, 1e-12)
	require.Equal(t, []int{2, 0, 1}, TopK(got, 3))
	_, err = NewBM25(docs, 1, 2)
	require.ErrorContains(t, err, "b = 2")
}

func TestTopKFlatAndMetrics(t *testing.T) {
	require.Equal(t, []int{1, 3, 0}, TopK([]float64{2, 5, 1, 5}, 3), "ties: lower index first")
	r := rand.New(rand.NewPCG(1, 2))
	f := &Flat{Dim: 4}
	for range 50 * 4 {
		f.Vecs = append(f.Vecs, float32(r.NormFloat64()))
	}
	q := []float32{0.3, -1, 0.5, 2}
	top := f.Search(q, 5)[0]
	s := f.Scores(q)
	for i := 1; i < len(top); i++ {
		require.GreaterOrEqual(t, s[top[i-1]], s[top[i]])
	}
	for d := range 50 {
		if !containsInt(top, d) {
			require.LessOrEqual(t, s[d], s[top[4]])
		}
	}
	// Query 0: first relevant at rank 3 (MRR 1/3), 1 of 2 relevant in the top 10.
	// Query 1: relevant at rank 12: MRR 0, recall@10 0, recall@100 1.
	rk := [][]int{{9, 8, 1, 7}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42}}
	m, err := Evaluate(rk, [][]int{{1, 99}, {42}})
	require.NoError(t, err)
	require.InDelta(t, (1.0/3)/2, m.MRR10, 1e-12)
	require.InDelta(t, 0.5/2, m.Recall10, 1e-12)
	require.InDelta(t, (0.5+1)/2, m.Recall100, 1e-12)
	_, err = Evaluate(rk, [][]int{{1}})
	require.ErrorContains(t, err, "2 rankings for 1 queries")
}

func containsInt(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func softplusHost(x float64) float64 { return math.Log1p(math.Exp(x)) }

// TestLosses checks pairLoss against DRhard's formula and adoreLoss against adore/train.py's
// double sum (C_pos over y_i > y_j plus C_neg over y_i < y_j, weights |1/r_i − 1/r_j| with
// the cut, divided by 2·#pos_pairs), both re-stated on the host.
func TestLosses(t *testing.T) {
	be := backend.MustDefault()
	r := rand.New(rand.NewPCG(3, 4))
	const b, d = 4, 3
	e := make([]float32, 3*b*d)
	for i := range e {
		e[i] = float32(r.NormFloat64())
	}
	rel := make([]float32, b*b)
	hard := make([]float32, b*b)
	for i := range rel {
		if i%(b+1) != 0 {
			rel[i] = 1
		}
		hard[i] = float32(r.IntN(2))
	}
	got, err := graph.ExecOnce(be, func(e, rel, hard *graph.Node) *graph.Node {
		return pairLoss([]*graph.Node{rel, hard}, []*graph.Node{e})
	}, tensors.FromFlatDataAndDimensions(e, 3*b, d), tensors.FromFlatDataAndDimensions(rel, b, b), tensors.FromFlatDataAndDimensions(hard, b, b))
	require.NoError(t, err)
	dot := func(x, y int) float64 {
		s := 0.0
		for k := range d {
			s += float64(e[x*d+k]) * float64(e[y*d+k])
		}
		return s
	}
	num, den := 0.0, 0.0
	for i := range b {
		pos := dot(i, b+i)
		for j := range b {
			// −log softmax([s⁺, s⁻])₀ for the in-batch and the hard negatives.
			num += float64(rel[i*b+j]) * -math.Log(math.Exp(pos)/(math.Exp(pos)+math.Exp(dot(i, b+j))))
			num += float64(hard[i*b+j]) * -math.Log(math.Exp(pos)/(math.Exp(pos)+math.Exp(dot(i, 2*b+j))))
			den += float64(rel[i*b+j]) + float64(hard[i*b+j])
		}
	}
	require.InDelta(t, num/den, float64(tensors.MustCopyFlatData[float32](got)[0]), 1e-5)

	// ADORE: one query, 6 candidates (ranks 1..6), relevant at ranks 2 and 5, cut 4.
	scores := []float64{1.2, 0.4, -0.3, 0.9, 0.1, -1}
	labels := []bool{false, true, false, false, true, false}
	const cut = 4
	inv := func(k int) float64 {
		if k < cut {
			return 1 / float64(k+1)
		}
		return 0
	}
	var numPos float64
	var official float64
	for i := range scores {
		for j := range scores {
			w := math.Abs(inv(i) - inv(j))
			if labels[i] && !labels[j] {
				numPos++
				official += w * softplusHost(-(scores[i] - scores[j])) // C_pos
			}
			if !labels[i] && labels[j] {
				official += w * softplusHost(scores[i]-scores[j]) // C_neg
			}
		}
	}
	official /= 2 * numPos
	n := len(scores)
	weights := make([]float32, n*n)
	for i := range n {
		for j := range n {
			if labels[i] && !labels[j] {
				weights[i*n+j] = float32(math.Abs(inv(i)-inv(j)) / numPos)
			}
		}
	}
	s32 := make([]float32, n)
	for i, v := range scores {
		s32[i] = float32(v)
	}
	got, err = graph.ExecOnce(be, func(w, s *graph.Node) *graph.Node {
		return adoreLoss([]*graph.Node{w}, []*graph.Node{s})
	}, tensors.FromFlatDataAndDimensions(weights, 1, n, n), tensors.FromFlatDataAndDimensions(s32, 1, n))
	require.NoError(t, err)
	require.InDelta(t, official, float64(tensors.MustCopyFlatData[float32](got)[0]), 1e-6)
}

// TestTrainingLearns trains each scheme briefly on a synthetic collection where each query
// shares rare words with its documents, and checks the dense tower beats an untrained one; then
// ADORE continues STAR without changing the document index.
func TestTrainingLearns(t *testing.T) {
	be := backend.MustDefault()
	c, err := BuildCorpus(numberedTopics(240), CorpusConfig{ChunkSentences: 3, MinQueryWords: 4, MaxVocab: 5000, MaxDocWords: 60})
	require.NoError(t, err)
	trainQ, devQ, err := c.SplitQueries(0.25, 1)
	require.NoError(t, err)
	enc := Encoder{Vocab: len(c.Vocab), Dim: 16, MaxLen: 60}
	cfg := TrainConfig{Encoder: enc, Batch: 16, Steps: 150, LR: 5e-3, Seed: 2}
	ctx := context.Background()
	eval := func(docs, queries *model.Store) (float64, *Flat) {
		de, err := NewEmbedder(be, docs, enc)
		require.NoError(t, err)
		dv, err := de.Embed(c.Docs)
		require.NoError(t, err)
		de.Close()
		qe, err := NewEmbedder(be, queries, enc)
		require.NoError(t, err)
		defer qe.Close()
		var seqs [][]int32
		var rel [][]int
		for _, q := range devQ {
			seqs, rel = append(seqs, c.Queries[q]), append(rel, c.Rel[q])
		}
		qv, err := qe.Embed(seqs)
		require.NoError(t, err)
		f := &Flat{Dim: enc.Dim, Vecs: dv}
		m, err := Evaluate(f.Search(qv, 100), rel)
		require.NoError(t, err)
		return m.MRR10, f
	}
	untrainedCfg := cfg
	untrainedCfg.LR, untrainedCfg.Steps = 1e-9, 2
	untrained, err := TrainPairs(ctx, be, c, c.Examples(trainQ), Negatives{}, untrainedCfg)
	require.NoError(t, err)
	base, _ := eval(untrained, untrained)
	examples := append(c.Examples(trainQ), c.ICT...)
	star, err := TrainPairs(ctx, be, c, examples, Negatives{InBatch: true}, cfg)
	require.NoError(t, err)
	mrr, index := eval(star, star)
	require.Greater(t, mrr, base+0.2, "trained %.3f vs untrained %.3f", mrr, base)
	acfg := cfg
	acfg.Steps, acfg.LR = 40, 1e-3
	adore, err := TrainADORE(ctx, be, c, trainQ, star, index, acfg, ADOREConfig{TopK: 20, MetricCut: 10})
	require.NoError(t, err)
	after, _ := eval(star, adore)
	require.Greater(t, after, base+0.2)
	_, err = TrainADORE(ctx, be, c, trainQ, star, index, acfg, ADOREConfig{})
	require.ErrorContains(t, err, "top-k 0")
	_, err = TrainPairs(ctx, be, c, examples[:3], Negatives{}, cfg)
	require.ErrorContains(t, err, "fewer than the batch")
	_, err = SchemeByName("dpr")
	require.ErrorContains(t, err, `unknown retrieval_negatives "dpr"`)
}

// numberedTopics is a text of n sentences in topics of 8: each topic's sentences share two
// topic words, so a query (one held-out sentence) is answerable from its neighbours' words.
func numberedTopics(n int) string {
	var b strings.Builder
	for k := range n {
		topic := k / 8
		fmt.Fprintf(&b, "Topic t%d and u%d say filler%d here now. ", topic, topic, k%5)
	}
	return b.String()
}
