// Package stepspeed is the `step-speed` benchmark: the median time of one training step of
// moeboost models next to the same step in PyTorch (CPU), measured in one run, so the ratio is
// comparable on any machine.
//
// Tasks: "mlp" (batch 256, 64-256-256-1, ReLU, Adam, MSE), "transformer-block" (pre-LN block,
// batch 32, seq 64, d_model 128, 4 heads, FFN 256, Adam, MSE), "moe-block" (the same block
// with a top-2-of-4 MoE FFN, capacity factor 1.25, from package moe) and "dense-block-512"
// (the block with a dense FFN of width 512: the MoE block's active FLOPs, so that moe-block's
// extra "ratio_vs_dense_equal_active" measures the cost of routing and dispatch). Arms:
// "moeboost" (the best of GOMAXPROCS 1 and this process's GOMAXPROCS, see GoThreadCounts) and
// "pytorch" (only when a python3 that imports torch is found; the best of 1 and 2 threads), the
// anchor (suite.ExtraAnchor) that the report's ratio column divides by. Both rows record the
// thread count that won each round ("threads_per_round"). Metric: ms_per_step.
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
// Each PyTorch thread count th limits both ATen (torch.set_num_threads) and the BLAS pool
// (threadpoolctl), since torch.set_num_threads alone leaves OpenBLAS on every core (Extra
// "blas_threads" records the pool size in effect, "blas_limit" how it was limited). The PyTorch
// process also runs with glibc's MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised
// (MallocEnv, Extra "malloc_env"): with the defaults, glibc mmaps and unmaps the block steps'
// large buffers every step, and a third of PyTorch's CPU time went to the resulting page faults
// (about 2000 minor faults per transformer-block step on a 2-vCPU EPYC); the first round also
// times PyTorch with the default allocator, kept as Extra "default_malloc_ms".
//
// CPU time: both arms record their process's user and system CPU per step (getrusage around the
// timed steps; Extra "cpu_ms_per_step" and its parts), so a time bought with a second core shows
// (CPU per step above ms per step), and the minor page faults per step.
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
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

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
	s, err := measure(ctx, opts, t, steps)
	return s.Ms, err
}

// usage is a process's CPU time and minor page faults (see processUsage).
type usage struct {
	User, Sys   time.Duration
	MinorFaults int64
}

// cpuWindow is a train.StepCallback that reads processUsage after every step: from the end of
// the first step (which compiles, as train.Result.MsPerStep leaves it out) to the end of the last.
type cpuWindow struct {
	first, last usage
	calls       int
	failed      bool
}

// OnStep implements train.StepCallback.
func (c *cpuWindow) OnStep(int, *train.Result) error {
	u, ok := processUsage()
	if !ok {
		c.failed = true
		return nil
	}
	if c.calls == 0 {
		c.first = u
	}
	c.last = u
	c.calls++
	return nil
}

// perStep fills s's CPU fields with the window's usage per step; false if there is none.
func (c *cpuWindow) perStep(s *sample) bool {
	n := c.calls - 1
	if c.failed || n < 1 {
		return false
	}
	s.UserMs = float64(c.last.User-c.first.User) / float64(time.Millisecond) / float64(n)
	s.SysMs = float64(c.last.Sys-c.first.Sys) / float64(time.Millisecond) / float64(n)
	s.Faults = float64(c.last.MinorFaults-c.first.MinorFaults) / float64(n)
	s.HasCPU = true
	return true
}

// sample is one timed run of one task by one arm in one round.
type sample struct {
	// Ms is the median step time (ms). UserMs and SysMs are the process's CPU time per step
	// (ms), Faults its minor page faults per step, over the timed steps; HasCPU says they were
	// measured.
	Ms, UserMs, SysMs, Faults float64
	HasCPU                    bool
	// Threads is the thread count that gave Ms (the best of those timed): PyTorch's threads, or
	// moeboost's GOMAXPROCS.
	Threads string
	// ByThreads is every timed thread count's ms/step (moeboost's arm; PyTorch's are in torchRun).
	ByThreads map[string]float64
}

// CPUMs is the CPU time per step, user plus system.
func (s sample) CPUMs() float64 { return s.UserMs + s.SysMs }

// measure trains task for steps steps with Adam: the median ms/step and the CPU time per step
// from the end of the first step to the end of the last.
func measure(ctx context.Context, opts suite.Options, t Task, steps int) (sample, error) {
	win := &cpuWindow{}
	res, err := train.Run(ctx, train.Config{Name: t.Name, Backend: opts.Backend, Model: t.Model, Loss: "mse",
		Optimizer: "adam", LearningRate: 1e-3, Steps: steps, Train: newRandom(t, 1), EvalEvery: steps + 1,
		Callbacks: []train.Callback{win}})
	if err != nil {
		return sample{}, err
	}
	s := sample{Ms: res.MsPerStep}
	win.perStep(&s)
	return s, nil
}

// GoThreadCounts are the GOMAXPROCS values the moeboost arm is timed with, as PyTorch is timed
// with 1 and 2 threads: 1 and this process's GOMAXPROCS (just 1 where that is 1).
func GoThreadCounts() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}

// measureBestProcs times t once per GoThreadCounts value (runtime.GOMAXPROCS set for that run,
// restored after) and returns the faster sample, with Threads set to its GOMAXPROCS and ByThreads
// holding every count's median ms/step: the same "best of 1 and n threads" as PyTorch's arm.
func measureBestProcs(ctx context.Context, opts suite.Options, t Task, steps int) (sample, error) {
	var best sample
	by := map[string]float64{}
	for _, p := range GoThreadCounts() {
		prev := runtime.GOMAXPROCS(p)
		s, err := measure(ctx, opts, t, steps)
		runtime.GOMAXPROCS(prev)
		if err != nil {
			return sample{}, err
		}
		s.Threads = strconv.Itoa(p)
		by[s.Threads] = s.Ms
		if best.Threads == "" || s.Ms < best.Ms {
			best = s
		}
	}
	best.ByThreads = by
	return best, nil
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
	var torchArgs []string
	if opts.Quick {
		torchArgs = []string{"--steps", "20"}
	}
	m := measurements{goArm: map[string][]sample{}, torchArm: map[string][]sample{}, defaultMalloc: map[string]sample{}}
	torchOK := python != ""
	prog := suite.NewProgress(rounds*len(Tasks), "step-speed")
	defer prog.Done()
	for round := range rounds {
		for _, t := range Tasks {
			steps := t.Steps
			if opts.Quick {
				steps = t.Quick
			}
			s, err := measureBestProcs(ctx, opts, t, steps)
			if err != nil {
				return nil, fmt.Errorf("task %s (round %d): %w", t.Name, round+1, err)
			}
			m.goArm[t.Name] = append(m.goArm[t.Name], s)
			if torchOK {
				tr, err := runTorch(ctx, python, []string{t.Name}, torchArgs, true)
				if err != nil {
					opts.Logf("step-speed: pytorch arm failed: %v", err)
					torchOK = false
				} else {
					m.torch = mergeTorch(m.torch, tr)
					m.torchArm[t.Name] = append(m.torchArm[t.Name], tr.best(t.Name))
				}
			}
			if torchOK && round == 0 {
				// Once per task: PyTorch with glibc's default allocator, for the record.
				tr, err := runTorch(ctx, python, []string{t.Name}, torchArgs, false)
				if err != nil {
					opts.Logf("step-speed: pytorch with the default allocator failed (left out): %v", err)
				} else {
					m.defaultMalloc[t.Name] = tr.best(t.Name)
				}
			}
			prog.Add(1)
		}
	}
	if torchOK {
		opts.Logf("step-speed: pytorch %s, BLAS %s (threads limited by %s), ATen CPU capability %s (run without %s, with %s)",
			m.torch.Torch, m.torch.blasSummary(), m.torch.BLASLimit, m.torch.CPUCapability,
			strings.Join(suite.ReferenceEnvUnset, ", "), strings.Join(MallocEnv, " "))
	}
	return rowsOf(opts, Tasks, m, python, torchOK), nil
}

// measurements are the samples of a run: per task, one per round for each arm, and PyTorch with
// the default allocator (first round only); torch is torch_ref.py's merged report.
type measurements struct {
	goArm, torchArm map[string][]sample
	defaultMalloc   map[string]sample
	torch           torchRun
}

// mergeTorch adds the per-task results of run b to a (the environment fields are the same for
// every run of one process tree; b's win).
func mergeTorch(a, b torchRun) torchRun {
	out := b
	out.Steps = map[string]int{}
	maps.Copy(out.Steps, a.Steps)
	maps.Copy(out.Steps, b.Steps)
	merge := func(x, y map[string]map[string]float64) map[string]map[string]float64 {
		m := map[string]map[string]float64{}
		maps.Copy(m, x)
		maps.Copy(m, y)
		return m
	}
	out.Results, out.MeanMs = merge(a.Results, b.Results), merge(a.MeanMs, b.MeanMs)
	out.CPUUserMs, out.CPUSysMs = merge(a.CPUUserMs, b.CPUUserMs), merge(a.CPUSysMs, b.CPUSysMs)
	out.MinorFaults = merge(a.MinorFaults, b.MinorFaults)
	out.ATenThreads, out.BLASThreads = merge(a.ATenThreads, b.ATenThreads), merge(a.BLASThreads, b.BLASThreads)
	return out
}

// rowsOf builds the result rows from the per-round samples and logs the table: per task the
// median over rounds and, with PyTorch, the per-round ratios (min / median / max).
func rowsOf(opts suite.Options, tasks []Task, m measurements, python string, torchOK bool) []suite.Result {
	var rows []suite.Result
	opts.Logf("%-18s %14s %14s %22s %16s", "task", "moeboost ms", "torch ms", "ratio min/med/max", "cpu ms go/torch")
	for _, t := range tasks {
		steps := t.Steps
		if opts.Quick {
			steps = t.Quick
		}
		gs := m.goArm[t.Name]
		g := msOf(gs)
		row := suite.Result{Benchmark: "step-speed", Task: t.Name, Arm: "moeboost", Metric: "ms_per_step",
			Value: median(g), Std: stdOf(g), Seeds: len(g), MsPerStep: median(g), Steps: steps,
			Extra: map[string]any{"per_round_ms": g}}
		addCPU(row.Extra, gs)
		if len(gs) > 0 && gs[0].Threads != "" {
			threads := make([]string, len(gs))
			by := make([]map[string]float64, len(gs))
			for i, s := range gs {
				threads[i], by[i] = s.Threads, s.ByThreads
			}
			row.Extra["threads_per_round"] = threads
			row.Extra["ms_by_threads_per_round"] = by
		}
		if gd := msOf(m.goArm["dense-block-512"]); t.Name == "moe-block" && len(gd) == len(g) {
			r := ratios(g, gd)
			row.Extra["ratio_vs_dense_equal_active"] = median(r)
			row.Extra["ratio_vs_dense_equal_active_per_round"] = r
		}
		ratioText := "-"
		ts := m.torchArm[t.Name]
		tm := msOf(ts)
		if torchOK && len(tm) == len(g) {
			r := ratios(g, tm)
			row.Extra["ratio_vs_pytorch"] = median(r)
			row.Extra["ratio_vs_pytorch_min"] = slices.Min(r)
			row.Extra["ratio_vs_pytorch_max"] = slices.Max(r)
			row.Extra["ratio_vs_pytorch_per_round"] = r
			ratioText = fmt.Sprintf("%.2f/%.2f/%.2fx", slices.Min(r), median(r), slices.Max(r))
			rows = append(rows, row, torchRow(t.Name, ts, m, python))
		} else {
			rows = append(rows, row)
		}
		opts.Logf("%-18s %14s %14s %22s %16s", t.Name, minMed(g), minMed(tm), ratioText, cpuText(gs)+"/"+cpuText(ts))
	}
	if mr, ok := rowExtra(rows, "moe-block", "ratio_vs_dense_equal_active"); ok {
		opts.Logf("step-speed: moe-block / dense-block-512 (equal active FLOPs) %.2fx (median of per-round ratios)", mr)
	}
	if len(m.defaultMalloc) > 0 {
		var parts []string
		for _, t := range tasks {
			if d, ok := m.defaultMalloc[t.Name]; ok {
				parts = append(parts, fmt.Sprintf("%s %.2f ms (cpu %.2f, sys %.2f, %.0f faults/step)", t.Name, d.Ms, d.CPUMs(), d.SysMs, d.Faults))
			}
		}
		opts.Logf("step-speed: pytorch with glibc's default allocator (round 1): %s", strings.Join(parts, "; "))
	}
	return rows
}

// torchRow is the anchor row of task: PyTorch's per-round samples ts, with its environment,
// thread counts, CPU times and the default-allocator sample.
func torchRow(task string, ts []sample, m measurements, python string) suite.Result {
	tm := msOf(ts)
	last := m.torch.Results[task]
	threads := make([]string, len(ts))
	for i, s := range ts {
		threads[i] = s.Threads
	}
	extra := map[string]any{"torch": m.torch.Torch, "per_round_ms": tm, "ms_1_thread": last["1"], "ms_2_threads": last["2"],
		"python": python, "blas": m.torch.blasSummary(), "blas_info": m.torch.BLAS, "cpu_capability": m.torch.CPUCapability,
		"env_unset": suite.ReferenceEnvUnset, "env_unset_values": suite.UnsetReferenceEnv(),
		"openblas_env_seen": m.torch.OpenBLASEnv, "threads_per_round": threads, "blas_limit": m.torch.BLASLimit,
		"blas_threads": m.torch.BLASThreads[task], "aten_threads": m.torch.ATenThreads[task],
		"malloc_env": MallocEnv, "malloc_env_seen": m.torch.MallocEnv}
	addCPU(extra, ts)
	if cpu := m.torch.CPUUserMs[task]; cpu != nil {
		byThreads := map[string]float64{}
		for th, u := range cpu {
			byThreads[th] = u + m.torch.CPUSysMs[task][th]
		}
		extra["cpu_ms_per_step_by_threads"] = byThreads
	}
	if d, ok := m.defaultMalloc[task]; ok {
		extra["default_malloc_ms"] = d.Ms
		extra["default_malloc_threads"] = d.Threads
		if d.HasCPU {
			extra["default_malloc_cpu_ms_per_step"] = d.CPUMs()
			extra["default_malloc_cpu_sys_ms_per_step"] = d.SysMs
			extra["default_malloc_minor_faults_per_step"] = d.Faults
		}
	}
	return suite.Result{Benchmark: "step-speed", Task: task, Arm: "pytorch", Metric: "ms_per_step",
		Value: median(tm), Std: stdOf(tm), Seeds: len(tm), MsPerStep: median(tm), Steps: m.torch.Steps[task],
		Extra: extra}.AsAnchor()
}

// addCPU puts the CPU time per step of samples ss in extra: "cpu_ms_per_step" (user plus
// system, median over rounds), "cpu_ms_per_step_per_round", "cpu_user_ms_per_step",
// "cpu_sys_ms_per_step" and "minor_faults_per_step" (medians); nothing if any sample lacks them.
func addCPU(extra map[string]any, ss []sample) {
	if len(ss) == 0 {
		return
	}
	var cpu, user, sys, faults []float64
	for _, s := range ss {
		if !s.HasCPU {
			return
		}
		cpu, user, sys, faults = append(cpu, s.CPUMs()), append(user, s.UserMs), append(sys, s.SysMs), append(faults, s.Faults)
	}
	extra["cpu_ms_per_step"] = median(cpu)
	extra["cpu_ms_per_step_per_round"] = cpu
	extra["cpu_user_ms_per_step"] = median(user)
	extra["cpu_sys_ms_per_step"] = median(sys)
	extra["minor_faults_per_step"] = median(faults)
}

// cpuText is the median CPU ms per step of ss, or "-".
func cpuText(ss []sample) string {
	var cpu []float64
	for _, s := range ss {
		if s.HasCPU {
			cpu = append(cpu, s.CPUMs())
		}
	}
	if len(cpu) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", median(cpu))
}

func msOf(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.Ms
	}
	return out
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

// best is task's sample at the thread count with the smallest positive median time (zero
// sample if none): that time, the CPU time per step and page faults measured with it.
func (r torchRun) best(task string) sample {
	var s sample
	for _, th := range slices.Sorted(maps.Keys(r.Results[task])) {
		v := r.Results[task][th]
		if v > 0 && (s.Ms == 0 || v < s.Ms) {
			s = sample{Ms: v, Threads: th}
		}
	}
	if s.Threads == "" {
		return s
	}
	if u, ok := r.CPUUserMs[task][s.Threads]; ok {
		s.UserMs, s.SysMs, s.Faults, s.HasCPU = u, r.CPUSysMs[task][s.Threads], r.MinorFaults[task][s.Threads], true
	}
	return s
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

// torchRun is what torch_ref.py reports (see its docstring). The per-task maps are keyed by
// task, then by thread count ("1", "2").
type torchRun struct {
	Torch         string                        `json:"torch"`
	Results       map[string]map[string]float64 `json:"results"`
	Steps         map[string]int                `json:"steps"`
	CPUCapability string                        `json:"cpu_capability"`
	OpenBLASEnv   map[string]*string            `json:"openblas_env"`
	BLAS          []map[string]any              `json:"blas"`
	// MeanMs is the timed loop's wall time per step; CPUUserMs and CPUSysMs the process's CPU
	// time per step; MinorFaults its minor page faults per step.
	MeanMs      map[string]map[string]float64 `json:"mean_ms"`
	CPUUserMs   map[string]map[string]float64 `json:"cpu_user_ms"`
	CPUSysMs    map[string]map[string]float64 `json:"cpu_sys_ms"`
	MinorFaults map[string]map[string]float64 `json:"minor_faults"`
	// ATenThreads and BLASThreads are the pool sizes in effect while timing (-1: unknown);
	// BLASLimit says how the BLAS pool was limited ("threadpoolctl") or why it was not.
	ATenThreads map[string]map[string]float64 `json:"aten_threads"`
	BLASThreads map[string]map[string]float64 `json:"blas_threads"`
	BLASLimit   string                        `json:"blas_limit"`
	// MallocEnv is the glibc allocator variables the script saw.
	MallocEnv map[string]string `json:"malloc_env"`
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

// MallocEnv is the glibc allocator setting of the PyTorch process (see the package doc): with
// mmap and trim thresholds of 1 GB, freed step buffers stay in the heap for the next step
// instead of being unmapped and faulted in again.
var MallocEnv = []string{"MALLOC_MMAP_THRESHOLD_=1000000000", "MALLOC_TRIM_THRESHOLD_=1000000000"}

// torchCommand is the command that runs python with args (torch_ref.py's path first) in
// suite.ReferenceEnv, i.e. with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, and with any
// inherited MallocEnv variables replaced by MallocEnv when tunedMalloc, or removed (glibc's
// defaults) when not.
func torchCommand(ctx context.Context, python string, args []string, tunedMalloc bool) *exec.Cmd {
	cmd := suite.PythonCommand(ctx, python, args)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
		key, _, _ := strings.Cut(kv, "=")
		return slices.ContainsFunc(MallocEnv, func(m string) bool { return strings.HasPrefix(m, key+"=") })
	})
	if tunedMalloc {
		cmd.Env = append(cmd.Env, MallocEnv...)
	}
	return cmd
}

// runTorch runs torch_ref.py on tasks with extra arguments args (e.g. "--steps", "20") through
// torchCommand.
func runTorch(ctx context.Context, python string, tasks, args []string, tunedMalloc bool) (torchRun, error) {
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
	args = append([]string{script, "--tasks", strings.Join(tasks, ",")}, args...)
	cmd := torchCommand(ctx, python, args, tunedMalloc)
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
