// Package suite is the benchmark runner behind `go run ./examples/bench`: the Benchmark plugin
// interface, the Result row (the JSON contract), the registry of benchmarks and the command
// line (Main).
//
// The contract, kept stable so results compare run to run:
//
//	-list                 every registered plugin, grouped by kind, and every benchmark
//	-only NAME[,NAME...]  run a subset (default: all)
//	-quick                a reduced version of each benchmark (the whole suite in < 5 min on 2 cores)
//	-seeds N              seeds per arm (0: each benchmark's default)
//	-backend NAME         compute backend (default: see train/backend.Resolve)
//	-data FILE.csv        numeric CSV (label last) for the benchmarks that use tabular data
//	-text FILE            UTF-8 text for the benchmarks that use text
//	-json FILE            {"backend", "go", "started", "results": [Result...]}
//	-plot DIR             curves as PNG files
//	-report DIR           DIR/index.html: every table, ratio columns against anchors (ExtraAnchor),
//	                      the plots and the run's metadata, on one self-contained page
//
// Third-party packages add benchmarks by calling Register from init and linking their package
// into a main that calls Main, exactly as examples/bench does.
package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"github.com/gomlx/compute"
	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/train/data"
)

// Result is one row of the JSON result file: the mean (and std) over seeds of one metric of one
// arm (model, optimizer or method compared) on one task of a benchmark.
type Result struct {
	Benchmark string  `json:"benchmark"`
	Task      string  `json:"task"`
	Arm       string  `json:"arm"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Std       float64 `json:"std"`
	Seeds     int     `json:"seeds"`
	// MsPerStep is the median wall time of one training step in milliseconds (0 if not relevant).
	MsPerStep float64 `json:"ms_per_step"`
	// Steps is the number of training steps (or environment steps, trees, ...) per seed.
	Steps int `json:"steps"`
	// Extra holds benchmark-specific fields (e.g. "higher_is_better", per-seed values).
	Extra map[string]any `json:"extra,omitempty"`
}

// Options are the runner's settings handed to every benchmark.
type Options struct {
	// Quick asks for a reduced run (fewer steps and seeds); the whole suite must finish in
	// under 5 minutes on 2 cores.
	Quick bool
	// Seeds is the number of seeds per arm; 0 means the benchmark's own default.
	Seeds int
	// Backend is the compute backend to build graphs on; BackendConfig its configuration string.
	Backend       compute.Backend
	BackendConfig string
	// DataFile (-data) and TextFile (-text), when set, replace the default data of the
	// benchmarks that use tabular data or text.
	DataFile, TextFile string
	// Data holds how DataFile is read and converted (-header, -label, -task, -categorical,
	// -impute); see LoadTable and LoadFrame.
	Data data.Options
	// PlotDir, when set, is where benchmarks write their curves (PNG), named "<benchmark>-*.png".
	PlotDir string
	// Out receives tables and log lines; progress bars go to stderr.
	Out io.Writer
}

// SeedsOr returns o.Seeds if set, else def (or 1 when Quick and def > 1, unless quickDef > 0).
func (o Options) SeedsOr(def, quickDef int) int {
	if o.Seeds > 0 {
		return o.Seeds
	}
	if o.Quick {
		return quickDef
	}
	return def
}

// Logf writes one formatted line to o.Out (if any).
func (o Options) Logf(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

// Benchmark is a registered benchmark plugin.
type Benchmark interface {
	// Description is one line for -list.
	Description() string
	// Run executes the benchmark and returns its result rows. It should honour ctx
	// cancellation between runs, print its own paper-style table to opts.Out, and write
	// plots to opts.PlotDir when set.
	Run(ctx context.Context, opts Options) ([]Result, error)
}

// Func adapts a function to the Benchmark interface.
type Func struct {
	Desc string
	Fn   func(ctx context.Context, opts Options) ([]Result, error)
}

// Description implements Benchmark.
func (f Func) Description() string { return f.Desc }

// Run implements Benchmark.
func (f Func) Run(ctx context.Context, opts Options) ([]Result, error) { return f.Fn(ctx, opts) }

var benchmarks = registry.NewKind[Benchmark]("benchmark")

// Register adds a benchmark under name (lower kebab/snake case), from an init function; it
// panics on a duplicate name.
func Register(name string, b Benchmark) { benchmarks.Register(name, b) }

// Names returns the registered benchmark names, sorted.
func Names() []string { return benchmarks.Names() }

// Get returns the benchmark registered under name, or an error listing the known ones.
func Get(name string) (Benchmark, error) { return benchmarks.Get(name) }

// MeanStd returns the mean and the sample standard deviation (n-1; 0 for one value) of xs.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)-1))
}

// Row builds a Result from per-seed values: Value and Std are their mean and std, Seeds their
// count, and the per-seed values are kept in Extra["per_seed"].
func Row(benchmark, task, arm, metric string, perSeed []float64, msPerStep float64, steps int) Result {
	m, s := MeanStd(perSeed)
	return Result{Benchmark: benchmark, Task: task, Arm: arm, Metric: metric, Value: m, Std: s,
		Seeds: len(perSeed), MsPerStep: msPerStep, Steps: steps,
		Extra: map[string]any{"per_seed": append([]float64(nil), perSeed...)}}
}

// MarshalJSON writes every non-finite float (a diverged run) as null, since JSON has no NaN or
// infinity: Value, Std and MsPerStep, and any float anywhere inside Extra (per-seed slices,
// nested maps and slices, structs), so one diverged fold never stops the suite from writing.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	type out struct {
		plain
		Value     *float64 `json:"value"`
		Std       *float64 `json:"std"`
		MsPerStep *float64 `json:"ms_per_step"`
		Extra     any      `json:"extra,omitempty"`
	}
	fin := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	o := out{plain: plain(r), Value: fin(r.Value), Std: fin(r.Std), MsPerStep: fin(r.MsPerStep)}
	if len(r.Extra) > 0 {
		o.Extra = JSONSafe(r.Extra)
	}
	return json.Marshal(o)
}

var jsonMarshalerType = reflect.TypeFor[json.Marshaler]()

// JSONSafe returns a copy of v in which every non-finite float (NaN, ±Inf), at any depth of
// slices, arrays, maps, pointers, interfaces and structs, is nil (JSON null); finite floats,
// other scalars and values that marshal themselves (json.Marshaler, e.g. time.Time) are kept.
// Slices and arrays become []any, maps map[string]any (keys as encoding/json writes them) and
// structs map[string]any keyed by their JSON field names. v itself is never modified.
func JSONSafe(v any) any {
	if v == nil {
		return nil
	}
	return jsonSafe(reflect.ValueOf(v))
}

func jsonSafe(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(jsonMarshalerType) && v.Kind() != reflect.Interface {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.IsNil() {
			return nil
		}
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return v.Interface()
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonSafe(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte: encoding/json writes base64
			return v.Interface()
		}
		fallthrough
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonSafe(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = jsonSafe(it.Value())
		}
		return out
	case reflect.Struct:
		out := make(map[string]any)
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if strings.Contains(opts, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			out[name] = jsonSafe(v.Field(i))
		}
		return out
	default:
		return v.Interface()
	}
}

// UnmarshalJSON reads what MarshalJSON writes (null becomes NaN).
func (r *Result) UnmarshalJSON(data []byte) error {
	type plain Result
	var in struct {
		plain
		Value     *float64 `json:"value"`
		Std       *float64 `json:"std"`
		MsPerStep *float64 `json:"ms_per_step"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*r = Result(in.plain)
	get := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	r.Value, r.Std, r.MsPerStep = get(in.Value), get(in.Std), get(in.MsPerStep)
	return nil
}
