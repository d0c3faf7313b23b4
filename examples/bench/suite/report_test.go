package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnchorMark(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  bool
	}{
		{"nil extra", nil, false},
		{"other keys", map[string]any{"per_seed": []float64{1}}, false},
		{"not a bool", map[string]any{ExtraAnchor: "yes"}, false},
		{"false", map[string]any{ExtraAnchor: false}, false},
		{"true", map[string]any{ExtraAnchor: true}, true},
		{"regression baseline", map[string]any{ExtraBaseline: true}, true},
		{"baseline false", map[string]any{ExtraBaseline: false}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Result{Arm: "a", Extra: tc.extra}
			require.Equal(t, tc.want, r.IsAnchor())
			before := len(tc.extra)
			a := r.AsAnchor()
			require.True(t, a.IsAnchor())
			require.Len(t, tc.extra, before, "AsAnchor leaves the caller's map alone")
			for k, v := range tc.extra {
				if k != ExtraAnchor {
					require.Equal(t, v, a.Extra[k], "AsAnchor keeps the other fields")
				}
			}
		})
	}
}

// cellTexts returns the table as rows of "arm", then each cell's text, then the notes.
func cellTexts(tb reportTable) (headers []string, rows [][]string) {
	for _, h := range tb.Headers {
		headers = append(headers, h.Label)
	}
	for _, r := range tb.Rows {
		row := []string{r.Arm}
		for _, c := range r.Cells {
			row = append(row, c.Text)
		}
		rows = append(rows, append(row, r.Notes))
	}
	return headers, rows
}

func TestBuildTable(t *testing.T) {
	hib := func(r Result, h bool) Result {
		r.Extra = map[string]any{ExtraHigherIsBetter: h}
		return r
	}
	for _, tc := range []struct {
		name        string
		rows        []Result
		wantHeaders []string
		wantRows    [][]string
		wantBold    map[string]string // arm -> text of its bold cell
	}{
		{
			name: "one anchor: ratio column after its metric, replacing ratio_vs_* notes",
			rows: []Result{
				{Arm: "moeboost", Metric: "ms_per_step", Value: 3, Seeds: 1, MsPerStep: 3, Steps: 100,
					Extra: map[string]any{"ratio_vs_pytorch": 1.5}},
				Result{Arm: "pytorch", Metric: "ms_per_step", Value: 2, Seeds: 1, MsPerStep: 2, Steps: 200,
					Extra: map[string]any{"blas": "openblas 0.3.21, kernel Cooperlake", "blas_info": []map[string]any{{"x": 1}}}}.AsAnchor(),
			},
			wantHeaders: []string{"ms_per_step", "ms_per_step ÷ pytorch", "seeds · steps", "notes"},
			wantRows: [][]string{
				{"moeboost", "3", "1.50×", "1 · 100", ""},
				{"pytorch", "2", "anchor", "1 · 200", "blas=openblas 0.3.21, kernel Cooperlake"},
			},
		},
		{
			name: "two anchors, one without the second metric; mean ± std; ms/step column",
			rows: []Result{
				{Arm: "net", Metric: "rmse", Value: 1, Std: 0.1, Seeds: 3, MsPerStep: 4.5, Steps: 10},
				{Arm: "net", Metric: "fit_seconds", Value: 6, Seeds: 1},
				{Arm: "constant", Metric: "rmse", Value: 4, Seeds: 1, Extra: map[string]any{ExtraBaseline: true}},
				Result{Arm: "linear", Metric: "rmse", Value: 2, Seeds: 1}.AsAnchor(),
				Result{Arm: "linear", Metric: "fit_seconds", Value: 3, Seeds: 1}.AsAnchor(),
			},
			wantHeaders: []string{"rmse", "rmse ÷ constant", "rmse ÷ linear", "fit_seconds", "fit_seconds ÷ linear", "ms/step", "seeds · steps", "notes"},
			wantRows: [][]string{
				{"net", "1 ± 0.1", "0.25×", "0.50×", "6", "2.00×", "4.5", "3 · 10", ""},
				{"constant", "4", "anchor", "2.00×", "", "", "", "1 · 0", ""},
				{"linear", "2", "0.50×", "anchor", "3", "anchor", "", "1 · 0", ""},
			},
		},
		{
			name: "no anchor: no ratio column (ratio_vs_* stays a note); NaN and a repeated arm",
			rows: []Result{
				{Arm: "a", Metric: "loss", Value: math.NaN(), Seeds: 2, Extra: map[string]any{"note": "diverged", "per_seed": []float64{1, 2}}},
				{Arm: "a", Metric: "loss", Value: 0.5, Seeds: 1, Extra: map[string]any{"lr": 0.01, "ratio_vs_x": 2.0}},
			},
			wantHeaders: []string{"loss", "seeds · steps", "notes"},
			wantRows: [][]string{
				{"a", "NaN (diverged or not reached)", "2 · 0", "note=diverged"},
				{"a (2)", "0.5", "1 · 0", "lr=0.01; ratio_vs_x=2"},
			},
		},
		{
			name: "NaN anchor: ratio n/a; higher_is_better marks the best finite value",
			rows: []Result{
				hib(Result{Arm: "x", Metric: "accuracy", Value: 0.9, Seeds: 1}, true),
				hib(Result{Arm: "y", Metric: "accuracy", Value: 0.95, Seeds: 1}, true),
				hib(Result{Arm: "z", Metric: "accuracy", Value: math.NaN(), Seeds: 1}, true).AsAnchor(),
			},
			wantHeaders: []string{"accuracy", "accuracy ÷ z", "seeds · steps", "notes"},
			wantRows: [][]string{
				{"x", "0.9", "n/a", "1 · 0", ""},
				{"y", "0.95", "n/a", "1 · 0", ""},
				{"z", "NaN (diverged or not reached)", "anchor", "1 · 0", ""},
			},
			wantBold: map[string]string{"y": "0.95"},
		},
		{
			name: "lower is better; notes show per-metric values that differ",
			rows: []Result{
				{Arm: "p", Metric: "loss", Value: 0.3, Seeds: 1, Extra: map[string]any{ExtraHigherIsBetter: false, "lr": 0.1}},
				{Arm: "p", Metric: "acc", Value: 0.7, Seeds: 1, Extra: map[string]any{"lr": 0.2}},
				{Arm: "q", Metric: "loss", Value: 0.2, Seeds: 1, Extra: map[string]any{ExtraHigherIsBetter: false}},
			},
			wantHeaders: []string{"loss", "acc", "seeds · steps", "notes"},
			wantRows: [][]string{
				{"p", "0.3", "0.7", "1 · 0", "lr[loss]=0.1; lr[acc]=0.2"},
				{"q", "0.2", "", "1 · 0", ""},
			},
			wantBold: map[string]string{"q": "0.2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := buildTable("task", tc.rows)
			headers, rows := cellTexts(tb)
			require.Equal(t, tc.wantHeaders, headers)
			require.Equal(t, tc.wantRows, rows)
			bold := map[string]string{}
			for _, r := range tb.Rows {
				for _, c := range r.Cells {
					if c.Bold {
						bold[r.Arm] = c.Text
					}
				}
			}
			if tc.wantBold == nil {
				tc.wantBold = map[string]string{}
			}
			require.Equal(t, tc.wantBold, bold)
		})
	}
}

func TestReferenceEnv(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "512")
	t.Setenv("MOEBOOST_REPORT_TEST_KEEP", "kept")
	env := ReferenceEnv("OMP_WAIT_POLICY=PASSIVE")
	for _, kv := range env {
		require.False(t, strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE="), "%s must be unset", kv)
	}
	require.Contains(t, env, "MOEBOOST_REPORT_TEST_KEEP=kept")
	require.Equal(t, "OMP_WAIT_POLICY=PASSIVE", env[len(env)-1])
	require.Equal(t, []string{"OPENBLAS_CORETYPE=Haswell", "OPENBLAS_L2_SIZE=512"}, UnsetReferenceEnv())

	// The child process sees neither variable; this process keeps both.
	out, err := PythonCommand(context.Background(), "/bin/sh",
		[]string{"-c", `echo "${OPENBLAS_CORETYPE-unset} ${OPENBLAS_L2_SIZE-unset} $MOEBOOST_REPORT_TEST_KEEP $X"`}, "X=extra").Output()
	require.NoError(t, err)
	require.Equal(t, "unset unset kept extra\n", string(out))
	require.Equal(t, "Haswell", os.Getenv("OPENBLAS_CORETYPE"))
}

func TestReferenceVersions(t *testing.T) {
	python, why := FindPython("json", "python3")
	versions, err := ReferenceVersions(context.Background())
	if python == "" {
		require.ErrorContains(t, err, why)
		return
	}
	require.NoError(t, err)
	require.Equal(t, python, versions["interpreter"])
	require.Regexp(t, `^3\.\d+`, versions["python"])
	for _, lib := range append([]string{"blas"}, ReferenceLibraries...) {
		require.NotEmpty(t, versions[lib], "%s: a version or why there is none", lib)
	}
}

func TestReportImages(t *testing.T) {
	dir := t.TempDir()
	started := time.Now()
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("\x89PNG fake "+name), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
	}
	write("moe-a.png", started)
	write("moe-lm-bpc.png", started.Add(time.Second))
	write("moe-old.png", started.Add(-time.Hour)) // an earlier run's
	write("other-x.png", started)                 // a benchmark not in this run
	write("moe-notes.txt", started)               // not a plot
	require.NoError(t, os.Mkdir(filepath.Join(dir, "moe-dir.png"), 0o755))

	got, err := reportImages(dir, []string{"moe", "moe-lm"}, started)
	require.NoError(t, err)
	names := map[string][]string{}
	for b, imgs := range got {
		for _, im := range imgs {
			names[b] = append(names[b], im.Name)
			require.True(t, strings.HasPrefix(string(im.Src), "data:image/png;base64,"))
		}
	}
	require.Equal(t, map[string][]string{"moe": {"moe-a.png"}, "moe-lm": {"moe-lm-bpc.png"}}, names)

	got, err = reportImages(filepath.Join(dir, "absent"), []string{"moe"}, started)
	require.NoError(t, err, "no plot directory: no plots")
	require.Empty(t, got)
}

// TestRunReport runs the suite with -report and no -plot: the plots go to DIR/plots and are
// embedded, the metadata and every row are on the page.
func TestRunReport(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-only", "test-ok,test-fail", "-quick", "-report", dir}, &out)
	require.ErrorContains(t, err, "1 benchmark(s) failed")
	require.Contains(t, out.String(), "report written to "+filepath.Join(dir, "index.html"))
	_, err = os.Stat(filepath.Join(dir, "plots", "test-ok-curve.png"))
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	page := string(raw)
	for _, want := range []string{"<h2>test-ok</h2>", "<h2>test-fail</h2>", "task: task", "task: t2", "2 ± 1.414",
		"test-fail: boom", `alt="test-ok-curve.png"`, "data:image/png;base64,", "GOMAXPROCS", "CPU", "-report " + dir} {
		require.Contains(t, page, want)
	}
	require.Equal(t, 2, strings.Count(page, `<table class="results">`))
	require.NotContains(t, page, "<script", "the page needs no scripts")
	require.NotRegexp(t, `(src|href)="https?:`, page, "nothing is fetched from the network")
}

// chromiumPath returns Debian's chromium (or another Chromium/Chrome on PATH), failing the test
// when none is installed and CI=true (.ci/run installs it), skipping it with a note otherwise.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH under CI=true: .ci/run installs Debian's chromium; install it with apt-get install -y chromium")
	}
	t.Skip("no chromium on PATH (apt-get install -y chromium): the report's browser test needs one; under CI=true this fails instead")
	return ""
}

// checkScript, injected at the top of a copy of the page, records script errors, failed
// resources and console.error/warn calls, and after load writes a JSON summary (tables, images,
// images that did not decode, errors) into <pre id="selfcheck"> for --dump-dom to return.
const checkScript = `<script>
window.__errs = [];
window.addEventListener("error", function (e) {
  var t = e.target && (e.target.src || e.target.href);
  window.__errs.push(t ? "resource failed: " + t.slice(0, 80) : "error: " + e.message);
}, true);
["error", "warn"].forEach(function (k) {
  var f = console[k];
  console[k] = function () { window.__errs.push("console." + k + ": " + Array.prototype.join.call(arguments, " ")); f.apply(console, arguments); };
});
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var pre = document.createElement("pre");
  pre.id = "selfcheck";
  pre.textContent = JSON.stringify({
    tables: document.querySelectorAll("table.results").length,
    rows: document.querySelectorAll("table.results tbody tr").length,
    images: imgs.length,
    broken: imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).map(function (i) { return i.alt; }),
    errors: window.__errs
  });
  document.body.appendChild(pre);
});
</script>`

// TestReportInChromium renders a report with two benchmarks, three tasks and three plots in
// headless Chromium: every table and image must be there and decode, the console must stay
// clean; a screenshot is kept as the test's artifact (its path is logged).
func TestReportInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	work := t.TempDir()
	plotDir := filepath.Join(work, "plots")
	started := time.Now().UTC()
	for _, name := range []string{"speed-mlp", "speed-block", "quality-curves"} {
		chart := Chart{Title: name, XLabel: "step", YLabel: "value", Series: []Series{
			{Name: "a", X: []float64{1, 2, 3, 4}, Y: []float64{4, 3, 2.5, 2}},
			{Name: "b", X: []float64{1, 2, 3, 4}, Y: []float64{5, 3.5, 3, 2.2}}}}
		require.NoError(t, SavePlot(filepath.Join(plotDir, name+".png"), chart))
	}
	doc := &File{Backend: "go", Go: "go-test", Started: started, SIMD: true, GOMAXPROCS: 2, Benchmarks: []string{"speed", "quality"},
		Errors: []string{"quality: one arm <failed> & said so"},
		Results: []Result{
			{Benchmark: "speed", Task: "mlp", Arm: "moeboost", Metric: "ms_per_step", Value: 2.5, Seeds: 1, MsPerStep: 2.5, Steps: 300},
			Result{Benchmark: "speed", Task: "mlp", Arm: "pytorch", Metric: "ms_per_step", Value: 1.8, Seeds: 1, MsPerStep: 1.8, Steps: 200,
				Extra: map[string]any{"blas": "openblas 0.3.21, kernel Cooperlake, pthreads"}}.AsAnchor(),
			{Benchmark: "speed", Task: "block", Arm: "moeboost", Metric: "ms_per_step", Value: 60, Seeds: 1, Steps: 40},
			Result{Benchmark: "speed", Task: "block", Arm: "pytorch", Metric: "ms_per_step", Value: 35, Seeds: 1, Steps: 30}.AsAnchor(),
			Row("quality", "digits", "student", "accuracy", []float64{0.9, 0.92, 0.91}, 1.2, 500),
			Row("quality", "digits", "teacher", "accuracy", []float64{0.95, 0.96, 0.97}, 3.4, 500),
		}}
	dir := filepath.Join(work, "report")
	path, err := WriteReport(dir, doc, ReportInfo{Command: "go run ./examples/bench -report " + dir, CPU: CPUModel(),
		References: map[string]string{"torch": "1.13.0a0", "blas": "openblas 0.3.21, kernel Cooperlake"}, PlotDir: plotDir,
		Descriptions: map[string]string{"speed": "ms per step", "quality": "accuracy <b>not bold</b>"}})
	require.NoError(t, err)

	chrome := headless{path: chromium, profile: filepath.Join(work, "profile")}

	// A control page first: the check must see a missing image, a script error and a
	// console.error, or its silence below would prove nothing.
	bad := filepath.Join(work, "bad.html")
	require.NoError(t, os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head><title>bad</title></head><body>`+
		`<table class="results"><tbody><tr><td>1</td></tr></tbody></table><img src="missing.png" alt="missing">`+
		`<script>console.error("control error"); noSuchFunction();</script></body></html>`), 0o644))
	ctl, _, ctlLogs := chrome.check(t, bad)
	require.Equal(t, 1, ctl.Tables)
	require.Equal(t, []string{"missing"}, ctl.Broken)
	require.Len(t, ctl.Errors, 3, "console.error, the uncaught ReferenceError and the failed image: %q", ctl.Errors)
	require.Contains(t, ctlLogs, "CONSOLE", "chromium logs console messages to stderr")

	check, dom, logs := chrome.check(t, path)
	require.Equal(t, 3, check.Tables, "one table per benchmark task")
	require.Equal(t, 6, check.Rows, "one row per arm")
	require.Equal(t, 3, check.Images, "every plot")
	require.Empty(t, check.Broken, "images that did not decode")
	require.Empty(t, check.Errors, "script errors, failed resources, console errors")
	for _, line := range strings.Split(logs, "\n") {
		require.NotContains(t, line, "CONSOLE", "the browser logged a console message")
	}
	require.Contains(t, dom, "accuracy &lt;b&gt;not bold&lt;/b&gt;", "text is escaped")
	require.Contains(t, dom, "1.39×", "ratio 2.5/1.8")

	// The artifact: a screenshot of the page as a reader sees it, kept outside the test's
	// temporary directory.
	artifacts := os.Getenv("MOEBOOST_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(os.TempDir(), "moeboost-test-artifacts")
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	shot := filepath.Join(artifacts, "bench-report.png")
	_ = os.Remove(shot)
	chrome.run(t, "--hide-scrollbars", "--window-size=1280,2200", "--screenshot="+shot, "file://"+path)
	st, err := os.Stat(shot)
	require.NoError(t, err, "chromium wrote the screenshot")
	require.Greater(t, st.Size(), int64(10_000), "a screenshot of a real page, not a blank one")
	head := make([]byte, 8)
	f, err := os.Open(shot)
	require.NoError(t, err)
	_, err = f.Read(head)
	require.NoError(t, f.Close())
	require.NoError(t, err)
	require.Equal(t, "\x89PNG\r\n\x1a\n", string(head))
	t.Logf("report screenshot: %s (page %s)", shot, path)
}

// headless runs Chromium without a display, in its own profile directory.
type headless struct{ path, profile string }

func (h headless) run(t *testing.T, args ...string) (stdout, stderr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--user-data-dir=" + h.profile,
		"--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, h.path, append(base, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	require.NoError(t, cmd.Run(), "chromium %v: %s", args, e.String())
	return o.String(), e.String()
}

// browserCheck is what checkScript reports.
type browserCheck struct {
	Tables, Rows, Images int
	Broken, Errors       []string
}

// check loads a copy of page with checkScript injected and returns the script's summary, the
// DOM after load and chromium's log (console messages appear there as "CONSOLE" lines).
func (h headless) check(t *testing.T, page string) (browserCheck, string, string) {
	raw, err := os.ReadFile(page)
	require.NoError(t, err)
	checkPath := strings.TrimSuffix(page, ".html") + ".check.html"
	require.NoError(t, os.WriteFile(checkPath, []byte(strings.Replace(string(raw), "<head>", "<head>\n"+checkScript, 1)), 0o644))
	dom, logs := h.run(t, "--virtual-time-budget=10000", "--dump-dom", "file://"+checkPath)
	m := regexp.MustCompile(`(?s)<pre id="selfcheck">(.*?)</pre>`).FindStringSubmatch(dom)
	require.NotNil(t, m, "the check script's summary is in the DOM; DOM starts %.300q", dom)
	var c browserCheck
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &c), m[1])
	return c, dom, logs
}
