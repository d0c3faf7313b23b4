package retrievalbench

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/retrieval"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestRunTiny(t *testing.T) {
	var b strings.Builder
	for k := range 400 {
		fmt.Fprintf(&b, "Topic t%d and u%d say filler%d here now. ", k/8, k/8, k%5)
	}
	c, err := retrieval.BuildCorpus(b.String(), retrieval.CorpusConfig{ChunkSentences: 3, MinQueryWords: 4, MaxVocab: 5000, MaxDocWords: 60})
	require.NoError(t, err)
	var out bytes.Buffer
	opts := suite.Options{Out: &out, Backend: backend.MustDefault()}
	rows, err := Run(context.Background(), opts, Setup{Dim: 16, Batch: 16, Steps: 60, AdoreSteps: 20, LR: 5e-3, AdoreLR: 1e-3, Seeds: 1}, c, "topics")
	require.NoError(t, err)
	require.Len(t, rows, len(arms)*3)
	got := map[string]float64{}
	for _, r := range rows {
		require.Equal(t, "retrieval", r.Benchmark)
		require.Equal(t, "ict", r.Task)
		require.Equal(t, true, r.Extra["higher_is_better"])
		require.GreaterOrEqual(t, r.Value, 0.0)
		require.LessOrEqual(t, r.Value, 1.0)
		got[r.Arm+"/"+r.Metric] = r.Value
	}
	for _, a := range arms {
		require.LessOrEqual(t, got[a+"/recall@10"], got[a+"/recall@100"], a)
		// Topic words make every query answerable: every arm ranks a neighbour well.
		require.Greater(t, got[a+"/mrr@10"], 0.3, a)
	}
	require.Contains(t, out.String(), "retrieval on topics")
	_, err = Run(context.Background(), opts, Setup{}, c, "x")
	require.ErrorContains(t, err, "bad setup")
}
