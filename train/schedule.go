package train

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/moeboost/moeboost/internal/registry"
)

// Schedule is a learning-rate schedule: a multiplicative factor of the base learning rate,
// computed in the graph from the global step (0 for the first step), so the learning rate
// changes every step without recompiling and the base learning rate is a variable.
type Schedule interface {
	// Factor returns the factor for step (a float scalar node of the loss dtype).
	Factor(step *graph.Node) *graph.Node
	// FactorAt is the same factor computed on the host, for logging, plots and tests.
	FactorAt(step int) float64
}

// ScheduleConfig selects and shapes a schedule. The zero value is the constant schedule.
type ScheduleConfig struct {
	// Kind is a registered schedule name: "constant", "warmup" (linear warm-up, then
	// constant), "cosine" (warm-up, then cosine decay to MinFactor at TotalSteps), "linear"
	// (warm-up, then linear decay to MinFactor) or "wsd" (warm-up, stable, then linear decay
	// to MinFactor over the last DecayFraction of TotalSteps; Hägele et al. 2024).
	Kind string
	// WarmupSteps is the number of linear warm-up steps (from 1/WarmupSteps up to 1).
	WarmupSteps int
	// TotalSteps is the length of the run (the decay ends there); required by decaying kinds.
	TotalSteps int
	// MinFactor is the final factor of decaying schedules, in [0, 1] (default 0).
	MinFactor float64
	// DecayFraction is the fraction of TotalSteps in the decay phase of "wsd" (default 0.2).
	DecayFraction float64
}

// ScheduleFactory builds a schedule from its config, validating it.
type ScheduleFactory func(ScheduleConfig) (Schedule, error)

var schedules = registry.NewKind[ScheduleFactory]("schedule")

// RegisterSchedule adds a schedule kind, from an init function.
func RegisterSchedule(name string, f ScheduleFactory) { schedules.Register(name, f) }

// NewSchedule validates cfg and builds its schedule.
func NewSchedule(cfg ScheduleConfig) (Schedule, error) {
	if cfg.Kind == "" {
		cfg.Kind = "constant"
	}
	f, err := schedules.Get(cfg.Kind)
	if err != nil {
		return nil, err
	}
	if cfg.WarmupSteps < 0 {
		return nil, fmt.Errorf("schedule %q: warmup_steps=%d must be >= 0", cfg.Kind, cfg.WarmupSteps)
	}
	if cfg.MinFactor < 0 || cfg.MinFactor > 1 {
		return nil, fmt.Errorf("schedule %q: min_factor=%g must be in [0, 1]", cfg.Kind, cfg.MinFactor)
	}
	return f(cfg)
}

// piecewise is the one schedule implementation: warm-up, a flat part until decayStart, then a
// decay shape down to minFactor at total.
type piecewise struct {
	warmup, decayStart, total int
	minFactor                 float64
	shape                     string // "none", "cosine", "linear"
}

func (p piecewise) FactorAt(step int) float64 {
	s := float64(step)
	f := 1.0
	if p.warmup > 0 && step < p.warmup {
		f = (s + 1) / float64(p.warmup)
	}
	if p.shape == "none" || step < p.decayStart {
		return f
	}
	frac := math.Min(1, (s-float64(p.decayStart))/math.Max(1, float64(p.total-p.decayStart)))
	var d float64
	if p.shape == "cosine" {
		d = 0.5 * (1 + math.Cos(math.Pi*frac))
	} else {
		d = 1 - frac
	}
	return math.Min(f, p.minFactor+(1-p.minFactor)*d)
}

func (p piecewise) Factor(step *graph.Node) *graph.Node {
	g := step.Graph()
	dt := step.DType()
	one := graph.ScalarOne(g, dt)
	f := one
	if p.warmup > 0 {
		f = graph.Min(one, graph.DivScalar(graph.AddScalar(step, 1), float64(p.warmup)))
	}
	if p.shape == "none" {
		return f
	}
	frac := graph.DivScalar(graph.AddScalar(step, -float64(p.decayStart)), math.Max(1, float64(p.total-p.decayStart)))
	frac = graph.Clip(frac, graph.ScalarZero(g, dt), one)
	var d *graph.Node
	if p.shape == "cosine" {
		d = graph.MulScalar(graph.AddScalar(graph.Cos(graph.MulScalar(frac, math.Pi)), 1), 0.5)
	} else {
		d = graph.OneMinus(frac)
	}
	decayed := graph.AddScalar(graph.MulScalar(d, 1-p.minFactor), p.minFactor)
	return graph.Min(f, decayed)
}

func needTotal(cfg ScheduleConfig) error {
	if cfg.TotalSteps <= 0 {
		return fmt.Errorf("schedule %q: total_steps=%d must be > 0", cfg.Kind, cfg.TotalSteps)
	}
	if cfg.WarmupSteps >= cfg.TotalSteps {
		return fmt.Errorf("schedule %q: warmup_steps=%d must be < total_steps=%d", cfg.Kind, cfg.WarmupSteps, cfg.TotalSteps)
	}
	return nil
}

func init() {
	RegisterSchedule("constant", func(c ScheduleConfig) (Schedule, error) {
		return piecewise{shape: "none"}, nil
	})
	RegisterSchedule("warmup", func(c ScheduleConfig) (Schedule, error) {
		if c.WarmupSteps == 0 {
			return nil, fmt.Errorf("schedule \"warmup\": warmup_steps must be > 0")
		}
		return piecewise{warmup: c.WarmupSteps, shape: "none"}, nil
	})
	for _, shape := range []string{"cosine", "linear"} {
		RegisterSchedule(shape, func(c ScheduleConfig) (Schedule, error) {
			if err := needTotal(c); err != nil {
				return nil, err
			}
			return piecewise{warmup: c.WarmupSteps, decayStart: c.WarmupSteps, total: c.TotalSteps, minFactor: c.MinFactor, shape: shape}, nil
		})
	}
	RegisterSchedule("wsd", func(c ScheduleConfig) (Schedule, error) {
		if err := needTotal(c); err != nil {
			return nil, err
		}
		df := c.DecayFraction
		if df == 0 {
			df = 0.2
		}
		if df <= 0 || df > 1 {
			return nil, fmt.Errorf("schedule \"wsd\": decay_fraction=%g must be in (0, 1]", df)
		}
		start := c.TotalSteps - int(math.Round(df*float64(c.TotalSteps)))
		if start < c.WarmupSteps {
			return nil, fmt.Errorf("schedule \"wsd\": warmup_steps=%d overlaps the decay phase starting at step %d", c.WarmupSteps, start)
		}
		return piecewise{warmup: c.WarmupSteps, decayStart: start, total: c.TotalSteps, minFactor: c.MinFactor, shape: "linear"}, nil
	})
}
