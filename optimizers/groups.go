package optimizers

import (
	"fmt"
	"strings"

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

// FormatPartition renders the partition as one log line, as nanoGPT reports its parameter
// groups: how many tensors and values get weight decay (and, for low-rank optimizers, a
// low-rank update), and which.
func FormatPartition(name string, part []Assignment, lowRank bool) string {
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
	s := fmt.Sprintf("optimizer %s: weight decay on %d tensors (%d values) %v; no decay on %d tensors (%d values) %v",
		name, len(decay), nDecay, decay, len(noDecay), nNoDecay, noDecay)
	if lowRank {
		s += fmt.Sprintf("; low-rank on %d tensors (%d values) %v", len(low), nLow, low)
	}
	return s
}
