// Command bench runs moeboost's benchmark suite: every registered benchmark (or those named by
// -only), printing a results table and writing JSON (-json) and PNG curves (-plot).
//
//	GOEXPERIMENT=simd go run ./examples/bench -json bench.json -plot plots
//	go run ./examples/bench -list
//
// Flags and the JSON schema are described in package suite.
package main

import (
	"github.com/moeboost/moeboost/examples/bench/suite"

	_ "github.com/moeboost/moeboost/examples/bench/mlpbench"
	_ "github.com/moeboost/moeboost/examples/bench/stepspeed"
)

func main() { suite.Main() }
