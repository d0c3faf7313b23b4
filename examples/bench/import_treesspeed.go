package main

import (
	_ "embed"

	"github.com/moeboost/moeboost/examples/bench/treesspeed"
)

//go:embed trees_xgb_ref.py
var treesXGBRef []byte

func init() { treesspeed.XGBScript = treesXGBRef }
