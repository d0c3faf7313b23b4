package trees

import (
	"math"
	"sync"
)

const (
	scoreL2 = iota
	scoreCosCode
	scoreCosPaper
)

// scorer evaluates node and split scores from statistics vectors [S_0..S_{K-1}, n, Q]: the
// sums of the raw gradients, the sample count and (cosine) the sum of squared gradient norms.
type scorer struct {
	kind    int
	k       int
	lambda  float64
	std     bool      // L2 on standardized gradients
	mu, inv []float64 // per-column mean and 1/std (std)
	minData float64
}

// child is one child's score (L2 and code-form cosine; a split's score is the sum over its two
// children).
func (s *scorer) child(st []float64) float64 {
	k := s.k
	n := st[k]
	switch s.kind {
	case scoreL2:
		den := n + s.lambda
		if den <= 0 {
			return 0
		}
		var sum float64
		if s.std {
			for j := 0; j < k; j++ {
				v := (st[j] - n*s.mu[j]) * s.inv[j] // sum of standardized gradients
				sum += v * v
			}
		} else {
			for j := 0; j < k; j++ {
				sum += st[j] * st[j]
			}
		}
		return sum / den // ||S||^2/(n+lambda) = n*||mean||^2 for lambda = 0
	default: // cosine, GBRL's code form: n * ||S|| / sqrt(Q)
		if n <= 0 {
			return 0
		}
		var sum float64
		for j := 0; j < k; j++ {
			sum += st[j] * st[j]
		}
		q := st[k+1]
		if sum == 0 || q <= 0 {
			return 0
		}
		return n * math.Sqrt(sum) / math.Sqrt(q)
	}
}

// sqOverN returns ||S||^2/n (0 for an empty node).
func sqOverN(st []float64, k int) float64 {
	n := st[k]
	if n <= 0 {
		return 0
	}
	var sum float64
	for j := 0; j < k; j++ {
		sum += st[j] * st[j]
	}
	return sum / n
}

// pair is the score of splitting into children l and r, or -Inf when a child has fewer than
// MinDataInLeaf samples.
func (s *scorer) pair(l, r []float64) float64 {
	if l[s.k] < s.minData || r[s.k] < s.minData {
		return math.Inf(-1)
	}
	if s.kind == scoreCosPaper {
		return math.Sqrt(sqOverN(l, s.k) + sqOverN(r, s.k))
	}
	return s.child(l) + s.child(r)
}

// node is a node's own score (subtracted from its split scores).
func (s *scorer) node(st []float64) float64 {
	if s.kind == scoreCosPaper {
		return math.Sqrt(sqOverN(st, s.k))
	}
	return s.child(st)
}

// gnode is a node being grown: its rows are idx[lo:hi].
type gnode struct {
	lo, hi int
	hist   []float64 // [totalBins*S], nil when not needed
	tot    []float64 // [S]
	depth  int
	parent int32 // internal node index of the parent, -1 for the root
	right  bool  // which child of the parent
}

func (n *gnode) count() int { return n.hi - n.lo }

// grower grows trees on one binned batch; it keeps scratch buffers between trees.
type grower struct {
	cfg    TreeConfig
	k, s   int // outputs, stats stride (k+1, +1 with Q)
	withQ  bool
	b      *binned
	g      []float32 // [n*k] raw gradients
	q      []float64 // [n] squared gradient norms (cosine)
	sc     scorer
	fw     []float64 // feature weights (nil: all 1)
	idx    []int32
	tmp    []int32
	pool   [][]float64
	thread [][]float64
	left   []float64
	right  []float64
	cand   []float64
	// left2, right2: scratch for the missing-goes-right candidates; bestMR is bestSplit's
	// default direction for missing values (true: right).
	left2, right2 []float64
	bestMR        bool
	scores        []float64
	// leafRows[l] is the row range idx[lo:hi] of leaf l of the last tree.
	leafRows [][2]int
	// Packed single-output mode (see packGradients): packed[r] = q_r<<packBits | 1.
	pack    bool
	packed  []int64
	unscale float64
	ithread [][]int64
}

// packBits is the width of the count field of a packed histogram cell.
const packBits = 20

// packGradients prepares the packed mode for one output without Q (squared-loss regression
// and every single-output L2 step on fewer than 2^20 rows): each gradient is rounded to a
// multiple of u = n*max|g|/2^42 and stored as q = g/u in the high bits of an int64 whose low
// 20 bits hold a count of 1, so that one integer addition accumulates both the gradient sum and
// the count of a histogram cell, exactly (|sum q| < 2^42, counts < 2^20). The rounding is at
// most u/2, about 1e-8 of the largest gradient for 10^5 rows: float32 precision.
func (g *grower) packGradients() {
	n := g.b.n
	g.pack = g.k == 1 && !g.withQ && n < 1<<packBits
	if !g.pack {
		return
	}
	maxAbs := 0.0
	for _, v := range g.g[:n] {
		maxAbs = max(maxAbs, math.Abs(float64(v)))
	}
	scale := 1.0
	if maxAbs > 0 {
		scale = math.Ldexp(1, 42) / (float64(n) * maxAbs)
	}
	g.unscale = 1 / scale
	g.packed = resize(g.packed, n)
	parallelFor(n, g.cfg.Threads, func(lo, hi, _ int) {
		for r, v := range g.g[lo:hi] {
			x := float64(v) * scale
			q := int64(x + 0.5) // round half away from zero
			if x < 0 {
				q = int64(x - 0.5)
			}
			g.packed[lo+r] = q<<packBits | 1
		}
	})
}

// accumulatePacked adds the packed cells of rows into ih ([totalBins]).
func (g *grower) accumulatePacked(ih []int64, rows []int32) {
	nf := g.b.nf
	bins, off := g.b.bins, g.b.off[:nf]
	packed := g.packed
	// Four features per pass with independent index arithmetic (more loads in flight).
	for _, r := range rows {
		p := packed[r]
		base := int(r) * nf
		rb := bins[base : base+nf : base+nf]
		f := 0
		for ; f+4 <= nf; f += 4 {
			i0 := off[f] + int(rb[f])
			i1 := off[f+1] + int(rb[f+1])
			i2 := off[f+2] + int(rb[f+2])
			i3 := off[f+3] + int(rb[f+3])
			ih[i0] += p
			ih[i1] += p
			ih[i2] += p
			ih[i3] += p
		}
		for ; f < nf; f++ {
			ih[off[f]+int(rb[f])] += p
		}
	}
}

// unpack decodes packed cells into [sum, count] float64 cells.
func (g *grower) unpack(dst []float64, ih []int64) {
	const mask = 1<<packBits - 1
	for i, v := range ih {
		dst[2*i] = float64(v>>packBits) * g.unscale
		dst[2*i+1] = float64(v & mask)
	}
}

func (g *grower) getHist() []float64 {
	size := g.b.totalBins() * g.s
	if n := len(g.pool); n > 0 {
		h := g.pool[n-1]
		g.pool = g.pool[:n-1]
		if cap(h) >= size {
			return h[:size]
		}
	}
	return make([]float64, size)
}

func (g *grower) putHist(h []float64) {
	if h != nil {
		g.pool = append(g.pool, h)
	}
}

// parMinWork is the rows*features below which a histogram is built on one goroutine.
const parMinWork = 1 << 16

// buildHist accumulates the statistics of rows into dst (overwritten).
func (g *grower) buildHist(dst []float64, rows []int32) {
	if g.pack {
		g.buildPacked(dst, rows)
		return
	}
	threads := g.cfg.Threads
	if len(rows)*g.b.nf < parMinWork || threads <= 1 {
		clear(dst)
		g.accumulate(dst, rows)
		return
	}
	if threads > len(rows) {
		threads = len(rows)
	}
	for len(g.thread) < threads {
		g.thread = append(g.thread, nil)
	}
	chunk := (len(rows) + threads - 1) / threads
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		if lo >= hi {
			break
		}
		buf := dst
		if w > 0 {
			buf = resize(g.thread[w], len(dst))
			g.thread[w] = buf
		}
		wg.Add(1)
		go func(buf []float64, part []int32) {
			defer wg.Done()
			clear(buf)
			g.accumulate(buf, part)
		}(buf, rows[lo:hi])
	}
	wg.Wait()
	for w := 1; w < threads; w++ {
		if w*chunk >= len(rows) {
			break
		}
		addTo(dst, g.thread[w])
	}
}

func (g *grower) buildPacked(dst []float64, rows []int32) {
	threads := g.cfg.Threads
	if len(rows)*g.b.nf < parMinWork || threads <= 1 {
		threads = 1
	}
	threads = max(1, min(threads, len(rows)))
	for len(g.ithread) < threads {
		g.ithread = append(g.ithread, nil)
	}
	nb := g.b.totalBins()
	chunk := (len(rows) + threads - 1) / threads
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(rows))
		g.ithread[w] = resize(g.ithread[w], nb)
		clear(g.ithread[w])
		if lo >= hi {
			continue
		}
		if threads == 1 {
			g.accumulatePacked(g.ithread[0], rows)
			break
		}
		wg.Add(1)
		go func(buf []int64, part []int32) {
			defer wg.Done()
			g.accumulatePacked(buf, part)
		}(g.ithread[w], rows[lo:hi])
	}
	wg.Wait()
	ih := g.ithread[0]
	for w := 1; w < threads; w++ {
		for i, v := range g.ithread[w][:nb] {
			ih[i] += v
		}
	}
	g.unpack(dst, ih)
}

func addTo(dst, src []float64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func subFrom(dst, src []float64) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] -= src[i]
	}
}

// accumulate adds the statistics of rows into h.
func (g *grower) accumulate(h []float64, rows []int32) {
	nf, k, s := g.b.nf, g.k, g.s
	bins, off := g.b.bins, g.b.off[:nf]
	if k == 1 && !g.withQ { // squared-loss regression: [S, n] per bin
		grad := g.g
		for _, r := range rows {
			gv := float64(grad[r])
			base := int(r) * nf
			rb := bins[base : base+nf : base+nf]
			for f, bv := range rb {
				i := (off[f] + int(bv)) << 1
				c := h[i : i+2 : i+2]
				c[0] += gv
				c[1]++
			}
		}
		return
	}
	for _, r := range rows {
		gr := g.g[int(r)*k : int(r)*k+k]
		base := int(r) * nf
		rb := bins[base : base+nf : base+nf]
		var qv float64
		if g.withQ {
			qv = g.q[r]
		}
		for f, bv := range rb {
			i := (off[f] + int(bv)) * s
			c := h[i : i+s : i+s]
			for j, v := range gr {
				c[j] += float64(v)
			}
			c[k]++
			if g.withQ {
				c[k+1] += qv
			}
		}
	}
}

// rowStats sums the statistics of rows directly.
func (g *grower) rowStats(dst []float64, rows []int32) {
	clear(dst)
	k := g.k
	for _, r := range rows {
		for j, v := range g.g[int(r)*k : int(r)*k+k] {
			dst[j] += float64(v)
		}
		dst[k]++
		if g.withQ {
			dst[k+1] += g.q[r]
		}
	}
}

// bestSplit returns the best (weighted) split of a node with histogram h and totals tot:
// feature, candidate (the bin for categorical, the threshold index for numeric), score and the
// left child's statistics (in g.left); g.bestMR is its default direction for missing values.
// ok is false when no candidate is valid.
//
// Missing values (XGBoost's sparsity-aware split finding, Chen & Guestrin 2016, Algorithm 3;
// reference: xgboost src/tree/hist/evaluate_splits.h, EnumerateSplit run forward and
// backward): for a numeric feature with NaN rows (bin 0, see binned), every threshold j >= 1
// is scored twice, with the missing rows on the left (the prefix of bins <= j) and on the
// right (left = prefix - missing bin); the better one wins, ties going left. Candidate 0 is
// "missing against the rest".
func (g *grower) bestSplit(h, tot []float64) (bf, bj int, best float64, ok bool) {
	best = math.Inf(-1)
	g.bestMR = false
	s, b := g.s, g.b
	left, right := g.left[:s], g.right[:s]
	left2, right2 := g.left2[:s], g.right2[:s]
	bestLeft := g.cand[:s] // reuse as scratch for the best left stats
	for f := 0; f < b.nf; f++ {
		w := 1.0
		if g.fw != nil {
			w = g.fw[f]
		}
		base := b.off[f] * s
		if b.isCat(f) {
			for c := 0; c < b.catN[f]; c++ {
				copy(right, h[base+c*s:base+c*s+s])
				for j := range left {
					left[j] = tot[j] - right[j]
				}
				v := g.sc.pair(left, right) * w
				if v > best {
					best, bf, bj, ok = v, f, c, true
					g.bestMR = false
					copy(bestLeft, left)
				}
			}
			continue
		}
		clear(left)
		nc := b.nb[f] - 1
		miss := b.miss[f]
		if g.k == 1 && !g.withQ && g.sc.kind == scoreL2 && !g.sc.std {
			// Fast path: S^2/(n+lambda) per child.
			lam, md := g.sc.lambda, g.sc.minData
			ls, ln := 0.0, 0.0
			ts, tn := tot[0], tot[1]
			ms, mn := h[base], h[base+1] // the missing bin (when miss)
			score := func(ls, ln float64) float64 {
				rs, rn := ts-ls, tn-ln
				if ln < md || rn < md {
					return math.Inf(-1)
				}
				var v float64
				if d := ln + lam; d > 0 {
					v = ls * ls / d
				}
				if d := rn + lam; d > 0 {
					v += rs * rs / d
				}
				return v * w
			}
			for j := 0; j < nc; j++ {
				ls += h[base+2*j]
				ln += h[base+2*j+1]
				if v := score(ls, ln); v > best {
					best, bf, bj, ok = v, f, j, true
					g.bestMR = false
					bestLeft[0], bestLeft[1] = ls, ln
				}
				if miss && j > 0 && mn > 0 {
					if v := score(ls-ms, ln-mn); v > best { // missing goes right
						best, bf, bj, ok = v, f, j, true
						g.bestMR = true
						bestLeft[0], bestLeft[1] = ls-ms, ln-mn
					}
				}
			}
			continue
		}
		missCell := h[base : base+s]
		for j := 0; j < nc; j++ {
			cell := h[base+j*s : base+j*s+s]
			if j > 0 && cell[g.k] == 0 {
				continue // same split as candidate j-1
			}
			for i := range left {
				left[i] += cell[i]
				right[i] = tot[i] - left[i]
			}
			v := g.sc.pair(left, right) * w
			if v > best {
				best, bf, bj, ok = v, f, j, true
				g.bestMR = false
				copy(bestLeft, left)
			}
			if miss && j > 0 && missCell[g.k] > 0 {
				for i := range left2 { // missing goes right
					left2[i] = left[i] - missCell[i]
					right2[i] = tot[i] - left2[i]
				}
				if v := g.sc.pair(left2, right2) * w; v > best {
					best, bf, bj, ok = v, f, j, true
					g.bestMR = true
					copy(bestLeft, left2)
				}
			}
		}
	}
	copy(g.left[:s], bestLeft)
	return bf, bj, best, ok && !math.IsInf(best, -1)
}

// leftStats writes into dst the left-child statistics of splitting a node (histogram h, totals
// tot) on feature f at candidate j.
func (g *grower) leftStats(dst, h, tot []float64, f, j int) {
	s, b := g.s, g.b
	base := b.off[f] * s
	if b.isCat(f) {
		cell := h[base+j*s : base+j*s+s]
		for i := range dst {
			dst[i] = tot[i] - cell[i]
		}
		return
	}
	clear(dst)
	for c := 0; c <= j; c++ {
		cell := h[base+c*s : base+c*s+s]
		for i := range dst {
			dst[i] += cell[i]
		}
	}
}

// partition splits idx[lo:hi] stably into rows going left then right; it returns the boundary.
// It is branch-free: every row is written to both outputs and only one cursor advances.
// missRight sends a numeric feature's missing bin (bin 0 of a feature with NaN) right.
func (g *grower) partition(lo, hi, f, j int, missRight bool) int {
	b := g.b
	nf := b.nf
	rows := g.idx[lo:hi]
	tmp := resize(g.tmp, len(rows)+1)
	g.tmp = tmp
	w, t := 0, 0
	bins := b.bins
	if b.isCat(f) {
		for _, r := range rows {
			right := 0
			if bins[int(r)*nf+f] == uint8(j) {
				right = 1
			}
			rows[w] = r
			tmp[t] = r
			w += 1 - right
			t += right
		}
	} else if missRight {
		for _, r := range rows {
			bin := int(bins[int(r)*nf+f])
			right := 0
			if bin > j || bin == 0 {
				right = 1
			}
			rows[w] = r
			tmp[t] = r
			w += 1 - right
			t += right
		}
	} else {
		for _, r := range rows {
			// right = 1 when bin > j, from the sign of j - bin.
			right := int(uint(j-int(bins[int(r)*nf+f])) >> 63)
			rows[w] = r
			tmp[t] = r
			w += 1 - right
			t += right
		}
	}
	copy(rows[w:], tmp[:t])
	return lo + w
}

// split returns the Split for feature f at candidate j.
func (g *grower) split(f, j int) Split {
	if g.b.isCat(f) {
		return Split{Feature: int32(f), IsCat: true, Category: g.b.catVal[f][j]}
	}
	return Split{Feature: int32(f), Threshold: g.b.thr[f][j]}
}

// childHists gives the two children of a split node their histograms: the smaller child's is
// built from its rows, the larger one's is the parent's minus it (in place).
func (g *grower) childHists(parent, l, r *gnode) {
	small, large := l, r
	if r.count() < l.count() {
		small, large = r, l
	}
	small.hist = g.getHist()
	g.buildHist(small.hist, g.idx[small.lo:small.hi])
	large.hist = parent.hist
	parent.hist = nil
	subFrom(large.hist, small.hist)
}

// grow grows one tree on the binned batch with gradients g.g; it fills t.
func (g *grower) grow(t *Tree) {
	n := g.b.n
	g.idx = resize(g.idx, n)
	for i := range g.idx {
		g.idx[i] = int32(i)
	}
	g.left, g.right, g.cand = resize(g.left, g.s), resize(g.right, g.s), resize(g.cand, g.s)
	g.left2, g.right2 = resize(g.left2, g.s), resize(g.right2, g.s)
	g.packGradients()
	root := &gnode{lo: 0, hi: n, tot: make([]float64, g.s), parent: -1}
	*t = Tree{Oblivious: g.cfg.Grow == Oblivious}
	g.leafRows = g.leafRows[:0]
	root.hist = g.getHist()
	g.buildHist(root.hist, g.idx)
	// The root's totals are the sum over any one feature's bins.
	for c := 0; c < g.b.nb[0]; c++ {
		cell := root.hist[c*g.s : (c+1)*g.s]
		for i, v := range cell {
			root.tot[i] += v
		}
	}
	if t.Oblivious {
		g.growOblivious(t, root)
	} else {
		g.growGreedy(t, root)
	}
}

func (g *grower) addLeaf(t *Tree, nd *gnode) int32 {
	k := g.k
	li := int32(len(t.LeafCount))
	n := nd.tot[k]
	den := n + g.cfg.Lambda
	for j := 0; j < k; j++ {
		v := 0.0
		if den > 0 {
			v = nd.tot[j] / den // mean gradient (Lambda = 0)
		}
		t.Leaves = append(t.Leaves, float32(v))
	}
	t.LeafCount = append(t.LeafCount, int32(n))
	g.leafRows = append(g.leafRows, [2]int{nd.lo, nd.hi})
	g.putHist(nd.hist)
	nd.hist = nil
	return li
}

func (g *grower) growGreedy(t *Tree, root *gnode) {
	level := []*gnode{root}
	for len(level) > 0 {
		var next []*gnode
		for _, nd := range level {
			link := func(ref int32) {
				if nd.parent >= 0 {
					if nd.right {
						t.Right[nd.parent] = ref
					} else {
						t.Left[nd.parent] = ref
					}
				}
			}
			if nd.depth >= g.cfg.MaxDepth || nd.count() == 0 || nd.hist == nil {
				link(^g.addLeaf(t, nd))
				continue
			}
			f, j, score, ok := g.bestSplit(nd.hist, nd.tot)
			parentScore := 0.0 // GBRL: the root's parent score is 0
			own := g.sc.node(nd.tot)
			if nd.depth > 0 {
				parentScore = own
			}
			if !ok || score-parentScore < g.cfg.MinSplitGain {
				link(^g.addLeaf(t, nd))
				continue
			}
			id := int32(len(t.Splits))
			lstats := append([]float64(nil), g.left[:g.s]...)
			rstats := make([]float64, g.s)
			for i := range rstats {
				rstats[i] = nd.tot[i] - lstats[i]
			}
			mr := g.bestMR
			sp := g.split(f, j)
			sp.MissingRight = mr
			sp.Gain = g.sc.pair(lstats, rstats) - own
			sp.Count = int32(nd.count())
			t.Splits = append(t.Splits, sp)
			t.Left = append(t.Left, 0)
			t.Right = append(t.Right, 0)
			link(id)
			if nd.depth+1 > t.Depth {
				t.Depth = nd.depth + 1
			}
			mid := g.partition(nd.lo, nd.hi, f, j, mr)
			l := &gnode{lo: nd.lo, hi: mid, tot: lstats, depth: nd.depth + 1, parent: id}
			r := &gnode{lo: mid, hi: nd.hi, tot: rstats, depth: nd.depth + 1, parent: id, right: true}
			if nd.depth+1 < g.cfg.MaxDepth {
				g.childHists(nd, l, r)
			} else {
				g.putHist(nd.hist)
				nd.hist = nil
			}
			next = append(next, l, r)
		}
		level = next
	}
}

func (g *grower) growOblivious(t *Tree, root *gnode) {
	level := []*gnode{root}
	b := g.b
	s := g.s
	nc := b.totalBins()
	g.scores = resize(g.scores, nc)
	scores := g.scores
	left, right := g.left[:s], g.right[:s]
	parentScore := 0.0
	for depth := 0; depth < g.cfg.MaxDepth && root.count() > 0; depth++ {
		// Sum every candidate's split score over the level's nodes.
		clear(scores)
		for _, nd := range level {
			h := nd.hist
			for f := 0; f < b.nf; f++ {
				base := b.off[f] * s
				if b.isCat(f) {
					for c := 0; c < b.catN[f]; c++ {
						copy(right, h[base+c*s:base+c*s+s])
						for i := range left {
							left[i] = nd.tot[i] - right[i]
						}
						scores[b.off[f]+c] += g.sc.pair(left, right)
					}
					continue
				}
				clear(left)
				prev, have := 0.0, false
				for j := 0; j < b.nb[f]-1; j++ {
					cell := h[base+j*s : base+j*s+s]
					if have && cell[g.k] == 0 {
						// An empty bin moves nothing: the split equals the previous one.
						scores[b.off[f]+j] += prev
						continue
					}
					for i := range left {
						left[i] += cell[i]
						right[i] = nd.tot[i] - left[i]
					}
					prev, have = g.sc.pair(left, right), true
					scores[b.off[f]+j] += prev
				}
			}
		}
		best, bf, bj := math.Inf(-1), -1, -1
		for f := 0; f < b.nf; f++ {
			w := 1.0
			if g.fw != nil {
				w = g.fw[f]
			}
			ncand := b.nb[f] - 1
			if b.isCat(f) {
				ncand = b.catN[f]
			}
			for j := 0; j < ncand; j++ {
				v := scores[b.off[f]+j]*w - parentScore
				if v > best {
					best, bf, bj = v, f, j
				}
			}
		}
		if math.IsInf(best, -1) {
			break
		}
		parentScore = best // GBRL subtracts the previous level's best score
		sp := g.split(bf, bj)
		own, after := 0.0, 0.0
		var next []*gnode
		for _, nd := range level {
			own += g.sc.node(nd.tot)
			ls := make([]float64, s)
			if nd.count() > 0 {
				g.leftStats(ls, nd.hist, nd.tot, bf, bj)
			}
			rs := make([]float64, s)
			for i := range rs {
				rs[i] = nd.tot[i] - ls[i]
			}
			after += g.sc.pair(ls, rs)
			mid := g.partition(nd.lo, nd.hi, bf, bj, false) // oblivious: missing goes left
			l := &gnode{lo: nd.lo, hi: mid, tot: ls, depth: depth + 1}
			r := &gnode{lo: mid, hi: nd.hi, tot: rs, depth: depth + 1}
			if depth+1 < g.cfg.MaxDepth && nd.hist != nil {
				g.childHists(nd, l, r)
			} else {
				g.putHist(nd.hist)
				nd.hist = nil
			}
			next = append(next, l, r)
		}
		sp.Gain = after - own
		sp.Count = int32(root.count())
		t.Splits = append(t.Splits, sp)
		t.Depth++
		level = next
	}
	for _, nd := range level {
		g.addLeaf(t, nd)
	}
}
