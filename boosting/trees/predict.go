package trees

import (
	"fmt"
	"math"
)

// flatTree is a tree laid out for prediction, with its leaves already scaled by -lr.
type flatTree struct {
	obl         bool
	feat        []int32
	thr         []float32
	cat         []bool
	anyCat      bool
	mr          []bool // MissingRight per split (nil when no split has it)
	left, right []int32
	leaves      []float32 // [leaves*outDim], -lr_k(t)*leaf
}

// obl is every tree of an all-oblivious, numeric-split ensemble padded to depth D: tree t's
// level i tests x[feat[t*D+i]] > thr[t*D+i] (padding levels test > +Inf, always false), and
// its scaled leaves are leaves[t*2^D*K:]. Prediction over it is branch-free.
type oblPack struct {
	d      int
	feat   []int32
	thr    []float32
	leaves []float32
	n      int // trees packed
	ok     bool
}

func (e *Ensemble) flatten() {
	e.flattenTrees()
	p := &e.pack
	if len(e.trees) < p.n {
		*p = oblPack{}
	}
	if p.n == 0 {
		p.ok = true
		p.d = e.tree.MaxDepth
		p.feat, p.thr, p.leaves = p.feat[:0], p.thr[:0], p.leaves[:0]
	}
	if !p.ok {
		return
	}
	k := e.outDim
	for t := p.n; t < len(e.trees); t++ {
		tr := e.trees[t]
		f := &e.flat[t]
		if !tr.Oblivious || f.anyCat || tr.Depth > p.d {
			p.ok = false
			return
		}
		shift := p.d - tr.Depth
		for i := 0; i < p.d; i++ {
			if i < tr.Depth {
				p.feat = append(p.feat, f.feat[i])
				p.thr = append(p.thr, f.thr[i])
			} else {
				p.feat = append(p.feat, 0)
				p.thr = append(p.thr, float32(math.Inf(1)))
			}
		}
		base := len(p.leaves)
		p.leaves = append(p.leaves, make([]float32, (1<<p.d)*k)...)
		for l := 0; l < 1<<tr.Depth; l++ {
			copy(p.leaves[base+(l<<shift)*k:base+((l<<shift)+1)*k], f.leaves[l*k:(l+1)*k])
		}
		p.n = t + 1
	}
}

// predict adds trees [from, to) of the oblivious pack to out for rows [lo, hi). Trees are
// taken in blocks that stay in cache while each row accumulates its outputs in registers.
func (p *oblPack) predict(x []float32, nf, k, lo, hi, from, to int, out []float32) {
	const block = 128
	d := p.d
	nl := (1 << d) * k
	var acc [8]float32
	for b0 := from; b0 < to; b0 += block {
		b1 := min(b0+block, to)
		feat := p.feat[b0*d : b1*d]
		thr := p.thr[b0*d : b1*d]
		lv := p.leaves[b0*nl : b1*nl]
		for r := lo; r < hi; r++ {
			xr := x[r*nf : (r+1)*nf]
			o := out[r*k : (r+1)*k]
			if k > len(acc) {
				for t := 0; t < b1-b0; t++ {
					idx := 0
					for i, f := range feat[t*d : (t+1)*d] {
						b := 0
						if xr[f] > thr[t*d+i] {
							b = 1
						}
						idx = idx<<1 | b
					}
					src := lv[t*nl+idx*k : t*nl+(idx+1)*k]
					for j := range o {
						o[j] += src[j]
					}
				}
				continue
			}
			a := acc[:k]
			clear(a)
			for t := 0; t < b1-b0; t++ {
				idx := 0
				for i, f := range feat[t*d : (t+1)*d] {
					b := 0
					if xr[f] > thr[t*d+i] {
						b = 1
					}
					idx = idx<<1 | b
				}
				src := lv[t*nl+idx*k : t*nl+(idx+1)*k]
				for j := range a {
					a[j] += src[j]
				}
			}
			for j := range o {
				o[j] += a[j]
			}
		}
	}
}

func (e *Ensemble) flattenTrees() {
	for t := len(e.flat); t < len(e.trees); t++ {
		tr := e.trees[t]
		f := flatTree{obl: tr.Oblivious, left: tr.Left, right: tr.Right}
		for i, s := range tr.Splits {
			if s.MissingRight {
				if f.mr == nil {
					f.mr = make([]bool, len(tr.Splits))
				}
				f.mr[i] = true
			}
			f.feat = append(f.feat, s.Feature)
			f.cat = append(f.cat, s.IsCat)
			if s.IsCat {
				f.thr = append(f.thr, s.code)
				f.anyCat = true
			} else {
				f.thr = append(f.thr, s.Threshold)
			}
		}
		k := e.outDim
		f.leaves = make([]float32, len(tr.Leaves))
		for j := 0; j < k; j++ {
			lr := e.lrOf(j, t)
			for l := 0; l*k+j < len(tr.Leaves); l++ {
				f.leaves[l*k+j] = float32(-lr * float64(tr.Leaves[l*k+j]))
			}
		}
		e.flat = append(e.flat, f)
	}
}

// leaf returns the leaf of row x.
func (f *flatTree) leaf(x []float32) int {
	if f.obl {
		idx := 0
		if !f.anyCat {
			for i, ft := range f.feat {
				idx <<= 1
				if x[ft] > f.thr[i] {
					idx |= 1
				}
			}
			return idx
		}
		for i, ft := range f.feat {
			idx <<= 1
			v := x[ft]
			if (f.cat[i] && v == f.thr[i]) || (!f.cat[i] && v > f.thr[i]) {
				idx |= 1
			}
		}
		return idx
	}
	if len(f.feat) == 0 {
		return 0
	}
	node := int32(0)
	for {
		v := x[f.feat[node]]
		if (f.cat[node] && v == f.thr[node]) || (!f.cat[node] && (v > f.thr[node] || f.mr != nil && f.mr[node] && v != v)) {
			node = f.right[node]
		} else {
			node = f.left[node]
		}
		if node < 0 {
			return int(^node)
		}
	}
}

// encode returns the rows of d as [N, features] float32 with categorical values replaced by
// their codes (-1 for a value no split uses).
func (e *Ensemble) encode(d *Data) []float32 {
	if e.catF == 0 {
		return d.Num
	}
	nf := e.numF + e.catF
	e.xbuf = resize(e.xbuf, d.N*nf)
	x := e.xbuf
	for r := 0; r < d.N; r++ {
		row := x[r*nf : (r+1)*nf]
		copy(row, d.Num[r*e.numF:(r+1)*e.numF])
		for c := 0; c < e.catF; c++ {
			code, ok := e.cats[d.Cat[r*e.catF+c]]
			if !ok {
				code = -1
			}
			row[e.numF+c] = float32(code)
		}
	}
	return x
}

// Predict writes the predictions for d into out ([N, OutDim]); out is allocated when nil.
func (e *Ensemble) Predict(d *Data, out []float32) ([]float32, error) {
	return e.PredictTrees(d, 0, len(e.trees), out)
}

// PredictTrees predicts with the bias and trees [from, to) only.
func (e *Ensemble) PredictTrees(d *Data, from, to int, out []float32) ([]float32, error) {
	return e.predict(d, from, to, out, true)
}

// AddTrees adds the contributions of trees [from, to) (without the bias) to out
// ([N, OutDim]): with out holding the predictions of trees [0, from), it becomes those of
// [0, to) at the cost of the new trees only.
func (e *Ensemble) AddTrees(d *Data, from, to int, out []float32) error {
	if len(out) != d.N*e.outDim {
		return fmt.Errorf("trees: output length %d, want N*OutDim=%d", len(out), d.N*e.outDim)
	}
	_, err := e.predict(d, from, to, out, false)
	return err
}

func (e *Ensemble) predict(d *Data, from, to int, out []float32, bias bool) ([]float32, error) {
	if err := e.checkData(d); err != nil {
		return nil, err
	}
	if from < 0 || to > len(e.trees) || from > to {
		return nil, fmt.Errorf("trees: tree range [%d, %d) not within [0, %d]", from, to, len(e.trees))
	}
	k, n := e.outDim, d.N
	if out == nil {
		out = make([]float32, n*k)
	}
	if len(out) != n*k {
		return nil, fmt.Errorf("trees: output length %d, want N*OutDim=%d", len(out), n*k)
	}
	e.flatten()
	x := e.encode(d)
	nf := e.numF + e.catF
	flat := e.flat[from:to]
	threads := e.tree.Threads
	if n*(to-from) < 1<<15 {
		threads = 1
	}
	parallelFor(n, threads, func(lo, hi, _ int) {
		for r := lo; bias && r < hi; r++ {
			copy(out[r*k:(r+1)*k], e.Bias)
		}
		if e.pack.ok && e.pack.n >= to {
			e.pack.predict(x, nf, k, lo, hi, from, to, out)
			return
		}
		if k == 1 {
			for ti := range flat {
				f := &flat[ti]
				for r := lo; r < hi; r++ {
					out[r] += f.leaves[f.leaf(x[r*nf:(r+1)*nf])]
				}
			}
			return
		}
		for ti := range flat {
			f := &flat[ti]
			for r := lo; r < hi; r++ {
				l := f.leaf(x[r*nf : (r+1)*nf])
				o := out[r*k : (r+1)*k]
				for j, v := range f.leaves[l*k : (l+1)*k] {
					o[j] += v
				}
			}
		}
	})
	return out, nil
}
