package suite

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// ReferenceEnvUnset lists the environment variables removed from every reference (Python)
// process started through PythonCommand. Some machines set OPENBLAS_CORETYPE (e.g. "Haswell")
// and OPENBLAS_L2_SIZE, which force OpenBLAS, and so PyTorch's and NumPy's matmuls, onto an
// older and slower kernel than the CPU supports (measured here: OpenBLAS 0.3.21 picks
// "Cooperlake" on this AMD EPYC without them, "Haswell" with them). An anchor must run at its
// best, so they are unset in that process only; moeboost's own process keeps its environment.
var ReferenceEnvUnset = []string{"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}

// ReferenceEnv returns the environment of a reference process: this process's environment
// without the variables of ReferenceEnvUnset, followed by extra ("KEY=value" entries, which
// win over inherited ones).
func ReferenceEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if slices.Contains(ReferenceEnvUnset, key) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// UnsetReferenceEnv returns the ReferenceEnvUnset variables that are set in this process, as
// "KEY=value" entries (what ReferenceEnv removes), for the record in a result row's Extra.
func UnsetReferenceEnv() []string {
	var out []string
	for _, key := range ReferenceEnvUnset {
		if v, ok := os.LookupEnv(key); ok {
			out = append(out, key+"="+v)
		}
	}
	return out
}

// PythonCommand returns the command that runs python with args in ReferenceEnv(extraEnv...):
// the one way the benchmarks start a reference implementation.
func PythonCommand(ctx context.Context, python string, args []string, extraEnv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Env = ReferenceEnv(extraEnv...)
	return cmd
}

// FindPython returns the first python interpreter that runs `import <imports>` (e.g. "torch"
// or "xgboost, numpy"): $MOEBOOST_PYTHON, Debian's /usr/bin/python3 (where apt's python3-torch
// and python3-xgboost go), then python3 on PATH; or "" and one sentence saying why not, naming
// the Debian package to install (debianPackage).
func FindPython(imports, debianPackage string) (string, string) {
	var cands []string
	if p := os.Getenv("MOEBOOST_PYTHON"); p != "" {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/python3")
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	var tried []string
	for _, c := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := PythonCommand(ctx, c, []string{"-c", "import " + imports}).Run()
		cancel()
		if err == nil {
			return c, ""
		}
		tried = append(tried, c)
	}
	return "", fmt.Sprintf("no python3 imports %s (tried %s; install Debian's %s)", imports, strings.Join(tried, ", "), debianPackage)
}

// ReferenceLibraries are the Python packages whose versions the report records (import name
// first): the anchors of step-speed (torch), trees-speed (xgboost), the scikit-learn baselines
// and their common dependencies.
var ReferenceLibraries = []string{"torch", "xgboost", "sklearn", "numpy", "threadpoolctl"}

// versionsScript prints {"python": ..., "<lib>": version or "not installed", "blas": ...} for
// the modules named in argv; "blas" is threadpoolctl's view of the BLAS loaded by those
// imports (library, version, kernel architecture, threading layer), when threadpoolctl is there.
const versionsScript = `import importlib, json, sys
out = {"python": sys.version.split()[0]}
for name in sys.argv[1:]:
    try:
        out[name] = getattr(importlib.import_module(name), "__version__", "unknown version")
    except Exception as e:
        out[name] = "not installed (%s)" % type(e).__name__
try:
    import threadpoolctl
    blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    out["blas"] = "; ".join("%s %s, kernel %s, %s threads (%s)" % (i.get("internal_api"), i.get("version"),
        i.get("architecture"), i.get("num_threads"), i.get("threading_layer")) for i in blas) or "none loaded"
except Exception as e:
    out["blas"] = "unknown (threadpoolctl: %s)" % type(e).__name__
print(json.dumps(out))
`

// ReferenceVersions returns the versions of the ReferenceLibraries importable by the first
// python3 found (see FindPython), measured with one interpreter call in ReferenceEnv, keyed by
// import name plus "python", "interpreter" and "blas"; or an error saying why none is known.
func ReferenceVersions(ctx context.Context) (map[string]string, error) {
	python, why := FindPython("json", "python3")
	if python == "" {
		return nil, fmt.Errorf("reference versions: %s", why)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := PythonCommand(ctx, python, append([]string{"-c", versionsScript}, ReferenceLibraries...)).Output()
	if err != nil {
		return nil, fmt.Errorf("reference versions: %s: %w", python, err)
	}
	versions := map[string]string{}
	if err := json.Unmarshal(out, &versions); err != nil {
		return nil, fmt.Errorf("reference versions: parsing %q: %w", out, err)
	}
	versions["interpreter"] = python
	return versions, nil
}
