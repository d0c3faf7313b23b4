package retrieval

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Corpus is a retrieval collection: documents, queries and which documents answer each query.
type Corpus struct {
	// Docs and Queries are token-id sequences (ids index Vocab; 0 is padding, 1 unknown).
	Docs, Queries [][]int32
	// Rel lists the relevant document ids of each query.
	Rel [][]int
	// Vocab maps ids to words: Vocab[0] = "<pad>", Vocab[1] = "<unk>".
	Vocab []string
	// Words holds each document's and query's words (for BM25, which needs no vocabulary cut).
	DocWords, QueryWords [][]string
	// ICT holds inverse-cloze training pairs (Lee et al., ACL 2019): each sentence of each
	// document as a query, and the document without that sentence as its positive text.
	ICT []Example
}

// Example is one training query: its tokens, its relevant documents, and the text of the
// positive the loss uses (nil: the relevant document as indexed).
type Example struct {
	Query, Pos []int32
	Rel        []int
	// Words are the query's words (for a BM25 negative pool).
	Words []string
}

// Examples returns the queries ids as training examples.
func (c *Corpus) Examples(ids []int) []Example {
	out := make([]Example, len(ids))
	for i, q := range ids {
		out[i] = Example{Query: c.Queries[q], Rel: c.Rel[q], Words: c.QueryWords[q]}
	}
	return out
}

// CorpusConfig sets how BuildCorpus cuts a text.
type CorpusConfig struct {
	// ChunkSentences sentences make a document; the sentence after each document is held out
	// as a query whose relevant documents are the chunks before and after it.
	ChunkSentences int
	// MinQueryWords drops shorter query sentences; MaxVocab caps the vocabulary (the most
	// frequent words; the rest map to <unk>).
	MinQueryWords, MaxVocab int
	// MaxDocWords truncates documents.
	MaxDocWords int
}

// DefaultCorpusConfig: 3-sentence documents, queries of ≥ 6 words, 8000 words, 120 words per
// document (the official STAR's training length for passages).
func DefaultCorpusConfig() CorpusConfig {
	return CorpusConfig{ChunkSentences: 3, MinQueryWords: 6, MaxVocab: 8000, MaxDocWords: 120}
}

var (
	sentenceEnd = regexp.MustCompile(`([.!?])\s+`)
	wordRE      = regexp.MustCompile(`[\p{L}\p{N}]+`)
)

// Sentences splits text into sentences at '.', '!' or '?' followed by white space and an
// upper-case letter, digit or quotation mark.
func Sentences(text string) []string {
	text = strings.Join(strings.Fields(text), " ")
	var out []string
	start := 0
	for _, m := range sentenceEnd.FindAllStringIndex(text, -1) {
		if m[1] < len(text) {
			r := []rune(text[m[1]:min(len(text), m[1]+4)])[0]
			if !(unicode.IsUpper(r) || unicode.IsDigit(r) || r == '"' || r == '\'' || r == '_') {
				continue
			}
		}
		if s := strings.TrimSpace(text[start:m[1]]); s != "" {
			out = append(out, s)
		}
		start = m[1]
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// Words lower-cases s and returns its runs of letters and digits.
func Words(s string) []string {
	ws := wordRE.FindAllString(strings.ToLower(s), -1)
	return ws
}

// BuildCorpus cuts a text into a retrieval corpus: the sentence stream is grouped into chunks of
// ChunkSentences sentences (the documents) separated by one held-out sentence each (a query);
// a query's relevant documents are the chunks on either side of it (where it was cut from).
// This is the inverse-cloze construction (Lee et al., ACL 2019) with the query removed from
// the collection, so that it cannot be found by exact match.
func BuildCorpus(text string, c CorpusConfig) (*Corpus, error) {
	if c.ChunkSentences < 1 || c.MinQueryWords < 1 || c.MaxVocab < 3 || c.MaxDocWords < 1 {
		return nil, fmt.Errorf("retrieval corpus: chunk %d, min query words %d, max doc words %d must be ≥ 1 and max vocab %d ≥ 3", c.ChunkSentences, c.MinQueryWords, c.MaxDocWords, c.MaxVocab)
	}
	sents := Sentences(text)
	var docs, queries [][]string
	var rel [][]int
	var docSents [][][]string
	for i := 0; i+c.ChunkSentences < len(sents); i += c.ChunkSentences + 1 {
		var w []string
		var parts [][]string
		for _, s := range sents[i : i+c.ChunkSentences] {
			parts = append(parts, Words(s))
			w = append(w, parts[len(parts)-1]...)
		}
		docSents = append(docSents, parts)
		if len(w) > c.MaxDocWords {
			w = w[:c.MaxDocWords]
		}
		docs = append(docs, w)
		q := Words(sents[i+c.ChunkSentences])
		if len(q) < c.MinQueryWords {
			continue
		}
		d := len(docs) - 1
		r := []int{d}
		if i+2*c.ChunkSentences+1 <= len(sents) {
			r = append(r, d+1) // the next chunk, appended on the next pass
		}
		queries, rel = append(queries, q), append(rel, r)
	}
	// A query whose next chunk was never formed keeps only the previous one.
	for qi := range rel {
		rel[qi] = slices.DeleteFunc(rel[qi], func(d int) bool { return d >= len(docs) })
	}
	if len(docs) < 10 || len(queries) < 10 {
		return nil, fmt.Errorf("retrieval corpus: the text gives %d documents and %d queries (%d sentences); at least 10 of each are needed", len(docs), len(queries), len(sents))
	}
	counts := map[string]int{}
	for _, d := range docs {
		for _, w := range d {
			counts[w]++
		}
	}
	for _, q := range queries {
		for _, w := range q {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Slice(words, func(a, b int) bool {
		if counts[words[a]] != counts[words[b]] {
			return counts[words[a]] > counts[words[b]]
		}
		return words[a] < words[b]
	})
	if len(words) > c.MaxVocab-2 {
		words = words[:c.MaxVocab-2]
	}
	vocab := append([]string{"<pad>", "<unk>"}, words...)
	ids := make(map[string]int32, len(vocab))
	for i, w := range vocab {
		ids[w] = int32(i)
	}
	enc := func(ws []string) []int32 {
		out := make([]int32, len(ws))
		for i, w := range ws {
			if id, ok := ids[w]; ok {
				out[i] = id
			} else {
				out[i] = 1
			}
		}
		return out
	}
	cp := &Corpus{Vocab: vocab, Rel: rel, DocWords: docs, QueryWords: queries}
	for _, d := range docs {
		cp.Docs = append(cp.Docs, enc(d))
	}
	for _, q := range queries {
		cp.Queries = append(cp.Queries, enc(q))
	}
	for d, parts := range docSents {
		for k, q := range parts {
			if len(q) < c.MinQueryWords || len(parts) < 2 {
				continue
			}
			var rest []string
			for j, p := range parts {
				if j != k {
					rest = append(rest, p...)
				}
			}
			if len(rest) > c.MaxDocWords {
				rest = rest[:c.MaxDocWords]
			}
			cp.ICT = append(cp.ICT, Example{Query: enc(q), Pos: enc(rest), Rel: []int{d}, Words: q})
		}
	}
	return cp, nil
}

// SplitQueries shuffles the query ids with seed and returns a devFraction of them as dev and
// the rest as train.
func (c *Corpus) SplitQueries(devFraction float64, seed uint64) (train, dev []int, err error) {
	if !(devFraction > 0 && devFraction < 1) {
		return nil, nil, fmt.Errorf("retrieval: dev fraction %v must be in (0, 1)", devFraction)
	}
	ids := make([]int, len(c.Queries))
	for i := range ids {
		ids[i] = i
	}
	rand.New(rand.NewPCG(seed, 0x71756572)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	n := int(float64(len(ids)) * devFraction)
	if n < 1 || n >= len(ids) {
		return nil, nil, fmt.Errorf("retrieval: dev fraction %v of %d queries leaves an empty side", devFraction, len(ids))
	}
	return ids[n:], ids[:n], nil
}
