package guide_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/gbnn"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/moeboost/moeboost/train/data"
)

// guide:gbnn
// Example_gbnnOnCSV fits GBNN (gradient-boosted one-hidden-layer network) to a CSV file,
// assembles the boosted stages into one GoMLX network, checkpoints it and serves it again from
// the checkpoint in a fresh store.
func Example_gbnnOnCSV() {
	// Your CSV: numeric columns, the label last, and optionally a first line "count,features,
	// class names..." (scikit-learn's format). Here a synthetic one: the class is whether the
	// point lies inside the circle of radius 1.
	dir, _ := os.MkdirTemp("", "guide-gbnn")
	defer os.RemoveAll(dir)
	var csv strings.Builder
	csv.WriteString("400,2,outside,inside\n")
	r := rand.New(rand.NewPCG(1, 1))
	for range 400 {
		x, y := 3*r.Float64()-1.5, 3*r.Float64()-1.5
		fmt.Fprintf(&csv, "%.4f,%.4f,%d\n", x, y, map[bool]int{false: 0, true: 1}[x*x+y*y < 1])
	}
	path := filepath.Join(dir, "circle.csv")
	_ = os.WriteFile(path, []byte(csv.String()), 0o644)

	table, err := data.LoadCSV(path, data.Auto) // integer labels: classification
	if err != nil {
		panic(err)
	}
	trainT, testT, _ := table.Split(0.25, 1)
	_, trainT, others := data.Standardize(trainT, false, testT)
	testT = others[0]

	// 10 stages of 2 logistic units each, fitted by L-BFGS (the official solver), eta 0.5.
	fit, err := gbnn.Fit(context.Background(), gbnn.Config{TotalUnits: 20, UnitsPerStage: 2, Eta: 0.5,
		Solver: gbnn.SolverLBFGS, Seed: 1}, trainT)
	if err != nil {
		panic(err)
	}
	store := model.NewStore()
	net, err := fit.Assemble(store, dtypes.Float32)
	if err != nil {
		panic(err)
	}
	ckpt, err := train.OpenCheckpoint(store, filepath.Join(dir, "ckpt"), 1)
	if err != nil {
		panic(err)
	}
	if err := ckpt.Save(); err != nil {
		panic(err)
	}

	// Later, elsewhere: load the network from the checkpoint and predict.
	loaded := model.NewStore()
	if _, err := train.OpenCheckpoint(loaded, filepath.Join(dir, "ckpt"), 1); err != nil {
		panic(err)
	}
	served, err := gbnn.LoadNetwork(loaded)
	if err != nil {
		panic(err)
	}
	logits, err := served.Predict(backend.MustDefault(), loaded, testT.X, testT.N, served.Stages)
	if err != nil {
		panic(err)
	}
	acc := gbnn.Score(fit.Kind, served.Classify(logits, testT.N), testT.Y)
	fmt.Println("task:", table.Task, "classes:", table.NumClasses)
	fmt.Println("network:", net.Stages, "stages x", net.UnitsPerStage, "units =", served.Stages*served.UnitsPerStage, "hidden units")
	fmt.Println("test accuracy >= 0.85:", acc >= 0.85)
	// Output:
	// task: classification classes: 2
	// network: 10 stages x 2 units = 20 hidden units
	// test accuracy >= 0.85: true
}

// guide:end
