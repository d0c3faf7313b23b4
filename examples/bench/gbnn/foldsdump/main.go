// Command foldsdump writes the CV folds of the gbnn benchmark as JSON, for gbnn_ref.py:
//
//	go run ./examples/bench/gbnn/foldsdump -out /tmp/gbnn_folds.json [-quick]
//	/usr/bin/python3 examples/bench/gbnn/gbnn_ref.py /path/to/GAA-UAM/GBNN /tmp/gbnn_folds.json
package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"

	gbnnbench "github.com/moeboost/moeboost/examples/bench/gbnn"
)

func main() {
	out := flag.String("out", "gbnn_folds.json", "output file")
	quick := flag.Bool("quick", false, "the folds of -quick")
	flag.Parse()
	folds, err := gbnnbench.Folds(gbnnbench.DefaultSetup(*quick))
	if err != nil {
		log.Fatal(err)
	}
	data, err := json.Marshal(folds)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
}
