// Package stepspeed is the `step-speed` benchmark: the median time of one training step of
// moeboost models next to the same step in PyTorch (CPU), measured in one run, so the ratio is
// comparable on any machine.
//
// Tasks: "mlp" (batch 256, 64-256-256-1, ReLU, Adam, MSE), "transformer-block" (pre-LN block,
// batch 32, seq 64, d_model 128, 4 heads, FFN 256, Adam, MSE) and "moe-block" (the same block
// with a top-2-of-4 MoE FFN, capacity factor 1.25, from package moe). Arms:
// "moeboost" and "pytorch" (only when a python3 that imports torch is found; the best of 1 and
// 2 threads), the anchor (suite.ExtraAnchor) that the report's ratio column divides by. Metric:
// ms_per_step.
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
	"math/rand/v2"
	"os"
	"path/filepath"
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
}

// BlockConfig is the block of the transformer-block and moe-block tasks, with ffn in the FFN
// slot (nil: dense GELU FFN of width 256).
func BlockConfig(ffn layers.FFN) layers.BlockConfig {
	return layers.BlockConfig{DModel: 128, NumHeads: 4, FFNHidden: 256, Activation: "gelu", FFN: ffn}
}

func init() {
	suite.Register("step-speed", suite.Func{
		Desc: "ms per training step vs PyTorch on CPU (mlp, transformer-block, moe-block)",
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
	python, pyNote := FindTorchPython()
	var names []string
	for _, t := range Tasks {
		names = append(names, t.Name)
	}
	var torch torchRun
	if python == "" {
		opts.Logf("step-speed: pytorch arm skipped: %s", pyNote)
	}
	var rows []suite.Result
	prog := suite.NewProgress(len(Tasks), "step-speed")
	defer prog.Done()
	for _, t := range Tasks {
		steps := t.Steps
		if opts.Quick {
			steps = t.Quick
		}
		ms, err := Measure(ctx, opts, t, steps)
		if err != nil {
			return rows, fmt.Errorf("task %s: %w", t.Name, err)
		}
		rows = append(rows, suite.Result{Benchmark: "step-speed", Task: t.Name, Arm: "moeboost", Metric: "ms_per_step",
			Value: ms, Seeds: 1, MsPerStep: ms, Steps: steps})
		prog.Add(1)
	}
	if python != "" {
		quickSteps := ""
		if opts.Quick {
			quickSteps = "20"
		}
		var err error
		torch, err = runTorch(ctx, python, names, quickSteps)
		if err != nil {
			opts.Logf("step-speed: pytorch arm failed: %v", err)
		} else {
			opts.Logf("step-speed: pytorch %s, BLAS %s, ATen CPU capability %s (run without %s)", torch.Torch,
				torch.blasSummary(), torch.CPUCapability, strings.Join(suite.ReferenceEnvUnset, ", "))
		}
	}
	opts.Logf("%-18s %12s %12s %12s %8s", "task", "moeboost ms", "torch 1t ms", "torch 2t ms", "ratio")
	for _, r := range slicesClone(rows) {
		tm := torch.Results[r.Task]
		best := 0.0
		for _, v := range tm {
			if best == 0 || v < best {
				best = v
			}
		}
		ratio := "-"
		if best > 0 {
			ratio = fmt.Sprintf("%.2fx", r.Value/best)
			rows = append(rows, suite.Result{Benchmark: "step-speed", Task: r.Task, Arm: "pytorch", Metric: "ms_per_step",
				Value: best, Seeds: 1, MsPerStep: best, Steps: torch.Steps[r.Task],
				Extra: map[string]any{"torch": torch.Torch, "ms_1_thread": tm["1"], "ms_2_threads": tm["2"], "python": python,
					"blas": torch.blasSummary(), "blas_info": torch.BLAS, "cpu_capability": torch.CPUCapability,
					"env_unset": suite.ReferenceEnvUnset, "env_unset_values": suite.UnsetReferenceEnv(),
					"openblas_env_seen": torch.OpenBLASEnv}}.AsAnchor())
			for i := range rows {
				if rows[i].Task == r.Task && rows[i].Arm == "moeboost" {
					rows[i].Extra = map[string]any{"ratio_vs_pytorch": r.Value / best}
				}
			}
		}
		opts.Logf("%-18s %12.3f %12.3f %12.3f %8s", r.Task, r.Value, tm["1"], tm["2"], ratio)
	}
	return rows, nil
}

func slicesClone(r []suite.Result) []suite.Result { return append([]suite.Result(nil), r...) }

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
