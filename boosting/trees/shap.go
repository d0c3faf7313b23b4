package trees

// SHAP returns TreeSHAP feature attributions of the ensemble's predictions for d: phi has
// layout [N, Features+1, OutDim]; phi[i, f, k] is feature f's contribution to output k of row
// i, and phi[i, Features, k] is the expected output (the bias plus each tree's cover-weighted
// mean leaf), so that sum_f phi[i, f, k] + phi[i, Features, k] = F_k(x_i) (local accuracy).
//
// Paper: S. M. Lundberg, G. G. Erion, S.-I. Lee, "Consistent Individualized Feature Attribution
// for Tree Ensembles", arXiv 1802.03888 (Algorithm 2, path-dependent TreeSHAP).
// Reference code: slundberg/shap tree_shap.h (extend_path, unwind_path, unwound_path_sum);
// NVlabs/gbrl shap.cpp.
//
// Covers are the training-sample counts stored in the trees. A node no training sample reached
// splits its weight evenly between its children (the expected value uses the same rule).
func (e *Ensemble) SHAP(d *Data) ([]float64, error) {
	if err := e.checkData(d); err != nil {
		return nil, err
	}
	e.flatten()
	x := e.encode(d)
	nf := e.numF + e.catF
	k := e.outDim
	stride := (nf + 1) * k
	phi := make([]float64, d.N*stride)
	for t := range e.trees {
		st := buildShapTree(e.trees[t], &e.flat[t], k)
		base := st.expected(0)
		maxDepth := len(st.feat) + 1
		buf := make([]pathElem, (maxDepth+1)*(maxDepth+2)/2+maxDepth)
		for i := 0; i < d.N; i++ {
			row := phi[i*stride : (i+1)*stride]
			for j := 0; j < k; j++ {
				row[nf*k+j] += base[j]
			}
			st.recurse(x[i*nf:(i+1)*nf], row, k, 0, buf, 0, 1, 1, -1)
		}
	}
	for i := 0; i < d.N; i++ {
		for j := 0; j < k; j++ {
			phi[i*stride+nf*k+j] += float64(e.Bias[j])
		}
	}
	return phi, nil
}

// shapTree is a tree as explicit nodes: internal nodes have left/right >= 0.
type shapTree struct {
	feat        []int
	thr         []float32
	cat         []bool
	mr          []bool // numeric splits sending missing values right
	left, right []int
	cover       []float64
	value       [][]float64 // leaves: scaled leaf vector
}

func (s *shapTree) add(f int, thr float32, cat bool, cover float64, value []float64) int {
	s.feat = append(s.feat, f)
	s.thr = append(s.thr, thr)
	s.cat = append(s.cat, cat)
	s.mr = append(s.mr, false)
	s.left = append(s.left, -1)
	s.right = append(s.right, -1)
	s.cover = append(s.cover, cover)
	s.value = append(s.value, value)
	return len(s.feat) - 1
}

func buildShapTree(t *Tree, f *flatTree, k int) *shapTree {
	s := &shapTree{}
	leafVal := func(l int) []float64 {
		v := make([]float64, k)
		for j := range v {
			v[j] = float64(f.leaves[l*k+j])
		}
		return v
	}
	if t.Oblivious {
		var build func(level, prefix int) (int, float64)
		build = func(level, prefix int) (int, float64) {
			if level == len(t.Splits) {
				c := float64(t.LeafCount[prefix])
				return s.add(-1, 0, false, c, leafVal(prefix)), c
			}
			sp := t.Splits[level]
			id := s.add(int(sp.Feature), f.thr[level], sp.IsCat, 0, nil)
			l, cl := build(level+1, prefix<<1)
			r, cr := build(level+1, prefix<<1|1)
			s.left[id], s.right[id], s.cover[id] = l, r, cl+cr
			return id, cl + cr
		}
		build(0, 0)
		return s
	}
	if len(t.Splits) == 0 {
		s.add(-1, 0, false, float64(t.LeafCount[0]), leafVal(0))
		return s
	}
	var build func(ref int32) (int, float64)
	build = func(ref int32) (int, float64) {
		if ref < 0 {
			l := int(^ref)
			c := float64(t.LeafCount[l])
			return s.add(-1, 0, false, c, leafVal(l)), c
		}
		sp := t.Splits[ref]
		id := s.add(int(sp.Feature), f.thr[ref], sp.IsCat, 0, nil)
		s.mr[id] = sp.MissingRight
		l, cl := build(t.Left[ref])
		r, cr := build(t.Right[ref])
		s.left[id], s.right[id], s.cover[id] = l, r, cl+cr
		return id, cl + cr
	}
	build(0)
	return s
}

// fractions returns the shares of node j's cover that go left and right.
func (s *shapTree) fractions(j int) (l, r float64) {
	w := s.cover[j]
	if w <= 0 {
		return 0.5, 0.5
	}
	return s.cover[s.left[j]] / w, s.cover[s.right[j]] / w
}

// expected is the cover-weighted mean leaf of the subtree at j.
func (s *shapTree) expected(j int) []float64 {
	if s.left[j] < 0 {
		return s.value[j]
	}
	fl, fr := s.fractions(j)
	a, b := s.expected(s.left[j]), s.expected(s.right[j])
	out := make([]float64, len(a))
	for i := range out {
		out[i] = fl*a[i] + fr*b[i]
	}
	return out
}

func (s *shapTree) goesRight(j int, x []float32) bool {
	v := x[s.feat[j]]
	if s.cat[j] {
		return v == s.thr[j]
	}
	return v > s.thr[j] || (s.mr[j] && v != v)
}

type pathElem struct {
	feature   int
	zero, one float64
	weight    float64
}

func extendPath(p []pathElem, depth int, zero, one float64, feature int) {
	p[depth] = pathElem{feature: feature, zero: zero, one: one}
	if depth == 0 {
		p[depth].weight = 1
	}
	for i := depth - 1; i >= 0; i-- {
		p[i+1].weight += one * p[i].weight * float64(i+1) / float64(depth+1)
		p[i].weight = zero * p[i].weight * float64(depth-i) / float64(depth+1)
	}
}

func unwindPath(p []pathElem, depth, idx int) {
	one, zero := p[idx].one, p[idx].zero
	next := p[depth].weight
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := p[i].weight
			p[i].weight = next * float64(depth+1) / (float64(i+1) * one)
			next = tmp - p[i].weight*zero*float64(depth-i)/float64(depth+1)
		} else {
			p[i].weight = p[i].weight * float64(depth+1) / (zero * float64(depth-i))
		}
	}
	for i := idx; i < depth; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
}

func unwoundPathSum(p []pathElem, depth, idx int) float64 {
	one, zero := p[idx].one, p[idx].zero
	next := p[depth].weight
	total := 0.0
	for i := depth - 1; i >= 0; i-- {
		if one != 0 {
			tmp := next * float64(depth+1) / (float64(i+1) * one)
			total += tmp
			next = p[i].weight - tmp*zero*(float64(depth-i)/float64(depth+1))
		} else if zero != 0 {
			total += (p[i].weight / zero) / (float64(depth-i) / float64(depth+1))
		}
	}
	return total
}

// recurse is TreeSHAP's RECURSE: it adds the attributions of row x at node j to phi
// ([features+1, k]); parent holds the path so far (depth+1 elements) and room for the rest.
func (s *shapTree) recurse(x []float32, phi []float64, k, j int, parent []pathElem, depth int, zero, one float64, feature int) {
	path := parent[depth+1:]
	copy(path, parent[:depth+1])
	extendPath(path, depth, zero, one, feature)
	if s.left[j] < 0 {
		for i := 1; i <= depth; i++ {
			w := unwoundPathSum(path, depth, i)
			el := path[i]
			scale := w * (el.one - el.zero)
			for o := 0; o < k; o++ {
				phi[el.feature*k+o] += scale * s.value[j][o]
			}
		}
		return
	}
	hot, cold := s.left[j], s.right[j]
	fh, fc := s.fractions(j)
	if s.goesRight(j, x) {
		hot, cold = cold, hot
		fh, fc = fc, fh
	}
	inZero, inOne := 1.0, 1.0
	idx := 0
	for ; idx <= depth; idx++ {
		if path[idx].feature == s.feat[j] {
			break
		}
	}
	if idx != depth+1 {
		inZero, inOne = path[idx].zero, path[idx].one
		unwindPath(path, depth, idx)
		depth--
	}
	s.recurse(x, phi, k, hot, path, depth+1, fh*inZero, inOne, s.feat[j])
	s.recurse(x, phi, k, cold, path, depth+1, fc*inZero, 0, s.feat[j])
}
