package diffusion

import (
	"fmt"
	"math"

	"github.com/moeboost/moeboost/internal/registry"
)

// Guider combines per-sample conditional and unconditional predictions, both [batch, dim]
// row-major in flat slices, into a guided prediction of the same shape. A Guider may keep state
// across sampling steps (APG's momentum buffer); call Reset before each sampling run.
type Guider interface {
	// Guide returns the guided prediction at guidance scale w (w = 1 gives cond for CFG).
	Guide(cond, uncond []float64, batch int, w float64) ([]float64, error)
	// Reset clears any state kept across sampling steps.
	Reset()
}

// Config holds the guidance hyperparameters; fields a rule does not use are ignored.
type Config struct {
	// Eta scales the parallel part of the update (APG, Eq. 7). Paper default 0 (the zero value).
	Eta float64
	// NormThreshold is the rescaling radius r (APG, Eq. 9); 0 or +Inf disables rescaling (paper
	// code default 2.5, passed explicitly).
	NormThreshold float64
	// Momentum is the reverse-momentum coefficient beta (APG, Eq. 11), in (-1, 1); 0 disables it.
	// The paper code's MomentumBuffer default is -0.75; Config's zero value disables momentum, so
	// callers pass the paper's value explicitly.
	Momentum float64
}

// Validate checks the ranges of the APG hyperparameters.
func (c Config) Validate() error {
	if math.IsNaN(c.Eta) || math.IsInf(c.Eta, 0) {
		return fmt.Errorf("diffusion: eta=%v must be finite", c.Eta)
	}
	if math.IsNaN(c.NormThreshold) || c.NormThreshold < 0 {
		return fmt.Errorf("diffusion: norm_threshold=%v must be >= 0 (0 or +Inf disables rescaling)", c.NormThreshold)
	}
	if math.IsNaN(c.Momentum) || c.Momentum <= -1 || c.Momentum >= 1 {
		return fmt.Errorf("diffusion: momentum=%v must be in (-1, 1)", c.Momentum)
	}
	return nil
}

var guiders = registry.New[func(Config) (Guider, error)]("guidance")

// Register adds a guidance rule under name; it panics on a duplicate (call it from init).
func Register(name string, factory func(Config) (Guider, error)) { guiders.Register(name, factory) }

// Names lists the registered guidance rules, sorted.
func Names() []string { return guiders.Names() }

// New builds the guidance rule registered under name, or an error listing the known names.
func New(name string, cfg Config) (Guider, error) {
	f, err := guiders.Get(name)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return f(cfg)
}

func init() {
	Register("cfg", func(Config) (Guider, error) { return &CFG{}, nil })
	Register("apg", func(c Config) (Guider, error) { return &APG{Config: c}, nil })
}

func checkShapes(cond, uncond []float64, batch int) (int, error) {
	if batch <= 0 {
		return 0, fmt.Errorf("diffusion: batch=%d must be > 0", batch)
	}
	if len(cond) != len(uncond) {
		return 0, fmt.Errorf("diffusion: len(cond)=%d != len(uncond)=%d", len(cond), len(uncond))
	}
	if len(cond)%batch != 0 || len(cond) == 0 {
		return 0, fmt.Errorf("diffusion: len(cond)=%d is not a positive multiple of batch=%d", len(cond), batch)
	}
	return len(cond) / batch, nil
}

// CFG is classifier-free guidance: pred = uncond + w*(cond - uncond) (Ho & Salimans 2022, Eq. 6).
type CFG struct{}

// Guide implements Guider.
func (*CFG) Guide(cond, uncond []float64, batch int, w float64) ([]float64, error) {
	if _, err := checkShapes(cond, uncond, batch); err != nil {
		return nil, err
	}
	out := make([]float64, len(cond))
	for i := range out {
		out[i] = uncond[i] + w*(cond[i]-uncond[i])
	}
	return out, nil
}

// Reset implements Guider (CFG keeps no state).
func (*CFG) Reset() {}

// APG is adaptive projected guidance (Sadat et al., ICLR 2025, Algorithm 1). The momentum buffer
// holds the running average of Δ over the sampling steps of one run.
type APG struct {
	Config
	buffer []float64
}

// Reset clears the momentum buffer (call before each sampling run).
func (a *APG) Reset() { a.buffer = nil }

// Guide implements Guider:
//
//	Δ = cond - uncond
//	Δ ← Δ + β·buffer; buffer ← Δ                      (Eq. 11, reverse momentum for β < 0)
//	Δ ← Δ · min(1, r/‖Δ‖)                              (Eq. 9, per sample)
//	Δ∥ = (Δ·ĉ)ĉ, ĉ = cond/‖cond‖; Δ⊥ = Δ - Δ∥         (Eq. 5-6, per sample, float64)
//	pred = cond + (w-1)(Δ⊥ + η·Δ∥)                      (Eq. 7-8)
func (a *APG) Guide(cond, uncond []float64, batch int, w float64) ([]float64, error) {
	dim, err := checkShapes(cond, uncond, batch)
	if err != nil {
		return nil, err
	}
	if a.buffer != nil && len(a.buffer) != len(cond) {
		return nil, fmt.Errorf("diffusion: apg momentum buffer has %d values but the step has %d; call Reset between sampling runs", len(a.buffer), len(cond))
	}
	diff := make([]float64, len(cond))
	for i := range diff {
		diff[i] = cond[i] - uncond[i]
	}
	if a.Momentum != 0 {
		if a.buffer == nil {
			a.buffer = make([]float64, len(cond))
		}
		for i := range diff {
			diff[i] += a.Momentum * a.buffer[i] // Eq. (11)
			a.buffer[i] = diff[i]
		}
	}
	out := make([]float64, len(cond))
	for b := 0; b < batch; b++ {
		d := diff[b*dim : (b+1)*dim]
		c := cond[b*dim : (b+1)*dim]
		if r := a.NormThreshold; r > 0 && !math.IsInf(r, 1) {
			if n := norm(d); n > r { // Eq. (9): scale = min(1, r/‖Δ‖)
				s := r / n
				for i := range d {
					d[i] *= s
				}
			}
		}
		var dot float64
		cn := norm(c)
		if cn > 0 {
			for i := range d {
				dot += d[i] * c[i] / cn
			}
		}
		for i := range d {
			par := 0.0
			if cn > 0 {
				par = dot * c[i] / cn // Eq. (5)
			}
			orth := d[i] - par                           // Eq. (6)
			out[b*dim+i] = c[i] + (w-1)*(orth+a.Eta*par) // Eq. (7)-(8)
		}
	}
	return out, nil
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}
