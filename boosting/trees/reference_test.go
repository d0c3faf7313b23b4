package trees

import (
	"math"
	"slices"
	"sort"
)

// refTree is GBRL's tree builder re-stated by brute force (Reference code: NVlabs/gbrl
// fitter.cpp fit_greedy_tree / fit_oblivious_tree, node.cpp split scores,
// split_candidate_generator.cpp): every candidate of every node is scored by one pass over the
// node's samples. The histogram builder must choose the same splits.
type refCand struct {
	f     int
	thr   float32
	cat   string
	isCat bool
}

type refNode struct {
	rows  []int
	conds []refCond
}

type refCond struct {
	c     refCand
	right bool
}

type refLeaf struct {
	conds []refCond
	value []float64
}

func refCandidates(d *Data, grads []float32, k int, cfg TreeConfig) []refCand {
	var out []refCand
	for f := 0; f < d.NumFeatures; f++ {
		var vals []float32
		for r := 0; r < d.N; r++ {
			vals = append(vals, d.Num[r*d.NumFeatures+f])
		}
		var thr []float32
		if cfg.Split == Uniform {
			lo, hi := slices.Min(vals), slices.Max(vals)
			thr = uniformThresholds(nil, lo, hi, cfg.Bins)
		} else {
			sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
			thr = quantileThresholds(nil, vals, cfg.Bins)
		}
		for _, t := range thr {
			out = append(out, refCand{f: f, thr: t})
		}
	}
	for c := 0; c < d.CatFeatures; c++ {
		seen := map[string]bool{}
		var vals []string
		for r := 0; r < d.N; r++ {
			v := d.Cat[r*d.CatFeatures+c]
			if !seen[v] {
				seen[v] = true
				vals = append(vals, v)
			}
		}
		sort.Strings(vals)
		for _, v := range vals {
			out = append(out, refCand{f: d.NumFeatures + c, cat: v, isCat: true})
		}
	}
	return out
}

func refRight(d *Data, r int, c refCand) bool {
	if c.isCat {
		return d.Cat[r*d.CatFeatures+c.f-d.NumFeatures] == c.cat
	}
	return d.Num[r*d.NumFeatures+c.f] > c.thr
}

// refBuild returns the build gradients (standardized for L2) and squared norms of the raw ones.
func refBuild(grads []float32, n, k int, cfg TreeConfig) (build []float64, norms []float64) {
	build = make([]float64, n*k)
	norms = make([]float64, n)
	for i, v := range grads {
		build[i] = float64(v)
		norms[i/k] += float64(v) * float64(v)
	}
	if cfg.Score == L2 && !cfg.NoStandardize {
		for j := 0; j < k; j++ {
			var m, v float64
			for r := 0; r < n; r++ {
				m += build[r*k+j]
			}
			m /= float64(n)
			for r := 0; r < n; r++ {
				v += (build[r*k+j] - m) * (build[r*k+j] - m)
			}
			sd := math.Sqrt(v / float64(n))
			for r := 0; r < n; r++ {
				if sd > 0 {
					build[r*k+j] = (build[r*k+j] - m) / sd
				} else {
					build[r*k+j] = 0
				}
			}
		}
	}
	return build, norms
}

// refChildScore scores one child by brute force.
func refChildScore(rows []int, build, norms []float64, k int, cfg TreeConfig) float64 {
	n := float64(len(rows))
	mean := make([]float64, k)
	var q float64
	for _, r := range rows {
		for j := 0; j < k; j++ {
			mean[j] += build[r*k+j]
		}
		q += norms[r]
	}
	if len(rows) == 0 {
		return 0
	}
	for j := range mean {
		mean[j] /= n
	}
	var sq float64
	for _, v := range mean {
		sq += v * v
	}
	if cfg.Score == L2 {
		return n * n * sq / (n + cfg.Lambda) // ||S||^2/(n+lambda) = n ||mean||^2 for lambda 0
	}
	// cosine_dist: (sum_i <g_i, mean> / (||mean|| sqrt(q))) * n
	var dot float64
	for _, r := range rows {
		for j := 0; j < k; j++ {
			dot += build[r*k+j] * mean[j]
		}
	}
	den := math.Sqrt(sq) * math.Sqrt(q)
	if den == 0 {
		return 0
	}
	return dot / den * n
}

func refSplitScore(d *Data, rows []int, c refCand, build, norms []float64, k int, cfg TreeConfig) float64 {
	var l, r []int
	for _, i := range rows {
		if refRight(d, i, c) {
			r = append(r, i)
		} else {
			l = append(l, i)
		}
	}
	if len(l) < cfg.MinDataInLeaf || len(r) < cfg.MinDataInLeaf {
		return math.Inf(-1)
	}
	return refChildScore(l, build, norms, k, cfg) + refChildScore(r, build, norms, k, cfg)
}

func refFeatureWeight(cfg TreeConfig, f int) float64 {
	if cfg.FeatureWeights == nil {
		return 1
	}
	return cfg.FeatureWeights[f]
}

func refGrow(d *Data, grads []float32, k int, cfg TreeConfig) []refLeaf {
	cfg = cfg.WithDefaults()
	cands := refCandidates(d, grads, k, cfg)
	build, norms := refBuild(grads, d.N, k, cfg)
	all := make([]int, d.N)
	for i := range all {
		all[i] = i
	}
	leafValue := func(rows []int) []float64 {
		v := make([]float64, k)
		for _, r := range rows {
			for j := 0; j < k; j++ {
				v[j] += float64(grads[r*k+j])
			}
		}
		for j := range v {
			if den := float64(len(rows)) + cfg.Lambda; den > 0 {
				v[j] /= den
			}
		}
		return v
	}
	split := func(nd refNode, c refCand) (refNode, refNode) {
		var l, r refNode
		for _, i := range nd.rows {
			if refRight(d, i, c) {
				r.rows = append(r.rows, i)
			} else {
				l.rows = append(l.rows, i)
			}
		}
		l.conds = append(slices.Clone(nd.conds), refCond{c, false})
		r.conds = append(slices.Clone(nd.conds), refCond{c, true})
		return l, r
	}
	var leaves []refLeaf
	if cfg.Grow == Greedy {
		stack := []refNode{{rows: all}}
		for len(stack) > 0 {
			nd := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			depth := len(nd.conds)
			best, bi := math.Inf(-1), -1
			if depth < cfg.MaxDepth && len(nd.rows) > 0 {
				parent := refChildScore(nd.rows, build, norms, k, cfg)
				if depth == 0 {
					parent = 0
				}
				for i, c := range cands {
					s := refSplitScore(d, nd.rows, c, build, norms, k, cfg)*refFeatureWeight(cfg, c.f) - parent
					if s > best {
						best, bi = s, i
					}
				}
			}
			if bi >= 0 && best >= cfg.MinSplitGain {
				l, r := split(nd, cands[bi])
				stack = append(stack, r, l)
				continue
			}
			leaves = append(leaves, refLeaf{conds: nd.conds, value: leafValue(nd.rows)})
		}
		return leaves
	}
	level := []refNode{{rows: all}}
	parent := 0.0
	for depth := 0; depth < cfg.MaxDepth; depth++ {
		best, bi := math.Inf(-1), -1
		for i, c := range cands {
			s := 0.0
			for _, nd := range level {
				s += refSplitScore(d, nd.rows, c, build, norms, k, cfg)
			}
			s = s*refFeatureWeight(cfg, c.f) - parent
			if s > best {
				best, bi = s, i
			}
		}
		if math.IsInf(best, -1) {
			break
		}
		parent = best
		var next []refNode
		for _, nd := range level {
			l, r := split(nd, cands[bi])
			next = append(next, l, r)
		}
		level = next
	}
	for _, nd := range level {
		leaves = append(leaves, refLeaf{conds: nd.conds, value: leafValue(nd.rows)})
	}
	return leaves
}

// refPredict returns the leaf value of row r of d.
func refPredict(leaves []refLeaf, d *Data, r int) []float64 {
	for _, l := range leaves {
		ok := true
		for _, c := range l.conds {
			if refRight(d, r, c.c) != c.right {
				ok = false
				break
			}
		}
		if ok {
			return l.value
		}
	}
	return nil
}
