package retrieval

import (
	"container/heap"
	"fmt"
	"math"
)

// BM25 is an Okapi BM25 index (Robertson & Zaragoza 2009) over word lists, with
// idf = ln(1 + (N − df + 0.5)/(df + 0.5)) as Lucene/Anserini compute it.
type BM25 struct {
	K1, B    float64
	postings map[string][]posting
	docLen   []float64
	avgLen   float64
}

type posting struct {
	doc int
	tf  float64
}

// NewBM25 indexes docs with k1 and b (Anserini's MS MARCO passage defaults: 0.82, 0.68; its
// general defaults 0.9, 0.4).
func NewBM25(docs [][]string, k1, b float64) (*BM25, error) {
	if !(k1 >= 0) || !(b >= 0 && b <= 1) {
		return nil, fmt.Errorf("bm25: k1 = %v must be ≥ 0 and b = %v in [0, 1]", k1, b)
	}
	ix := &BM25{K1: k1, B: b, postings: map[string][]posting{}, docLen: make([]float64, len(docs))}
	total := 0.0
	for d, ws := range docs {
		tf := map[string]float64{}
		for _, w := range ws {
			tf[w]++
		}
		for w, n := range tf {
			ix.postings[w] = append(ix.postings[w], posting{d, n})
		}
		ix.docLen[d] = float64(len(ws))
		total += float64(len(ws))
	}
	ix.avgLen = total / float64(max(1, len(docs)))
	return ix, nil
}

// Scores returns the BM25 score of every document for the query words.
func (ix *BM25) Scores(query []string) []float64 {
	s := make([]float64, len(ix.docLen))
	n := float64(len(ix.docLen))
	seen := map[string]bool{}
	for _, w := range query {
		if seen[w] {
			continue // each query term once, as Lucene's BooleanQuery of unique terms
		}
		seen[w] = true
		ps := ix.postings[w]
		if len(ps) == 0 {
			continue
		}
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			norm := ix.K1 * (1 - ix.B + ix.B*ix.docLen[p.doc]/ix.avgLen)
			s[p.doc] += idf * p.tf * (ix.K1 + 1) / (p.tf + norm)
		}
	}
	return s
}

// TopK returns the indices of the k largest scores, best first (ties: lower index first).
func TopK(scores []float64, k int) []int {
	k = min(k, len(scores))
	h := &minHeap{}
	for i, s := range scores {
		if h.Len() < k {
			heap.Push(h, scored{i, s})
		} else if better(scored{i, s}, (*h)[0]) {
			(*h)[0] = scored{i, s}
			heap.Fix(h, 0)
		}
	}
	out := make([]int, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(scored).i
	}
	return out
}

type scored struct {
	i int
	s float64
}

// better orders by score, then lower index.
func better(a, b scored) bool { return a.s > b.s || (a.s == b.s && a.i < b.i) }

type minHeap []scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Flat is an exact inner-product index over dense vectors (faiss's IndexFlatIP).
type Flat struct {
	Dim  int
	Vecs []float32 // row-major, one row per document
}

// N is the number of indexed vectors.
func (f *Flat) N() int { return len(f.Vecs) / f.Dim }

// Scores returns ⟨q, v_d⟩ for every document.
func (f *Flat) Scores(q []float32) []float64 {
	n := f.N()
	s := make([]float64, n)
	for d := range n {
		v := f.Vecs[d*f.Dim : (d+1)*f.Dim]
		acc := float32(0)
		for j, x := range q {
			acc += x * v[j]
		}
		s[d] = float64(acc)
	}
	return s
}

// Search returns the top-k documents of each query vector (rows of qs), best first.
func (f *Flat) Search(qs []float32, k int) [][]int {
	nq := len(qs) / f.Dim
	out := make([][]int, nq)
	for i := range nq {
		out[i] = TopK(f.Scores(qs[i*f.Dim:(i+1)*f.Dim]), k)
	}
	return out
}

// Metrics are the MS MARCO measures of a ranking: MRR@10 (reciprocal rank of the first
// relevant document within the top 10, else 0) and recall@k (the fraction of a query's relevant
// documents within the top k), averaged over queries.
type Metrics struct {
	MRR10, Recall10, Recall100 float64
}

// Evaluate computes Metrics for rankings (best first) against rel.
func Evaluate(rankings [][]int, rel [][]int) (Metrics, error) {
	if len(rankings) != len(rel) || len(rel) == 0 {
		return Metrics{}, fmt.Errorf("retrieval: %d rankings for %d queries", len(rankings), len(rel))
	}
	var m Metrics
	for q, rk := range rankings {
		relSet := map[int]bool{}
		for _, d := range rel[q] {
			relSet[d] = true
		}
		if len(relSet) == 0 {
			return Metrics{}, fmt.Errorf("retrieval: query %d has no relevant document", q)
		}
		for i, d := range rk {
			if relSet[d] && i < 10 {
				m.MRR10 += 1 / float64(i+1)
				break
			}
		}
		hit10, hit100 := 0, 0
		for i, d := range rk {
			if relSet[d] {
				if i < 10 {
					hit10++
				}
				if i < 100 {
					hit100++
				}
			}
		}
		m.Recall10 += float64(hit10) / float64(len(relSet))
		m.Recall100 += float64(hit100) / float64(len(relSet))
	}
	n := float64(len(rankings))
	m.MRR10, m.Recall10, m.Recall100 = m.MRR10/n, m.Recall10/n, m.Recall100/n
	return m, nil
}
