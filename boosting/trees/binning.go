package trees

import (
	"cmp"
	"math"
	"slices"
	"sync"
)

// binned is a batch quantized for histogram building: every feature value is replaced by a
// bin index (uint8, row-major [n, nf]) such that every split candidate of the feature is a cut
// between consecutive bins (numeric) or one bin against the rest (categorical).
//
// Numeric feature f with ascending thresholds t_0 < ... < t_{m-1} has m+1 bins; a value x is
// in bin #{j : t_j < x} (NaN in bin 0), so candidate j (x > t_j goes right) sends bins <= j
// left. A feature with NaN values in the batch gets t_0 = -Inf, so its bin 0 holds only them. Categorical feature f has one bin per kept value (each a candidate: equal goes right)
// plus, when some values were dropped by the candidate cap, a last "other" bin.
type binned struct {
	n, nf  int
	numF   int     // numeric features come first
	bins   []uint8 // [n*nf]
	nb     []int   // bins per feature
	off    []int   // histogram offsets (in bins) per feature, len nf+1
	thr    [][]float32
	catVal [][]string // categorical: value of each bin ("" for the other bin)
	catN   []int      // categorical: number of candidate bins (the other bin, if any, is last)
	// searched marks numeric features whose bins are assigned by binary search.
	searched []bool
	// miss marks numeric features with missing (NaN) values in the batch: their thresholds
	// start with -Inf, so bin 0 holds exactly the NaN rows (NaN < t is false for every t) and
	// candidate 0 separates the missing values from the rest (see bestSplit's default
	// direction).
	miss []bool
}

func (b *binned) reset(n, nf, numF int) {
	b.n, b.nf, b.numF = n, nf, numF
	if cap(b.bins) < n*nf {
		b.bins = make([]uint8, n*nf)
	}
	b.bins = b.bins[:n*nf]
	b.nb = resize(b.nb, nf)
	b.off = resize(b.off, nf+1)
	if len(b.thr) < nf {
		b.thr = make([][]float32, nf)
		b.catVal = make([][]string, nf)
	}
	b.thr, b.catVal = b.thr[:nf], b.catVal[:nf]
	b.catN = resize(b.catN, nf)
	b.searched = resize(b.searched, nf)
	clear(b.searched)
	b.miss = resize(b.miss, nf)
	clear(b.miss)
}

// missingBin gives feature f's thresholds a leading -Inf when the feature has NaN values, so
// that NaN rows get a bin of their own (bin 0); it keeps at most 255 thresholds (256 bins).
func (b *binned) missingBin(f int, hasNaN bool) {
	if !hasNaN {
		return
	}
	thr := b.thr[f]
	if len(thr) >= 255 {
		thr = thr[:254]
	}
	thr = append(thr, 0)
	copy(thr[1:], thr)
	thr[0] = float32(math.Inf(-1))
	b.thr[f] = thr
	b.miss[f] = true
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// totalBins returns the histogram length in bins.
func (b *binned) totalBins() int { return b.off[b.nf] }

// quantileThresholds appends GBRL's quantile candidates for sorted (non-NaN) values: the n
// values are cut into bins+1 groups whose sizes differ by at most one (the first n%(bins+1)
// groups get one more), and the last value of each of the first bins groups is a threshold;
// consecutive duplicates are dropped.
func quantileThresholds(dst []float32, sorted []float32, bins int) []float32 {
	dst = dst[:0]
	n := len(sorted)
	if n == 0 {
		return dst
	}
	groups := bins + 1
	per, rem := n/groups, n%groups
	cum := 0
	for i := 0; i < bins; i++ {
		cum += per
		if i < rem {
			cum++
		}
		if cum == 0 {
			continue
		}
		v := sorted[cum-1]
		if len(dst) == 0 || dst[len(dst)-1] != v {
			dst = append(dst, v)
		}
	}
	return dst
}

// uniformThresholds appends GBRL's uniform candidates min + i*(max-min)/bins, i < bins (float32
// arithmetic), dropping duplicates.
func uniformThresholds(dst []float32, lo, hi float32, bins int) []float32 {
	dst = dst[:0]
	step := (hi - lo) / float32(bins)
	for i := 0; i < bins; i++ {
		v := lo + float32(i)*step
		if len(dst) == 0 || dst[len(dst)-1] < v {
			dst = append(dst, v)
		}
	}
	return dst
}

// searchBin returns #{j : thr[j] < x} (0 for NaN).
func searchBin(thr []float32, x float32) uint8 {
	lo, hi := 0, len(thr)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if thr[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return uint8(lo)
}

// parallelFor runs fn over [0, n) split into at most threads contiguous chunks.
func parallelFor(n, threads int, fn func(lo, hi, worker int)) {
	if threads <= 1 || n < 2 {
		fn(0, n, 0)
		return
	}
	if threads > n {
		threads = n
	}
	var wg sync.WaitGroup
	chunk := (n + threads - 1) / threads
	for w := 0; w < threads; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func(lo, hi, w int) {
			defer wg.Done()
			fn(lo, hi, w)
		}(lo, hi, w)
	}
	wg.Wait()
}

// binOptions controls bin.
type binOptions struct {
	bins    int
	split   string
	threads int
	// sample > 0 computes numeric quantiles on an evenly spaced subsample of at most sample
	// rows (the supervised regressor on large data); 0 uses every row (GBRL's per-batch
	// candidates).
	sample int
	// rowNorm, if not nil, is each row's squared gradient norm; categorical candidates beyond
	// the cap are chosen by the highest mean of it (GBRL). nil chooses by frequency.
	rowNorm []float64
}

// bin quantizes d into b.
func (b *binned) bin(d *Data, o binOptions) {
	n, numF, catF := d.N, d.NumFeatures, d.CatFeatures
	nf := numF + catF
	b.reset(n, nf, numF)
	// Numeric thresholds (one feature per goroutine chunk). When every row takes part, one
	// radix sort per feature gives both the quantiles and the bins; otherwise the thresholds
	// come from an evenly spaced sample and the bins from a binary search.
	full := o.sample <= 0 || n <= o.sample
	parallelFor(numF, o.threads, func(lo, hi, _ int) {
		var vals []float32
		var keys, tmpK []uint32
		var idx, tmpI []int32
		for f := lo; f < hi; f++ {
			vals = vals[:0]
			step := 1
			if !full {
				step = (n + o.sample - 1) / o.sample
			}
			mn, mx := float32(math.Inf(1)), float32(math.Inf(-1))
			if full && o.split == Quantile && n >= 2048 {
				keys, idx = resize(keys, 0), resize(idx, 0)
				for r := 0; r < n; r++ {
					v := d.Num[r*numF+f]
					if v != v {
						b.bins[r*nf+f] = 0
						continue
					}
					keys = append(keys, floatKey(v))
					idx = append(idx, int32(r))
				}
				tmpK, tmpI = resize(tmpK, len(keys)), resize(tmpI, len(keys))
				if len(keys) > 0 {
					radixSortIdx(keys, idx, tmpK, tmpI)
				}
				vals = resize(vals, len(keys))
				for i, r := range idx {
					vals[i] = d.Num[int(r)*numF+f]
				}
				b.thr[f] = quantileThresholds(b.thr[f], vals, o.bins)
				b.missingBin(f, len(keys) < n)
				b.nb[f] = len(b.thr[f]) + 1
				// Sorted sweep: bin = number of thresholds below the value.
				thr := b.thr[f]
				bin := 0
				for i, v := range vals {
					for bin < len(thr) && thr[bin] < v {
						bin++
					}
					b.bins[int(idx[i])*nf+f] = uint8(bin)
				}
				continue
			}
			hasNaN := false
			for r := 0; r < n; r += step {
				v := d.Num[r*numF+f]
				if v != v { // NaN
					hasNaN = true
					continue
				}
				vals = append(vals, v)
				mn, mx = min(mn, v), max(mx, v)
			}
			for r := 0; r < n && !hasNaN && step > 1; r++ {
				hasNaN = d.Num[r*numF+f] != d.Num[r*numF+f]
			}
			if o.split == Uniform {
				if len(vals) == 0 {
					b.thr[f] = b.thr[f][:0]
				} else {
					b.thr[f] = uniformThresholds(b.thr[f], mn, mx, o.bins)
				}
			} else {
				slices.Sort(vals)
				b.thr[f] = quantileThresholds(b.thr[f], vals, o.bins)
			}
			b.missingBin(f, hasNaN)
			b.nb[f] = len(b.thr[f]) + 1
			b.searched[f] = true
		}
	})
	if catF > 0 {
		b.binCategorical(d, o)
	}
	off := 0
	for f := 0; f < nf; f++ {
		b.off[f] = off
		off += b.nb[f]
	}
	b.off[nf] = off
	// Bin indices of the features not binned by a sorted sweep, one row chunk per goroutine
	// (writes to disjoint rows).
	anySearched := false
	for f := 0; f < numF; f++ {
		anySearched = anySearched || b.searched[f]
	}
	if anySearched {
		parallelFor(n, o.threads, func(lo, hi, _ int) {
			for r := lo; r < hi; r++ {
				row := b.bins[r*nf : (r+1)*nf]
				x := d.Num[r*numF : (r+1)*numF]
				for f, v := range x {
					if b.searched[f] {
						row[f] = searchBin(b.thr[f], v)
					}
				}
			}
		})
	}
	if catF > 0 {
		b.assignCategorical(d)
	}
}

type catStat struct {
	feature int
	value   string
	norm    float64
	count   int
}

// binCategorical chooses the categorical candidates: every distinct (feature, value) pair of
// the batch, or, when there are more than CatFeatures*bins of them, those whose samples have
// the highest mean squared gradient norm (GBRL), and at most 255 per feature.
func (b *binned) binCategorical(d *Data, o binOptions) {
	n, catF, numF := d.N, d.CatFeatures, d.NumFeatures
	var stats []catStat
	for c := 0; c < catF; c++ {
		idx := map[string]int{}
		start := len(stats)
		for r := 0; r < n; r++ {
			v := d.Cat[r*catF+c]
			i, ok := idx[v]
			if !ok {
				i = len(stats) - start
				idx[v] = i
				stats = append(stats, catStat{feature: c, value: v})
			}
			s := &stats[start+i]
			s.count++
			if o.rowNorm != nil {
				s.norm += o.rowNorm[r]
			} else {
				s.norm++
			}
		}
	}
	keep := stats
	if limit := catF * o.bins; len(stats) > limit {
		keep = slices.Clone(stats)
		slices.SortStableFunc(keep, func(a, b catStat) int {
			return cmp.Compare(b.norm/float64(b.count), a.norm/float64(a.count))
		})
		keep = keep[:limit]
	}
	perF := make([][]string, catF)
	for _, s := range keep {
		perF[s.feature] = append(perF[s.feature], s.value)
	}
	distinct := make([]int, catF)
	for _, s := range stats {
		distinct[s.feature]++
	}
	for c := 0; c < catF; c++ {
		vals := perF[c]
		if len(vals) > 255 {
			// Keep the 254 best of this feature; the rest share the other bin.
			sub := make([]catStat, 0, len(vals))
			for _, s := range keep {
				if s.feature == c {
					sub = append(sub, s)
				}
			}
			slices.SortStableFunc(sub, func(a, b catStat) int {
				return cmp.Compare(b.norm/float64(b.count), a.norm/float64(a.count))
			})
			vals = vals[:0]
			for _, s := range sub[:254] {
				vals = append(vals, s.value)
			}
		}
		slices.Sort(vals)
		f := numF + c
		b.catN[f] = len(vals)
		b.catVal[f] = append(b.catVal[f][:0], vals...)
		if len(vals) < distinct[c] {
			b.catVal[f] = append(b.catVal[f], "") // the other bin
		}
		b.nb[f] = len(b.catVal[f])
		if b.nb[f] == 0 {
			b.nb[f] = 1
			b.catVal[f] = append(b.catVal[f], "")
		}
	}
}

func (b *binned) assignCategorical(d *Data) {
	n, catF, numF, nf := d.N, d.CatFeatures, d.NumFeatures, b.nf
	for c := 0; c < catF; c++ {
		f := numF + c
		idx := make(map[string]uint8, b.catN[f])
		for i := 0; i < b.catN[f]; i++ {
			idx[b.catVal[f][i]] = uint8(i)
		}
		other := uint8(b.nb[f] - 1)
		for r := 0; r < n; r++ {
			bi, ok := idx[d.Cat[r*catF+c]]
			if !ok {
				bi = other
			}
			b.bins[r*nf+f] = bi
		}
	}
}

// isCat reports whether feature f is categorical.
func (b *binned) isCat(f int) bool { return f >= b.numF }
