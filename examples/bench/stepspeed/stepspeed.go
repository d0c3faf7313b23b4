// Package stepspeed is the `step-speed` benchmark: the median time of one training step of
// moeboost models next to the same step in PyTorch (CPU), measured in one run, so the ratio is
// comparable on any machine.
//
// Tasks: "mlp" (batch 256, 64-256-256-1, ReLU, Adam, MSE), "transformer-block" (pre-LN block,
// batch 32, seq 64, d_model 128, 4 heads, FFN 256, Adam, MSE), "moe-block" (the same block
// with a top-2-of-4 MoE FFN, capacity factor 1.25, from package moe) and "dense-block-512"
// (the block with a dense FFN of width 512: the MoE block's active FLOPs, so that moe-block's
// extra "ratio_vs_dense_equal_active" measures the cost of routing and dispatch). Arms:
// "moeboost" and "pytorch" (only when a python3 that imports torch is found; the best of 1 and
// 2 threads), the anchor (suite.ExtraAnchor) that the report's ratio column divides by. Metric:
// ms_per_step.
//
// Rounds: the machine may be shared, so the arms alternate: each round times each task in Go
// and then in torch_ref.py (a fresh process per task), and each ratio is taken within its round. -seeds sets
// the number of rounds (default 3, -quick 1). A row's value is the median over rounds, its
// extra holds the per-round times ("per_round_ms") and ratios ("ratio_vs_pytorch" is the median
// of the per-round ratios, with their min and max).
//
// Fairness: torch_ref.py runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (in that process
// only, see suite.ReferenceEnv), since they force OpenBLAS onto an older, slower kernel; the
// pytorch rows record the BLAS library and the kernel it used (threadpoolctl, Extra "blas" and
// "blas_info"), ATen's CPU capability, and which variables were unset ("env_unset_values").
package stepspeed

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/train"
)

//go:embed torch_ref.py
var torchRef []byte

// Task is one timed training step.
type Task struct {
	Name string
	// Inputs and Target are the shapes of the (random) batch.
	Input, Target []int
	Model         train.ModelFn
	Steps, Quick  int
}

// Tasks are the step-speed tasks; packages may append theirs (e.g. moe adds "moe-block") from init.
var Tasks = []Task{
	{Name: "mlp", Input: []int{256, 64}, Target: []int{256, 1}, Steps: 300, Quick: 120,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{256, 256}, Out: 1})}
		}},
	{Name: "transformer-block", Input: []int{32, 64, 128}, Target: []int{32, 64, 128}, Steps: 40, Quick: 15,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x, _ := layers.Block(scope.In("block"), in[0], 0, BlockConfig(nil), nil)
			return []*graph.Node{x}
		}},
	{Name: "moe-block", Input: []int{32, 64, 128}, Target: []int{32, 64, 128}, Steps: 30, Quick: 10,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			// Top-2 of 4 experts, softmax then top-k then renormalize, capacity factor 1.25
			// (slot priority), no auxiliary losses: the MoE of torch_ref.py.
			ffn, err := moe.NewSMoE(moe.Config{NumExperts: 4, TopK: 2, Hidden: 256, Activation: "gelu",
				Gate: moe.GateSoftmaxTopK, Renormalize: true, BalanceWeight: moe.Off, ZLossWeight: moe.Off})
			if err != nil {
				panic(err)
			}
			x, _ := layers.Block(scope.In("block"), in[0], 0, BlockConfig(ffn), nil)
			return []*graph.Node{x}
		}},
	{Name: "dense-block-512", Input: []int{32, 64, 128}, Target: []int{32, 64, 128}, Steps: 30, Quick: 10,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			// The moe-block's active FLOPs: 2 of 4 experts of width 256 per token.
			x, _ := layers.Block(scope.In("block"), in[0], 0, layers.BlockConfig{DModel: 128, NumHeads: 4, FFNHidden: 512, Activation: "gelu"}, nil)
			return []*graph.Node{x}
		}},
}

// BlockConfig is the block of the transformer-block and moe-block tasks, with ffn in the FFN
// slot (nil: dense GELU FFN of width 256).
func BlockConfig(ffn layers.FFN) layers.BlockConfig {
	return layers.BlockConfig{DModel: 128, NumHeads: 4, FFNHidden: 256, Activation: "gelu", FFN: ffn}
}

func init() {
	suite.Register("step-speed", suite.Func{
		Desc: "ms per training step vs PyTorch on CPU (mlp, transformer-block, moe-block, dense-block-512), arms alternating in rounds",
		Fn:   run,
	})
}

// randomBatches yields the same random batch (fresh tensors each step, as the trainer takes
// ownership of what a dataset yields) forever.
type randomBatches struct {
	x, y         []float32
	xdims, ydims []int
	step         int64
}

func (r *randomBatches) Name() string    { return "random" }
func (r *randomBatches) SetStep(s int64) { r.step = s }
func (r *randomBatches) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			r.step++
			b := gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(r.x, r.xdims...)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(r.y, r.ydims...)}}
			if !yield(b, nil) {
				return
			}
		}
	}
}

func newRandom(t Task, seed uint64) *randomBatches {
	rng := rand.New(rand.NewPCG(seed, 7))
	size := func(d []int) int {
		n := 1
		for _, v := range d {
			n *= v
		}
		return n
	}
	r := &randomBatches{x: make([]float32, size(t.Input)), y: make([]float32, size(t.Target)), xdims: t.Input, ydims: t.Target}
	for i := range r.x {
		r.x[i] = float32(rng.NormFloat64())
	}
	for i := range r.y {
		r.y[i] = float32(rng.NormFloat64())
	}
	return r
}

// Measure trains task for steps steps with Adam and returns the median ms/step.
func Measure(ctx context.Context, opts suite.Options, t Task, steps int) (float64, error) {
	res, err := train.Run(ctx, train.Config{Name: t.Name, Backend: opts.Backend, Model: t.Model, Loss: "mse",
		Optimizer: "adam", LearningRate: 1e-3, Steps: steps, Train: newRandom(t, 1), EvalEvery: steps + 1})
	if err != nil {
		return 0, err
	}
	return res.MsPerStep, nil
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	if opts.DataFile != "" || opts.TextFile != "" {
		opts.Logf("step-speed: -data and -text do not apply: every task times steps on a fixed random batch of its own shape")
	}
	python, pyNote := FindTorchPython()
	if python == "" {
		opts.Logf("step-speed: pytorch arm skipped: %s", pyNote)
	}
	rounds := opts.SeedsOr(3, 1)
	torchSteps := ""
	if opts.Quick {
		torchSteps = "20"
	}
	goMs := map[string][]float64{}
	torchMs := map[string][]float64{}
	var torch torchRun
	torchOK := python != ""
	prog := suite.NewProgress(rounds*len(Tasks), "step-speed")
	defer prog.Done()
	for round := range rounds {
		for _, t := range Tasks {
			steps := t.Steps
			if opts.Quick {
				steps = t.Quick
			}
			ms, err := Measure(ctx, opts, t, steps)
			if err != nil {
				return nil, fmt.Errorf("task %s (round %d): %w", t.Name, round+1, err)
			}
			goMs[t.Name] = append(goMs[t.Name], ms)
			if torchOK {
				tr, err := runTorch(ctx, python, []string{t.Name}, torchSteps)
				if err != nil {
					opts.Logf("step-speed: pytorch arm failed: %v", err)
					torchOK = false
				} else {
					torch = mergeTorch(torch, tr)
					torchMs[t.Name] = append(torchMs[t.Name], bestOf(tr.Results[t.Name]))
				}
			}
			prog.Add(1)
		}
	}
	if torchOK {
		opts.Logf("step-speed: pytorch %s, BLAS %s, ATen CPU capability %s (run without %s)", torch.Torch,
			torch.blasSummary(), torch.CPUCapability, strings.Join(suite.ReferenceEnvUnset, ", "))
	}
	return rowsOf(opts, Tasks, goMs, torchMs, torch, python, torchOK), nil
}

// mergeTorch adds the per-task results of run b to a (the environment fields are the same for
// every run of one process tree; b's win).
func mergeTorch(a, b torchRun) torchRun {
	out := b
	out.Results, out.Steps = map[string]map[string]float64{}, map[string]int{}
	for _, r := range []torchRun{a, b} {
		maps.Copy(out.Results, r.Results)
		maps.Copy(out.Steps, r.Steps)
	}
	return out
}

// rowsOf builds the result rows from the per-round times and logs the table: per task the
// median over rounds and, with PyTorch, the per-round ratios (min / median / max).
func rowsOf(opts suite.Options, tasks []Task, goMs, torchMs map[string][]float64, torch torchRun, python string, torchOK bool) []suite.Result {
	var rows []suite.Result
	opts.Logf("%-18s %14s %14s %22s", "task", "moeboost ms", "torch ms", "ratio min/med/max")
	for _, t := range tasks {
		steps := t.Steps
		if opts.Quick {
			steps = t.Quick
		}
		g := goMs[t.Name]
		row := suite.Result{Benchmark: "step-speed", Task: t.Name, Arm: "moeboost", Metric: "ms_per_step",
			Value: median(g), Std: stdOf(g), Seeds: len(g), MsPerStep: median(g), Steps: steps,
			Extra: map[string]any{"per_round_ms": g}}
		if t.Name == "moe-block" && len(goMs["dense-block-512"]) == len(g) {
			r := ratios(g, goMs["dense-block-512"])
			row.Extra["ratio_vs_dense_equal_active"] = median(r)
			row.Extra["ratio_vs_dense_equal_active_per_round"] = r
		}
		ratioText := "-"
		tm := torchMs[t.Name]
		if torchOK && len(tm) == len(g) {
			r := ratios(g, tm)
			row.Extra["ratio_vs_pytorch"] = median(r)
			row.Extra["ratio_vs_pytorch_min"] = slices.Min(r)
			row.Extra["ratio_vs_pytorch_max"] = slices.Max(r)
			row.Extra["ratio_vs_pytorch_per_round"] = r
			ratioText = fmt.Sprintf("%.2f/%.2f/%.2fx", slices.Min(r), median(r), slices.Max(r))
			last := torch.Results[t.Name]
			rows = append(rows, row, suite.Result{Benchmark: "step-speed", Task: t.Name, Arm: "pytorch", Metric: "ms_per_step",
				Value: median(tm), Std: stdOf(tm), Seeds: len(tm), MsPerStep: median(tm), Steps: torch.Steps[t.Name],
				Extra: map[string]any{"torch": torch.Torch, "per_round_ms": tm, "ms_1_thread": last["1"], "ms_2_threads": last["2"],
					"python": python, "blas": torch.blasSummary(), "blas_info": torch.BLAS, "cpu_capability": torch.CPUCapability,
					"env_unset": suite.ReferenceEnvUnset, "env_unset_values": suite.UnsetReferenceEnv(),
					"openblas_env_seen": torch.OpenBLASEnv}}.AsAnchor())
		} else {
			rows = append(rows, row)
		}
		opts.Logf("%-18s %14s %14s %22s", t.Name, minMed(g), minMed(tm), ratioText)
	}
	if m, ok := rowExtra(rows, "moe-block", "ratio_vs_dense_equal_active"); ok {
		opts.Logf("step-speed: moe-block / dense-block-512 (equal active FLOPs) %.2fx (median of per-round ratios)", m)
	}
	return rows
}

func rowExtra(rows []suite.Result, task, key string) (float64, bool) {
	for _, r := range rows {
		if r.Task == task && r.Arm == "moeboost" {
			v, ok := r.Extra[key].(float64)
			return v, ok
		}
	}
	return 0, false
}

// bestOf is the smallest positive time of a torch task over its thread counts (0 if none).
func bestOf(byThreads map[string]float64) float64 {
	best := 0.0
	for _, v := range byThreads {
		if v > 0 && (best == 0 || v < best) {
			best = v
		}
	}
	return best
}

// ratios returns a[i]/b[i].
func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func stdOf(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	_, s := suite.MeanStd(xs)
	return s
}

// minMed formats "min / median" of per-round times ("-" when empty, the value alone for one round).
func minMed(xs []float64) string {
	switch len(xs) {
	case 0:
		return "-"
	case 1:
		return fmt.Sprintf("%.3f", xs[0])
	}
	return fmt.Sprintf("%.2f/%.2f", slices.Min(xs), median(xs))
}

// FindTorchPython returns the first python interpreter that imports torch, or "" and why not
// (see suite.FindPython).
func FindTorchPython() (string, string) { return suite.FindPython("torch", "python3-torch") }

// torchRun is what torch_ref.py reports (see its docstring).
type torchRun struct {
	Torch         string                        `json:"torch"`
	Results       map[string]map[string]float64 `json:"results"`
	Steps         map[string]int                `json:"steps"`
	CPUCapability string                        `json:"cpu_capability"`
	OpenBLASEnv   map[string]*string            `json:"openblas_env"`
	BLAS          []map[string]any              `json:"blas"`
}

// blasSummary is one line naming the BLAS libraries and kernels of r, e.g.
// "openblas 0.3.21, kernel Cooperlake, pthreads".
func (r torchRun) blasSummary() string {
	var parts []string
	for _, b := range r.BLAS {
		if e, ok := b["error"]; ok {
			parts = append(parts, fmt.Sprint(e))
			continue
		}
		parts = append(parts, fmt.Sprintf("%v %v, kernel %v, %v", b["internal_api"], b["version"], b["architecture"], b["threading_layer"]))
	}
	if len(parts) == 0 {
		return "no BLAS library loaded"
	}
	return strings.Join(parts, "; ")
}

// runTorch runs torch_ref.py in suite.ReferenceEnv, i.e. with OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE unset, so OpenBLAS uses the kernel it picks for this CPU.
func runTorch(ctx context.Context, python string, tasks []string, steps string) (torchRun, error) {
	var doc torchRun
	dir, err := os.MkdirTemp("", "moeboost-torch")
	if err != nil {
		return doc, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "torch_ref.py")
	if err := os.WriteFile(script, torchRef, 0o644); err != nil {
		return doc, err
	}
	args := []string{script, "--tasks", strings.Join(tasks, ",")}
	if steps != "" {
		args = append(args, "--steps", steps)
	}
	cmd := suite.PythonCommand(ctx, python, args)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return doc, fmt.Errorf("%s %s: %w", python, strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return doc, fmt.Errorf("parsing torch_ref output %q: %w", out, err)
	}
	return doc, nil
}
