package moelm

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/moeboost/moeboost/examples/bench/suite"
	"github.com/moeboost/moeboost/train"
)

// Sample is a generated continuation with its repetition statistics.
type Sample struct {
	Method, Text string
	// Rep[n-2] is rep-n = 1 - unique/total word n-grams (n = 2, 3, 4); Diversity is
	// Π_n (1 - rep-n) (SimCTG's diversity, as reported by Momentum Decoding).
	Rep       [3]float64
	Diversity float64
}

// Generate continues a validation prompt of Seq characters with each decoding method:
// greedy, temperature 0.8 sampling, top-k (k 10) sampling and momentum decoding.
func Generate(opts suite.Options, res *train.Result, c *Corpus, size Size, vali []int32, seed uint64) ([]Sample, error) {
	next, done, err := nextLogits(res, size, len(c.Vocab))
	if err != nil {
		return nil, err
	}
	defer done()
	prompt := vali[:size.Seq]
	var out []Sample
	for _, method := range []string{"greedy", "temperature", "topk", "momentum"} {
		r := rand.New(rand.NewPCG(seed, 99))
		ids := slices.Clone(prompt)
		for range size.GenChars {
			logits, err := next(ids[len(ids)-size.Seq:])
			if err != nil {
				return nil, err
			}
			var id int32
			switch method {
			case "greedy":
				id = int32(argmax(logits))
			case "temperature":
				id = sample(r, logits, 0.8, 0)
			case "topk":
				id = sample(r, logits, 1, 10)
			default:
				id = MomentumDecode(logits, ids[len(prompt):], 5, 0.2, 25)
			}
			ids = append(ids, id)
		}
		text := c.Decode(ids[len(prompt):])
		s := Sample{Method: method, Text: text, Diversity: 1}
		words := strings.Fields(text)
		for n := 2; n <= 4; n++ {
			s.Rep[n-2] = RepN(words, n)
			s.Diversity *= 1 - s.Rep[n-2]
		}
		out = append(out, s)
	}
	return out, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// softmax of logits/temperature in float64.
func softmax(logits []float32, temperature float64) []float64 {
	p := make([]float64, len(logits))
	m := float64(logits[argmax(logits)])
	var z float64
	for i, l := range logits {
		p[i] = math.Exp((float64(l) - m) / temperature)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

// sample draws from softmax(logits/temperature), restricted to the topK largest when topK > 0.
func sample(r *rand.Rand, logits []float32, temperature float64, topK int) int32 {
	p := softmax(logits, temperature)
	if topK > 0 && topK < len(p) {
		order := make([]int, len(p))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int {
			if p[a] > p[b] {
				return -1
			} else if p[a] < p[b] {
				return 1
			}
			return a - b
		})
		keep := make([]float64, len(p))
		for _, i := range order[:topK] {
			keep[i] = p[i]
		}
		p = keep
	}
	var z float64
	for _, v := range p {
		z += v
	}
	u := r.Float64() * z
	for i, v := range p {
		u -= v
		if u < 0 {
			return int32(i)
		}
	}
	return int32(len(p) - 1)
}

// MomentumDecode picks the next token by momentum decoding (Lan et al. 2022, "Momentum
// Decoding: Open-ended Text Generation As Graph Exploration", arXiv 2212.02175; reference code
// gmftbyGMFTBY/MomentumDecoding models/utlis_ngram.py ResistanceDecodingNGram): among the
// beam most probable candidates c, score(c) = P(c) - alpha·resistance(l(c)), where l(c) is the
// longest n (n <= maxLen) such that the last n-1 generated tokens followed by c already occur
// in the generated text (1 if c occurred without a longer match, 0 if c is new). The official
// "ours" table gives resistance 0 below maxLen-1, 5 at maxLen-1 and +inf at maxLen (with
// maxLen 5 BPE tokens); for characters we use maxLen 25 and resistance 5 for l in [20, 25).
// Defaults of the official script: beam 5, alpha 0.2. When every candidate is blocked the
// first (most probable) is taken, as torch's max over all -inf does.
func MomentumDecode(logits []float32, history []int32, beam int, alpha float64, maxLen int) int32 {
	p := softmax(logits, 1)
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if p[a] > p[b] {
			return -1
		} else if p[a] < p[b] {
			return 1
		}
		return 0
	})
	best, bestScore := order[0], math.Inf(-1)
	for _, c := range order[:min(beam, len(order))] {
		l := RepetitionLength(history, int32(c), maxLen)
		res := 0.0
		switch {
		case l >= maxLen:
			res = math.Inf(1)
		case l >= maxLen-max(1, maxLen/5): // [4, 5) for 5 tokens, [20, 25) for 25 characters
			res = 5
		}
		if s := p[c] - alpha*res; s > bestScore {
			best, bestScore = c, s
		}
	}
	return int32(best)
}

// RepetitionLength is the official find_max_repetition_length: 0 if c never occurred in
// history, else the largest n in [2, maxLen] such that history[-(n-1):] + c occurs in history,
// else 1.
func RepetitionLength(history []int32, c int32, maxLen int) int {
	if !slices.Contains(history, c) {
		return 0
	}
	for n := min(maxLen, len(history)+1); n >= 2; n-- {
		query := append(slices.Clone(history[len(history)-(n-1):]), c)
		for i := 0; i+n <= len(history); i++ {
			if slices.Equal(history[i:i+n], query) {
				return n
			}
		}
	}
	return 1
}

// RepN is rep-n = 1 - (distinct n-grams / n-grams) of a word sequence (0 when it has none).
func RepN(words []string, n int) float64 {
	if len(words) < n {
		return 0
	}
	seen := map[string]bool{}
	total := 0
	for i := 0; i+n <= len(words); i++ {
		seen[strings.Join(words[i:i+n], " ")] = true
		total++
	}
	return 1 - float64(len(seen))/float64(total)
}
