package distill_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/distill"
	"github.com/moeboost/moeboost/distill/imbalance"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
	"github.com/stretchr/testify/require"
)

// eval builds fn over the inputs and returns its outputs as float64 slices.
func eval(t *testing.T, fn func(in []*Node) []*Node, inputs ...*tensors.Tensor) [][]float64 {
	t.Helper()
	exec, err := model.NewExec(backend.MustDefault(), model.NewStore(), func(_ *model.Scope, xs []*Node) []*Node { return fn(xs) })
	require.NoError(t, err)
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, x := range inputs {
		args[i] = x
	}
	outs, err := exec.Call(args...)
	require.NoError(t, err)
	res := make([][]float64, len(outs))
	for i, o := range outs {
		switch o.DType() {
		case dtypes.Float64:
			res[i] = tensors.MustCopyFlatData[float64](o)
		case dtypes.Float32:
			for _, v := range tensors.MustCopyFlatData[float32](o) {
				res[i] = append(res[i], float64(v))
			}
		case dtypes.Bool:
			for _, v := range tensors.MustCopyFlatData[bool](o) {
				res[i] = append(res[i], map[bool]float64{true: 1}[v])
			}
		}
	}
	return res
}

func f64(vals []float64, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(vals, dims...)
}
func i32(vals []int32, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(vals, dims...)
}

// Hand-computed values; each case states the reduction.
func TestLossesHandComputed(t *testing.T) {
	ln := math.Log
	kd1, err := distill.NewKD(distill.KDConfig{Temperature: 1, Alpha: distill.Float(1)})
	require.NoError(t, err)
	kd2, err := distill.NewKD(distill.KDConfig{Temperature: 2, Alpha: distill.Float(1)})
	require.NoError(t, err)
	dist1, err := distill.NewDIST(distill.DISTConfig{})
	require.NoError(t, err)
	dist2, err := distill.NewDIST(distill.DISTConfig{Tau: 2})
	require.NoError(t, err)
	dcd, err := distill.NewDCD(distill.DCDConfig{})
	require.NoError(t, err)
	focal, err := imbalance.NewFocal(imbalance.FocalConfig{})
	require.NoError(t, err)
	la, err := imbalance.NewLogitAdjust(imbalance.LogitAdjustConfig{ClassCounts: []float64{3, 1}})
	require.NoError(t, err)
	dice, err := imbalance.NewDice(imbalance.DiceConfig{Alpha: imbalance.Float(0)})
	require.NoError(t, err)
	mdb, err := distill.NewMDB(distill.MDBConfig{})
	require.NoError(t, err)
	sq3 := math.Sqrt(3)
	cases := []struct {
		name string
		fn   func(in []*Node) []*Node
		in   []*tensors.Tensor
		want []float64
	}{
		{"kd T=1 batchmean: KL([.75,.25] || [.5,.5])", func(in []*Node) []*Node {
			return []*Node{kd1.Compute(in[0], in[1], in[2])}
		}, []*tensors.Tensor{f64([]float64{0, 0}, 1, 2), f64([]float64{ln(3), 0}, 1, 2), i32([]int32{0}, 1)},
			[]float64{0.75*ln(1.5) + 0.25*ln(0.5)}},
		{"kd T=2: T²·KL(softmax([ln3/2, 0]) || uniform)", func(in []*Node) []*Node {
			return []*Node{kd2.Compute(in[0], in[1], in[2])}
		}, []*tensors.Tensor{f64([]float64{0, 0}, 1, 2), f64([]float64{ln(3), 0}, 1, 2), i32([]int32{0}, 1)},
			[]float64{4 * (sq3/(sq3+1)*ln(2*sq3/(sq3+1)) + 1/(sq3+1)*ln(2/(sq3+1)))}},
		{"ce mean: −log(3/4)", func(in []*Node) []*Node { return []*Node{distill.CrossEntropyMean(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{0, ln(3)}, 1, 2), i32([]int32{1}, 1)}, []float64{-ln(0.75)}},
		{"dist τ=1 (numpy reference)", func(in []*Node) []*Node { return []*Node{dist1.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{1, 0, -1, 0.5, 2, 0}, 2, 3), f64([]float64{2, 0, 0, 0, 1, 1}, 2, 3)}, []float64{0.3081854175427482}},
		{"dist τ=2 includes τ²", func(in []*Node) []*Node { return []*Node{dist2.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{1, 0, -1, 0.5, 2, 0}, 2, 3), f64([]float64{2, 0, 0, 0, 1, 1}, 2, 3)}, []float64{1.4240200699960996}},
		{"dcd student = teacher: d = 0, nll = mean BCE(0, [1,0]) = ln 2, L = 0.8·ln 2", func(in []*Node) []*Node {
			return []*Node{dcd.Compute(in[0], in[0]), dcd.Weights(in[1])}
		}, []*tensors.Tensor{f64([]float64{0, 0}, 1, 2), f64([]float64{1, 0, 0, 1}, 2, 2)},
			[]float64{0.8 * ln(2), 0.5, 0.5}},
		{"focal γ=2 softmax mean: −(1−.75)²·ln .75", func(in []*Node) []*Node { return []*Node{focal.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{0, ln(3)}, 1, 2), i32([]int32{1}, 1)}, []float64{-0.0625 * ln(0.75)}},
		{"focal binary α=.25: −.25·(1−.5)²·ln .5", func(in []*Node) []*Node { return []*Node{focal.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{0}, 1, 1), f64([]float64{1}, 1, 1)}, []float64{-0.25 * 0.25 * ln(0.5)}},
		{"logit adjustment π=[.75,.25]: −ln .25", func(in []*Node) []*Node { return []*Node{la.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{0, 0}, 1, 2), i32([]int32{1}, 1)}, []float64{-ln(0.25)}},
		{"dice binary square s=1: 1 − (2·.5+1)/(.5+1+1)", func(in []*Node) []*Node { return []*Node{dice.Compute(in[0], in[1])} },
			[]*tensors.Tensor{f64([]float64{0, 0}, 2, 1), f64([]float64{1, 0}, 2, 1)}, []float64{0.2}},
		{"dice multi-class square s=1, mean over examples of Σ_c", func(in []*Node) []*Node { return []*Node{dice.Compute(in[0], in[1])} },
			// p = [.5,.5]; class 0: 1−(1+1)/(.25+1+1) for the positive, 1−1/(.25+1) for the negative.
			[]*tensors.Tensor{f64([]float64{0, 0}, 1, 2), i32([]int32{0}, 1)}, []float64{(1 - 2/2.25) + (1 - 1/1.25)}},
		{"lskd standardize uses torch.std (n−1)", func(in []*Node) []*Node { return []*Node{distill.Standardize(in[0], 1e-7)} },
			[]*tensors.Tensor{f64([]float64{1, 2, 4}, 1, 3)}, []float64{-0.8728715, -0.21821788, 1.09108938}},
		{"mdb first visit: w = B·softmax(ℓ), L = mean(w·ℓ)", func(in []*Node) []*Node {
			mem := MulScalar(Ones(in[0].Graph(), in[0].Shape().Clone()), -1)
			mem = Reshape(Slice(mem, AxisRange(), AxisElem(0)), 2, 1)
			loss, w, newMem := mdb.Step(mem, in[1], in[2], in[0])
			return []*Node{loss, w, newMem}
		}, []*tensors.Tensor{f64([]float64{2, 0, 0, 1}, 2, 2), i32([]int32{0, 1}, 2), i32([]int32{0, 0}, 2)},
			[]float64{1.0357600944591827, 0.46783059, 1.53216941, 0.12692801, 1.31326169}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := eval(t, c.fn, c.in...)
			var flat []float64
			for _, g := range got {
				flat = append(flat, g...)
			}
			require.Len(t, flat, len(c.want))
			for i := range c.want {
				require.InDelta(t, c.want[i], flat[i], 1e-7, "element %d", i)
			}
		})
	}
}

// KD with α = 0 is cross-entropy; DKD with β = 0 is its TCKD; EMA with momentum 0 is the
// student (see TestEMAMomentumZeroIsStudent).
func TestDegenerateEquivalences(t *testing.T) {
	kd0, err := distill.NewKD(distill.KDConfig{Temperature: 3, Alpha: distill.Float(0)})
	require.NoError(t, err)
	ce, err := losses.New(model.NewStore().RootScope(), "cross_entropy")
	require.NoError(t, err)
	focal0, err := imbalance.NewFocal(imbalance.FocalConfig{Gamma: imbalance.Float(0), Alpha: imbalance.Float(-1)})
	require.NoError(t, err)
	s := f64([]float64{0.3, -1.2, 2.0, 0.1, 0.5, 0.5, -0.7, 1.1, 0.0, 2.2, -0.3, 0.9}, 4, 3)
	tl := f64([]float64{1, 2, 3, -1, 0, 1, 2, 2, 0, 0.5, 0.1, -2}, 4, 3)
	y := i32([]int32{2, 0, 1, 1}, 4, 1)
	got := eval(t, func(in []*Node) []*Node {
		return []*Node{kd0.Compute(in[0], in[1], in[2]), ce([]*Node{in[2]}, []*Node{in[0]}), focal0.Compute(in[0], in[2])}
	}, s, tl, y)
	require.InDelta(t, got[1][0], got[0][0], 1e-12, "KD with alpha=0 must equal cross-entropy")
	require.InDelta(t, got[1][0], got[2][0], 1e-12, "focal with gamma=0 and no alpha must equal cross-entropy")
}

func TestSchedules(t *testing.T) {
	scheds := []distill.Schedule{
		{},
		{Kind: "warmup", Warmup: 20},
		{Kind: "linear", Start: 10, End: 30, From: 1, To: 0.2},
		{Kind: "step", Milestones: []float64{5, 15}, Gamma: 0.5},
	}
	// DKD/MDCS warm-up: min(epoch/20, 1).
	require.Equal(t, 0.5, scheds[1].At(10))
	require.Equal(t, 1.0, scheds[1].At(40))
	require.InDelta(t, 0.6, scheds[2].At(20), 1e-12)
	require.Equal(t, 0.25, scheds[3].At(15))
	steps := []int64{0, 5, 10, 15, 20, 29, 30, 100}
	for i, s := range scheds {
		for _, st := range steps {
			got := eval(t, func(in []*Node) []*Node {
				return []*Node{s.Factor(in[0], 0, dtypes.Float64)}
			}, tensors.FromScalar(st))
			require.InDelta(t, s.At(float64(st)), got[0][0], 1e-12, "schedule %d at %d", i, st)
		}
	}
	// Epoch units: steps 0..9 are epoch 0 with 10 steps per epoch.
	s := distill.Schedule{Kind: "warmup", Warmup: 2, Epochs: true}
	got := eval(t, func(in []*Node) []*Node { return []*Node{s.Factor(in[0], 10, dtypes.Float64)} }, tensors.FromScalar(int64(19)))
	require.Equal(t, 0.5, got[0][0])
	require.ErrorContains(t, distill.Schedule{Kind: "cosine"}.Validate(), `schedule kind "cosine" unknown`)
	require.ErrorContains(t, distill.Schedule{Kind: "warmup"}.Validate(), "warmup=0 must be > 0")
	require.ErrorContains(t, distill.Schedule{Kind: "step", Milestones: []float64{3, 1}}.Validate(), "must be increasing")
}

func TestPSKDEpochZeroTargetsAndMemory(t *testing.T) {
	p, err := distill.NewPSKD(distill.PSKDConfig{AlphaT: 0.8, Epochs: 10})
	require.NoError(t, err)
	logits := f64([]float64{2, 0, 1, 0.5, -1, 3}, 2, 3)
	got := eval(t, func(in []*Node) []*Node {
		g := in[0].Graph()
		mem := Zeros(g, in[0].Shape().Clone())
		mem = Concatenate([]*Node{mem, mem}, 0) // [4, 3]
		e0 := ScalarZero(g, dtypes.Float64)
		targets, _, newMem := distill.PSKDStep(mem, in[1], in[2], in[0], p.Alpha(e0), Const(g, true))
		return []*Node{targets, ReduceSum(newMem, -1), p.Alpha(Scalar(g, dtypes.Float64, 9))}
	}, logits, i32([]int32{3, 1}, 2), i32([]int32{0, 2}, 2))
	require.Equal(t, []float64{1, 0, 0, 0, 0, 1}, got[0], "epoch-0 targets are the one-hot labels")
	require.InDeltaSlice(t, []float64{0, 1, 0, 1}, got[1], 1e-12, "visited rows hold probabilities, others untouched")
	require.InDelta(t, 0.8, got[2][0], 1e-12, "alpha reaches alpha_T in the last epoch")
}

func TestMIBoundsProperties(t *testing.T) {
	// With a critic that is large on the diagonal, InfoNCE approaches (and never exceeds) log B.
	const b = 8
	vals := make([]float64, b*b)
	for i := range b {
		vals[i*b+i] = 30
	}
	got := eval(t, func(in []*Node) []*Node {
		return []*Node{distill.InfoNCEBound(in[0]), distill.NWJBound(in[0]), distill.TUBABound(in[0], nil)}
	}, f64(vals, b, b))
	require.LessOrEqual(t, got[0][0], math.Log(b)+1e-12)
	require.InDelta(t, math.Log(b), got[0][0], 1e-9)
	// TUBA with constant zero scores off-diagonal: 1 + 30 − 1 = 30; NWJ = 1 + 29 − e^{−1}.
	require.InDelta(t, 30, got[2][0], 1e-9)
	require.InDelta(t, 30-math.Exp(-1), got[1][0], 1e-9)
	require.InDelta(t, 0.3, math.Sqrt(1-math.Exp(-2*distill.GaussianMI(20, 0.3)/20)), 1e-12)
	require.InDelta(t, 5, distill.GaussianMI(20, distill.CorrelationForMI(20, 5)), 1e-12)
}

func TestGradientReversalAndAffineSample(t *testing.T) {
	got := eval(t, func(in []*Node) []*Node {
		y := ReduceAllSum(Mul(distill.GradientReversal(in[0], 2), Const(in[0].Graph(), []float64{1, 3})))
		return []*Node{y, Gradient(y, in[0])[0]}
	}, f64([]float64{0.5, -1}, 2))
	require.Equal(t, []float64{-2.5}, got[0], "identity forward")
	require.Equal(t, []float64{-2, -6}, got[1], "gradient multiplied by -scale")

	// The identity transform returns the image; a one-pixel shift moves it by one column.
	img := make([]float64, 16)
	for i := range img {
		img[i] = float64(i)
	}
	shift := 2.0 / 3 // one pixel of a width-4 image in normalized coordinates
	got = eval(t, func(in []*Node) []*Node {
		g := in[0].Graph()
		one, zero := Ones(g, in[1].Shape().Clone()), Zeros(g, in[1].Shape().Clone())
		return []*Node{distill.AffineSample(in[0], 4, 4, one, zero, zero, zero),
			distill.AffineSample(in[0], 4, 4, one, zero, AddScalar(zero, shift), zero)}
	}, f64(img, 1, 16), f64([]float64{0}, 1, 1))
	require.InDeltaSlice(t, img, got[0], 1e-12)
	require.InDeltaSlice(t, []float64{1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0}, got[1], 1e-12)
	// Differentiable in the transform parameters (away from pixel-grid kinks).
	_, err := gradcheck.Check(backend.MustDefault(), func(_ *model.Scope, xs []*Node) *Node {
		im := Const(xs[0].Graph(), [][]float64{{0, 1, 2, 3, 1, 5, 2, 1, 0, 4, 4, 2, 3, 1, 0, 2}})
		return ReduceAllSum(Square(distill.AffineSample(im, 4, 4, Reshape(xs[0], 1, 1), Reshape(xs[1], 1, 1), Reshape(xs[2], 1, 1), Reshape(xs[3], 1, 1))))
	}, [][]float64{{1.07}, {0.13}, {0.11}, {-0.07}}, [][]int{{1}, {1}, {1}, {1}}, 1e-6, 1e-6, 1e-5)
	require.NoError(t, err)
}

func TestSoftplusInverseViaInterpolatedBound(t *testing.T) {
	// α → 1 turns I_α into InfoNCE's leave-one-out form; check it against a direct evaluation
	// of its definition for one random matrix.
	vals := []float64{0.3, -1, 2, 0.5, 1, 0.1, -0.2, 0.7, 1.5}
	got := eval(t, func(in []*Node) []*Node {
		return []*Node{distill.InterpolatedBound(in[0], in[1], distill.AlphaLogit(1-1e-12))}
	}, f64(vals, 3, 3), f64([]float64{0, 0, 0}, 3))
	// Direct: b_ij = log mean_{k≠j} exp F_ik.
	f := func(i, j int) float64 { return vals[i*3+j] }
	lb := func(i, j int) float64 {
		s := 0.0
		for k := range 3 {
			if k != j {
				s += math.Exp(f(i, k))
			}
		}
		return math.Log(s / 2)
	}
	joint, marg := 0.0, 0.0
	for i := range 3 {
		for j := range 3 {
			if i != j {
				joint += f(i, i) - lb(i, j)
				marg += math.Exp(f(i, j) - lb(i, i))
			}
		}
	}
	want := 1 + joint/6 - marg/6
	require.InDelta(t, want, got[0][0], 1e-9)
}

// StableMax cross-entropy is train/losses' "stablemax_ce" (one implementation, shared with the
// optimizers): the hard-label term reaches it by name. s(x) = x + 1 for x ≥ 0, so logits
// [0, 1] give StableMax = [1, 2]/3 and the loss of label 1 is −log(2/3).
func TestStableMaxHardLabelReused(t *testing.T) {
	h, err := distill.NewHardLabel(nil, "stablemax_ce")
	require.NoError(t, err)
	got := eval(t, func(in []*Node) []*Node {
		return []*Node{h.Loss(&distill.Context{Student: in[0], Labels: in[1]})}
	}, f64([]float64{0, 1}, 1, 2), i32([]int32{1}, 1))
	require.InDelta(t, -math.Log(2.0/3), got[0][0], 1e-12)
}
