package distill

import (
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/ml/model"
)

// tapsKey is the graph state key of the taps recorded in a graph.
type tapsKey struct{}

type tapEntry struct {
	path string
	node *Node
}

type tapList struct{ entries []tapEntry }

// Tap records x as the intermediate tensor name of the model being built in scope, so that
// feature losses (FitNet, AT, RKD, PKT, MI bounds) can read it by name: a model built under
// "/student" that calls Tap(scope.In("body"), "out", h) exposes "body/out" to the terms. It
// returns x unchanged, so it can wrap an expression. Taps cost nothing in graphs that do not
// read them.
func Tap(scope *model.Scope, name string, x *Node) *Node {
	g := x.Graph()
	l, _ := g.State(tapsKey{}).(*tapList)
	if l == nil {
		l = &tapList{}
		g.AttachState(tapsKey{}, l)
	}
	l.entries = append(l.entries, tapEntry{path: model.JoinPath(scope.Scope(), name), node: x})
	return x
}

// TapsUnder returns the tensors tapped in g under the scope prefix (e.g. "/student"), keyed by
// their path relative to it. When the same path was tapped more than once (a model built
// twice in one graph, as FST's virtual steps do) the first one wins.
func TapsUnder(g *Graph, prefix string) map[string]*Node {
	out := map[string]*Node{}
	l, _ := g.State(tapsKey{}).(*tapList)
	if l == nil {
		return out
	}
	prefix = strings.TrimSuffix(prefix, "/") + "/"
	for _, e := range l.entries {
		if !strings.HasPrefix(e.path, prefix) {
			continue
		}
		rel := strings.TrimPrefix(e.path, prefix)
		if _, dup := out[rel]; !dup {
			out[rel] = e.node
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
