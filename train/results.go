package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/train/backend"
)

// jsonRun is the document written by Result.WriteJSON (-json of a single run).
type jsonRun struct {
	Name         string              `json:"name"`
	Backend      string              `json:"backend"`
	SIMD         bool                `json:"simd"`
	Written      time.Time           `json:"written"`
	Config       map[string]any      `json:"config"`
	StartStep    int                 `json:"start_step"`
	Steps        int                 `json:"steps"`
	WallSeconds  float64             `json:"wall_seconds"`
	MsPerStep    float64             `json:"ms_per_step"`
	Skipped      int                 `json:"skipped_steps"`
	StoppedEarly bool                `json:"stopped_early"`
	Final        map[string]*float64 `json:"final"`
	History      []jsonPoint         `json:"history"`
}

type jsonPoint struct {
	Step    int                 `json:"step"`
	Metrics map[string]*float64 `json:"metrics"`
}

func finitePtrs(m map[string]float64) map[string]*float64 {
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		if finite(v) {
			v := v
			out[k] = &v
		} else {
			out[k] = nil // JSON has no NaN: a diverged value is null.
		}
	}
	return out
}

// WriteJSON writes the run (config, backend, steps, per-evaluation metrics, wall time,
// ms/step) to path atomically.
func (r *Result) WriteJSON(path string, cfg *Config) error {
	doc := jsonRun{Name: r.Name, Backend: r.Backend.Name() + " " + r.Backend.Description(), SIMD: backend.SIMD,
		Written: time.Now().UTC(), StartStep: r.StartStep, Steps: r.Steps, WallSeconds: r.WallSeconds,
		MsPerStep: r.MsPerStep, Skipped: r.SkippedSteps, StoppedEarly: r.StoppedEarly, Final: finitePtrs(r.Final)}
	if cfg != nil {
		doc.Config = map[string]any{"steps": cfg.Steps, "optimizer": cfg.Optimizer, "learning_rate": cfg.LearningRate,
			"schedule": cfg.Schedule, "clip_global_norm": cfg.ClipGlobalNorm, "nan_policy": cfg.NaNPolicy,
			"loss": cfg.Loss, "seed": cfg.Seed, "eval_every": cfg.EvalEvery, "metrics": cfg.Metrics,
			"settings": cfg.Settings, "params": stringify(cfg.Params)}
	}
	for _, p := range r.History {
		doc.History = append(doc.History, jsonPoint{Step: p.Step, Metrics: finitePtrs(p.Metrics)})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("train: encoding %s: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

func stringify(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func writeFileAtomic(path string, data []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Curve returns the (step, value) points of metric name over the history.
func (r *Result) Curve(name string) (steps, values []float64) {
	for _, p := range r.History {
		if v, ok := p.Metrics[name]; ok {
			steps = append(steps, float64(p.Step))
			values = append(values, v)
		}
	}
	return
}

// SavePlot writes the run's curves as one PNG: the losses (training moving average and every
// evaluation set) in the first chart, then one chart per other evaluation metric, then the
// learning rate.
func (r *Result) SavePlot(path string) error {
	groups := map[string][]string{} // metric suffix -> full names
	for _, p := range r.History {
		for name := range p.Metrics {
			suffix := name
			if i := strings.LastIndex(name, "/"); i >= 0 && (strings.HasPrefix(name, "train/") || strings.Count(name, "/") == 1) {
				suffix = name[i+1:]
			}
			if !containsStr(groups[suffix], name) {
				groups[suffix] = append(groups[suffix], name)
			}
		}
	}
	order := []string{"loss"}
	var rest []string
	for k := range groups {
		if k != "loss" && k != "lr" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	order = append(order, rest...)
	if len(rest) > 4 {
		order = order[:5] // Keep the image readable; every value is in the JSON.
	}
	if _, ok := groups["lr"]; ok {
		order = append(order, "lr")
	}
	var charts []Chart
	for _, k := range order {
		names := groups[k]
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		c := Chart{Title: fmt.Sprintf("%s: %s", r.Name, k), XLabel: "step", YLabel: k}
		for _, n := range names {
			x, y := r.Curve(n)
			c.Series = append(c.Series, Series{Name: n, X: x, Y: y})
		}
		if k == "loss" && allPositive(c.Series) {
			c.LogY = true
		}
		charts = append(charts, c)
	}
	return SavePlots(path, charts...)
}

func allPositive(ss []Series) bool {
	for _, s := range ss {
		for _, y := range s.Y {
			if !(y > 0) && !math.IsNaN(y) {
				return false
			}
		}
	}
	return true
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Predict runs the trained model (in inference mode) on inputs and returns its outputs.
func (r *Result) Predict(inputs ...*tensors.Tensor) ([]*tensors.Tensor, error) {
	return Predict(r.Backend, r.Store, r.Model, inputs...)
}

// Predict runs model (in inference mode) with the variables of store on inputs.
func Predict(b compute.Backend, store *model.Store, fn ModelFn, inputs ...*tensors.Tensor) (outs []*tensors.Tensor, err error) {
	exec, err := model.NewExec(b, store, func(scope *model.Scope, xs []*graph.Node) []*graph.Node {
		scope.Store().SetTraining(xs[0].Graph(), false)
		return fn(scope, xs)
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, t := range inputs {
		args[i] = t
	}
	return exec.Call(args...)
}

// PredictRows runs the trained model on n rows of d float64 features (row-major) and returns
// one prediction per row: the output itself for a single-output model (regression), else the
// index of the largest output (the class).
func (r *Result) PredictRows(x []float64, n, d int) ([]float64, error) {
	if len(x) != n*d {
		return nil, fmt.Errorf("train: %d feature values for %d rows of %d", len(x), n, d)
	}
	xf := make([]float32, len(x))
	for i, v := range x {
		xf[i] = float32(v)
	}
	in := tensors.FromFlatDataAndDimensions(xf, n, d)
	outs, err := r.Predict(in)
	in.MustFinalizeAll()
	if err != nil {
		return nil, err
	}
	y := tensors.MustCopyFlatData[float32](outs[0])
	for _, o := range outs {
		o.MustFinalizeAll()
	}
	if n == 0 || len(y)%n != 0 {
		return nil, fmt.Errorf("train: %d outputs for %d rows", len(y), n)
	}
	outputs := len(y) / n
	pred := make([]float64, n)
	for i := range n {
		if outputs == 1 {
			pred[i] = float64(y[i])
			continue
		}
		row := y[i*outputs : (i+1)*outputs]
		pred[i] = float64(slices.Index(row, slices.Max(row)))
	}
	return pred, nil
}
