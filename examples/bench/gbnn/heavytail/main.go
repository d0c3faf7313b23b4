// Command heavytail writes the gbnn benchmark's synthetic heavy-tailed count regression
// (data.HeavyTailedCounts: 9 features, negative-binomial target with a weak signal) as a
// CSV for -data:
//
//	go run ./examples/bench/gbnn/heavytail -n 20000 -out /tmp/heavytail.csv
//	GOEXPERIMENT=simd go run ./examples/bench -only gbnn -quick -data /tmp/heavytail.csv
package main

import (
	"bufio"
	"flag"
	"log"
	"os"

	"github.com/moeboost/moeboost/train/data"
)

func main() {
	n := flag.Int("n", 20000, "rows")
	seed := flag.Uint64("seed", 1, "seed")
	out := flag.String("out", "heavytail.csv", "output CSV")
	flag.Parse()
	if *n < 2 {
		log.Fatalf("heavytail: -n=%d must be >= 2", *n)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := data.WriteCSV(w, data.HeavyTailedCounts(*n, *seed)); err != nil {
		log.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
