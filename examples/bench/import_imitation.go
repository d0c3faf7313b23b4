package main

import _ "github.com/moeboost/moeboost/examples/bench/imitation"
