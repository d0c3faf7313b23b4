package certified

import (
	"fmt"
	"math"
)

// EpsSchedule is the per-batch ε schedule of certified training.
//
// Smoothed (Shi et al. 2021 §4, auto_LiRPA eps_scheduler.py:175–234, SmoothedScheduler, itself
// DeepMind's IBP smooth schedule): with the global 0-based batch index s, E batches per
// epoch, init = (Start−1)·E, final = (Start+Length−1)·E and mid = init +
// ⌊(final−init)·Mid⌋ (Mid = 0.25, Beta = 4 by default, lines 184–186):
//
//	ε(s) = 0                                            for s ≤ init
//	ε(s) = α·(s − init)^β                              for init < s < mid
//	ε(s) = min(ε_mid + (ε_max − ε_mid)(s − mid)/(final − mid), ε_max)   for s ≥ mid
//
// with α = ε_max / ((final−mid)·β·t + (mid−init)·t), t = (mid−init)^(β−1) (line 225), so
// that the polynomial and linear pieces meet with equal slope at mid. Epochs are 1-based:
// epochs before Start train at ε = 0 (the fast recipe uses start = 2 with one natural epoch,
// argparser.py:93).
//
// Linear (Gowal et al. 2018, the "standard IBP" baseline): ε rises linearly from 0 at init
// to ε_max at final.
type EpsSchedule struct {
	MaxEps        float64
	Start, Length int // 1-based epoch at which the ramp starts, and its length in epochs
	EpochLength   int // batches per epoch
	Smoothed      bool
	Mid, Beta     float64 // smoothed only; 0 means the defaults 0.25 and 4
}

// Validate reports a bad field by name.
func (s EpsSchedule) Validate() error {
	switch {
	case !(s.MaxEps >= 0):
		return fmt.Errorf("certified: eps schedule max_eps=%g, want >= 0", s.MaxEps)
	case s.Start < 1:
		return fmt.Errorf("certified: eps schedule start=%d, want >= 1 (epochs are 1-based)", s.Start)
	case s.Length < 1:
		return fmt.Errorf("certified: eps schedule length=%d, want >= 1 epoch", s.Length)
	case s.EpochLength < 1:
		return fmt.Errorf("certified: eps schedule epoch_length=%d, want >= 1 batch", s.EpochLength)
	case s.Smoothed && s.Beta != 0 && s.Beta < 2:
		return fmt.Errorf("certified: eps schedule beta=%g, want >= 2 (auto_LiRPA asserts it)", s.Beta)
	case s.Smoothed && (s.Mid < 0 || s.Mid > 1):
		return fmt.Errorf("certified: eps schedule mid=%g, want in [0, 1]", s.Mid)
	}
	return nil
}

// At returns ε at the 0-based global batch index step.
func (s EpsSchedule) At(step int) float64 {
	init := float64((s.Start - 1) * s.EpochLength)
	final := float64((s.Start + s.Length - 1) * s.EpochLength)
	x := float64(step)
	if x <= init {
		return 0
	}
	if !s.Smoothed {
		return math.Min(s.MaxEps*(x-init)/(final-init), s.MaxEps)
	}
	mid, beta := s.Mid, s.Beta
	if mid == 0 {
		mid = 0.25
	}
	if beta == 0 {
		beta = 4
	}
	midStep := math.Floor((final-init)*mid) + init
	t := math.Pow(midStep-init, beta-1)
	alpha := s.MaxEps / ((final-midStep)*beta*t + (midStep-init)*t)
	midValue := alpha * math.Pow(midStep-init, beta)
	if x < midStep {
		return alpha * math.Pow(x-init, beta)
	}
	return math.Min(midValue+(s.MaxEps-midValue)*(x-midStep)/(final-midStep), s.MaxEps)
}

// RampEnd is the first global batch index at which ε reaches MaxEps.
func (s EpsSchedule) RampEnd() int { return (s.Start + s.Length - 1) * s.EpochLength }
