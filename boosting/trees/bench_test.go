package trees

import (
	"testing"
)

// BenchmarkRegressorFit: 100 depth-4 trees on 100k x 20 with 2 threads (the trees-speed task).
func BenchmarkRegressorFit(b *testing.B) {
	d, y := synth(b, 100000, 20, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := FitRegressor(d, y, RegressorConfig{Trees: 100, MaxDepth: 4, LearningRate: 0.1, Threads: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStep512x8: one GBRL step (re-binning included), depth-4 oblivious tree, 512 x 8,
// two outputs (the research notes' RL bar: <= 0.5 ms).
func BenchmarkStep512x8(b *testing.B) {
	d, g := randomBatch(1, 512, 8, 0, 2)
	e, _ := New(Config{OutDim: 2, NumFeatures: 8, Tree: TreeConfig{Threads: 1}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.FitTree(d, g); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredict10kTrees16Rows: 10k oblivious depth-4 trees on 16 rows (the notes' bar:
// <= 1 ms).
func BenchmarkPredict10kTrees16Rows(b *testing.B) {
	d, g := randomBatch(2, 512, 4, 0, 3)
	e, _ := New(Config{OutDim: 3, NumFeatures: 4, Tree: TreeConfig{Threads: 1}})
	t, _ := e.FitTree(d, g)
	for i := 0; i < 10000; i++ {
		c := *t
		_ = e.AddTree(&c)
	}
	q := NumericData(d.Num[:16*4], 16, 4)
	out := make([]float32, 16*3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Predict(q, out); err != nil {
			b.Fatal(err)
		}
	}
}
