package optimizers

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model"
)

// GroupConfig holds the parameter-group rules: which variables get weight decay and which are
// updated in a low-rank subspace (Fira, FRUGAL). The zero value is moeboost's default: no
// weight decay on tensors of rank < 2 (biases, LayerNorm/RMSNorm scales: nanoGPT's rule) and
// low-rank updates on every 2-D weight.
//
// Store params: "optimizer_decay_all" (bool), "optimizer_no_decay" and
// "optimizer_lowrank_exclude" (comma-separated patterns), "optimizer_log_groups" (bool).
type GroupConfig struct {
	// DecayAll decays every tensor, biases and norms included: the behaviour of the reference
	// codes (and of torch) with a single parameter group.
	DecayAll bool
	// NoDecay lists variable-path patterns excluded from weight decay; '*' matches any run of
	// characters ('/' included), e.g. "*/embeddings*", "/head/*".
	NoDecay []string
	// LowRankExclude lists patterns of 2-D weights that low-rank optimizers keep full rank
	// (e.g. embeddings and the output head, which GaLore/Fira/FRUGAL keep state-full).
	LowRankExclude []string
	// Quiet stops the one-time log line of the partition.
	Quiet bool
}

// Group is the decision for one variable.
type Group struct {
	// Decay says whether weight decay applies.
	Decay bool
	// LowRank says whether low-rank optimizers project this variable (only 2-D weights).
	LowRank bool
}

// Assignment is one variable's group, as logged and returned by Optimizer.Partition.
type Assignment struct {
	Path  string
	Shape shapes.Shape
	Group Group
}

// Validate reports malformed patterns.
func (c GroupConfig) Validate() error {
	for _, list := range [][]string{c.NoDecay, c.LowRankExclude} {
		for _, p := range list {
			if strings.TrimSpace(p) == "" {
				return fmt.Errorf("optimizer groups: empty pattern in %q", list)
			}
		}
	}
	return nil
}

func (c GroupConfig) assign(v *model.Variable) Group {
	path, rank := v.Path(), v.Shape().Rank()
	g := Group{Decay: c.DecayAll || rank >= 2, LowRank: rank == 2}
	for _, p := range c.NoDecay {
		if globMatch(p, path) {
			g.Decay = false
		}
	}
	for _, p := range c.LowRankExclude {
		if globMatch(p, path) {
			g.LowRank = false
		}
	}
	return g
}

// groupsFromParams reads the group rules from the store params.
func groupsFromParams(r *paramReader) GroupConfig {
	return GroupConfig{
		DecayAll:       r.bool(ParamDecayAll, false),
		NoDecay:        splitPatterns(r.str(ParamNoDecay, "")),
		LowRankExclude: splitPatterns(r.str(ParamLowRankExclude, "")),
		Quiet:          !r.bool(ParamLogGroups, true),
	}
}

func splitPatterns(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// globMatch matches a pattern where '*' stands for any run of characters (including '/').
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, part)
		}
		k := strings.Index(s, part)
		if k < 0 {
			return false
		}
		s = s[k+len(part):]
	}
	return true
}

// verbosePartition selects the full partition log line (SetVerbose).
var verbosePartition atomic.Bool

// SetVerbose makes the one-time parameter-partition log line list every tensor path
// (FormatPartitionFull) instead of the short summary (FormatPartition); programs set it from
// their -v flag.
func SetVerbose(v bool) { verbosePartition.Store(v) }

// Verbose reports whether SetVerbose(true) is in effect.
func Verbose() bool { return verbosePartition.Load() }

// partitionLine is the log line of a partition: the summary, or the full list under -v.
func partitionLine(name string, part []Assignment, lowRank bool) string {
	if Verbose() {
		return FormatPartitionFull(name, part, lowRank)
	}
	return FormatPartition(name, part, lowRank)
}

// maxListed is how many paths a summary lists in full; larger sets are summarized by scope.
const maxListed = 3

// maxScopes is how many top-level scopes a summary names before "+N more".
const maxScopes = 4

// FormatPartition renders the partition as one short log line, as nanoGPT reports its
// parameter groups: how many tensors and values get weight decay (and, for low-rank
// optimizers, a low-rank update), and which: up to three paths by name, more as counts per
// top-level scope, e.g.
//
//	optimizer adamw: weight decay on 14 tensors (52224 values) in /stack 12, /embed 1, /head 1;
//	no decay on 27 tensors (2368 values) in /stack 24, /head 1, /pos 1, /final_norm 1 (every path with -v)
//
// (one line). FormatPartitionFull lists every path.
func FormatPartition(name string, part []Assignment, lowRank bool) string {
	return formatPartition(name, part, lowRank, false)
}

// FormatPartitionFull is FormatPartition listing every tensor path (the -v log line).
func FormatPartitionFull(name string, part []Assignment, lowRank bool) string {
	return formatPartition(name, part, lowRank, true)
}

func formatPartition(name string, part []Assignment, lowRank, full bool) string {
	var decay, noDecay, low []string
	var nDecay, nNoDecay, nLow int
	for _, a := range part {
		if a.Group.Decay {
			decay, nDecay = append(decay, a.Path), nDecay+a.Shape.Size()
		} else {
			noDecay, nNoDecay = append(noDecay, a.Path), nNoDecay+a.Shape.Size()
		}
		if a.Group.LowRank {
			low, nLow = append(low, a.Path), nLow+a.Shape.Size()
		}
	}
	abbreviated := false
	list := func(paths []string) string {
		if full || len(paths) <= maxListed {
			return fmt.Sprint(paths)
		}
		abbreviated = true
		return "in " + scopeCounts(paths)
	}
	s := fmt.Sprintf("optimizer %s: weight decay on %d tensors (%d values) %s; no decay on %d tensors (%d values) %s",
		name, len(decay), nDecay, list(decay), len(noDecay), nNoDecay, list(noDecay))
	if lowRank {
		s += fmt.Sprintf("; low-rank on %d tensors (%d values) %s", len(low), nLow, list(low))
	}
	if abbreviated {
		s += " (every path with -v)"
	}
	return s
}

// scopeCounts counts paths by their top-level scope ("/stack/l0/w" -> "/stack"), most first
// (ties in order of appearance), naming at most maxScopes: "/stack 12, /embed 1, +2 more".
func scopeCounts(paths []string) string {
	counts := map[string]int{}
	var order []string
	for _, p := range paths {
		top := p
		if i := strings.IndexByte(strings.TrimPrefix(p, "/"), '/'); i >= 0 {
			top = p[:i+1]
			if !strings.HasPrefix(p, "/") {
				top = p[:i]
			}
		}
		if counts[top] == 0 {
			order = append(order, top)
		}
		counts[top]++
	}
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	parts := make([]string, 0, maxScopes+1)
	for i, top := range order {
		if i == maxScopes {
			parts = append(parts, fmt.Sprintf("+%d more scopes", len(order)-maxScopes))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", top, counts[top]))
	}
	return strings.Join(parts, ", ")
}
