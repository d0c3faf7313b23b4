package moelm

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	backend.ForTests()
	os.Exit(m.Run())
}

func TestCorpusAndCorruption(t *testing.T) {
	c, err := NewCorpus(opticks)
	require.NoError(t, err)
	require.Equal(t, len([]rune(opticks)), len(c.Train)+len(c.Vali))
	require.Equal(t, c.ValidText, c.Decode(c.Vali))
	_, err = NewCorpus("short")
	require.ErrorContains(t, err, "at least 2000")
	_, err = NewCorpus(string([]byte{0xff, 0xfe}) + strings.Repeat("a", 3000))
	require.ErrorContains(t, err, "not valid UTF-8")

	text := strings.Repeat("alpha beta\ngamma delta ", 2000)
	bad := Corrupt(text, 0.025, 1)
	words, badWords := strings.Fields(text), strings.Fields(bad)
	require.Len(t, badWords, len(words))
	swapped := 0
	for i := range words {
		if badWords[i] != words[i] {
			require.Equal(t, Placeholder, badWords[i])
			swapped++
		}
	}
	frac := float64(swapped) / float64(len(words))
	require.InDelta(t, 0.025, frac, 0.01)
	require.Equal(t, strings.Count(text, "\n"), strings.Count(bad, "\n"))
}

func TestDecodingRules(t *testing.T) {
	h := []int32{1, 2, 3, 1, 2}
	require.Equal(t, 0, RepetitionLength(h, 9, 5))
	require.Equal(t, 3, RepetitionLength(h, 3, 5)) // "1 2 3" occurred
	require.Equal(t, 1, RepetitionLength(h, 1, 5)) // "2 1" never occurred, but 1 did
	// The most probable candidate (5) would repeat the 5-gram 1 2 3 4 5 (blocked: +inf
	// resistance): momentum decoding takes the next candidate, the new token 6.
	hist := []int32{1, 2, 3, 4, 5, 1, 2, 3, 4}
	logits := []float32{0, 0, 0, 0, 0, 5, 4}
	require.Equal(t, int32(6), MomentumDecode(logits, hist, 5, 0.2, 5))
	// A 4-gram repeat (l = 4 = maxLen-1) costs alpha·5 = 1 of probability: a candidate of
	// probability 0.9 that repeats loses to a new one.
	logits = []float32{0, 0, 0, 0, 9, 6.5, 0}
	require.Equal(t, int32(5), MomentumDecode(logits, []int32{1, 2, 3, 4, 9, 1, 2, 3}, 5, 0.2, 5))
	// Greedy when nothing repeats.
	require.Equal(t, int32(4), MomentumDecode(logits, []int32{7, 8}, 5, 0.2, 5))
	require.InDelta(t, 0.5, RepN(strings.Fields("a b a b a"), 2), 1e-12) // 4 bigrams, 2 distinct
	require.Equal(t, 0.0, RepN([]string{"a"}, 2))
}

// TestQuickArmTrains trains the dense and the momentum arm briefly on the embedded corpus and
// checks they learn (bpc well below the uniform log2(V)) and that the rows are complete.
func TestQuickArmTrains(t *testing.T) {
	require.Equal(t, TrainCapacityFactor, smoeConfig(Quick).CapacityFactor)
	require.Equal(t, EvalCapacityFactor, smoeConfig(Quick).EvalCapacityFactor)
	c, err := NewCorpus(opticks)
	require.NoError(t, err)
	size := Size{Seq: 16, Batch: 8, D: 16, Layers: 2, Heads: 2, ExpertHidden: 16, Steps: 120, EvalEvery: 60, LR: 1e-2, MaxValid: 1500, GenChars: 30}
	for _, arm := range []Arm{Arms[0], Arms[2], Arms[5]} {
		r, err := Trial(context.Background(), suite.Options{}, c, size, arm, 1, arm.Name == "momentum-smoe")
		require.NoError(t, err, arm.Name)
		require.Less(t, r.BPC, 4.5, arm.Name)
		require.Greater(t, r.BPCAttacked, 0.0)
		require.Greater(t, r.ExpertFLOPs, 0.0)
		require.Len(t, r.BPCCurve, 2)
		rows := armRows("opticks", arm, size, []ArmResult{r})
		require.Len(t, rows, 7)
		require.Equal(t, "bpc_train_cf", rows[1].Metric)
		require.Equal(t, r.BPCTrainCF, rows[1].Value)
		if arm.FFN != nil {
			require.Contains(t, rows[0].Extra, "entropy")
		}
		if arm.Name == "momentum-smoe" {
			require.Len(t, r.Samples, 4)
			require.Equal(t, 30, len([]rune(r.Samples[0].Text)))
		}
	}
}

// TestBPCAtCapacityFactor checks the "bpc_train_cf" evaluation rebuilds the trained model with
// another evaluation capacity factor over the same variables: at EvalCapacityFactor it
// reproduces "bpc" exactly, at a factor small enough to drop most tokens it differs, and
// BPCTrainCF is the value at TrainCapacityFactor.
func TestBPCAtCapacityFactor(t *testing.T) {
	c, err := NewCorpus(opticks)
	require.NoError(t, err)
	size := Size{Seq: 16, Batch: 8, D: 16, Layers: 2, Heads: 2, ExpertHidden: 16, Steps: 60, EvalEvery: 60, LR: 1e-2, MaxValid: 800}
	arm := Arms[1] // smoe
	var res *train.Result
	r, err := trialWith(context.Background(), suite.Options{}, c, size, arm, 1, false, func(tr *train.Result) { res = tr })
	require.NoError(t, err)
	vali := c.Vali[:size.MaxValid]
	at := func(cf float64) float64 {
		v, err := bpcAt(suite.Options{}, res, c, size, arm, vali, cf, math.NaN())
		require.NoError(t, err)
		return v
	}
	require.InDelta(t, r.BPC, at(EvalCapacityFactor), 1e-6)
	require.InDelta(t, r.BPCTrainCF, at(TrainCapacityFactor), 1e-6)
	// cf 0.05 gives C = max(ceil(0.05·2·128/8), MinCapacity 4) = 4 of 128 tokens per expert.
	require.Greater(t, math.Abs(at(0.05)-r.BPC), 1e-3)
	dense, err := bpcAt(suite.Options{}, res, c, size, Arms[0], vali, TrainCapacityFactor, 1.5)
	require.NoError(t, err)
	require.Equal(t, 1.5, dense, "the dense arm has no capacity: its own bpc")
}

// TestSelectArms: the default arms leave out the Extra (post-LN) ones, a list keeps its order
// and sets the post-LN layout where the arm asks for it, an unknown name is an error naming it
// and the known arms.
func TestSelectArms(t *testing.T) {
	for _, tc := range []struct {
		list     string
		want     []string
		postLN   []bool
		errWords []string
	}{
		{list: "", want: []string{"dense", "smoe", "momentum-smoe", "adam-smoe", "adamoe-4null", "adamoe-8null", "robust-momentum-smoe"},
			postLN: []bool{false, false, false, false, false, false, false}},
		{list: "adam-smoe-postln, smoe", want: []string{"adam-smoe-postln", "smoe"}, postLN: []bool{true, false}},
		{list: "smoe,adam", errWords: []string{`unknown arm "adam"`, ArmsEnv, "adam-smoe-postln"}},
	} {
		t.Run(tc.list, func(t *testing.T) {
			arms, err := SelectArms(tc.list)
			if tc.errWords != nil {
				for _, w := range tc.errWords {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			var names []string
			var post []bool
			for _, a := range arms {
				names, post = append(names, a.Name), append(post, a.PostLN)
			}
			require.Equal(t, tc.want, names)
			require.Equal(t, tc.postLN, post)
		})
	}
}
