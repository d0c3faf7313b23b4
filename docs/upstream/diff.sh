#!/usr/bin/env bash
# Prints moeboost's patches to github.com/gomlx/compute v0.1.2 as one unified diff: the module
# as the Go proxy serves it (downloaded into the module cache if missing) against the patched
# copy in third_party/gomlx-compute that go.mod's replace directive builds. Usage, from the
# repository root: docs/upstream/diff.sh > compute.diff (apply in a copy with patch -p1).
set -euo pipefail
cd "$(dirname "$0")/../.."
orig=$(GOFLAGS=-mod=mod go mod download -json github.com/gomlx/compute@v0.1.2 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
diff -ruN "$orig" third_party/gomlx-compute | sed -e "s|^--- $orig/|--- a/|" -e "s|^+++ third_party/gomlx-compute/|+++ b/|" || true
