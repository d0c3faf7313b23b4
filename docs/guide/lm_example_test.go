package guide_test

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/train"
)

// guide:lm-data
// windows yields batches of random windows of a token sequence: inputs ids[i:i+seq] and
// next-token labels ids[i+1:i+seq+1] ([batch, seq] and [batch, seq, 1], the label layout of
// the "cross_entropy" loss). Batch k is drawn from a generator seeded by (seed, k), and
// SetStep(k) positions the stream, so a run resumed from a checkpoint sees exactly the batches
// an uninterrupted run would (train.Run requires it when checkpointing).
type windows struct {
	ids        []int32
	batch, seq int
	seed, step uint64
	fixed      bool // evaluation: the same batch once per pass
}

func (w *windows) Name() string       { return "windows" }
func (w *windows) SetStep(step int64) { w.step = uint64(step) }

func (w *windows) Iter() iter.Seq2[gtrain.Batch, error] {
	return func(yield func(gtrain.Batch, error) bool) {
		for {
			r := rand.New(rand.NewPCG(w.seed, w.step))
			x, y := make([]int32, w.batch*w.seq), make([]int32, w.batch*w.seq)
			for b := range w.batch {
				i := r.IntN(len(w.ids) - w.seq - 1)
				copy(x[b*w.seq:], w.ids[i:i+w.seq])
				copy(y[b*w.seq:], w.ids[i+1:i+w.seq+1])
			}
			batch := gtrain.Batch{Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, w.batch, w.seq)},
				Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, w.batch, w.seq, 1)}}
			if w.fixed {
				yield(batch, nil)
				return
			}
			w.step++
			if !yield(batch, nil) {
				return
			}
		}
	}
}

// guide:end

// guide:lm
// Example_moeLanguageModel trains a character-level language model whose transformer blocks
// have a MomentumSMoE layer in their FFN slot, checkpoints it, resumes it as a restarted
// process would, and evaluates it in bits per character.
func Example_moeLanguageModel() {
	// Data: characters -> ids; the first 90% trains, the rest evaluates.
	text := strings.Repeat("the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. ", 30)
	vocab := slices.Compact(slices.Sorted(slices.Values([]rune(text))))
	ids := make([]int32, 0, len(text))
	for _, c := range text {
		ids = append(ids, int32(slices.Index(vocab, c)))
	}
	cut := len(ids) * 9 / 10
	trainData := &windows{ids: ids[:cut], batch: 16, seq: 32, seed: 1}
	validData := &windows{ids: ids[cut:], batch: 32, seq: 32, seed: 2, fixed: true}

	// Model: embedding + positions + 2 pre-LN causal blocks with an MoE FFN + output layer.
	ffn, err := moe.New("momentum", moe.Config{NumExperts: 4, TopK: 2, Hidden: 64})
	if err != nil {
		panic(err)
	}
	block := layers.BlockConfig{DModel: 32, NumHeads: 4, FFN: ffn, Causal: true}
	lm := func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, len(vocab), 32) // [B, S, 32]
		h = layers.PositionalEmbedding(scope.In("pos"), h)
		h = layers.Stack(scope.In("stack"), h, 2, block)
		return []*graph.Node{layers.MLP(scope.In("head"), h, layers.MLPConfig{Out: len(vocab)})} // [B, S, V]
	}

	// Training: the optimizer by name, a cosine schedule, clipping, checkpoints every 30 steps.
	dir, _ := os.MkdirTemp("", "guide-lm")
	defer os.RemoveAll(dir)
	cfg := train.Config{
		Name: "char-lm", Model: lm, Loss: "cross_entropy", Optimizer: "adamw", LearningRate: 3e-3,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: 10, TotalSteps: 90}, ClipGlobalNorm: 1,
		Steps: 60, Train: trainData, Eval: []train.EvalSet{{Name: "valid", Data: validData}}, EvalEvery: 30,
		CheckpointDir: dir, CheckpointEvery: 30, Seed: 1,
	}
	first, err := train.Run(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	// A new process with the same config and a later goal resumes from the checkpoint.
	cfg.Steps = 90
	second, err := train.Run(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	bpc := func(r *train.Result) float64 { return r.Final["valid/loss"] / math.Ln2 }
	fmt.Println("vocabulary:", len(vocab), "characters")
	fmt.Println("first run: steps", first.StartStep, "->", first.Steps)
	fmt.Println("resumed run: steps", second.StartStep, "->", second.Steps)
	fmt.Println("bits per character decreased:", bpc(second) < bpc(first))
	fmt.Println("below 1 bit per character:", bpc(second) < 1)
	fmt.Println("balance loss reported:", second.Final["moe/l0/balance_loss"] > 0)
	// Output:
	// vocabulary: 29 characters
	// first run: steps 0 -> 60
	// resumed run: steps 60 -> 90
	// bits per character decreased: true
	// below 1 bit per character: true
	// balance loss reported: true
}

// guide:end
