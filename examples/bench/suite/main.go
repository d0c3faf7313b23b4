package suite

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/moeboost/moeboost/internal/registry"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/moeboost/moeboost/train/backend"
)

// File is the JSON document written by -json.
type File struct {
	Backend string    `json:"backend"`
	Go      string    `json:"go"`
	Started time.Time `json:"started"`
	// The fields below are informative additions to the contract's required ones.
	BackendConfig string   `json:"backend_config"`
	SIMD          bool     `json:"simd"`
	GOMAXPROCS    int      `json:"gomaxprocs"`
	Quick         bool     `json:"quick"`
	Benchmarks    []string `json:"benchmarks"`
	WallSeconds   float64  `json:"wall_seconds"`
	Errors        []string `json:"errors,omitempty"`
	Results       []Result `json:"results"`
}

// Main runs the command line and exits the process with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Run is Main without the process: it parses args, runs the selected benchmarks, prints the
// results table to out and writes the JSON and plots that were asked for.
func Run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		list     = fs.Bool("list", false, "print every registered plugin, grouped by kind, and every benchmark, then exit")
		only     = fs.String("only", "", "comma-separated benchmarks to run (default: all)")
		quick    = fs.Bool("quick", false, "run a reduced version of each benchmark (the suite in < 5 minutes on 2 cores)")
		seeds    = fs.Int("seeds", 0, "seeds per arm (0: each benchmark's default)")
		backCfg  = fs.String("backend", "", `compute backend: "go" (default: go:parallelism=-1), "xla:cpu", "xla:cuda", "xla:/abs/path/plugin.so"; default $GOMLX_BACKEND, else an installed PJRT plugin, else go`)
		dataFile = fs.String("data", "", "CSV (header of names detected, label last unless -label; gzip ok) or .parquet file replacing the default data of tabular benchmarks")
		header   = fs.String("header", "auto", "whether -data's first line is column names: auto, yes, no")
		label    = fs.String("label", "", "-data's label column: a name, or a 0-based index (negative from the end); default the last column")
		task     = fs.String("task", "auto", "-data's task: auto (string or small integer labels: classification), classification, regression")
		catCols  = fs.String("categorical", "", "comma-separated -data columns (names or indices) to read as categorical even when numeric")
		impute   = fs.String("impute", "none", "missing numeric cells of -data for networks: none (an error naming the column), mean, median; trees keep them missing")
		textFile = fs.String("text", "", "UTF-8 text file replacing the default corpus of text benchmarks")
		jsonFile = fs.String("json", "", "write results as JSON to this file")
		plotDir  = fs.String("plot", "", "write curves as PNG files into this directory")
		report   = fs.String("report", "", "write an HTML report (tables, ratios to anchors, plots, run metadata) to DIR/index.html; plots go to DIR/plots unless -plot is set")
		verbose  = fs.Bool("v", false, "verbose logs: optimizers' parameter-group lines list every tensor")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	optimizers.SetVerbose(*verbose)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags go before arguments; see -h)", fs.Args())
	}
	if *list {
		printList(out)
		return nil
	}
	if *seeds < 0 {
		return fmt.Errorf("-seeds=%d must be >= 0", *seeds)
	}
	dataOpts, err := ParseDataFlags(*header, *label, *task, *catCols, *impute)
	if err != nil {
		return err
	}
	for _, f := range []struct{ flag, path string }{{"-data", *dataFile}, {"-text", *textFile}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s %q: %w", f.flag, f.path, err)
		} else if st.IsDir() {
			return fmt.Errorf("%s %q is a directory, want a file", f.flag, f.path)
		}
	}
	selected := Names()
	if *only != "" {
		selected = nil
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if _, err := Get(name); err != nil {
				return fmt.Errorf("-only: %w", err)
			}
			if !slices.Contains(selected, name) {
				selected = append(selected, name)
			}
		}
	}
	if len(selected) == 0 {
		return errors.New("no benchmarks selected (none registered, or -only empty)")
	}

	if *report != "" && *plotDir == "" {
		*plotDir = filepath.Join(*report, "plots")
	}
	cfg, source := backend.Resolve(*backCfg)
	cfg = backend.Normalize(cfg)
	b, err := backend.New(cfg)
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(out, "moeboost bench: %s (from %s)\n", backend.Describe(b, cfg), source)
	backend.WarnIfNoSIMD(b)

	opts := Options{Quick: *quick, Seeds: *seeds, Backend: b, BackendConfig: cfg,
		DataFile: *dataFile, TextFile: *textFile, PlotDir: *plotDir, Out: out, Data: dataOpts}
	doc := File{Backend: b.Name(), Go: goVersion(), Started: time.Now().UTC(), BackendConfig: cfg,
		SIMD: backend.SIMD, GOMAXPROCS: runtime.GOMAXPROCS(0), Quick: *quick, Benchmarks: selected,
		Results: []Result{}}
	start := time.Now()
	for _, name := range selected {
		if ctx.Err() != nil {
			doc.Errors = append(doc.Errors, fmt.Sprintf("%s: %v", name, ctx.Err()))
			break
		}
		bm, _ := Get(name)
		fmt.Fprintf(out, "\n=== %s: %s\n", name, bm.Description())
		t0 := time.Now()
		rows, err := runOne(ctx, bm, opts)
		if err != nil {
			msg := fmt.Sprintf("%s: %v", name, err)
			fmt.Fprintf(out, "=== %s FAILED after %s: %v\n", name, time.Since(t0).Round(time.Second), err)
			doc.Errors = append(doc.Errors, msg)
		} else {
			fmt.Fprintf(out, "=== %s done in %s\n", name, time.Since(t0).Round(time.Second))
		}
		for i := range rows {
			if rows[i].Benchmark == "" {
				rows[i].Benchmark = name
			}
		}
		doc.Results = append(doc.Results, rows...)
		if *jsonFile != "" { // Rewrite after every benchmark: a later failure never loses results.
			doc.WallSeconds = time.Since(start).Seconds()
			if err := writeJSON(*jsonFile, &doc); err != nil {
				return err
			}
		}
	}
	doc.WallSeconds = time.Since(start).Seconds()
	fmt.Fprintln(out)
	PrintTable(out, doc.Results)
	if *jsonFile != "" {
		if err := writeJSON(*jsonFile, &doc); err != nil {
			return err
		}
		fmt.Fprintf(out, "results written to %s\n", *jsonFile)
	}
	if *report != "" {
		path, err := WriteReport(*report, &doc, NewReportInfo(ctx, args, *plotDir))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "report written to %s\n", path)
	}
	if len(doc.Errors) > 0 {
		return fmt.Errorf("%d benchmark(s) failed: %s", len(doc.Errors), strings.Join(doc.Errors, "; "))
	}
	return nil
}

// runOne runs one benchmark, turning a panic into an error so one broken plugin does not take
// the whole suite down.
func runOne(ctx context.Context, bm Benchmark, opts Options) (rows []Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return bm.Run(ctx, opts)
}

// PrintTable prints result rows as an aligned table.
func PrintTable(out io.Writer, rows []Result) {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "benchmark\ttask\tarm\tmetric\tvalue ± std\tseeds\tms/step\tsteps")
	for _, r := range rows {
		ms := "-"
		if r.MsPerStep > 0 {
			ms = fmt.Sprintf("%.3g", r.MsPerStep)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s ± %s\t%d\t%s\t%d\n", r.Benchmark, r.Task, r.Arm, r.Metric,
			fmtNum(r.Value), fmtNum(r.Std), r.Seeds, ms, r.Steps)
	}
	_ = w.Flush()
}

func fmtNum(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x != x:
		return "NaN"
	case x > -1e-3 && x < 1e-3, x > 1e6 || x < -1e6:
		return fmt.Sprintf("%.3e", x)
	default:
		return fmt.Sprintf("%.4g", x)
	}
}

func printList(out io.Writer) {
	for _, kind := range registry.All() {
		if kind.Kind() == "benchmark" {
			continue
		}
		fmt.Fprintf(out, "%s: %s\n", registry.Plural(kind.Kind()), strings.Join(kind.Names(), ", "))
	}
	fmt.Fprintln(out, "benchmarks:")
	for _, name := range Names() {
		bm, _ := Get(name)
		fmt.Fprintf(out, "  %-14s %s\n", name, bm.Description())
	}
}

func writeJSON(path string, doc *File) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func goVersion() string { return runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH }
