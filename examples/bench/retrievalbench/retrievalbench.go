// Package retrievalbench is the `retrieval` benchmark: dense retrieval trained with hard
// negatives, STAR and ADORE (Zhan et al., "Optimizing dense retrieval model training with hard
// negatives", SIGIR 2021), against random negatives, static BM25 negatives and BM25 itself.
//
// The collection is cut from moe-lm's text (Newton's Opticks, or -text FILE) by
// retrieval.BuildCorpus: 3-sentence documents separated by held-out sentences, each a query
// whose relevant documents are its two neighbours. The queries are split 80/20 (by seed) into
// training and dev queries; training adds the inverse-cloze pairs of the documents (each of a
// document's sentences as a query for the rest of it). Every dense arm trains the same tower
// (mean-pooled embeddings, Linear, LayerNorm; d 64) for the same steps with AdamW:
//
//	bm25        Okapi BM25 (k1 0.9, b 0.4), no training: the anchor
//	rand-neg    one random negative per query, shared across the batch (DRhard randneg_train)
//	bm25-neg    one static negative from the query's BM25 top 200 (the paper's Hard-Neg)
//	star        STAR: in-batch negatives plus static hard negatives from the rand-neg model's
//	            top 200, shared across the batch (inbatch_train with hard_pair_mask)
//	star+adore  ADORE on top of STAR: the query tower trained against STAR's fixed document index
//	            with dynamic top-100 negatives and |Δ(1/rank)| weights (MRR@10 cut)
//
// Metrics on the dev queries: MRR@10, recall@10 and recall@100 (the collection is small, so
// recall@100 is near its ceiling for every arm).
package retrievalbench

import (
	"context"
	"fmt"
	"os"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/moelm"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/retrieval"
)

func init() {
	suite.Register("retrieval", suite.Func{
		Desc: "dense retrieval with hard negatives (STAR, ADORE) vs random negatives, BM25 negatives and BM25 on a corpus cut from the text (MRR@10, recall@10/100); -text FILE",
		Fn:   run,
	})
}

// Setup sizes one run.
type Setup struct {
	Dim, Batch, Steps, AdoreSteps int
	LR, AdoreLR                   float64
	Seeds                         int
}

// DefaultSetup is the full run or the quick one.
func DefaultSetup(quick bool) Setup {
	s := Setup{Dim: 64, Batch: 32, Steps: 1500, AdoreSteps: 750, LR: 2e-3, AdoreLR: 4e-4, Seeds: 3}
	if quick {
		s.Steps, s.AdoreSteps, s.Seeds = 500, 250, 1
	}
	return s
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	s := DefaultSetup(opts.Quick)
	s.Seeds = opts.SeedsOr(s.Seeds, 1)
	if opts.DataFile != "" {
		opts.Logf("retrieval: -data does not apply (a text collection: use -text FILE); running on the text")
	}
	text := moelm.Opticks()
	name := "Opticks"
	if opts.TextFile != "" {
		raw, err := os.ReadFile(opts.TextFile)
		if err != nil {
			return nil, fmt.Errorf("retrieval: -text: %w", err)
		}
		text, name = string(raw), opts.TextFile
	}
	c, err := retrieval.BuildCorpus(text, retrieval.DefaultCorpusConfig())
	if err != nil {
		return nil, err
	}
	return Run(ctx, opts, s, c, name)
}

var arms = []string{"bm25", "rand-neg", "bm25-neg", "star", "star+adore"}

// Run runs the benchmark on corpus c.
func Run(ctx context.Context, opts suite.Options, s Setup, c *retrieval.Corpus, name string) ([]suite.Result, error) {
	if s.Seeds < 1 || s.Steps < 1 || s.AdoreSteps < 1 {
		return nil, fmt.Errorf("retrieval: bad setup %+v (seeds and steps ≥ 1)", s)
	}
	bm, err := retrieval.NewBM25(c.DocWords, 0.9, 0.4)
	if err != nil {
		return nil, err
	}
	enc := retrieval.Encoder{Vocab: len(c.Vocab), Dim: s.Dim, MaxLen: retrieval.DefaultCorpusConfig().MaxDocWords}
	type metric struct{ mrr, r10, r100 []float64 }
	res := map[string]*metric{}
	for _, a := range arms {
		res[a] = &metric{}
	}
	add := func(arm string, m retrieval.Metrics) {
		r := res[arm]
		r.mrr, r.r10, r.r100 = append(r.mrr, m.MRR10), append(r.r10, m.Recall10), append(r.r100, m.Recall100)
	}
	prog := suite.NewProgress(s.Seeds*len(arms), "retrieval")
	defer prog.Done()
	var nTrain, nDev int
	for seed := 1; seed <= s.Seeds; seed++ {
		trainQ, devQ, err := c.SplitQueries(0.2, uint64(seed))
		if err != nil {
			return nil, err
		}
		nTrain, nDev = len(trainQ), len(devQ)
		devRel := make([][]int, len(devQ))
		devSeqs := make([][]int32, len(devQ))
		for i, q := range devQ {
			devRel[i], devSeqs[i] = c.Rel[q], c.Queries[q]
		}
		var rk [][]int
		for _, q := range devQ {
			rk = append(rk, retrieval.TopK(bm.Scores(c.QueryWords[q]), 100))
		}
		m, err := retrieval.Evaluate(rk, devRel)
		if err != nil {
			return nil, err
		}
		add("bm25", m)
		prog.Add(1)

		// dense evaluates a document tower (and a query tower, when different) on the dev queries.
		dense := func(docStore, queryStore *model.Store) (retrieval.Metrics, *retrieval.Flat, error) {
			de, err := retrieval.NewEmbedder(opts.Backend, docStore, enc)
			if err != nil {
				return retrieval.Metrics{}, nil, err
			}
			dv, err := de.Embed(c.Docs)
			de.Close()
			if err != nil {
				return retrieval.Metrics{}, nil, err
			}
			qe, err := retrieval.NewEmbedder(opts.Backend, queryStore, enc)
			if err != nil {
				return retrieval.Metrics{}, nil, err
			}
			defer qe.Close()
			qv, err := qe.Embed(devSeqs)
			if err != nil {
				return retrieval.Metrics{}, nil, err
			}
			f := &retrieval.Flat{Dim: s.Dim, Vecs: dv}
			m, err := retrieval.Evaluate(f.Search(qv, 100), devRel)
			return m, f, err
		}
		examples := append(c.Examples(trainQ), c.ICT...)
		cfg := retrieval.TrainConfig{Encoder: enc, Batch: s.Batch, Steps: s.Steps, LR: s.LR, Seed: int64(seed)}
		trainArm := func(arm string, neg retrieval.Negatives) (*model.Store, *retrieval.Flat, error) {
			st, err := retrieval.TrainPairs(ctx, opts.Backend, c, examples, neg, cfg)
			if err != nil {
				return nil, nil, fmt.Errorf("retrieval %s seed %d: %w", arm, seed, err)
			}
			m, f, err := dense(st, st)
			if err != nil {
				return nil, nil, err
			}
			add(arm, m)
			prog.Add(1)
			return st, f, nil
		}
		warm, warmIndex, err := trainArm("rand-neg", retrieval.Negatives{})
		if err != nil {
			return nil, err
		}
		bmPool := func(i int) []int { return retrieval.TopK(bm.Scores(examples[i].Words), 200) }
		if _, _, err := trainArm("bm25-neg", retrieval.Negatives{Pool: bmPool}); err != nil {
			return nil, err
		}
		// STAR's static hard negatives: the warm-up (rand-neg) model's top 200 per example.
		we, err := retrieval.NewEmbedder(opts.Backend, warm, enc)
		if err != nil {
			return nil, err
		}
		qs := make([][]int32, len(examples))
		for i, e := range examples {
			qs[i] = e.Query
		}
		qv, err := we.Embed(qs)
		we.Close()
		if err != nil {
			return nil, err
		}
		hard := warmIndex.Search(qv, 200)
		star, starIndex, err := trainArm("star", retrieval.Negatives{InBatch: true, Pool: func(i int) []int { return hard[i] }})
		if err != nil {
			return nil, err
		}
		acfg := cfg
		acfg.Steps, acfg.LR = s.AdoreSteps, s.AdoreLR
		adore, err := retrieval.TrainADORE(ctx, opts.Backend, c, trainQ, star, starIndex, acfg, retrieval.ADOREConfig{TopK: 100, MetricCut: 10})
		if err != nil {
			return nil, fmt.Errorf("retrieval star+adore seed %d: %w", seed, err)
		}
		if m, _, err = dense(star, adore); err != nil {
			return nil, err
		}
		add("star+adore", m)
		prog.Add(1)
	}
	var rows []suite.Result
	for _, a := range arms {
		steps := s.Steps
		switch a {
		case "bm25":
			steps = 0
		case "star+adore":
			steps = s.Steps + s.AdoreSteps
		}
		for _, mt := range []struct {
			name string
			v    []float64
		}{{"mrr@10", res[a].mrr}, {"recall@10", res[a].r10}, {"recall@100", res[a].r100}} {
			r := suite.Row("retrieval", "ict", a, mt.name, mt.v, 0, steps)
			r.Extra["higher_is_better"] = true
			r.Extra["corpus"] = name
			r.Extra["documents"], r.Extra["train_queries"], r.Extra["dev_queries"], r.Extra["ict_pairs"] = len(c.Docs), nTrain, nDev, len(c.ICT)
			if a == "bm25" {
				r = r.AsAnchor()
			}
			rows = append(rows, r)
		}
	}
	opts.Logf("\nretrieval on %s: %d documents, %d train + %d dev queries, %d inverse-cloze pairs (mean ± std over %d seed(s))", name, len(c.Docs), nTrain, nDev, len(c.ICT), s.Seeds)
	if opts.Out != nil {
		suite.PrintTable(opts.Out, rows)
	}
	return rows, nil
}
