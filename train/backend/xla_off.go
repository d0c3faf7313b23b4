//go:build !cgo || noxla || !((linux && (amd64 || arm64)) || (darwin && arm64))

package backend

const xlaCompiledIn = false

func installedPlugins() map[string]string { return nil }
