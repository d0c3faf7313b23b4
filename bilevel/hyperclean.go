package bilevel

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/moeboost/moeboost/train/data"
)

// CorruptLabels returns a copy of a classification table in which each label is, with
// probability rate, replaced by a class drawn uniformly among the other classes (for two
// classes: flipped), and which labels were changed. It is the noise model of data
// hyper-cleaning (Franceschi et al., ICML 2017; LV-HBA's 40% corruption).
func CorruptLabels(t *data.Table, rate float64, seed uint64) (*data.Table, []bool, error) {
	if t.Task != data.Classification || t.NumClasses < 2 {
		return nil, nil, fmt.Errorf("corrupt labels of %s: needs a classification table with ≥ 2 classes (task %v, %d classes)", t.Name, t.Task, t.NumClasses)
	}
	if !(rate >= 0 && rate <= 1) {
		return nil, nil, fmt.Errorf("corrupt labels of %s: rate %v must be in [0, 1]", t.Name, rate)
	}
	c := t.Clone()
	r := data.Rand(seed)
	bad := make([]bool, c.N)
	for i := range c.Y {
		if r.Float64() < rate {
			other := r.IntN(c.NumClasses - 1)
			if other >= int(c.Y[i]) {
				other++
			}
			c.Y[i], bad[i] = float64(other), true
		}
	}
	return c, bad, nil
}

// checkTables validates the train/validation pair of a cleaning problem.
func checkTables(kind string, train, val *data.Table) error {
	for _, t := range []*data.Table{train, val} {
		if t == nil || t.N == 0 {
			return fmt.Errorf("%s: train and validation tables must be non-empty", kind)
		}
		if t.Task != data.Classification {
			return fmt.Errorf("%s: table %s is a %v task; hyper-cleaning needs classification", kind, t.Name, t.Task)
		}
	}
	if train.D != val.D {
		return fmt.Errorf("%s: train has %d features, validation %d", kind, train.D, val.D)
	}
	if train.NumClasses != val.NumClasses {
		return fmt.Errorf("%s: train has %d classes, validation %d", kind, train.NumClasses, val.NumClasses)
	}
	return nil
}

// part returns y[start:end]. It multiplies y by a constant 0/1 selection matrix instead of
// slicing: GoMLX's gradient of Slice is a Pad, which has no gradient itself, so a slice inside
// the lower objective would break the second-order products (∇²g·z) the implicit methods take.
func part(y *graph.Node, start, end int) *graph.Node {
	n := y.Shape().Dimensions[0]
	sel := make([]float64, (end-start)*n)
	for i := range end - start {
		sel[i*n+start+i] = 1
	}
	return graph.MatMul(graph.Reshape(graph.Const(y.Graph(), sel), end-start, n), y)
}

func constMatrix(g *graph.Graph, t *data.Table) *graph.Node {
	return graph.Reshape(graph.Const(g, t.X), t.N, t.D)
}

func oneHot(t *data.Table) []float64 {
	oh := make([]float64, t.N*t.NumClasses)
	for i, y := range t.Y {
		oh[i*t.NumClasses+int(y)] = 1
	}
	return oh
}

// meanCE is the mean (or weighted mean, weights [N] or nil) cross-entropy of logits = X·W + b
// for y = (W [D×C] row-major, b [C]).
func meanCE(y *graph.Node, t *data.Table, weights *graph.Node) *graph.Node {
	g := y.Graph()
	d, c := t.D, t.NumClasses
	w := graph.Reshape(part(y, 0, d*c), d, c)
	b := part(y, d*c, d*c+c)
	logits := graph.Add(graph.MatMul(constMatrix(g, t), w), graph.BroadcastToDims(graph.Reshape(b, 1, c), t.N, c))
	logp := graph.LogSoftmax(logits)
	ce := graph.Neg(graph.ReduceSum(graph.Mul(logp, graph.Reshape(graph.Const(g, oneHot(t)), t.N, c)), -1))
	if weights != nil {
		ce = graph.Mul(ce, weights)
	}
	return graph.ReduceAllMean(ce)
}

// LogisticCleaning is the data hyper-cleaning problem as BO-REP's data-cleaning experiment
// poses it (official data_cleaning/bo_rep.py), with a multinomial logistic regression as the
// lower model: x = λ ∈ ℝⁿ (one per training example), y = (W, b),
//
//	g(λ, y) = (1/n) Σᵢ σ(λᵢ)·CE(y; zᵢ, tᵢ) + (mu/2)‖y‖²,      F(y) = (1/m) Σ_val CE(y; zⱼ, tⱼ),
//
// λ starting at 1 and y at 0. The official code's regularizer is 1e-4·‖y‖ (the norm, not its
// square); the squared form keeps g strongly convex, as the paper's analysis assumes.
//
// With radius > 0 the lower problem is also constrained to a ball, c(y) = ‖y‖² − radius² ≤ 0
// (a norm-bounded classifier), and Project scales y back into the ball: a constrained lower
// level only LV-HBA among the registered methods accepts.
func LogisticCleaning(train, val *data.Table, mu, radius float64) (*Problem, error) {
	if err := checkTables("logistic cleaning", train, val); err != nil {
		return nil, err
	}
	if !(mu > 0) || math.IsInf(mu, 0) {
		return nil, fmt.Errorf("logistic cleaning: mu = %v; must be > 0 (it makes the lower problem strongly convex)", mu)
	}
	if !(radius >= 0) || math.IsInf(radius, 0) {
		return nil, fmt.Errorf("logistic cleaning: radius = %v; must be ≥ 0 (0 = no constraint)", radius)
	}
	x0 := make([]float64, train.N)
	for i := range x0 {
		x0[i] = 1
	}
	p := &Problem{
		Name: "logistic-cleaning", X0: x0, Y0: make([]float64, train.D*train.NumClasses+train.NumClasses),
		Lower: func(x, y *graph.Node) *graph.Node {
			reg := graph.MulScalar(graph.ReduceAllSum(graph.Square(y)), mu/2)
			return graph.Add(meanCE(y, train, graph.Sigmoid(x)), reg)
		},
		Upper: func(x, y *graph.Node) *graph.Node {
			// x enters with a zero weight so that ∇_x F is defined (and is 0).
			return graph.Add(meanCE(y, val, nil), graph.MulScalar(graph.ReduceAllSum(x), 0))
		},
	}
	if radius > 0 {
		p.Name = "logistic-cleaning-ball"
		p.Constraints = func(_, y *graph.Node) *graph.Node {
			return graph.Reshape(graph.AddScalar(graph.ReduceAllSum(graph.Square(y)), -radius*radius), 1)
		}
		p.Project = func(_, y []float64) error {
			if n := norm(y); n > radius {
				scale(y, radius/n)
			}
			return nil
		}
	}
	return p, nil
}

// LogisticAccuracy is the accuracy on t of the logistic model y = (W, b) of LogisticCleaning.
func LogisticAccuracy(y []float64, t *data.Table) (float64, error) {
	d, c := t.D, t.NumClasses
	if len(y) != d*c+c {
		return 0, fmt.Errorf("logistic accuracy: y has %d entries; %d features × %d classes + %d biases need %d", len(y), d, c, c, d*c+c)
	}
	right := 0
	for i := range t.N {
		row := t.Row(i)
		best, arg := math.Inf(-1), 0
		for k := range c {
			s := y[d*c+k]
			for j := range d {
				s += row[j] * y[j*c+k]
			}
			if s > best {
				best, arg = s, k
			}
		}
		if arg == int(t.Y[i]) {
			right++
		}
	}
	return float64(right) / float64(t.N), nil
}

// DetectionAUC is the area under the ROC curve of score for telling clean examples (higher
// score) from corrupted ones: the probability that a random clean example outranks a random
// corrupted one (ties count half). 0.5 is chance; NaN when either group is empty.
func DetectionAUC(score []float64, corrupted []bool) float64 {
	type item struct {
		s   float64
		bad bool
	}
	items := make([]item, len(score))
	nBad := 0
	for i, s := range score {
		items[i] = item{s, corrupted[i]}
		if corrupted[i] {
			nBad++
		}
	}
	nGood := len(score) - nBad
	if nBad == 0 || nGood == 0 {
		return math.NaN()
	}
	sort.Slice(items, func(a, b int) bool { return items[a].s < items[b].s })
	// Rank-sum (Mann-Whitney U) with average ranks for ties.
	rankSum := 0.0
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].s == items[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if !items[k].bad {
				rankSum += avg
			}
		}
		i = j
	}
	u := rankSum - float64(nGood*(nGood+1))/2
	return u / float64(nGood*nBad)
}
