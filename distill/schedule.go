package distill

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive
)

// Schedule multiplies a term's weight by a factor computed in the graph from the global step
// (never recompiling), as torchdistill's and the papers' loss weightings do:
//
//   - "constant" (the zero value): 1.
//   - "warmup": min(t / Warmup, 1) — DKD's and MDCS's min(epoch/20, 1) with Epochs set.
//   - "linear": From + (To − From)·clip((t − Start)/(End − Start), 0, 1).
//   - "step": Gamma^(number of Milestones ≤ t) (piecewise constant, like MultiStepLR).
//
// t is the global step before the update, or the 0-based epoch ⌊step/steps_per_epoch⌋ when
// Epochs is set (the Distiller's StepsPerEpoch must then be known).
type Schedule struct {
	Kind string
	// Epochs counts t in epochs instead of steps.
	Epochs bool
	// Warmup is the length of the "warmup" ramp (> 0).
	Warmup float64
	// Start, End, From, To define the "linear" ramp (End > Start).
	Start, End, From, To float64
	// Milestones (increasing) and Gamma (default 0.1) define the "step" schedule.
	Milestones []float64
	Gamma      float64
}

// Validate reports a bad schedule, naming the value and what is allowed.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", "constant":
	case "warmup":
		if !(s.Warmup > 0) {
			return fmt.Errorf("distill: schedule warmup=%g must be > 0", s.Warmup)
		}
	case "linear":
		if !(s.End > s.Start) {
			return fmt.Errorf("distill: linear schedule end=%g must be > start=%g", s.End, s.Start)
		}
	case "step":
		if len(s.Milestones) == 0 {
			return fmt.Errorf("distill: step schedule needs milestones")
		}
		if !sort.Float64sAreSorted(s.Milestones) {
			return fmt.Errorf("distill: step schedule milestones %v must be increasing", s.Milestones)
		}
		if s.Gamma < 0 || math.IsNaN(s.Gamma) {
			return fmt.Errorf("distill: step schedule gamma=%g must be >= 0", s.Gamma)
		}
	default:
		return fmt.Errorf("distill: schedule kind %q unknown: use constant, warmup, linear or step", s.Kind)
	}
	return nil
}

// IsConstant reports whether the schedule is the constant 1.
func (s Schedule) IsConstant() bool { return s.Kind == "" || s.Kind == "constant" }

// At returns the factor at t (steps or epochs, as configured) in plain Go, for tests and plots.
func (s Schedule) At(t float64) float64 {
	switch s.Kind {
	case "warmup":
		return math.Min(t/s.Warmup, 1)
	case "linear":
		r := math.Min(math.Max((t-s.Start)/(s.End-s.Start), 0), 1)
		return s.From + (s.To-s.From)*r
	case "step":
		gamma := s.Gamma
		if gamma == 0 {
			gamma = 0.1
		}
		f := 1.0
		for _, m := range s.Milestones {
			if t >= m {
				f *= gamma
			}
		}
		return f
	}
	return 1
}

// Factor builds the factor in the graph from the global step (int64 scalar).
func (s Schedule) Factor(step *Node, stepsPerEpoch int, dtype dtypes.DType) *Node {
	g := step.Graph()
	var t *Node
	if s.Epochs {
		t = EpochOf(step, stepsPerEpoch, dtype)
	} else {
		t = ConvertDType(step, dtype)
	}
	switch s.Kind {
	case "warmup":
		return Min(DivScalar(t, s.Warmup), ScalarOne(g, dtype)) // DKD/MDCS: min(epoch/warmup, 1)
	case "linear":
		r := ClipScalar(DivScalar(SubScalar(t, s.Start), s.End-s.Start), 0, 1)
		return AddScalar(MulScalar(r, s.To-s.From), s.From)
	case "step":
		gamma := s.Gamma
		if gamma == 0 {
			gamma = 0.1
		}
		f := ScalarOne(g, dtype)
		for _, m := range s.Milestones {
			passed := ConvertDType(GreaterOrEqual(t, Scalar(g, dtype, m)), dtype)
			// f ·= gamma when passed, else 1.
			f = Mul(f, AddScalar(MulScalar(passed, gamma-1), 1))
		}
		return f
	}
	return ScalarOne(g, dtype)
}
