package optimizers_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/moeboost/moeboost/optimizers"
	"github.com/stretchr/testify/require"
)

// transformerPartition is the partition of an n-layer transformer: per layer 4 attention
// matrices and 2 FFN matrices (decay), their biases and 2 norms' gains and offsets (no decay);
// an embedding and a head (decay) and the head's bias (no decay).
func transformerPartition(layers int) []optimizers.Assignment {
	var part []optimizers.Assignment
	add := func(path string, decay bool, dims ...int) {
		part = append(part, optimizers.Assignment{Path: path, Shape: shapes.Make(dtypes.Float32, dims...),
			Group: optimizers.Group{Decay: decay, LowRank: len(dims) == 2}})
	}
	add("/embed/embeddings", true, 65, 64)
	for l := range layers {
		for _, m := range []string{"q", "k", "v", "o", "ffn/in", "ffn/out"} {
			add(fmt.Sprintf("/stack/l%d/%s/weights", l, m), true, 64, 64)
			add(fmt.Sprintf("/stack/l%d/%s/biases", l, m), false, 64)
		}
		for _, n := range []string{"ln1", "ln2"} {
			add(fmt.Sprintf("/stack/l%d/%s/gain", l, n), false, 64)
			add(fmt.Sprintf("/stack/l%d/%s/offset", l, n), false, 64)
		}
	}
	add("/head/weights", true, 64, 65)
	add("/head/biases", false, 65)
	return part
}

func TestFormatPartition(t *testing.T) {
	small := []optimizers.Assignment{
		{Path: "/w", Shape: shapes.Make(dtypes.Float32, 2, 2), Group: optimizers.Group{Decay: true, LowRank: true}},
		{Path: "/b", Shape: shapes.Make(dtypes.Float32, 2)},
	}
	for _, c := range []struct {
		name    string
		part    []optimizers.Assignment
		lowRank bool
		want    string // the summary
		maxLen  int
	}{
		{"few tensors are listed", small, false,
			"optimizer adamw: weight decay on 1 tensors (4 values) [/w]; no decay on 1 tensors (2 values) [/b]", 0},
		{"low rank", small, true,
			"optimizer adamw: weight decay on 1 tensors (4 values) [/w]; no decay on 1 tensors (2 values) [/b]; low-rank on 1 tensors (4 values) [/w]", 0},
		{"two layers are counted by scope", transformerPartition(2), false,
			"optimizer adamw: weight decay on 14 tensors (57472 values) in /stack 12, /embed 1, /head 1; " +
				"no decay on 21 tensors (1345 values) in /stack 20, /head 1 (every path with -v)", 0},
		{"hundreds of layers stay one short line", transformerPartition(500), true, "", 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := optimizers.FormatPartition("adamw", c.part, c.lowRank)
			full := optimizers.FormatPartitionFull("adamw", c.part, c.lowRank)
			if c.want != "" {
				require.Equal(t, c.want, got)
			}
			if c.maxLen > 0 {
				require.LessOrEqual(t, len(got), c.maxLen, got)
				require.Greater(t, len(full), 100*c.maxLen)
				require.Contains(t, got, fmt.Sprintf("weight decay on %d tensors", 2+6*500))
				require.Contains(t, got, "low-rank on 3002 tensors")
			}
			require.NotContains(t, got, "\n")
			listed := strings.Fields(strings.NewReplacer("[", " ", "]", " ", ";", " ").Replace(full))
			for _, a := range c.part {
				require.True(t, slices.Contains(listed, a.Path), "the full line lists %s", a.Path)
			}
		})
	}
}

func TestPartitionLogVerbose(t *testing.T) {
	var buf bytes.Buffer
	log.SetOutput(&buf)
	defer log.SetOutput(io.Discard)
	var vars []tensorSpec
	for i := range 5 {
		vars = append(vars, tensorSpec{Name: fmt.Sprintf("w%d", i), Shape: []int{1, 1}, Values: []float64{1}})
	}
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("verbose=%v", verbose), func(t *testing.T) {
			optimizers.SetVerbose(verbose)
			defer optimizers.SetVerbose(false)
			require.Equal(t, verbose, optimizers.Verbose())
			buf.Reset()
			// A distinct optimizer per case: the line is logged once per distinct partition.
			store := newStore(t, dtypes.Float64, vars, map[string]any{optimizers.ParamLogGroups: true})
			st := newStepper(t, store, newOptimizer(t, store, "adabelief"), dtypes.Float64)
			st.step(t, [][]float64{{1}, {1}, {1}, {1}, {1}})
			out := buf.String()
			require.Equal(t, 1, strings.Count(out, "optimizer adabelief:"), out)
			if verbose {
				require.Contains(t, out, "weight decay on 5 tensors (5 values) [/w0 /w1 /w2 /w3 /w4]")
			} else {
				require.Contains(t, out, "weight decay on 5 tensors (5 values) in /w0 1, /w1 1, /w2 1, /w3 1, +1 more scopes;")
				require.Contains(t, out, "(every path with -v)")
			}
		})
	}
}
