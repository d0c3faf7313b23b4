package losses_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/internal/gradcheck"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/losses"
	"github.com/stretchr/testify/require"
)

// zRef is a float64 re-statement: per row, CE = log Z − y_label and z = log² Z.
func zRef(logits []float64, labels []int, v int) (ce, z []float64) {
	for r, l := range labels {
		row := logits[r*v : (r+1)*v]
		var sum float64
		for _, y := range row {
			sum += math.Exp(y)
		}
		lz := math.Log(sum)
		ce, z = append(ce, lz-row[l]), append(z, lz*lz)
	}
	return ce, z
}

func TestZLossValue(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		rows  int
		v     int
		shift float64 // added to every logit: log Z moves, CE does not
		coef  float64
	}{
		{"paper coefficient", 6, 5, 0, 1e-4},
		{"drifted logits", 4, 7, -30, 1e-4},
		{"large coefficient", 3, 4, 3, 0.5},
		{"off", 3, 4, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logits := make([]float64, tc.rows*tc.v)
			labels := make([]int, tc.rows)
			lab32 := make([]int32, tc.rows)
			for i := range logits {
				logits[i] = r.NormFloat64()*2 + tc.shift
			}
			for i := range labels {
				labels[i] = r.IntN(tc.v)
				lab32[i] = int32(labels[i])
			}
			out := graph.MustExecOnceN(backend.MustDefault(), func(l, y *graph.Node) []*graph.Node {
				return []*graph.Node{losses.CrossEntropyZLoss(l, y, tc.coef), losses.ZLoss(y, tc.coef), losses.LogSumExp(y)}
			}, tensors.FromFlatDataAndDimensions(lab32, tc.rows), tensors.FromFlatDataAndDimensions(logits, tc.rows, tc.v))
			ce, z := zRef(logits, labels, tc.v)
			got := tensors.MustCopyFlatData[float64](out[0])
			var zMean float64
			for i := range ce {
				require.InDelta(t, ce[i]+tc.coef*z[i], got[i], 1e-9)
				zMean += z[i] / float64(len(z))
			}
			require.InDelta(t, tc.coef*zMean, out[1].Value().(float64), 1e-9)
			lse := tensors.MustCopyFlatData[float64](out[2])
			for i := range z {
				require.InDelta(t, math.Sqrt(z[i]), math.Abs(lse[i]), 1e-9)
			}
		})
	}
}

// TestZLossGradient: autodiff of the mean CE + z-loss against central finite differences, and
// against the hand gradient softmax(y)·(1 + 2c·log Z) − onehot(label).
func TestZLossGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rows, v, coef = 3, 5, 0.05
	logits := make([]float64, rows*v)
	for i := range logits {
		logits[i] = r.NormFloat64() + 2
	}
	labels := []int32{1, 4, 0}
	fn := func(_ *model.Scope, xs []*graph.Node) *graph.Node {
		l := graph.Const(xs[0].Graph(), labels)
		return graph.ReduceAllMean(losses.CrossEntropyZLoss(l, xs[0], coef))
	}
	res, err := gradcheck.Check(backend.MustDefault(), fn, [][]float64{logits}, [][]int{{rows, v}}, 1e-5, 1e-8, 1e-6)
	require.NoError(t, err, res.String())
	grad := graph.MustExecOnce(backend.MustDefault(), func(y *graph.Node) *graph.Node {
		l := graph.Const(y.Graph(), labels)
		return graph.Gradient(graph.ReduceAllMean(losses.CrossEntropyZLoss(l, y, coef)), y)[0]
	}, tensors.FromFlatDataAndDimensions(logits, rows, v))
	got := tensors.MustCopyFlatData[float64](grad)
	for rr := range rows {
		row := logits[rr*v : (rr+1)*v]
		var sum float64
		for _, y := range row {
			sum += math.Exp(y)
		}
		lz := math.Log(sum)
		for j := range v {
			want := math.Exp(row[j]) / sum * (1 + 2*coef*lz)
			if j == int(labels[rr]) {
				want--
			}
			require.InDelta(t, want/rows, got[rr*v+j], 1e-12)
		}
	}
}

func TestZLossRegistry(t *testing.T) {
	labels := tensors.FromFlatDataAndDimensions([]int32{0}, 1)
	logits := tensors.FromFlatDataAndDimensions([]float64{0, math.Log(3)}, 1, 2)
	// log Z = log 4: CE −log(1/4), z-loss 1e-4·log² 4 by default.
	require.InDelta(t, math.Log(4)+1e-4*math.Log(4)*math.Log(4), eval(t, "cross_entropy_zloss", labels, logits), 1e-12)
	store := model.NewStore()
	store.SetParam(losses.ParamZLoss, 0.5)
	fn, err := losses.New(store.RootScope(), "cross_entropy_zloss")
	require.NoError(t, err)
	got := graph.MustExecOnce(backend.MustDefault(), func(l, p *graph.Node) *graph.Node {
		return fn([]*graph.Node{l}, []*graph.Node{p})
	}, labels, logits)
	require.InDelta(t, math.Log(4)*(1+0.5*math.Log(4)), tensors.MustCopyFlatData[float64](got)[0], 1e-12)
	for _, bad := range []any{-1.0, "x"} {
		s := model.NewStore()
		s.SetParam(losses.ParamZLoss, bad)
		_, err := losses.New(s.RootScope(), "cross_entropy_zloss")
		require.ErrorContains(t, err, "z_loss_coefficient=")
	}
}
