package stepspeed

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestBLASSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		blas []map[string]any
		want string
	}{
		{"none", nil, "no BLAS library loaded"},
		{"openblas", []map[string]any{{"internal_api": "openblas", "version": "0.3.21", "architecture": "Cooperlake",
			"threading_layer": "pthreads"}}, "openblas 0.3.21, kernel Cooperlake, pthreads"},
		{"two, one unreadable", []map[string]any{{"error": "threadpoolctl not importable"},
			{"internal_api": "mkl", "version": "2023.1", "architecture": "SkylakeX", "threading_layer": "intel"}},
			"threadpoolctl not importable; mkl 2023.1, kernel SkylakeX, intel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, torchRun{BLAS: tc.blas}.blasSummary())
		})
	}
}

// TestTorchCommandEnv checks the environment of the PyTorch process: without
// OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, with MallocEnv (once, replacing an inherited value) or,
// for the default-allocator run, with no allocator variable at all.
func TestTorchCommandEnv(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "512")
	t.Setenv("MALLOC_MMAP_THRESHOLD_", "4096") // inherited: must not reach either run
	t.Setenv("MOEBOOST_STEPSPEED_KEEP", "yes")
	for _, tc := range []struct {
		name   string
		tuned  bool
		malloc []string
	}{
		{"tuned allocator", true, []string{"MALLOC_MMAP_THRESHOLD_=1000000000", "MALLOC_TRIM_THRESHOLD_=1000000000"}},
		{"default allocator", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := torchCommand(context.Background(), "python3", []string{"x.py"}, tc.tuned).Env
			var malloc []string
			for _, kv := range env {
				require.False(t, strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE="), kv)
				if strings.HasPrefix(kv, "MALLOC_") {
					malloc = append(malloc, kv)
				}
			}
			require.Equal(t, tc.malloc, malloc)
			require.Contains(t, env, "MOEBOOST_STEPSPEED_KEEP=yes", "the rest of the environment is inherited")
		})
	}
}

// TestTorchRefEnvironment runs torch_ref.py for two MLP steps with OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE set here: the script must not see them, must see MallocEnv, and must report
// its BLAS kernel.
func TestTorchRefEnvironment(t *testing.T) {
	python, note := FindTorchPython()
	if python == "" {
		require.Contains(t, note, "python3-torch", "without torch, the note names the package to install")
		return
	}
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "512")
	run, err := runTorch(context.Background(), python, []string{"mlp"}, []string{"--steps", "2"}, true)
	require.NoError(t, err)
	require.Equal(t, map[string]*string{"OPENBLAS_CORETYPE": nil, "OPENBLAS_L2_SIZE": nil}, run.OpenBLASEnv)
	require.Equal(t, map[string]string{"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}, run.MallocEnv)
	require.Equal(t, 2, run.Steps["mlp"])
	require.Greater(t, run.Results["mlp"]["1"], 0.0)
	require.Greater(t, run.Results["mlp"]["2"], 0.0)
	require.NotEmpty(t, run.Torch)
	require.NotEmpty(t, run.CPUCapability)
	require.NotEmpty(t, run.BLAS, "threadpoolctl's BLAS entries, or why there are none")
	for _, b := range run.BLAS {
		if _, failed := b["error"]; !failed {
			require.NotEmpty(t, b["internal_api"])
			require.NotEmpty(t, b["architecture"], "the kernel OpenBLAS picked")
		}
	}
}

// TestTorchRefWithoutThreadpoolctl hides threadpoolctl from torch_ref.py (a module of that name
// that fails to import, first on PYTHONPATH): the script must still time the step, limiting
// torch's threads only, and say so in "blas_limit" and "blas".
func TestTorchRefWithoutThreadpoolctl(t *testing.T) {
	python, note := FindTorchPython()
	if python == "" {
		require.Contains(t, note, "python3-torch", "without torch, the note names the package to install")
		return
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "threadpoolctl.py"), []byte("raise ImportError('hidden by the test')\n"), 0o644))
	t.Setenv("PYTHONPATH", dir)
	run, err := runTorch(context.Background(), python, []string{"mlp"}, []string{"--steps", "2", "--warmup", "1"}, true)
	require.NoError(t, err)
	require.Contains(t, run.BLASLimit, "not limited: threadpoolctl not importable (hidden by the test)")
	require.Equal(t, map[string]float64{"1": -1, "2": -1}, run.BLASThreads["mlp"], "pool size unknown")
	require.Equal(t, map[string]float64{"1": 1, "2": 2}, run.ATenThreads["mlp"])
	require.Len(t, run.BLAS, 1)
	require.Contains(t, run.BLAS[0]["error"], "threadpoolctl not importable")
	require.Greater(t, run.Results["mlp"]["1"], 0.0)
	require.True(t, run.best("mlp").HasCPU)
}

// TestTorchRefTasks runs every task of torch_ref.py for 3 steps (1 warm-up) at 1 and 2 threads
// and checks the keys beside "results": CPU time and page faults per step, and the ATen and
// BLAS pool sizes in effect (both limited to the thread count when threadpoolctl is there).
func TestTorchRefTasks(t *testing.T) {
	python, note := FindTorchPython()
	if python == "" {
		require.Contains(t, note, "python3-torch", "without torch, the note names the package to install")
		return
	}
	for _, task := range []string{"mlp", "transformer-block", "moe-block", "dense-block-512"} {
		t.Run(task, func(t *testing.T) {
			run, err := runTorch(context.Background(), python, []string{task}, []string{"--steps", "3", "--warmup", "1"}, true)
			require.NoError(t, err)
			require.Equal(t, 3, run.Steps[task])
			for _, th := range []string{"1", "2"} {
				require.Greater(t, run.Results[task][th], 0.0, "median ms, %s threads", th)
				require.Greater(t, run.MeanMs[task][th], 0.0, "mean ms, %s threads", th)
				require.Greater(t, run.CPUUserMs[task][th]+run.CPUSysMs[task][th], 0.0, "CPU ms per step, %s threads", th)
				require.GreaterOrEqual(t, run.CPUSysMs[task][th], 0.0)
				require.Contains(t, run.MinorFaults[task], th)
				require.GreaterOrEqual(t, run.MinorFaults[task][th], 0.0)
				want := float64(th[0] - '0')
				require.Equal(t, want, run.ATenThreads[task][th], "torch.get_num_threads() while timing")
				if run.BLASLimit == "threadpoolctl" {
					require.Equal(t, want, run.BLASThreads[task][th], "BLAS pool limited to the thread count")
				} else {
					require.Contains(t, run.BLASLimit, "threadpoolctl not importable")
				}
			}
			s := run.best(task)
			require.Contains(t, []string{"1", "2"}, s.Threads)
			require.True(t, s.HasCPU)
			require.Equal(t, run.Results[task][s.Threads], s.Ms)
		})
	}
}

// fakePython is a stand-in interpreter: it "imports" anything, and run as torch_ref.py prints a
// fixed report whose times depend on whether it got MallocEnv (tuned: 2 ms at 1 thread, 3 ms at
// 2; default allocator: 5 and 4 ms) and which echoes the OPENBLAS and allocator variables it saw.
const fakePython = `#!/bin/sh
if [ "$1" = "-c" ]; then exit 0; fi
task=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--tasks" ]; then task="$2"; fi
  shift
done
seen() { if [ -n "$(eval echo \${$1+x})" ]; then printf '"%s"' "$(eval echo \$$1)"; else printf null; fi; }
if [ -n "${MALLOC_MMAP_THRESHOLD_+x}" ]; then
  r1=2.0 r2=3.0 u=1.5 s=0.25 f=0
  malloc="{\"MALLOC_MMAP_THRESHOLD_\": $(seen MALLOC_MMAP_THRESHOLD_), \"MALLOC_TRIM_THRESHOLD_\": $(seen MALLOC_TRIM_THRESHOLD_)}"
else
  r1=5.0 r2=4.0 u=4.0 s=2.0 f=2000
  malloc="{}"
fi
cat <<JSON
{"torch": "fake", "results": {"$task": {"1": $r1, "2": $r2}}, "steps": {"$task": 20}, "cpu_capability": "AVX2",
 "openblas_env": {"OPENBLAS_CORETYPE": $(seen OPENBLAS_CORETYPE), "OPENBLAS_L2_SIZE": $(seen OPENBLAS_L2_SIZE)},
 "malloc_env": $malloc, "blas_limit": "threadpoolctl",
 "mean_ms": {"$task": {"1": $r1, "2": $r2}},
 "cpu_user_ms": {"$task": {"1": $u, "2": $u}}, "cpu_sys_ms": {"$task": {"1": $s, "2": $s}},
 "minor_faults": {"$task": {"1": $f, "2": $f}},
 "aten_threads": {"$task": {"1": 1, "2": 2}}, "blas_threads": {"$task": {"1": 1, "2": 2}},
 "blas": [{"internal_api": "openblas", "version": "0.3.21", "architecture": "Cooperlake", "threading_layer": "pthreads"}]}
JSON
`

// TestRunTinyRounds runs the benchmark on a tiny "mlp" task for two rounds and checks its
// rows: per-round times, medians, CPU time per step, and the PyTorch anchor with its per-round
// ratios, CPU times and default-allocator time, once through fakePython (fixed numbers, so the
// values are checked exactly) and once through the real torch_ref.py where torch is installed.
func TestRunTinyRounds(t *testing.T) {
	saved := Tasks
	defer func() { Tasks = saved }()
	Tasks = []Task{{Name: "mlp", Input: []int{16, 4}, Target: []int{16, 1}, Steps: 4, Quick: 4,
		Model: func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			return []*graph.Node{layers.MLP(scope.In("mlp"), in[0], layers.MLPConfig{Hidden: []int{8}, Out: 1})}
		}}}
	fake := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(fake, []byte(fakePython), 0o755))
	realPython, note := FindTorchPython()
	for _, tc := range []struct {
		name, python string
	}{
		{"fake python", fake},
		{"torch", realPython},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.python == "" {
				require.Contains(t, note, "python3-torch", "without torch, the note names the package to install")
				return
			}
			t.Setenv("MOEBOOST_PYTHON", tc.python)
			t.Setenv("OPENBLAS_CORETYPE", "Haswell")
			t.Setenv("OPENBLAS_L2_SIZE", "512")
			var out bytes.Buffer
			rows, err := run(context.Background(), suite.Options{Quick: true, Seeds: 2, Backend: backend.MustDefault(), Out: &out,
				DataFile: "ignored.csv"})
			require.NoError(t, err)
			require.Contains(t, out.String(), "-data and -text do not apply")
			require.Contains(t, out.String(), "pytorch with glibc's default allocator (round 1): mlp ")
			require.Len(t, rows, 2)
			g, p := rows[0], rows[1]
			require.Equal(t, "moeboost", g.Arm)
			require.Equal(t, "mlp", g.Task)
			require.Equal(t, 2, g.Seeds)
			perRound := g.Extra["per_round_ms"].([]float64)
			require.Len(t, perRound, 2)
			require.InDelta(t, (perRound[0]+perRound[1])/2, g.Value, 1e-12, "median of two rounds")
			require.Greater(t, g.Value, 0.0)
			checkCPU(t, g.Extra, 2)
			// The moeboost arm is the best of its GOMAXPROCS settings, each recorded per round.
			counts := GoThreadCounts()
			threads := g.Extra["threads_per_round"].([]string)
			by := g.Extra["ms_by_threads_per_round"].([]map[string]float64)
			require.Len(t, threads, 2)
			require.Len(t, by, 2)
			for i := range by {
				require.Len(t, by[i], len(counts))
				best := math.Inf(1)
				for _, c := range counts {
					ms, ok := by[i][strconv.Itoa(c)]
					require.True(t, ok, "GOMAXPROCS=%d timed in round %d", c, i)
					best = min(best, ms)
				}
				require.Equal(t, best, perRound[i], "round %d's time is its best thread count", i)
				require.Equal(t, perRound[i], by[i][threads[i]])
			}

			require.Equal(t, "pytorch", p.Arm)
			require.True(t, p.IsAnchor())
			torchRounds := p.Extra["per_round_ms"].([]float64)
			require.Len(t, torchRounds, 2)
			r := g.Extra["ratio_vs_pytorch_per_round"].([]float64)
			for i := range r {
				require.InDelta(t, perRound[i]/torchRounds[i], r[i], 1e-12)
			}
			require.InDelta(t, (r[0]+r[1])/2, g.Extra["ratio_vs_pytorch"].(float64), 1e-12)
			require.LessOrEqual(t, g.Extra["ratio_vs_pytorch_min"].(float64), g.Extra["ratio_vs_pytorch_max"].(float64))
			checkCPU(t, p.Extra, 2)
			require.Equal(t, MallocEnv, p.Extra["malloc_env"])
			require.Equal(t, map[string]string{"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"},
				p.Extra["malloc_env_seen"])
			require.Equal(t, map[string]*string{"OPENBLAS_CORETYPE": nil, "OPENBLAS_L2_SIZE": nil}, p.Extra["openblas_env_seen"])
			require.Equal(t, []string{"OPENBLAS_CORETYPE=Haswell", "OPENBLAS_L2_SIZE=512"}, p.Extra["env_unset_values"])
			require.Greater(t, p.Extra["default_malloc_ms"].(float64), 0.0)
			require.Greater(t, p.Extra["default_malloc_cpu_ms_per_step"].(float64), 0.0)
			require.GreaterOrEqual(t, p.Extra["default_malloc_minor_faults_per_step"].(float64), 0.0)
			byThreads := p.Extra["cpu_ms_per_step_by_threads"].(map[string]float64)
			require.Len(t, byThreads, 2)
			if p.Extra["blas_limit"] == "threadpoolctl" {
				require.Equal(t, map[string]float64{"1": 1, "2": 2}, p.Extra["blas_threads"])
			}
			require.Equal(t, map[string]float64{"1": 1, "2": 2}, p.Extra["aten_threads"])
			if tc.python != fake {
				return
			}
			// The fake's fixed numbers: tuned best is 1 thread at 2 ms with 1.5+0.25 ms CPU; the
			// default allocator's best is 2 threads at 4 ms with 4+2 ms CPU and 2000 faults.
			require.Equal(t, 2.0, p.Value)
			require.Equal(t, []string{"1", "1"}, p.Extra["threads_per_round"])
			require.Equal(t, 1.75, p.Extra["cpu_ms_per_step"])
			require.Equal(t, []float64{1.75, 1.75}, p.Extra["cpu_ms_per_step_per_round"])
			require.Equal(t, 0.25, p.Extra["cpu_sys_ms_per_step"])
			require.Equal(t, 0.0, p.Extra["minor_faults_per_step"])
			require.Equal(t, map[string]float64{"1": 1.75, "2": 1.75}, byThreads)
			require.Equal(t, 4.0, p.Extra["default_malloc_ms"])
			require.Equal(t, "2", p.Extra["default_malloc_threads"])
			require.Equal(t, 6.0, p.Extra["default_malloc_cpu_ms_per_step"])
			require.Equal(t, 2.0, p.Extra["default_malloc_cpu_sys_ms_per_step"])
			require.Equal(t, 2000.0, p.Extra["default_malloc_minor_faults_per_step"])
			require.Equal(t, "fake", p.Extra["torch"])
		})
	}
}

// checkCPU checks a row's CPU-time fields: rounds positive per-round CPU times whose median is
// "cpu_ms_per_step", a positive user+system median (system alone may be 0), and non-negative
// page faults.
func checkCPU(t *testing.T, extra map[string]any, rounds int) {
	t.Helper()
	perRound, ok := extra["cpu_ms_per_step_per_round"].([]float64)
	require.True(t, ok, "cpu_ms_per_step_per_round in %v", extra)
	require.Len(t, perRound, rounds)
	for _, v := range perRound {
		require.Greater(t, v, 0.0)
	}
	require.InDelta(t, median(perRound), extra["cpu_ms_per_step"].(float64), 1e-12)
	user, sys := extra["cpu_user_ms_per_step"].(float64), extra["cpu_sys_ms_per_step"].(float64)
	require.GreaterOrEqual(t, sys, 0.0)
	require.Greater(t, user+sys, 0.0)
	require.GreaterOrEqual(t, extra["minor_faults_per_step"].(float64), 0.0)
}

func TestCPUWindow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		usage []usage
		want  sample
		ok    bool
	}{
		{"no step", nil, sample{}, false},
		{"one step (compiles; left out)", []usage{{User: 9e6}}, sample{}, false},
		{"three steps", []usage{{User: 50e6, Sys: 1e6, MinorFaults: 10}, {User: 60e6, Sys: 2e6, MinorFaults: 14}, {User: 70e6, Sys: 5e6, MinorFaults: 30}},
			sample{UserMs: 10, SysMs: 2, Faults: 10, HasCPU: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &cpuWindow{}
			for _, u := range tc.usage {
				if w.calls == 0 {
					w.first = u
				}
				w.last = u
				w.calls++
			}
			var s sample
			require.Equal(t, tc.ok, w.perStep(&s))
			require.Equal(t, tc.want, s)
		})
	}
	w := &cpuWindow{}
	require.NoError(t, w.OnStep(1, nil))
	require.NoError(t, w.OnStep(2, nil))
	if !w.failed {
		require.Equal(t, 2, w.calls)
		require.GreaterOrEqual(t, w.last.User+w.last.Sys, w.first.User+w.first.Sys, "process CPU time never decreases")
	}
}

func TestTorchBest(t *testing.T) {
	r := torchRun{Results: map[string]map[string]float64{"a": {"1": 3, "2": 2.5}, "none": {"1": 0}},
		CPUUserMs: map[string]map[string]float64{"a": {"1": 3, "2": 4}}, CPUSysMs: map[string]map[string]float64{"a": {"1": 0.5, "2": 1}},
		MinorFaults: map[string]map[string]float64{"a": {"1": 7, "2": 9}}}
	require.Equal(t, sample{Ms: 2.5, UserMs: 4, SysMs: 1, Faults: 9, HasCPU: true, Threads: "2"}, r.best("a"))
	require.Equal(t, sample{}, r.best("none"), "no positive time")
	require.Equal(t, sample{}, r.best("missing"))
}

func TestRowsOfDenseRatio(t *testing.T) {
	tasks := []Task{{Name: "moe-block", Steps: 3}, {Name: "dense-block-512", Steps: 3}}
	samples := func(ms ...float64) []sample {
		var out []sample
		for _, v := range ms {
			out = append(out, sample{Ms: v, UserMs: v, SysMs: 1, HasCPU: true, Threads: "1"})
		}
		return out
	}
	m := measurements{
		goArm:         map[string][]sample{"moe-block": samples(12, 9, 15), "dense-block-512": samples(10, 10, 10)},
		torchArm:      map[string][]sample{"moe-block": samples(6, 6, 5), "dense-block-512": samples(5, 4, 5)},
		defaultMalloc: map[string]sample{"moe-block": {Ms: 11, UserMs: 8, SysMs: 4, Faults: 2000, HasCPU: true, Threads: "1"}},
		torch:         torchRun{Torch: "test"},
	}
	var out bytes.Buffer
	rows := rowsOf(suite.Options{Out: &out}, tasks, m, "python3", true)
	require.Len(t, rows, 4)
	moeRow := rows[0]
	require.Equal(t, 12.0, moeRow.Value, "median over rounds")
	require.Equal(t, []float64{1.2, 0.9, 1.5}, moeRow.Extra["ratio_vs_dense_equal_active_per_round"])
	require.InDelta(t, 1.2, moeRow.Extra["ratio_vs_dense_equal_active"].(float64), 1e-12)
	require.InDelta(t, 2.0, moeRow.Extra["ratio_vs_pytorch"].(float64), 1e-12) // 12/6, 9/6, 15/5 -> 2, 1.5, 3
	require.Equal(t, 1.5, moeRow.Extra["ratio_vs_pytorch_min"])
	require.Equal(t, 3.0, moeRow.Extra["ratio_vs_pytorch_max"])
	require.Equal(t, []float64{13, 10, 16}, moeRow.Extra["cpu_ms_per_step_per_round"])
	require.Equal(t, 13.0, moeRow.Extra["cpu_ms_per_step"])
	require.True(t, rows[1].IsAnchor())
	require.Equal(t, 6.0, rows[1].Value)
	require.Equal(t, 7.0, rows[1].Extra["cpu_ms_per_step"])
	require.Equal(t, 11.0, rows[1].Extra["default_malloc_ms"])
	require.Equal(t, 12.0, rows[1].Extra["default_malloc_cpu_ms_per_step"])
	require.NotContains(t, rows[3].Extra, "default_malloc_ms", "dense-block-512 has no default-allocator sample here")
	require.Contains(t, out.String(), "moe-block / dense-block-512 (equal active FLOPs) 1.20x")
	require.Contains(t, out.String(), "moe-block 11.00 ms (cpu 12.00, sys 4.00, 2000 faults/step)")
}
