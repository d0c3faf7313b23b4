package trees

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// File format (little-endian), version 1:
//
//	magic "MOEBTREE", uint32 version
//	uint32 outDim, numFeatures, catFeatures
//	float32 bias[outDim]
//	uint32 nLR; per LR: uint32 start, stop; uint8 schedule (0 constant, 1 linear);
//	    float64 init, final; uint32 T
//	tree config: uint8 grow (0 greedy, 1 oblivious), uint8 split (0 quantile, 1 uniform),
//	    uint8 score (0 l2, 1 cosine), uint8 cosineForm (0 code, 1 paper), uint8 noStandardize,
//	    uint32 maxDepth, bins, minDataInLeaf; float64 lambda, minSplitGain; uint32 nWeights,
//	    float64 weights[nWeights]
//	uint32 nTrees; per tree: uint8 oblivious; uint32 depth, nSplits;
//	    per split: uint32 feature; uint8 kind (bit 0: categorical, bit 1: missing values go
//	        right); float32 threshold; uint32 len; bytes category;
//	        float64 gain; int32 count
//	    greedy: int32 left[nSplits], right[nSplits]
//	    uint32 nLeaves; float32 leaves[nLeaves*outDim]; int32 leafCount[nLeaves]
//	uint32 CRC-32 (IEEE) of everything before it
//
// Load rejects a wrong magic or version, a file that ends early (truncated), trailing bytes,
// a checksum mismatch (corrupt) and any structure that does not fit the dimensions.

const (
	fileMagic   = "MOEBTREE"
	fileVersion = 1
	maxDim      = 1 << 20 // outputs or features
	maxDepthIO  = 64
)

// ErrTruncated and ErrCorrupt classify Load failures (test with errors.Is).
var (
	ErrTruncated = errors.New("truncated")
	ErrCorrupt   = errors.New("corrupt")
)

type writer struct {
	buf bytes.Buffer
}

func (w *writer) u8(v uint8)    { w.buf.WriteByte(v) }
func (w *writer) u32(v uint32)  { w.buf.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *writer) i32(v int32)   { w.u32(uint32(v)) }
func (w *writer) f32(v float32) { w.u32(math.Float32bits(v)) }
func (w *writer) f64(v float64) {
	w.buf.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
}
func (w *writer) str(s string) { w.u32(uint32(len(s))); w.buf.WriteString(s) }
func (w *writer) flag(b bool) {
	if b {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

// Save writes the ensemble (trees, bias, learning rates and tree configuration) to w.
func (e *Ensemble) Save(w io.Writer) error {
	var o writer
	o.buf.WriteString(fileMagic)
	o.u32(fileVersion)
	o.u32(uint32(e.outDim))
	o.u32(uint32(e.numF))
	o.u32(uint32(e.catF))
	for _, b := range e.Bias {
		o.f32(b)
	}
	o.u32(uint32(len(e.lrs)))
	for _, l := range e.lrs {
		o.u32(uint32(l.Start))
		o.u32(uint32(l.Stop))
		o.flag(l.Schedule == Linear)
		o.f64(l.Init)
		o.f64(l.Final)
		o.u32(uint32(l.T))
	}
	c := e.tree
	o.flag(c.Grow == Oblivious)
	o.flag(c.Split == Uniform)
	o.flag(c.Score == Cosine)
	o.flag(c.CosineForm == "paper")
	o.flag(c.NoStandardize)
	o.u32(uint32(c.MaxDepth))
	o.u32(uint32(c.Bins))
	o.u32(uint32(c.MinDataInLeaf))
	o.f64(c.Lambda)
	o.f64(c.MinSplitGain)
	o.u32(uint32(len(c.FeatureWeights)))
	for _, v := range c.FeatureWeights {
		o.f64(v)
	}
	o.u32(uint32(len(e.trees)))
	for _, t := range e.trees {
		o.flag(t.Oblivious)
		o.u32(uint32(t.Depth))
		o.u32(uint32(len(t.Splits)))
		for _, s := range t.Splits {
			o.u32(uint32(s.Feature))
			kind := uint8(0)
			if s.IsCat {
				kind |= 1
			}
			if s.MissingRight {
				kind |= 2
			}
			o.u8(kind)
			o.f32(s.Threshold)
			o.str(s.Category)
			o.f64(s.Gain)
			o.i32(s.Count)
		}
		if !t.Oblivious {
			for _, v := range t.Left {
				o.i32(v)
			}
			for _, v := range t.Right {
				o.i32(v)
			}
		}
		o.u32(uint32(len(t.LeafCount)))
		for _, v := range t.Leaves {
			o.f32(v)
		}
		for _, v := range t.LeafCount {
			o.i32(v)
		}
	}
	o.u32(crc32.ChecksumIEEE(o.buf.Bytes()))
	_, err := w.Write(o.buf.Bytes())
	return err
}

type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.pos < n {
		r.err = fmt.Errorf("trees: %w file: ends at byte %d while reading %s", ErrTruncated, len(r.b), what)
		return false
	}
	return true
}

func (r *reader) u8(what string) uint8 {
	if !r.need(1, what) {
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

func (r *reader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	r.pos += 4
	return binary.LittleEndian.Uint32(r.b[r.pos-4:])
}

func (r *reader) f32(what string) float32 { return math.Float32frombits(r.u32(what)) }

func (r *reader) f64(what string) float64 {
	if !r.need(8, what) {
		return 0
	}
	r.pos += 8
	return math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.pos-8:]))
}

func (r *reader) flag(what string) bool {
	v := r.u8(what)
	if v > 1 && r.err == nil {
		r.err = fmt.Errorf("trees: %w file: %s flag is %d, want 0 or 1", ErrCorrupt, what, v)
	}
	return v == 1
}

// count reads a length that must fit the remaining bytes at elem bytes per element.
func (r *reader) count(what string, elem, limit int) int {
	v := r.u32(what)
	if r.err != nil {
		return 0
	}
	if int64(v) > int64(limit) {
		r.err = fmt.Errorf("trees: %w file: %s = %d exceeds %d", ErrCorrupt, what, v, limit)
		return 0
	}
	if !r.need(int(v)*elem, what) {
		return 0
	}
	return int(v)
}

// Load reads an ensemble written by Save. It returns an error wrapping ErrTruncated when the
// data ends early and ErrCorrupt for a checksum mismatch, trailing bytes or an impossible
// structure; both errors say what was being read.
func Load(rd io.Reader) (*Ensemble, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("trees: reading ensemble: %w", err)
	}
	if len(data) < len(fileMagic) || string(data[:len(fileMagic)]) != fileMagic {
		if len(data) < len(fileMagic) && string(data) == fileMagic[:len(data)] {
			return nil, fmt.Errorf("trees: %w file: %d bytes, shorter than the magic", ErrTruncated, len(data))
		}
		return nil, fmt.Errorf("trees: not a moeboost tree ensemble (bad magic)")
	}
	r := &reader{b: data, pos: len(fileMagic)}
	if v := r.u32("version"); r.err == nil && v != fileVersion {
		return nil, fmt.Errorf("trees: ensemble file version %d is not supported (want %d)", v, fileVersion)
	}
	e := parse(r)
	if r.err != nil {
		return nil, r.err
	}
	if len(data)-r.pos < 4 {
		return nil, fmt.Errorf("trees: %w file: ends at byte %d while reading the checksum", ErrTruncated, len(data))
	}
	if len(data)-r.pos > 4 {
		return nil, fmt.Errorf("trees: %w file: %d unexpected bytes after the trees", ErrCorrupt, len(data)-r.pos-4)
	}
	want := binary.LittleEndian.Uint32(data[r.pos:])
	if got := crc32.ChecksumIEEE(data[:r.pos]); got != want {
		return nil, fmt.Errorf("trees: %w file: checksum %08x, stored %08x", ErrCorrupt, got, want)
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.ens, nil
}

type parsed struct {
	ens *Ensemble
	err error
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("trees: %w file: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// parse reads everything after the version; structural errors are kept in the result (and
// reported after the checksum, which says whether the bytes were damaged).
func parse(r *reader) (out parsed) {
	outDim := r.count("out_dim", 0, maxDim)
	numF := r.count("num_features", 0, maxDim)
	catF := r.count("cat_features", 0, maxDim)
	bias := make([]float32, 0, min(outDim, len(r.b)/4))
	for i := 0; i < outDim && r.err == nil; i++ {
		bias = append(bias, r.f32("bias"))
	}
	nLR := r.count("number of learning rates", 33, maxDim)
	lrs := make([]LR, nLR)
	for i := range lrs {
		l := &lrs[i]
		l.Start, l.Stop = int(r.u32("lr start")), int(r.u32("lr stop"))
		if r.flag("lr schedule") {
			l.Schedule = Linear
		} else {
			l.Schedule = Constant
		}
		l.Init, l.Final, l.T = r.f64("lr init"), r.f64("lr final"), int(r.u32("lr T"))
	}
	var c TreeConfig
	c.Grow = map[bool]string{false: Greedy, true: Oblivious}[r.flag("grow")]
	c.Split = map[bool]string{false: Quantile, true: Uniform}[r.flag("split")]
	c.Score = map[bool]string{false: L2, true: Cosine}[r.flag("score")]
	c.CosineForm = map[bool]string{false: "code", true: "paper"}[r.flag("cosine form")]
	c.NoStandardize = r.flag("no_standardize")
	c.MaxDepth, c.Bins, c.MinDataInLeaf = int(r.u32("max_depth")), int(r.u32("bins")), int(r.u32("min_data_in_leaf"))
	c.Lambda, c.MinSplitGain = r.f64("lambda"), r.f64("min_split_gain")
	if nw := r.count("number of feature weights", 8, maxDim); nw > 0 {
		c.FeatureWeights = make([]float64, nw)
		for i := range c.FeatureWeights {
			c.FeatureWeights[i] = r.f64("feature weight")
		}
	}
	nTrees := r.count("number of trees", 13, math.MaxInt32)
	trees := make([]*Tree, 0, nTrees)
	for ti := 0; ti < nTrees && r.err == nil; ti++ {
		t := &Tree{Oblivious: r.flag("tree kind")}
		t.Depth = int(r.u32("tree depth"))
		ns := r.count("number of splits", 25, math.MaxInt32)
		if r.err == nil && (t.Depth > maxDepthIO || (t.Oblivious && ns > maxDepthIO)) {
			out.err = corrupt("tree %d has depth %d and %d splits", ti, t.Depth, ns)
			ns = 0
		}
		t.Splits = make([]Split, ns)
		for i := range t.Splits {
			s := &t.Splits[i]
			s.Feature = int32(r.u32("split feature"))
			switch kind := r.u8("split kind"); {
			case kind > 3 && r.err == nil:
				r.err = fmt.Errorf("trees: %w file: split kind is %d, want 0..3", ErrCorrupt, kind)
			default:
				s.IsCat, s.MissingRight = kind&1 != 0, kind&2 != 0
			}
			s.Threshold = r.f32("threshold")
			if n := r.count("category length", 1, 1<<20); r.err == nil {
				s.Category = string(r.b[r.pos : r.pos+n])
				r.pos += n
			}
			s.Gain = r.f64("gain")
			s.Count = int32(r.u32("count"))
		}
		if !t.Oblivious {
			if !r.need(8*ns, "child links") {
				break
			}
			t.Left, t.Right = make([]int32, ns), make([]int32, ns)
			for i := range t.Left {
				t.Left[i] = int32(r.u32("left"))
			}
			for i := range t.Right {
				t.Right[i] = int32(r.u32("right"))
			}
		}
		nl := r.count("number of leaves", 4, math.MaxInt32)
		if !r.need(nl*4*outDim, "leaf values") {
			break
		}
		t.Leaves = make([]float32, nl*outDim)
		for i := range t.Leaves {
			t.Leaves[i] = r.f32("leaf value")
		}
		t.LeafCount = make([]int32, nl)
		for i := range t.LeafCount {
			t.LeafCount[i] = int32(r.u32("leaf count"))
		}
		trees = append(trees, t)
	}
	if r.err != nil || out.err != nil {
		return out
	}
	e, err := New(Config{OutDim: outDim, NumFeatures: numF, CatFeatures: catF, Tree: c, LRs: lrs, Bias: bias})
	if err != nil {
		out.err = corrupt("%v", err)
		return out
	}
	for i, t := range trees {
		if err := e.AddTree(t); err != nil {
			out.err = corrupt("tree %d: %v", i, err)
			return out
		}
	}
	out.ens = e
	return out
}
