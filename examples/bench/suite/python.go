package suite

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

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
		err := exec.CommandContext(ctx, c, "-c", "import "+imports).Run()
		cancel()
		if err == nil {
			return c, ""
		}
		tried = append(tried, c)
	}
	return "", fmt.Sprintf("no python3 imports %s (tried %s; install Debian's %s)", imports, strings.Join(tried, ", "), debianPackage)
}
