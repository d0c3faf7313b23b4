// Package moelm is the `moe-lm` benchmark: a tiny character-level transformer language model
// trained on Newton's Opticks (embedded; -text FILE replaces it) with the FFN sublayer as the
// only difference between arms, at equal active expert FLOPs:
//
//	dense          one FFN d -> 2h -> d
//	smoe           8 experts d -> h -> d, top-2 (top-k then softmax), Switch 0.01 + z 1e-3
//	momentum-smoe  smoe + heavy-ball momentum across the MoE layers (mu 0.7, gamma 1)
//	adam-smoe      smoe + AdamSMoE (Adam step at the first MoE layer)
//	robust-momentum-smoe  smoe + robust momentum (rho 0.2, kappa 1.25)
//	adamoe-4null   8 true + 4 null experts, k 3 (about 2 true experts per token if balanced)
//	adamoe-8null   8 true + 8 null experts, k 3 (about 1.5)
//
// Extra arms, run only when selected, use the official code's post-LN layout
// (rachtsy/MomentumSMoE TransformerSeqLayer: h = LN(h + attn); h = LN_b(h + LN_a(update))):
// smoe-postln, momentum-smoe-postln, adam-smoe-postln, robust-momentum-smoe-postln.
// Settings (environment, as the runner has no per-benchmark flags): MOEBOOST_MOELM_ARMS, a
// comma-separated list of arms (default: all but the extra ones); MOEBOOST_MOELM_LAYERS, the
// number of blocks (default 4, -quick 2), e.g.
//
//	MOEBOOST_MOELM_ARMS=smoe-postln,adam-smoe-postln go run ./examples/bench -only moe-lm -quick
//
// official_adam_ref.py trains the same -quick LM in PyTorch with the official SMoE and AdamSMoE
// layers (the check that AdamSMoE's gap to SMoE at this scale is the official layer's own).
//
// Metrics per arm (mean ± std over seeds): validation bits per character ("bpc", evaluated at
// the MoE layers' evaluation capacity factor EvalCapacityFactor = 2.0, GShard's and moe's
// default) and the same at the training capacity factor TrainCapacityFactor = 1.25
// ("bpc_train_cf": the capacity the model was trained under, so more tokens dropped), the bpc on
// validation text with 2.5% of its words swapped for a placeholder ("bpc_attacked") and the
// increase ("bpc_corrupted_delta"), realized expert FLOPs per token ("expert_flops_per_token")
// and whole-model active FLOPs per token ("active_flops_per_token"), training tokens per
// second ("tokens_per_s"); expert-load statistics in Extra. Text is generated from a trained
// model with greedy decoding, temperature and top-k sampling and momentum decoding, with the
// repetition of each ("diversity" rows). Curves of validation bpc vs steps go to -plot.
package moelm

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/layers"
	"github.com/moeboost/moeboost/moe"
	"github.com/moeboost/moeboost/train"
)

//go:embed testdata/Isaac.Newton-Opticks.txt
var opticks string

// Opticks returns the embedded default corpus (Newton's Opticks), for other benchmarks.
func Opticks() string { return opticks }

func init() {
	suite.Register("moe-lm", suite.Func{
		Desc: "char-level LM on Newton's Opticks (or -text FILE): dense vs SMoE, MomentumSMoE, AdamSMoE, robust momentum, AdaMoE at equal active FLOPs (bpc, word-swap robustness, FLOPs, tokens/s, generation); arms: $MOEBOOST_MOELM_ARMS (e.g. smoe,adam-smoe-postln), depth: $MOEBOOST_MOELM_LAYERS",
		Fn:   run,
	})
}

// Size is the model and training size of one run.
type Size struct {
	Seq, Batch, D, Layers, Heads int
	// ExpertHidden h: experts are d -> h -> d; the dense arm's FFN is d -> 2h -> d.
	ExpertHidden     int
	Steps, EvalEvery int
	LR               float64
	// MaxValid caps the validation characters (0: all); GenChars is the length of samples.
	MaxValid, GenChars int
	// EvalCapacityFactor is the MoE layers' capacity factor in evaluation (0: EvalCapacityFactor).
	EvalCapacityFactor float64
	// PostLN builds the blocks in the post-LN layout x <- LN(x + sublayer(x)) of the official
	// MomentumSMoE code (set by the arms named "*-postln").
	PostLN bool
}

// Capacity factors of the MoE arms: TrainCapacityFactor in training, EvalCapacityFactor when
// the "bpc" row evaluates (the "bpc_train_cf" row evaluates at TrainCapacityFactor).
const (
	TrainCapacityFactor = 1.25
	EvalCapacityFactor  = 2.0
)

// Sizes: Full trains one arm in a few minutes on 2 cores; Quick keeps the whole benchmark
// (6 arms, 1 seed) near a minute.
var (
	Full  = Size{Seq: 64, Batch: 32, D: 64, Layers: 4, Heads: 4, ExpertHidden: 128, Steps: 1500, EvalEvery: 100, LR: 3e-3, GenChars: 300}
	Quick = Size{Seq: 32, Batch: 16, D: 32, Layers: 2, Heads: 2, ExpertHidden: 64, Steps: 400, EvalEvery: 50, LR: 1e-2, MaxValid: 6000, GenChars: 120}
)

// Arm is one FFN variant.
type Arm struct {
	Name string
	// FFN builds the block's feed-forward slot (nil: dense d -> 2h -> d).
	FFN func(s Size) (layers.FFN, error)
	// Null is the number of AdaMoE null experts (0 for the others).
	Null int
	// PostLN: the arm runs in the post-LN block layout (Size.PostLN).
	PostLN bool
	// Extra arms run only when selected with MOEBOOST_MOELM_ARMS.
	Extra bool
}

func smoeConfig(s Size) moe.Config {
	ecf := s.EvalCapacityFactor
	if ecf == 0 {
		ecf = EvalCapacityFactor
	}
	return moe.Config{NumExperts: 8, TopK: 2, Hidden: s.ExpertHidden, Activation: "gelu",
		CapacityFactor: TrainCapacityFactor, EvalCapacityFactor: ecf}
}

// Arms are the benchmark's arms, in table order.
var Arms = []Arm{
	{Name: "dense"},
	{Name: "smoe", FFN: func(s Size) (layers.FFN, error) { return moe.NewSMoE(smoeConfig(s)) }},
	{Name: "momentum-smoe", FFN: func(s Size) (layers.FFN, error) { return moe.NewMomentumSMoE(smoeConfig(s)) }},
	{Name: "adam-smoe", FFN: func(s Size) (layers.FFN, error) { return moe.NewAdamSMoE(smoeConfig(s)) }},
	{Name: "adamoe-4null", Null: 4, FFN: func(s Size) (layers.FFN, error) {
		c := smoeConfig(s)
		c.TopK, c.NullExperts = 3, 4
		return moe.NewAdaMoE(c)
	}},
	{Name: "adamoe-8null", Null: 8, FFN: func(s Size) (layers.FFN, error) {
		c := smoeConfig(s)
		c.TopK, c.NullExperts = 3, 8
		return moe.NewAdaMoE(c)
	}},
	{Name: "robust-momentum-smoe", FFN: func(s Size) (layers.FFN, error) { return moe.NewRobustSMoE(smoeConfig(s)) }},
	// The official layout (rachtsy/MomentumSMoE TransformerSeqLayer: h = norm1(h + attn);
	// h = norm2(h + moe_out), the momentum layers returning LN_a(h - p) and the Adam layer
	// LN_a(-gamma1·m/sqrt(v + 1e-8))).
	{Name: "smoe-postln", PostLN: true, Extra: true, FFN: func(s Size) (layers.FFN, error) { return moe.NewSMoE(smoeConfig(s)) }},
	{Name: "momentum-smoe-postln", PostLN: true, Extra: true, FFN: func(s Size) (layers.FFN, error) {
		c := smoeConfig(s)
		c.Reference = true
		return moe.NewMomentumSMoE(c)
	}},
	{Name: "adam-smoe-postln", PostLN: true, Extra: true, FFN: func(s Size) (layers.FFN, error) {
		c := smoeConfig(s)
		c.Reference = true
		return moe.NewAdamSMoE(c)
	}},
	{Name: "robust-momentum-smoe-postln", PostLN: true, Extra: true, FFN: func(s Size) (layers.FFN, error) {
		c := smoeConfig(s)
		c.Reference = true
		return moe.NewRobustSMoE(c)
	}},
}

// ArmsEnv names the environment variable that selects arms: a comma-separated list of arm
// names (default: every arm not marked Extra), e.g.
// MOEBOOST_MOELM_ARMS=smoe,adam-smoe,smoe-postln,adam-smoe-postln.
const ArmsEnv = "MOEBOOST_MOELM_ARMS"

// LayersEnv names the environment variable that overrides the number of blocks (depth), e.g.
// MOEBOOST_MOELM_LAYERS=8 for the robustness runs (momentum accumulates over layers).
const LayersEnv = "MOEBOOST_MOELM_LAYERS"

// SelectArms returns the arms named in list (comma-separated; "" = the default arms), in the
// order given, or an error naming an unknown arm and the known ones.
func SelectArms(list string) ([]Arm, error) {
	if strings.TrimSpace(list) == "" {
		var out []Arm
		for _, a := range Arms {
			if !a.Extra {
				out = append(out, a)
			}
		}
		return out, nil
	}
	var out []Arm
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, a := range Arms {
			if a.Name == name {
				out, found = append(out, a), true
				break
			}
		}
		if !found {
			var known []string
			for _, a := range Arms {
				known = append(known, a.Name)
			}
			return nil, fmt.Errorf("moe-lm: %s: unknown arm %q; known arms: %s", ArmsEnv, name, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// Corpus is a text split into training and validation characters (runes) over a vocabulary.
type Corpus struct {
	Vocab       []rune
	index       map[rune]int32
	Train, Vali []int32
	ValidText   string
}

// NewCorpus reads UTF-8 text, builds the vocabulary of its distinct characters (plus the
// placeholder's) and splits it: first 90% train, last 10% validation (contiguous).
func NewCorpus(text string) (*Corpus, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("moe-lm: the text is not valid UTF-8")
	}
	runes := []rune(text)
	if len(runes) < 2000 {
		return nil, fmt.Errorf("moe-lm: the text has %d characters; at least 2000 are needed", len(runes))
	}
	set := map[rune]bool{}
	for _, r := range runes {
		set[r] = true
	}
	for _, r := range Placeholder {
		set[r] = true
	}
	c := &Corpus{index: map[rune]int32{}}
	for r := range set {
		c.Vocab = append(c.Vocab, r)
	}
	sort.Slice(c.Vocab, func(i, j int) bool { return c.Vocab[i] < c.Vocab[j] })
	for i, r := range c.Vocab {
		c.index[r] = int32(i)
	}
	cut := len(runes) * 9 / 10
	c.Train = c.Encode(string(runes[:cut]))
	c.ValidText = string(runes[cut:])
	c.Vali = c.Encode(c.ValidText)
	return c, nil
}

// Encode maps text to ids (characters outside the vocabulary map to the placeholder's first).
func (c *Corpus) Encode(s string) []int32 {
	out := make([]int32, 0, len(s))
	for _, r := range s {
		id, ok := c.index[r]
		if !ok {
			id = c.index[[]rune(Placeholder)[0]]
		}
		out = append(out, id)
	}
	return out
}

// Decode maps ids back to text.
func (c *Corpus) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteRune(c.Vocab[id])
	}
	return b.String()
}

// Placeholder replaces swapped words in the robustness probe (the papers' "AAA" word swap).
const Placeholder = "AAA"

// Corrupt replaces a fraction of the whitespace-separated words of text with Placeholder,
// chosen uniformly with a seeded generator; whitespace is kept as it is.
func Corrupt(text string, frac float64, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	word := []rune{}
	flush := func() {
		if len(word) > 0 {
			if r.Float64() < frac {
				b.WriteString(Placeholder)
			} else {
				b.WriteString(string(word))
			}
			word = word[:0]
		}
	}
	for _, ch := range text {
		if ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' {
			flush()
			b.WriteRune(ch)
			continue
		}
		word = append(word, ch)
	}
	flush()
	return b.String()
}

// ArmResult is one trained seed of one arm.
type ArmResult struct {
	BPC, BPCAttacked, ExpertFLOPs, ActiveFLOPs, TokensPerS, MsPerStep float64
	// BPCTrainCF is BPC with the MoE layers evaluated at TrainCapacityFactor (dense: BPC).
	BPCTrainCF      float64
	Load            map[string]float64
	Steps, BPCCurve []float64
	Samples         []Sample
}

func run(ctx context.Context, opts suite.Options) ([]suite.Result, error) {
	text := opticks
	task := "opticks"
	if opts.TextFile != "" {
		b, err := os.ReadFile(opts.TextFile)
		if err != nil {
			return nil, fmt.Errorf("moe-lm: %w", err)
		}
		text, task = string(b), "text"
	}
	corpus, err := NewCorpus(text)
	if err != nil {
		return nil, err
	}
	size := Full
	if opts.Quick {
		size = Quick
	}
	if v := os.Getenv(LayersEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("moe-lm: %s=%q: want a number of layers from 1 to 64", LayersEnv, v)
		}
		size.Layers = n
	}
	arms, err := SelectArms(os.Getenv(ArmsEnv))
	if err != nil {
		return nil, err
	}
	seeds := opts.SeedsOr(3, 1)
	opts.Logf("moe-lm: %s, %d characters (%d train, %d validation), vocabulary %d; d=%d, %d layers, seq %d, batch %d, %d steps, %d seed(s)",
		task, len(corpus.Train)+len(corpus.Vali), len(corpus.Train), len(corpus.Vali), len(corpus.Vocab), size.D, size.Layers, size.Seq, size.Batch, size.Steps, seeds)
	var rows []suite.Result
	var chart suite.Chart
	chart.Title, chart.XLabel, chart.YLabel = "moe-lm: validation bits per character", "step", "bpc"
	all := map[string][]ArmResult{}
	for _, arm := range arms {
		var rs []ArmResult
		for s := range seeds {
			if err := ctx.Err(); err != nil {
				return rows, err
			}
			gen := s == 0 && (!opts.Quick || arm.Name == "momentum-smoe")
			r, err := Trial(ctx, opts, corpus, size, arm, s+1, gen)
			if err != nil {
				return rows, fmt.Errorf("moe-lm %s seed %d: %w", arm.Name, s+1, err)
			}
			rs = append(rs, r)
		}
		all[arm.Name] = rs
		rows = append(rows, armRows(task, arm, size, rs)...)
		chart.Series = append(chart.Series, meanCurve(arm.Name, rs))
	}
	printTable(opts, rows)
	for _, arm := range arms {
		for _, r := range all[arm.Name] {
			for _, smp := range r.Samples {
				opts.Logf("moe-lm sample (%s, %s): rep-2 %.3f rep-3 %.3f rep-4 %.3f diversity %.3f\n  %q",
					arm.Name, smp.Method, smp.Rep[0], smp.Rep[1], smp.Rep[2], smp.Diversity, smp.Text)
				row := suite.Row("moe-lm", "generate-"+smp.Method, arm.Name, "diversity", []float64{smp.Diversity}, 0, 0)
				row.Extra["rep_2"], row.Extra["rep_3"], row.Extra["rep_4"] = smp.Rep[0], smp.Rep[1], smp.Rep[2]
				row.Extra["sample"], row.Extra["higher_is_better"] = smp.Text, true
				rows = append(rows, row)
			}
			break
		}
	}
	if p := opts.PlotPath("moe-lm", "bpc"); p != "" {
		if err := suite.SavePlot(p, chart); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// meanCurve is the mean (± std) validation bpc over seeds at each evaluation step.
func meanCurve(name string, rs []ArmResult) suite.Series {
	s := suite.Series{Name: name}
	if len(rs) == 0 {
		return s
	}
	for i, step := range rs[0].Steps {
		var vals []float64
		for _, r := range rs {
			if i < len(r.BPCCurve) {
				vals = append(vals, r.BPCCurve[i])
			}
		}
		m, sd := suite.MeanStd(vals)
		s.X, s.Y, s.Err = append(s.X, step), append(s.Y, m), append(s.Err, sd)
	}
	return s
}

func armRows(task string, arm Arm, size Size, rs []ArmResult) []suite.Result {
	col := func(f func(ArmResult) float64) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = f(r)
		}
		return out
	}
	ms, _ := suite.MeanStd(col(func(r ArmResult) float64 { return r.MsPerStep }))
	mk := func(metric string, vals []float64, higher bool) suite.Result {
		row := suite.Row("moe-lm", task, arm.Name, metric, vals, ms, size.Steps)
		row.Extra["higher_is_better"] = higher
		return row
	}
	bpc := mk("bpc", col(func(r ArmResult) float64 { return r.BPC }), false)
	bpcTrain := mk("bpc_train_cf", col(func(r ArmResult) float64 { return r.BPCTrainCF }), false)
	if arm.FFN != nil {
		bpc.Extra["eval_capacity_factor"], bpc.Extra["train_capacity_factor"] = EvalCapacityFactor, TrainCapacityFactor
		bpcTrain.Extra["eval_capacity_factor"], bpcTrain.Extra["train_capacity_factor"] = TrainCapacityFactor, TrainCapacityFactor
	}
	// Expert-load statistics (means over layers, then seeds) ride along with the bpc row.
	keys := map[string]bool{}
	for _, r := range rs {
		for k := range r.Load {
			keys[k] = true
		}
	}
	for k := range keys {
		v, _ := suite.MeanStd(col(func(r ArmResult) float64 { return r.Load[k] }))
		bpc.Extra[k] = v
	}
	return []suite.Result{
		bpc,
		bpcTrain,
		mk("bpc_attacked", col(func(r ArmResult) float64 { return r.BPCAttacked }), false),
		mk("bpc_corrupted_delta", col(func(r ArmResult) float64 { return r.BPCAttacked - r.BPC }), false),
		mk("expert_flops_per_token", col(func(r ArmResult) float64 { return r.ExpertFLOPs }), false),
		mk("active_flops_per_token", col(func(r ArmResult) float64 { return r.ActiveFLOPs }), false),
		mk("tokens_per_s", col(func(r ArmResult) float64 { return r.TokensPerS }), true),
	}
}

func printTable(opts suite.Options, rows []suite.Result) {
	opts.Logf("\nmoe-lm (mean ± std over seeds; bpc on validation at eval capacity factor %.2f, bpc@cf%.2f at the training one; attacked = 2.5%% of words -> %q)",
		EvalCapacityFactor, TrainCapacityFactor, Placeholder)
	opts.Logf("%-14s %16s %16s %16s %16s %12s %12s %10s %8s", "arm", "bpc", fmt.Sprintf("bpc@cf%.2f", TrainCapacityFactor), "bpc_attacked", "Δbpc", "expert MF/tok", "active MF/tok", "tokens/s", "ms/step")
	get := map[string]map[string]suite.Result{}
	var order []string
	for _, r := range rows {
		if get[r.Arm] == nil {
			get[r.Arm] = map[string]suite.Result{}
			order = append(order, r.Arm)
		}
		get[r.Arm][r.Metric] = r
	}
	for _, a := range order {
		m := get[a]
		opts.Logf("%-14s %8.4f ± %.4f %8.4f ± %.4f %8.4f ± %.4f %8.4f ± %.4f %12.3f %12.3f %10.0f %8.1f", a,
			m["bpc"].Value, m["bpc"].Std, m["bpc_train_cf"].Value, m["bpc_train_cf"].Std, m["bpc_attacked"].Value, m["bpc_attacked"].Std,
			m["bpc_corrupted_delta"].Value, m["bpc_corrupted_delta"].Std,
			m["expert_flops_per_token"].Value/1e6, m["active_flops_per_token"].Value/1e6, m["tokens_per_s"].Value, m["bpc"].MsPerStep)
	}
}

// Model returns the language model: character embedding + learned positions +
// a pre-LN causal transformer stack with ffn in every block's FFN slot (nil: dense d -> 2h -> d)
// and a linear output layer.
func Model(size Size, vocab int, ffn layers.FFN) train.ModelFn {
	cfg := layers.BlockConfig{DModel: size.D, NumHeads: size.Heads, FFNHidden: 2 * size.ExpertHidden, Activation: "gelu",
		FFN: ffn, Causal: true, PostLN: size.PostLN}
	return func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		h := layers.Embedding(scope.In("embed"), in[0], dtypes.Float32, vocab, size.D)
		h = layers.PositionalEmbedding(scope.In("pos"), h)
		h = layers.Stack(scope.In("stack"), h, size.Layers, cfg)
		// An untied output layer: with d this small the tied N(0, 0.02) table starts with
		// near-zero logits and learns markedly slower.
		return []*graph.Node{layers.MLP(scope.In("head"), h, layers.MLPConfig{Out: vocab})}
	}
}

// CrossEntropy is the mean next-character cross-entropy (nats) of logits [B, S, V] and labels [B, S].
func CrossEntropy(labels, preds []*graph.Node) *graph.Node {
	return graph.ReduceAllMean(tokenNLL(labels[0], preds[0]))
}

// tokenNLL is -log softmax(logits)[label] per position [B, S].
func tokenNLL(labels, logits *graph.Node) *graph.Node {
	v := logits.Shape().Dim(-1)
	m := graph.StopGradient(graph.ReduceMax(logits, -1))
	lse := graph.Add(m, graph.Log(graph.ReduceSum(graph.Exp(graph.Sub(logits, graph.InsertAxes(m, -1))), -1)))
	picked := graph.ReduceSum(graph.Mul(graph.OneHot(labels, v, logits.DType()), logits), -1)
	return graph.Sub(lse, picked)
}

// Trial trains one seed of arm and measures it.
func Trial(ctx context.Context, opts suite.Options, c *Corpus, size Size, arm Arm, seed int, generate bool) (ArmResult, error) {
	return trialWith(ctx, opts, c, size, arm, seed, generate, nil)
}

// trialWith is Trial; keep, when not nil, receives the training result (tests evaluate it).
func trialWith(ctx context.Context, opts suite.Options, c *Corpus, size Size, arm Arm, seed int, generate bool, keep func(*train.Result)) (ArmResult, error) {
	size.PostLN = size.PostLN || arm.PostLN
	var ffn layers.FFN
	if arm.FFN != nil {
		var err error
		if ffn, err = arm.FFN(size); err != nil {
			return ArmResult{}, err
		}
	}
	vali := c.Vali
	if size.MaxValid > 0 && len(vali) > size.MaxValid {
		vali = vali[:size.MaxValid]
	}
	modelFn := Model(size, len(c.Vocab), ffn)
	res, err := train.Run(ctx, train.Config{
		Name: fmt.Sprintf("moe-lm/%s/seed%d", arm.Name, seed), Backend: opts.Backend, Seed: int64(seed),
		Model: modelFn, LossFn: CrossEntropy, Optimizer: "adamw", LearningRate: size.LR,
		Schedule: train.ScheduleConfig{Kind: "cosine", WarmupSteps: size.Steps / 15, MinFactor: 0.1}, ClipGlobalNorm: 1,
		Steps: size.Steps, EvalEvery: size.EvalEvery,
		Train:    NewWindows(c.Train, size.Batch, size.Seq, uint64(seed)),
		Eval:     []train.EvalSet{{Name: "valid", Data: NewEvalWindows(vali, size.Batch, size.Seq)}},
		Progress: true,
	})
	if err != nil {
		return ArmResult{}, err
	}
	if keep != nil {
		keep(res)
	}
	out := ArmResult{MsPerStep: res.MsPerStep, Load: map[string]float64{}}
	out.TokensPerS = float64(size.Batch*size.Seq) / (res.MsPerStep / 1000)
	steps, losses := res.Curve("valid/loss")
	out.Steps = steps
	for _, l := range losses {
		out.BPCCurve = append(out.BPCCurve, l/math.Ln2)
	}
	// Clean and attacked validation bpc with one evaluator (so the delta compares like for like).
	ev, err := newEvaluator(opts, res, size)
	if err != nil {
		return out, err
	}
	defer ev.exec.Finalize()
	if out.BPC, err = ev.bpc(vali); err != nil {
		return out, err
	}
	if out.BPCTrainCF, err = bpcAt(opts, res, c, size, arm, vali, TrainCapacityFactor, out.BPC); err != nil {
		return out, err
	}
	attacked := c.Encode(Corrupt(c.Decode(vali), 0.025, uint64(seed)))
	if out.BPCAttacked, err = ev.bpc(attacked); err != nil {
		return out, err
	}
	out.ExpertFLOPs, out.ActiveFLOPs = flops(size, len(c.Vocab), arm, res.Final, out.Load)
	if generate {
		out.Samples, err = Generate(opts, res, c, size, vali, uint64(seed))
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// bpcAt evaluates the trained model's validation bpc with its MoE layers at capacity factor cf:
// the same variables under an FFN built with EvalCapacityFactor = cf. The dense arm has no
// capacity, so its value is dense (its bpc).
func bpcAt(opts suite.Options, res *train.Result, c *Corpus, size Size, arm Arm, vali []int32, cf, dense float64) (float64, error) {
	if arm.FFN == nil {
		return dense, nil
	}
	at := size
	at.EvalCapacityFactor = cf
	ffn, err := arm.FFN(at)
	if err != nil {
		return 0, err
	}
	r := *res
	r.Model = Model(at, len(c.Vocab), ffn)
	ev, err := newEvaluator(opts, &r, size)
	if err != nil {
		return 0, err
	}
	defer ev.exec.Finalize()
	return ev.bpc(vali)
}

// flops returns the realized expert (FFN sublayer) FLOPs per token and the whole model's
// active forward FLOPs per token (2 per multiply-add: attention projections 8d², attention
// scores and mixing 4·S·d at full context, FFN, router 2·d·E, tied output 2·d·V), with the
// MoE's realized experts per token from the last training window's metrics (kept
// assignments: capacity drops and AdaMoE null picks cost nothing). It also fills load with the
// layer-mean routing statistics.
func flops(size Size, vocab int, arm Arm, final map[string]float64, load map[string]float64) (expert, active float64) {
	d, h := float64(size.D), float64(size.ExpertHidden)
	perExpert := 4 * d * h // d -> h -> d
	var ffn, router float64
	if arm.FFN == nil {
		ffn = 2 * perExpert // dense d -> 2h -> d
	} else {
		k := 2.0
		if arm.Null > 0 {
			k = 3
		}
		perToken := 0.0
		for _, key := range []string{"dropped", "util_max", "util_min", "entropy", "dead_experts", "tokens_std", "true_per_token", "kept_true_per_token", "balance_loss", "z_loss"} {
			var sum float64
			n := 0
			for l := range size.Layers {
				if v, ok := final[fmt.Sprintf("moe/l%d/%s", l, key)]; ok {
					sum += v
					n++
				}
			}
			if n > 0 {
				load[key] = sum / float64(n)
			}
		}
		if arm.Null > 0 {
			perToken = load["kept_true_per_token"]
		} else {
			perToken = k * (1 - load["dropped"])
		}
		load["experts_per_token"] = perToken
		ffn = perToken * perExpert
		router = 2 * d * float64(8+arm.Null)
	}
	attn := 8*d*d + 4*float64(size.Seq)*d
	layer := attn + ffn + router
	return ffn * float64(size.Layers), layer*float64(size.Layers) + 2*d*float64(vocab)
}

// evaluator computes the NLL of fixed [B, S] windows with a trained model (inference mode).
type evaluator struct {
	exec *model.Exec
	size Size
}

func newEvaluator(opts suite.Options, res *train.Result, size Size) (*evaluator, error) {
	e, err := model.NewExec(res.Backend, res.Store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		scope.Store().SetTraining(xs[0].Graph(), false)
		logits := res.Model(scope, xs[:1])[0]
		return graph.ReduceAllSum(tokenNLL(xs[1], logits))
	})
	if err != nil {
		return nil, err
	}
	return &evaluator{exec: e, size: size}, nil
}

// bpc is the mean NLL over every next-character prediction of ids (in windows of Seq, all
// batches full), in bits.
func (e *evaluator) bpc(ids []int32) (float64, error) {
	ds := NewEvalWindows(ids, e.size.Batch, e.size.Seq)
	var total float64
	var count int
	for b, err := range ds.Iter() {
		if err != nil {
			return 0, err
		}
		out, err := e.exec.Call(b.Inputs[0], b.Labels[0])
		if err != nil {
			return 0, err
		}
		total += float64(out[0].Value().(float32))
		count += b.Labels[0].Shape().Size()
		out[0].MustFinalizeAll()
	}
	if count == 0 {
		return 0, fmt.Errorf("moe-lm: validation text too short for one batch of %dx%d", e.size.Batch, e.size.Seq)
	}
	return total / float64(count) / math.Ln2, nil
}

// logitsFn returns the next-character logits after a [Seq] context.
type logitsFn func(ctx []int32) ([]float32, error)

func nextLogits(res *train.Result, size Size, vocab int) (logitsFn, func(), error) {
	e, err := model.NewExec(res.Backend, res.Store, func(scope *model.Scope, xs []*graph.Node) *graph.Node {
		scope.Store().SetTraining(xs[0].Graph(), false)
		logits := res.Model(scope, xs)[0] // [1, S, V]
		return graph.Reshape(graph.Slice(logits, graph.AxisRange(), graph.AxisElem(size.Seq-1)), vocab)
	})
	if err != nil {
		return nil, nil, err
	}
	return func(ctx []int32) ([]float32, error) {
		out, err := e.Call(tensors.FromFlatDataAndDimensions(append([]int32(nil), ctx...), 1, size.Seq))
		if err != nil {
			return nil, err
		}
		v := tensors.MustCopyFlatData[float32](out[0])
		out[0].MustFinalizeAll()
		return v, nil
	}, e.Finalize, nil
}
