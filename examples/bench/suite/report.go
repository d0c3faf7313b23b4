package suite

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"
)

// ExtraAnchor is the Result.Extra key that marks a row as an anchor: a reference implementation
// or baseline that the other arms of the same benchmark, task and metric are measured against
// (PyTorch in step-speed, XGBoost in trees-speed, a constant or linear predictor). Its value is
// true. For every anchor arm of a task, the report (-report) adds a column "METRIC ÷ ARM" after
// each metric the anchor has, holding each arm's Value divided by the anchor's Value. Mark rows
// with Result.AsAnchor; a benchmark may mark several arms (each gets its own ratio column).
const ExtraAnchor = "anchor"

// ExtraBaseline is the Result.Extra key (value true) of the regression baselines (ArmConstant,
// ArmLinear: SplitBaselineRows, the gbnn benchmark); such rows are anchors too, so the report
// divides by them as by rows marked with ExtraAnchor.
const ExtraBaseline = "baseline"

// ExtraHigherIsBetter is the Result.Extra key (a bool) saying which direction of a metric is
// better; when every row of a metric in a task carries it, the report shows the best value in
// bold.
const ExtraHigherIsBetter = "higher_is_better"

// AsAnchor returns r marked as an anchor (Extra[ExtraAnchor] = true), with its Extra copied so
// the caller's map is not changed.
func (r Result) AsAnchor() Result {
	extra := make(map[string]any, len(r.Extra)+1)
	for k, v := range r.Extra {
		extra[k] = v
	}
	extra[ExtraAnchor] = true
	r.Extra = extra
	return r
}

// IsAnchor reports whether r is marked as an anchor: Extra[ExtraAnchor] or
// Extra[ExtraBaseline] is true.
func (r Result) IsAnchor() bool {
	for _, k := range []string{ExtraAnchor, ExtraBaseline} {
		if b, ok := r.Extra[k].(bool); ok && b {
			return true
		}
	}
	return false
}

// ReportInfo is the run metadata a report shows besides File's own fields.
type ReportInfo struct {
	// Command is the command line of the run.
	Command string
	// CPU describes the processor (see CPUModel).
	CPU string
	// References are the reference libraries' versions (see ReferenceVersions), or nil with
	// ReferencesErr saying why none are known.
	References    map[string]string
	ReferencesErr string
	// PlotDir is where the run's PNG plots are; the report embeds those named
	// "<benchmark>-*.png" for a benchmark of the run and written since File.Started.
	PlotDir string
	// Descriptions of the benchmarks by name (optional; registered ones are looked up).
	Descriptions map[string]string
}

// NewReportInfo gathers a ReportInfo for a run with these command-line args: the CPU model and
// the reference libraries' versions (one python call, see ReferenceVersions).
func NewReportInfo(ctx context.Context, args []string, plotDir string) ReportInfo {
	info := ReportInfo{Command: "go run ./examples/bench " + strings.Join(args, " "), CPU: CPUModel(), PlotDir: plotDir}
	refs, err := ReferenceVersions(ctx)
	if err != nil {
		info.ReferencesErr = err.Error()
	}
	info.References = refs
	return info
}

// CPUModel returns the processor's model name (from /proc/cpuinfo where there is one) and the
// number of logical CPUs, e.g. "AMD EPYC, 2 logical CPUs".
func CPUModel() string {
	model := runtime.GOARCH
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs", model, runtime.NumCPU())
}

// WriteReport writes dir/index.html: one self-contained page (inline CSS, plots embedded as
// data: URIs, no scripts, nothing fetched) with the run's metadata, then per benchmark one table
// per task (arms as rows, metrics as columns, value ± std, ratio columns against each anchor,
// see ExtraAnchor) and its plots. It returns the file's path.
func WriteReport(dir string, doc *File, info ReportInfo) (string, error) {
	page, err := buildReport(doc, info)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, page); err != nil {
		return "", fmt.Errorf("report: rendering: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, "index.html")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("report: writing %s: %w", path, err)
	}
	return path, os.Rename(tmp, path)
}

type reportPage struct {
	Title      string
	Meta       []reportKV
	Errors     []string
	Benchmarks []reportBenchmark
}

type reportKV struct{ Key, Value string }

type reportBenchmark struct {
	Name, ID, Description string
	Tables                []reportTable
	Images                []reportImage
	Errors                []string
}

type reportTable struct {
	Task    string
	Headers []reportHeader
	Rows    []reportRow
}

type reportHeader struct {
	Label, Title, Class string
}

type reportRow struct {
	Arm    string
	Anchor bool
	Cells  []reportCell
	Notes  string
}

type reportCell struct {
	Text, Title string
	Ratio, Bold bool
}

type reportImage struct {
	Name string
	Src  template.URL
}

// buildReport lays out doc's rows: benchmarks in the run's order, then tasks, arms and metrics
// in the order of their first row.
func buildReport(doc *File, info ReportInfo) (reportPage, error) {
	page := reportPage{Title: "moeboost benchmark report", Errors: doc.Errors}
	page.Meta = reportMeta(doc, info)
	var order []string
	order = append(order, doc.Benchmarks...)
	for _, r := range doc.Results {
		if !slices.Contains(order, r.Benchmark) {
			order = append(order, r.Benchmark)
		}
	}
	images, err := reportImages(info.PlotDir, order, doc.Started)
	if err != nil {
		return page, err
	}
	for i, name := range order {
		b := reportBenchmark{Name: name, ID: fmt.Sprintf("b%d", i), Images: images[name]}
		if d, ok := info.Descriptions[name]; ok {
			b.Description = d
		} else if bm, err := Get(name); err == nil {
			b.Description = bm.Description()
		}
		for _, e := range doc.Errors {
			if strings.HasPrefix(e, name+": ") {
				b.Errors = append(b.Errors, e)
			}
		}
		var rows []Result
		for _, r := range doc.Results {
			if r.Benchmark == name {
				rows = append(rows, r)
			}
		}
		var tasks []string
		for _, r := range rows {
			if !slices.Contains(tasks, r.Task) {
				tasks = append(tasks, r.Task)
			}
		}
		for _, task := range tasks {
			var group []Result
			for _, r := range rows {
				if r.Task == task {
					group = append(group, r)
				}
			}
			b.Tables = append(b.Tables, buildTable(task, group))
		}
		page.Benchmarks = append(page.Benchmarks, b)
	}
	return page, nil
}

// armRow gathers one arm's rows of a task by metric; a second row of the same arm and metric
// starts another arm row ("arm (2)").
type armRow struct {
	label  string
	anchor bool
	byMet  map[string]Result
	rows   []Result
}

// buildTable lays out one task: one row per arm, per metric a "value ± std" column followed by
// one ratio column per anchor arm that has this metric, then ms/step (when rows carry it and no
// metric is already ms_per_step), seeds · steps, and the arm's scalar Extra fields as notes.
func buildTable(task string, group []Result) reportTable {
	var metrics []string
	var arms []*armRow
	for _, r := range group {
		if !slices.Contains(metrics, r.Metric) {
			metrics = append(metrics, r.Metric)
		}
		var target *armRow
		n := 0
		for _, a := range arms {
			if a.rows[0].Arm != r.Arm {
				continue
			}
			n++
			if _, dup := a.byMet[r.Metric]; !dup && target == nil {
				target = a
			}
		}
		if target == nil {
			label := r.Arm
			if n > 0 {
				label = fmt.Sprintf("%s (%d)", r.Arm, n+1)
			}
			target = &armRow{label: label, byMet: map[string]Result{}}
			arms = append(arms, target)
		}
		target.byMet[r.Metric] = r
		target.rows = append(target.rows, r)
		target.anchor = target.anchor || r.IsAnchor()
	}
	var anchors []*armRow
	for _, a := range arms {
		if a.anchor {
			anchors = append(anchors, a)
		}
	}
	showMs := !slices.Contains(metrics, "ms_per_step")
	hasMs := false
	for _, r := range group {
		hasMs = hasMs || r.MsPerStep > 0
	}
	showMs = showMs && hasMs

	t := reportTable{Task: task}
	type col struct {
		metric string
		anchor *armRow // nil: the metric's own column
	}
	var cols []col
	for _, m := range metrics {
		t.Headers = append(t.Headers, reportHeader{Label: m, Title: "mean ± sample std over seeds"})
		cols = append(cols, col{metric: m})
		for _, a := range anchors {
			if ar, ok := a.byMet[m]; ok && ar.IsAnchor() {
				t.Headers = append(t.Headers, reportHeader{Label: m + " ÷ " + a.label, Class: "ratio",
					Title: fmt.Sprintf("each arm's %s divided by the anchor %s's", m, a.label)})
				cols = append(cols, col{metric: m, anchor: a})
			}
		}
	}
	if showMs {
		t.Headers = append(t.Headers, reportHeader{Label: "ms/step", Title: "median wall time of one training step"})
	}
	t.Headers = append(t.Headers, reportHeader{Label: "seeds · steps"}, reportHeader{Label: "notes", Class: "notes", Title: "the arm's scalar Extra fields"})

	best := bestValues(metrics, arms)
	for _, a := range arms {
		row := reportRow{Arm: a.label, Anchor: a.anchor}
		for _, c := range cols {
			r, ok := a.byMet[c.metric]
			switch {
			case !ok:
				row.Cells = append(row.Cells, reportCell{Text: "", Ratio: c.anchor != nil})
			case c.anchor == nil:
				row.Cells = append(row.Cells, reportCell{Text: valueText(r), Bold: best[c.metric] == a,
					Title: fmt.Sprintf("%s: %d seed(s), %d steps", r.Metric, r.Seeds, r.Steps)})
			case c.anchor == a:
				row.Cells = append(row.Cells, reportCell{Text: "anchor", Ratio: true})
			default:
				ref := c.anchor.byMet[c.metric]
				row.Cells = append(row.Cells, reportCell{Text: ratioText(r.Value, ref.Value), Ratio: true,
					Title: fmt.Sprintf("%s / %s", fmtNum(r.Value), fmtNum(ref.Value))})
			}
		}
		if showMs {
			ms := ""
			for _, r := range a.rows {
				if r.MsPerStep > 0 {
					ms = fmt.Sprintf("%.3g", r.MsPerStep)
					break
				}
			}
			row.Cells = append(row.Cells, reportCell{Text: ms})
		}
		seeds, steps := 0, 0
		for _, r := range a.rows {
			seeds, steps = max(seeds, r.Seeds), max(steps, r.Steps)
		}
		row.Cells = append(row.Cells, reportCell{Text: fmt.Sprintf("%d · %d", seeds, steps)})
		row.Notes = notes(a.rows, len(anchors) > 0)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// bestValues returns, per metric whose every row says ExtraHigherIsBetter (consistently), the
// arm with the best finite value, when at least two arms have the metric.
func bestValues(metrics []string, arms []*armRow) map[string]*armRow {
	out := map[string]*armRow{}
	for _, m := range metrics {
		var dir *bool
		consistent, n := true, 0
		var bestArm *armRow
		for _, a := range arms {
			r, ok := a.byMet[m]
			if !ok {
				continue
			}
			n++
			h, ok := r.Extra[ExtraHigherIsBetter].(bool)
			if !ok || (dir != nil && *dir != h) {
				consistent = false
				break
			}
			dir = &h
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				continue
			}
			if bestArm == nil || (h && r.Value > bestArm.byMet[m].Value) || (!h && r.Value < bestArm.byMet[m].Value) {
				bestArm = a
			}
		}
		if consistent && n >= 2 && bestArm != nil {
			out[m] = bestArm
		}
	}
	return out
}

func valueText(r Result) string {
	if math.IsNaN(r.Value) {
		return "NaN (diverged or not reached)"
	}
	if r.Seeds <= 1 || math.IsNaN(r.Std) {
		return fmtNum(r.Value)
	}
	return fmtNum(r.Value) + " ± " + fmtNum(r.Std)
}

func ratioText(v, ref float64) string {
	if ref == 0 || math.IsNaN(v) || math.IsNaN(ref) || math.IsInf(v, 0) || math.IsInf(ref, 0) {
		return "n/a"
	}
	q := v / ref
	if math.Abs(q) >= 100 || math.Abs(q) < 0.01 {
		return fmt.Sprintf("%.3g×", q)
	}
	return fmt.Sprintf("%.2f×", q)
}

// notes joins an arm's Extra fields that read well in one line: scalars and short lists of
// scalars, strings cut at 120 characters; per-seed values, curves, maps and the keys the table
// already shows are left out (with ratio columns, so are the older "ratio_vs_*" fields). A key
// whose value differs between the arm's metrics is shown per metric.
func notes(rows []Result, ratioColumns bool) string {
	skip := map[string]bool{"per_seed": true, ExtraAnchor: true, ExtraBaseline: true, ExtraHigherIsBetter: true}
	vals := map[string][]string{}
	for _, r := range rows {
		for k, v := range r.Extra {
			if skip[k] || (ratioColumns && strings.HasPrefix(k, "ratio_vs_")) {
				continue
			}
			s, ok := noteValue(v)
			if !ok {
				continue
			}
			vals[k] = append(vals[k], r.Metric+"\x00"+s)
		}
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		same := true
		first := strings.SplitN(vals[k][0], "\x00", 2)[1]
		for _, mv := range vals[k] {
			same = same && strings.SplitN(mv, "\x00", 2)[1] == first
		}
		if same {
			parts = append(parts, k+"="+first)
			continue
		}
		for _, mv := range vals[k] {
			m, s, _ := strings.Cut(mv, "\x00")
			parts = append(parts, fmt.Sprintf("%s[%s]=%s", k, m, s))
		}
	}
	return strings.Join(parts, "; ")
}

func noteValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		if len(x) > 120 {
			x = x[:117] + "..."
		}
		return x, true
	case bool:
		return fmt.Sprint(x), true
	case float64:
		return fmtNum(x), true
	case float32:
		return fmtNum(float64(x)), true
	case int, int64, int32, uint, uint64:
		return fmt.Sprint(x), true
	case []string:
		if len(x) > 8 {
			return "", false
		}
		return "[" + strings.Join(x, ", ") + "]", true
	case []int:
		if len(x) > 8 {
			return "", false
		}
		return strings.ReplaceAll(fmt.Sprint(x), " ", ", "), true
	case []any:
		if len(x) > 8 {
			return "", false
		}
		var parts []string
		for _, e := range x {
			s, ok := noteValue(e)
			if !ok || strings.HasPrefix(s, "[") {
				return "", false
			}
			parts = append(parts, s)
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	default:
		return "", false
	}
}

// reportImages returns, per benchmark, the PNG files of dir named "<benchmark>-*.png" (the
// longest benchmark name that prefixes the file wins) and modified since started (less a second
// of clock slack; older files are from earlier runs), as data: URIs.
func reportImages(dir string, benchmarks []string, started time.Time) (map[string][]reportImage, error) {
	out := map[string][]reportImage{}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: plots: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".png") {
			continue
		}
		owner := ""
		for _, b := range benchmarks {
			if strings.HasPrefix(name, b+"-") && len(b) > len(owner) {
				owner = b
			}
		}
		if owner == "" {
			continue
		}
		st, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("report: plots: %w", err)
		}
		if !started.IsZero() && st.ModTime().Before(started.Add(-time.Second)) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("report: plots: %w", err)
		}
		out[owner] = append(out[owner], reportImage{Name: name,
			Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(raw))})
	}
	return out, nil
}

func reportMeta(doc *File, info ReportInfo) []reportKV {
	kv := func(k, v string) reportKV { return reportKV{k, v} }
	backend := doc.Backend
	if doc.BackendConfig != "" {
		backend += " (" + doc.BackendConfig + ")"
	}
	simd := "off (GOEXPERIMENT=simd not set: portable kernels)"
	if doc.SIMD {
		simd = "on (GOEXPERIMENT=simd)"
	}
	meta := []reportKV{
		kv("started", doc.Started.UTC().Format(time.RFC3339)),
		kv("wall time", (time.Duration(doc.WallSeconds * float64(time.Second))).Round(time.Second).String()),
		kv("command", info.Command),
		kv("benchmarks", strings.Join(doc.Benchmarks, ", ")),
		kv("quick", fmt.Sprint(doc.Quick)),
		kv("backend", backend),
		kv("SIMD", simd),
		kv("CPU", info.CPU),
		kv("GOMAXPROCS", fmt.Sprint(doc.GOMAXPROCS)),
		kv("Go", doc.Go),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var mods []string
		for _, d := range bi.Deps {
			if strings.HasPrefix(d.Path, "github.com/gomlx/") {
				mods = append(mods, strings.TrimPrefix(d.Path, "github.com/")+" "+d.Version)
			}
		}
		if len(mods) > 0 {
			meta = append(meta, kv("GoMLX modules", strings.Join(mods, ", ")))
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				meta = append(meta, kv("moeboost revision", s.Value))
			}
		}
	}
	if info.ReferencesErr != "" {
		meta = append(meta, kv("reference libraries", info.ReferencesErr))
	}
	if len(info.References) > 0 {
		keys := make([]string, 0, len(info.References))
		for k := range info.References {
			keys = append(keys, k)
		}
		order := append([]string{"interpreter", "python"}, ReferenceLibraries...)
		order = append(order, "blas")
		sort.SliceStable(keys, func(i, j int) bool {
			pi, pj := slices.Index(order, keys[i]), slices.Index(order, keys[j])
			if pi < 0 {
				pi = len(order)
			}
			if pj < 0 {
				pj = len(order)
			}
			if pi != pj {
				return pi < pj
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			meta = append(meta, kv("ref. "+k, info.References[k]))
		}
		if len(UnsetReferenceEnv()) > 0 {
			meta = append(meta, kv("ref. environment", "run without "+strings.Join(UnsetReferenceEnv(), ", ")))
		}
	}
	return meta
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2329; margin: 0; background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 8px 0 16px; }
h2 { font-size: 20px; margin: 36px 0 4px; padding-top: 12px; border-top: 2px solid #d5dae0; }
h3 { font-size: 15px; margin: 18px 0 6px; color: #394552; }
p.desc { margin: 0 0 8px; color: #56616d; }
nav { margin: 0 0 18px; }
nav a { display: inline-block; margin: 0 6px 6px 0; padding: 2px 10px; background: #e4e8ee; border-radius: 12px; color: #1d4f8f; text-decoration: none; }
table { border-collapse: collapse; background: #fff; margin: 4px 0 10px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { padding: 5px 10px; border-bottom: 1px solid #e6e9ed; text-align: right; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.arm, th.arm { text-align: left; white-space: nowrap; }
td.notes, th.notes { text-align: left; color: #56616d; font-size: 12px; max-width: 420px; }
th.ratio, td.ratio { background: #f3f7fc; color: #1d4f8f; }
tr.anchor td.arm::after { content: " (anchor)"; color: #8a5a00; font-size: 12px; }
tr.anchor td { background: #fffaf0; }
td.best { font-weight: 700; }
table.meta th { text-align: left; }
table.meta td { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.errors { background: #fdecec; border: 1px solid #f2b8b8; padding: 8px 12px; border-radius: 4px; white-space: pre-wrap; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.empty { color: #8a939d; font-style: italic; }
figure { display: inline-block; margin: 8px 12px 8px 0; background: #fff; padding: 6px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
figure img { max-width: 100%; width: 560px; height: auto; display: block; }
figcaption { font-size: 12px; color: #56616d; margin-top: 4px; }
footer { margin-top: 40px; color: #8a939d; font-size: 12px; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<table class="meta" id="meta">
{{range .Meta}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{if .Errors}}<div class="errors" id="errors">{{range .Errors}}{{.}}
{{end}}</div>{{end}}
<nav>{{range .Benchmarks}}<a href="#{{.ID}}">{{.Name}}</a>{{end}}</nav>
{{range .Benchmarks}}<section class="benchmark" id="{{.ID}}">
<h2>{{.Name}}</h2>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
{{if .Errors}}<div class="errors">{{range .Errors}}{{.}}
{{end}}</div>{{end}}
{{if not .Tables}}<p class="empty">no result rows</p>{{end}}
{{range .Tables}}<h3>task: {{.Task}}</h3>
<table class="results">
<thead><tr><th class="arm">arm</th>{{range .Headers}}<th{{if .Class}} class="{{.Class}}"{{end}}{{if .Title}} title="{{.Title}}"{{end}}>{{.Label}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr{{if .Anchor}} class="anchor"{{end}}><td class="arm">{{.Arm}}</td>{{range .Cells}}<td class="{{if .Ratio}}ratio{{end}}{{if .Bold}} best{{end}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Text}}</td>{{end}}<td class="notes">{{.Notes}}</td></tr>
{{end}}</tbody>
</table>
{{end}}{{range .Images}}<figure><img src="{{.Src}}" alt="{{.Name}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}</section>
{{end}}
<footer>Written by moeboost's examples/bench (-report). Self-contained: styles inline, plots embedded, no scripts, nothing fetched.
Ratio columns divide each arm's value by an anchor arm's (rows whose Extra has "anchor" or "baseline" true); bold marks the best value of metrics whose rows say higher_is_better.</footer>
</main>
</body>
</html>
`))
