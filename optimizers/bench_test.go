package optimizers_test

import (
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// BenchmarkUpdate10M times one optimizer update of 10M float32 parameters (a [2500, 4000]
// weight) with a fixed gradient, on the default (Go) backend, and reports the state+parameter
// traffic as GB/s: bytes = 4·N·(2 for p read/write + 1 for g + 2·state/params) per update.
// "copy" is the bandwidth limit: a host memmove of the same bytes as AdamW's traffic.
// Fira and FRUGAL-SVD take injected/absent projectors (an in-graph SVD of a 2500-wide Gram
// matrix at the first step would dominate); MKOR has no marked layer here (its base SGD).
//
//	GOEXPERIMENT=simd go test ./optimizers -run '^$' -bench Update10M -benchtime 5x
func BenchmarkUpdate10M(b *testing.B) {
	const rows, cols = 2500, 4000
	n := rows * cols
	b.Run("copy", func(b *testing.B) {
		bytes := 4 * n * 7 // AdamW: p r/w, g, m r/w, v r/w
		src, dst := make([]byte, bytes), make([]byte, bytes)
		b.SetBytes(int64(bytes))
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			copy(dst, src)
		}
		b.ReportMetric(float64(bytes)*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
	})
	grad := make([]float32, n)
	for i := range grad {
		grad[i] = float32(i%17) - 8
	}
	gradT := tensors.FromFlatDataAndDimensions(grad, rows, cols)
	for _, name := range optimizers.Names() {
		b.Run(name, func(b *testing.B) {
			store := model.NewStore()
			store.SetParams(map[string]any{optimizers.ParamLogGroups: false, optimizers.ParamFiraUpdateProjGap: 1 << 30})
			w, err := store.RootScope().CreateVariable("w", tensors.FromShape(gradT.Shape()))
			require.NoError(b, err)
			opt, err := optimizers.New(store.RootScope(), name)
			require.NoError(b, err)
			if name == "fira" {
				const r = rows / 4 // default rank ⌈min(2500, 4000)/4⌉; rows < cols: left projector [rows, r]
				p := make([]float64, rows*r)
				for i := range r {
					p[i*r+i] = 1
				}
				require.NoError(b, optimizers.InjectProjectors(opt, map[string][]float64{"/w": p}))
			}
			wg := opt.(interface {
				UpdateGraphWithGradients(*model.Scope, []*graph.Node, dtypes.DType)
			})
			exec, err := model.NewExec(backend.MustDefault(), store, func(scope *model.Scope, g *graph.Node) *graph.Node {
				_ = w.NodeValue(g.Graph())
				wg.UpdateGraphWithGradients(scope, []*graph.Node{g}, dtypes.Float32)
				return graph.ReduceAllSum(graph.Slice(w.NodeValue(g.Graph()), graph.AxisRange(0, 1), graph.AxisRange(0, 1)))
			})
			require.NoError(b, err)
			_, err = exec.Exec(gradT) // compile and first step
			require.NoError(b, err)
			ratio := float64(optimizers.StateBytes(store, opt)) / float64(4*n)
			bytes := 4 * float64(n) * (3 + 2*ratio)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				_, err := exec.Exec(gradT)
				require.NoError(b, err)
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(bytes*float64(b.N)/secs/1e9, "GB/s")
			b.ReportMetric(ratio, "state/params")
		})
	}
}
