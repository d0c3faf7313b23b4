//go:build cgo && !noxla && ((linux && (amd64 || arm64)) || (darwin && arm64))

package backend

import (
	"os"

	"github.com/gomlx/go-xla/compute/xla" // Registers the "xla" backend.
	"github.com/gomlx/go-xla/pjrt"
)

const xlaCompiledIn = true

func init() {
	// Never download plugins behind the user's back: an offline machine must not wait on DNS.
	xla.EnableAutoInstall(os.Getenv(EnvAutoInstall) == "1")
}

func installedPlugins() map[string]string { return pjrt.AvailablePlugins() }
