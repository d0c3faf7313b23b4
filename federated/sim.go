package federated

import (
	"fmt"
	"math"

	"github.com/moeboost/moeboost/internal/registry"
)

// Objective is a differentiable loss over a flat parameter vector: Grad returns the gradient of
// the mean loss over the examples idx at w.
type Objective interface {
	Dim() int
	Grad(w []float64, idx []int) ([]float64, error)
}

// Config sets up one simulation.
type Config struct {
	// Algorithm is a registered name (see Names).
	Algorithm string
	// PerRound is S, the clients sampled per round (≤ the number of clients).
	PerRound int
	// LocalSteps is K, LocalLR is η.
	LocalSteps int
	LocalLR    float64
	// ServerLR is the global step: η_g for fedavg, scaffold and server-momentum; for fedavg-m and
	// fedavg-m-vr the step is γ = ServerLR·η·K (1 = model averaging).
	ServerLR float64
	// Beta is the paper's momentum weight β ∈ (0, 1] (fedavg-m, fedavg-m-vr).
	Beta float64
	// Momentum is FedAvgM's server momentum μ ∈ [0, 1) (server-momentum).
	Momentum float64
	// Batch is the mini-batch size (0: each client's whole data).
	Batch int
	// Seed fixes client sampling and mini-batches.
	Seed uint64
}

// Algorithm is one federated method: Init prepares its state at the initial model, Round runs
// one communication round with the sampled clients and updates s.X.
type Algorithm interface {
	Init(s *Sim) error
	Round(s *Sim, sampled []int) error
}

var algorithms = registry.NewKind[func() Algorithm]("federated_algorithm")

// Register adds an algorithm under name (from an init function; panics on a bad or duplicate
// name).
func Register(name string, f func() Algorithm) { algorithms.Register(name, f) }

// Names lists the registered algorithms.
func Names() []string { return algorithms.Names() }

// Sim is a running simulation: X is the global model after Rounds rounds.
type Sim struct {
	Cfg    Config
	Obj    Objective
	Parts  [][]int
	X      []float64
	Rounds int
	// GradCalls counts gradient evaluations (the computation cost).
	GradCalls int
	alg       Algorithm
}

// New validates cfg and starts a simulation at x0 (copied) with the clients' parts.
func New(obj Objective, parts [][]int, x0 []float64, cfg Config) (*Sim, error) {
	f, err := algorithms.Get(cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("federated: %w", err)
	}
	n := len(parts)
	switch {
	case n < 1:
		return nil, fmt.Errorf("federated: no clients")
	case len(x0) != obj.Dim():
		return nil, fmt.Errorf("federated: x0 has %d values; the objective has %d parameters", len(x0), obj.Dim())
	case cfg.PerRound < 1 || cfg.PerRound > n:
		return nil, fmt.Errorf("federated: PerRound = %d; must be in [1, %d] (the clients)", cfg.PerRound, n)
	case cfg.LocalSteps < 1:
		return nil, fmt.Errorf("federated: LocalSteps = %d; must be ≥ 1", cfg.LocalSteps)
	case !(cfg.LocalLR > 0):
		return nil, fmt.Errorf("federated: LocalLR = %v; must be > 0", cfg.LocalLR)
	case !(cfg.ServerLR > 0):
		return nil, fmt.Errorf("federated: ServerLR = %v; must be > 0", cfg.ServerLR)
	case cfg.Batch < 0:
		return nil, fmt.Errorf("federated: Batch = %d; must be ≥ 0 (0 = full client data)", cfg.Batch)
	case (cfg.Algorithm == "fedavg-m" || cfg.Algorithm == "fedavg-m-vr") && !(cfg.Beta > 0 && cfg.Beta <= 1):
		return nil, fmt.Errorf("federated: Beta = %v; %s needs β in (0, 1]", cfg.Beta, cfg.Algorithm)
	case cfg.Algorithm == "server-momentum" && !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("federated: Momentum = %v; server-momentum needs μ in [0, 1)", cfg.Momentum)
	}
	for i, p := range parts {
		if len(p) == 0 {
			return nil, fmt.Errorf("federated: client %d has no data (use more data, fewer clients or a larger alpha)", i)
		}
	}
	s := &Sim{Cfg: cfg, Obj: obj, Parts: parts, X: append([]float64(nil), x0...), alg: f()}
	if err := s.alg.Init(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Step runs one communication round.
func (s *Sim) Step() error {
	sampled := SampleClients(s.Cfg.Seed, s.Rounds, len(s.Parts), s.Cfg.PerRound)
	if err := s.alg.Round(s, sampled); err != nil {
		return fmt.Errorf("federated %s round %d: %w", s.Cfg.Algorithm, s.Rounds, err)
	}
	for _, v := range s.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("federated %s round %d: the model diverged (non-finite weights); lower LocalLR", s.Cfg.Algorithm, s.Rounds)
		}
	}
	s.Rounds++
	return nil
}

// Grad returns client i's mini-batch gradient at w for local step k of the current round.
func (s *Sim) Grad(w []float64, client, step int) ([]float64, error) {
	s.GradCalls++
	return s.Obj.Grad(w, BatchIndices(s.Cfg.Seed, s.Rounds, client, step, s.Parts[client], s.Cfg.Batch))
}

// initialMomentum is g⁰: the mean over all clients of a mini-batch gradient at x (round −1).
func (s *Sim) initialMomentum() ([]float64, error) {
	g := make([]float64, len(s.X))
	for i := range s.Parts {
		s.GradCalls++
		gi, err := s.Obj.Grad(s.X, BatchIndices(s.Cfg.Seed, -1, i, 0, s.Parts[i], s.Cfg.Batch))
		if err != nil {
			return nil, err
		}
		axpy(g, 1/float64(len(s.Parts)), gi)
	}
	return g, nil
}

// axpy does y += a·x.
func axpy(y []float64, a float64, x []float64) {
	for j := range y {
		y[j] += a * x[j]
	}
}

func init() {
	Register("fedavg", func() Algorithm { return &fedAvg{} })
	Register("fedavg-m", func() Algorithm { return &fedAvgM{} })
	Register("fedavg-m-vr", func() Algorithm { return &fedAvgM{vr: true} })
	Register("server-momentum", func() Algorithm { return &serverMomentum{} })
	Register("scaffold", func() Algorithm { return &scaffold{} })
}

// localSGD runs K plain steps from x and returns the final local model.
func localSGD(s *Sim, client int, x []float64, corr func(g []float64)) ([]float64, error) {
	y := append([]float64(nil), x...)
	for k := range s.Cfg.LocalSteps {
		g, err := s.Grad(y, client, k)
		if err != nil {
			return nil, err
		}
		if corr != nil {
			corr(g)
		}
		axpy(y, -s.Cfg.LocalLR, g)
	}
	return y, nil
}

// fedAvg: local SGD, server x ← x + η_g·mean(y_i − x).
type fedAvg struct{}

func (*fedAvg) Init(*Sim) error { return nil }

func (*fedAvg) Round(s *Sim, sampled []int) error {
	delta, err := meanDelta(s, sampled, nil)
	if err != nil {
		return err
	}
	axpy(s.X, s.Cfg.ServerLR, delta)
	return nil
}

// meanDelta returns mean_{i∈S}(y_i − x) after local SGD (with the optional gradient correction).
func meanDelta(s *Sim, sampled []int, corr func(client int) func(g []float64)) ([]float64, error) {
	delta := make([]float64, len(s.X))
	for _, i := range sampled {
		var c func([]float64)
		if corr != nil {
			c = corr(i)
		}
		y, err := localSGD(s, i, s.X, c)
		if err != nil {
			return nil, err
		}
		for j := range delta {
			delta[j] += (y[j] - s.X[j]) / float64(len(sampled))
		}
	}
	return delta, nil
}

// fedAvgM is FedAvg-M (client momentum with a server-held, round-frozen g) and, with vr,
// FedAvg-M-VR (STORM-style correction at the previous global model with the same sample).
type fedAvgM struct {
	vr    bool
	g     []float64
	xPrev []float64
}

func (a *fedAvgM) Init(s *Sim) error {
	g, err := s.initialMomentum()
	a.g, a.xPrev = g, append([]float64(nil), s.X...)
	return err
}

func (a *fedAvgM) Round(s *Sim, sampled []int) error {
	beta := s.Cfg.Beta
	next := make([]float64, len(s.X))
	scale := 1 / float64(len(sampled)*s.Cfg.LocalSteps)
	for _, i := range sampled {
		y := append([]float64(nil), s.X...)
		for k := range s.Cfg.LocalSteps {
			g, err := s.Grad(y, i, k)
			if err != nil {
				return err
			}
			d := make([]float64, len(y))
			if a.vr {
				gp, err := s.Grad(a.xPrev, i, k) // same ξ: same (round, client, step) draw
				if err != nil {
					return err
				}
				for j := range d {
					d[j] = g[j] + (1-beta)*(a.g[j]-gp[j])
				}
			} else {
				for j := range d {
					d[j] = beta*g[j] + (1-beta)*a.g[j]
				}
			}
			axpy(y, -s.Cfg.LocalLR, d)
			axpy(next, scale, d)
		}
	}
	copy(a.xPrev, s.X)
	a.g = next
	axpy(s.X, -s.Cfg.ServerLR*s.Cfg.LocalLR*float64(s.Cfg.LocalSteps), a.g)
	return nil
}

// serverMomentum is FedAvgM (Hsu et al. 2019): v ← μv + Δ, Δ = x − mean y_i; x ← x − η_g v.
type serverMomentum struct{ v []float64 }

func (a *serverMomentum) Init(s *Sim) error { a.v = make([]float64, len(s.X)); return nil }

func (a *serverMomentum) Round(s *Sim, sampled []int) error {
	delta, err := meanDelta(s, sampled, nil)
	if err != nil {
		return err
	}
	for j := range a.v {
		a.v[j] = s.Cfg.Momentum*a.v[j] - delta[j]
	}
	axpy(s.X, -s.Cfg.ServerLR, a.v)
	return nil
}

// scaffold is SCAFFOLD with option II control variates (Karimireddy et al. 2020, Alg. 1).
type scaffold struct {
	c  []float64   // server control variate
	ci [][]float64 // client control variates
}

func (a *scaffold) Init(s *Sim) error {
	a.c = make([]float64, len(s.X))
	a.ci = make([][]float64, len(s.Parts))
	for i := range a.ci {
		a.ci[i] = make([]float64, len(s.X))
	}
	return nil
}

// Controls returns the server and client control variates of a scaffold simulation (nil for
// other algorithms): the identity c = (1/N) Σ_i c_i holds after every round.
func (s *Sim) Controls() (c []float64, ci [][]float64) {
	if a, ok := s.alg.(*scaffold); ok {
		return a.c, a.ci
	}
	return nil, nil
}

func (a *scaffold) Round(s *Sim, sampled []int) error {
	n, kEta := float64(len(s.Parts)), float64(s.Cfg.LocalSteps)*s.Cfg.LocalLR
	dx := make([]float64, len(s.X))
	dc := make([]float64, len(s.X))
	newCi := make([][]float64, len(sampled))
	for t, i := range sampled {
		ci := a.ci[i]
		y, err := localSGD(s, i, s.X, func(g []float64) {
			for j := range g {
				g[j] += a.c[j] - ci[j]
			}
		})
		if err != nil {
			return err
		}
		nc := make([]float64, len(y))
		for j := range nc {
			nc[j] = ci[j] - a.c[j] + (s.X[j]-y[j])/kEta
			dx[j] += (y[j] - s.X[j]) / float64(len(sampled))
			dc[j] += (nc[j] - ci[j]) / n
		}
		newCi[t] = nc
	}
	for t, i := range sampled {
		a.ci[i] = newCi[t]
	}
	axpy(s.X, s.Cfg.ServerLR, dx)
	axpy(a.c, 1, dc)
	return nil
}
