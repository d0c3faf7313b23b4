package trees

import "fmt"

// Split is one split test: numeric "x[Feature] > Threshold goes right" or categorical
// "x[Feature] == Category goes right" (one value against the rest). Feature indexes the
// numeric features first, then the categorical ones (see Data).
type Split struct {
	Feature   int32
	IsCat     bool
	Threshold float32
	Category  string
	// MissingRight sends a missing (NaN) value right in a numeric split; false sends it left
	// (the test x > Threshold is false for NaN). Greedy trees learn it per split (XGBoost's
	// default direction); oblivious trees always send missing values left.
	MissingRight bool
	// Gain is the split's improvement of the training score (children minus parent, before
	// feature weights), summed over the level's nodes for oblivious trees; used by Importance.
	Gain float64
	// Count is the number of training samples that reached the node (summed over the level
	// for oblivious trees).
	Count int32

	code float32 // Category's interned code (the ensemble's category table)
}

// Tree is one regression tree with vector leaves.
//
// Oblivious trees have one Split per level and 2^Depth leaves; a sample's leaf is the bit
// pattern of its tests, the first level being the most significant bit (right = 1).
// Greedy trees have internal nodes Splits[i] with children Left[i] and Right[i]: a child c >= 0
// is another internal node, c < 0 the leaf ^c; node 0 is the root, or, with no internal node,
// the tree is the single leaf 0.
type Tree struct {
	Oblivious   bool
	Depth       int
	Splits      []Split
	Left, Right []int32
	// Leaves holds the raw leaf values, [NumLeaves, OutDim]: the mean gradient of the leaf's
	// training samples (S/(n + Lambda) with a regulariser). The ensemble subtracts lr*leaf.
	Leaves []float32
	// LeafCount is the number of training samples per leaf.
	LeafCount []int32
}

// NumLeaves returns the number of leaves.
func (t *Tree) NumLeaves() int { return len(t.LeafCount) }

// leaf returns the leaf index of row x (numeric features, then categorical codes).
func (t *Tree) leaf(x []float32) int {
	if t.Oblivious {
		idx := 0
		for i := range t.Splits {
			s := &t.Splits[i]
			v := x[s.Feature]
			var right bool
			if s.IsCat {
				right = v == s.code
			} else {
				right = v > s.Threshold
			}
			idx <<= 1
			if right {
				idx |= 1
			}
		}
		return idx
	}
	if len(t.Splits) == 0 {
		return 0
	}
	node := int32(0)
	for {
		s := &t.Splits[node]
		v := x[s.Feature]
		var right bool
		if s.IsCat {
			right = v == s.code
		} else {
			right = v > s.Threshold || (s.MissingRight && v != v)
		}
		if right {
			node = t.Right[node]
		} else {
			node = t.Left[node]
		}
		if node < 0 {
			return int(^node)
		}
	}
}

// validate checks the structure against the ensemble's dimensions (after loading).
func (t *Tree) validate(features, outDim int) error {
	nl := len(t.LeafCount)
	if len(t.Leaves) != nl*outDim {
		return fmt.Errorf("%d leaf values for %d leaves of %d outputs", len(t.Leaves), nl, outDim)
	}
	for i, s := range t.Splits {
		if s.Feature < 0 || int(s.Feature) >= features {
			return fmt.Errorf("split %d feature %d out of range [0, %d)", i, s.Feature, features)
		}
	}
	for i, s := range t.Splits {
		if s.MissingRight && (s.IsCat || t.Oblivious) {
			return fmt.Errorf("split %d sends missing values right, allowed only in numeric splits of greedy trees", i)
		}
	}
	if t.Oblivious {
		if t.Depth < 0 || t.Depth > 16 {
			return fmt.Errorf("oblivious tree depth %d not in [0, 16]", t.Depth)
		}
		if t.Depth != len(t.Splits) || nl != 1<<t.Depth {
			return fmt.Errorf("oblivious tree of depth %d has %d splits and %d leaves", t.Depth, len(t.Splits), nl)
		}
		if len(t.Left) != 0 || len(t.Right) != 0 {
			return fmt.Errorf("oblivious tree has child links")
		}
		return nil
	}
	ns := len(t.Splits)
	if len(t.Left) != ns || len(t.Right) != ns {
		return fmt.Errorf("%d splits but %d/%d child links", ns, len(t.Left), len(t.Right))
	}
	if ns == 0 {
		if nl != 1 {
			return fmt.Errorf("greedy tree without splits has %d leaves, want 1", nl)
		}
		return nil
	}
	if nl != ns+1 {
		return fmt.Errorf("greedy tree with %d splits has %d leaves, want %d", ns, nl, ns+1)
	}
	// Every node but the root and every leaf is referenced exactly once, always by an
	// earlier node (so there are no cycles).
	seenNode := make([]bool, ns)
	seenLeaf := make([]bool, nl)
	for i := 0; i < ns; i++ {
		for _, c := range [2]int32{t.Left[i], t.Right[i]} {
			if c >= 0 {
				if int(c) <= i || int(c) >= ns || seenNode[c] {
					return fmt.Errorf("node %d has bad child %d", i, c)
				}
				seenNode[c] = true
			} else {
				l := int(^c)
				if l >= nl || seenLeaf[l] {
					return fmt.Errorf("node %d has bad leaf child %d", i, l)
				}
				seenLeaf[l] = true
			}
		}
	}
	return nil
}
