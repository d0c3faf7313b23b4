// Package backend chooses and creates the GoMLX compute backend for every moeboost run, with
// settings that never hang.
//
// Selection order (Resolve): an explicit choice (flag), then $GOMLX_BACKEND, then XLA when a
// PJRT plugin is already installed on this machine, then GoMLX's pure-Go backend. Nothing here
// ever downloads a plugin unless the user sets MOEBOOST_XLA_AUTOINSTALL=1, so an offline machine
// never waits on DNS.
//
// The Go backend's worker pool deadlocks when a finite pool of N >= 2 slots runs graph nodes in
// parallel and a matmul node waits for slots while holding one (see the README's "Backends"
// section). moeboost therefore always creates it with parallelism=-1 (goroutines on demand,
// measured as fast as the default) unless the user sets parallelism explicitly, and warns when
// a chosen setting is known to hang.
package backend

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // Registers the pure-Go backend "go".

	_ "github.com/moeboost/moeboost/internal/fastgrad" // Faster, identical gradient rules (see its doc).
)

// GoDefault is the Go backend configuration moeboost uses when none is given: unlimited
// parallelism never waits for pool slots, so it cannot deadlock.
const GoDefault = "go:parallelism=-1"

// EnvAutoInstall, when set to "1", lets go-xla download missing PJRT plugins (network access).
const EnvAutoInstall = "MOEBOOST_XLA_AUTOINSTALL"

// Source says where a backend configuration came from.
type Source string

const (
	FromFlag    Source = "flag"
	FromEnv     Source = "$GOMLX_BACKEND"
	FromPlugin  Source = "installed PJRT plugin"
	FromDefault Source = "default"
)

// Resolve returns the backend configuration to use: explicit if not empty, else $GOMLX_BACKEND,
// else "xla:cuda"/"xla:cpu" when such a PJRT plugin is installed locally (and XLA is compiled
// in), else GoDefault.
func Resolve(explicit string) (config string, source Source) {
	if explicit != "" {
		return explicit, FromFlag
	}
	if env, ok := os.LookupEnv(compute.ConfigEnvVar); ok && env != "" {
		return env, FromEnv
	}
	if xlaCompiledIn {
		plugins := installedPlugins()
		for _, p := range []string{"cuda", "cpu"} {
			if _, ok := plugins[p]; ok {
				return "xla:" + p, FromPlugin
			}
		}
	}
	return GoDefault, FromDefault
}

// Normalize fills in moeboost's safe defaults: "go" or "go:<opts>" without a parallelism
// option gets parallelism=-1 appended. Other configurations are returned unchanged.
func Normalize(config string) string {
	name, opts, _ := strings.Cut(config, ":")
	if name != "go" {
		return config
	}
	if _, ok := goOption(opts, "parallelism"); ok {
		return config
	}
	if opts == "" {
		return GoDefault
	}
	return config + ",parallelism=-1"
}

// HangRisk returns a non-empty explanation when a Go backend configuration is known to be able
// to deadlock: a finite worker pool of 2 or more slots with graph nodes run in parallel.
func HangRisk(config string) string {
	name, opts, _ := strings.Cut(config, ":")
	if name != "go" {
		return ""
	}
	v, ok := goOption(opts, "parallelism")
	if !ok {
		return ""
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return ""
	}
	if _, seq := goOption(opts, "ops_sequential"); seq {
		return ""
	}
	return fmt.Sprintf("backend %q can deadlock (a matmul node waits for one of the %d pool slots while "+
		"holding one); use parallelism=-1 (the default), add ops_sequential, or cap CPUs with GOMAXPROCS", config, n)
}

func goOption(opts, key string) (string, bool) {
	for _, part := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(part, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// New creates the backend for config (after Normalize). Asking for XLA without an installed
// plugin, or without cgo, gives one sentence saying how to install one or use the Go backend.
// A configuration known to hang is refused unless allowHang is set, in which case it only
// warns on stderr.
func New(config string) (b compute.Backend, err error) {
	config = Normalize(config)
	if risk := HangRisk(config); risk != "" {
		if os.Getenv("MOEBOOST_ALLOW_HANG") != "1" {
			return nil, fmt.Errorf("moeboost: refusing %s (set MOEBOOST_ALLOW_HANG=1 to try anyway)", risk)
		}
		fmt.Fprintf(os.Stderr, "moeboost: WARNING: %s\n", risk)
	}
	name, opts, _ := strings.Cut(config, ":")
	switch name {
	case "xla", "stablehlo", "shlo", "hlo":
		if !xlaCompiledIn {
			return nil, fmt.Errorf("moeboost: backend %q needs XLA, which this binary was built without "+
				"(XLA needs cgo: build with CGO_ENABLED=1 and a C compiler), or use -backend go", config)
		}
		if err := checkPlugin(opts); err != nil {
			return nil, err
		}
	case "go":
	default:
		known := compute.List()
		return nil, fmt.Errorf("moeboost: unknown backend %q: known backends are %s", config, strings.Join(known, ", "))
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("moeboost: creating backend %q failed: %v", config, r)
		}
	}()
	b, err = compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("moeboost: creating backend %q failed: %w", config, err)
	}
	return b, nil
}

// checkPlugin verifies that the requested PJRT plugin is installed, without any network access.
func checkPlugin(opts string) error {
	plugin, _, _ := strings.Cut(opts, ",")
	if plugin == "" || strings.HasPrefix(plugin, "/") || os.Getenv(EnvAutoInstall) == "1" {
		return nil // Absolute paths are checked by PJRT itself; auto-install was asked for.
	}
	plugins := installedPlugins()
	for name := range plugins {
		if name == plugin || strings.HasPrefix(name, plugin+"_") {
			return nil
		}
	}
	return fmt.Errorf("moeboost: no PJRT plugin %q is installed (searched $PJRT_PLUGIN_LIBRARY_PATH, "+
		"/usr/local/lib/go-xla, ~/.local/lib/go-xla and the system library paths): install one there, "+
		"pass its absolute path as -backend xla:/path/to/plugin.so, set %s=1 to let go-xla download it, "+
		"or use -backend go", plugin, EnvAutoInstall)
}

var (
	defaultOnce    sync.Once
	defaultBackend compute.Backend
	defaultErr     error
	defaultConfig  string
)

// Default returns the process-wide backend chosen by Resolve(""), created once. Tests use it
// (after TestMain sets GOMLX_BACKEND to GoDefault when unset).
func Default() (compute.Backend, error) {
	defaultOnce.Do(func() {
		cfg, _ := Resolve("")
		defaultConfig = Normalize(cfg)
		defaultBackend, defaultErr = New(defaultConfig)
	})
	return defaultBackend, defaultErr
}

// MustDefault is Default that panics on error; for tests and examples.
func MustDefault() compute.Backend {
	b, err := Default()
	if err != nil {
		panic(err)
	}
	return b
}

// ForTests makes the pure-Go backend (GoDefault) the default when $GOMLX_BACKEND is unset, so
// a test run never picks XLA by accident. Call it from TestMain before anything else.
func ForTests() {
	if os.Getenv(compute.ConfigEnvVar) == "" {
		_ = os.Setenv(compute.ConfigEnvVar, GoDefault)
	}
}

// Describe returns one line naming the backend in use, its configuration and the build's SIMD
// status, e.g. for printing at the start of every run.
func Describe(b compute.Backend, config string) string {
	simd := "GOEXPERIMENT=simd"
	if !SIMD {
		simd = "no SIMD (build with GOEXPERIMENT=simd for faster matmuls: an MLP step 7x faster)"
	}
	return fmt.Sprintf("backend %s [%s] %s, GOMAXPROCS=%d, %s", b.Name(), config, b.Description(),
		runtime.GOMAXPROCS(0), simd)
}

var simdWarnOnce sync.Once

// WarnIfNoSIMD prints, once per process, a warning to stderr when the binary was built without
// GOEXPERIMENT=simd and the Go backend is in use.
func WarnIfNoSIMD(b compute.Backend) {
	if SIMD || b == nil || b.String() != "go" {
		return
	}
	simdWarnOnce.Do(func() {
		fmt.Fprintln(os.Stderr, "moeboost: built without GOEXPERIMENT=simd: the Go backend's matmuls run without "+
			"AVX2/AVX-512 kernels (an MLP training step measured about 10x slower); rebuild with GOEXPERIMENT=simd")
	})
}
