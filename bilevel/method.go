package bilevel

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/moeboost/moeboost/internal/registry"
)

// Method is a bilevel optimization method: Init sets its state from the problem's X0, Y0, and
// each Step is one outer iteration.
type Method interface {
	// Name is the registered name.
	Name() string
	// Init prepares the state for o's problem (a Method may be re-initialized).
	Init(o *Oracle) error
	// Step performs outer iteration k (0-based).
	Step(o *Oracle, k int) error
	// X and Y return the current upper and lower variables (not copies: do not modify).
	X() []float64
	Y() []float64
}

// Factory makes a Method with its default settings.
type Factory func() Method

var methods = registry.NewKind[Factory]("bilevel_method")

// Register adds a bilevel method under name (from an init function; panics on a duplicate).
func Register(name string, f Factory) { methods.Register(name, f) }

// Names lists the registered methods.
func Names() []string { return methods.Names() }

// New returns the registered method name with its default settings, or an error listing the
// known names.
func New(name string) (Method, error) {
	f, err := methods.Get(name)
	if err != nil {
		return nil, err
	}
	return f(), nil
}

func init() {
	Register("aid", func() Method { return NewAID(DefaultAIDConfig()) })
	Register("bo-rep", func() Method { return NewBOREP(DefaultBOREPConfig()) })
	Register("lv-hba", func() Method { return NewLVHBA(DefaultLVHBAConfig()) })
}

// Solve initializes m on o's problem and runs iters outer iterations, calling after (if not
// nil) after each one with the iteration count done; it stops early when ctx is cancelled or
// after returns an error. A non-finite variable stops it with an error naming the iteration.
func Solve(ctx context.Context, o *Oracle, m Method, iters int, after func(done int) error) error {
	if iters < 0 {
		return fmt.Errorf("bilevel: iterations = %d; must be ≥ 0", iters)
	}
	if err := m.Init(o); err != nil {
		return err
	}
	for k := range iters {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.Step(o, k); err != nil {
			return fmt.Errorf("bilevel %s, iteration %d: %w", m.Name(), k, err)
		}
		if i := firstNonFinite(m.X()); i >= 0 {
			return fmt.Errorf("bilevel %s diverged at iteration %d: x[%d] = %v (lower the step sizes)", m.Name(), k, i, m.X()[i])
		}
		if i := firstNonFinite(m.Y()); i >= 0 {
			return fmt.Errorf("bilevel %s diverged at iteration %d: y[%d] = %v (lower the step sizes)", m.Name(), k, i, m.Y()[i])
		}
		if after != nil {
			if err := after(k + 1); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstNonFinite(v []float64) int {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

func positive(method, name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("bilevel %s: %s = %v; must be a finite value > 0", method, name, v)
	}
	return nil
}

func atLeast(method, name string, v, lo int) error {
	if v < lo {
		return fmt.Errorf("bilevel %s: %s = %d; must be ≥ %d", method, name, v, lo)
	}
	return nil
}

func noConstraints(method string, o *Oracle) error {
	if o.hasCons {
		return fmt.Errorf("bilevel %s: problem %q has lower-level constraints; %s differentiates an unconstrained lower problem (use lv-hba, or write the constraints as penalties)", method, o.p.Name, method)
	}
	return nil
}

// AIDConfig sets the AID baseline (approximate implicit differentiation with warm starts, the
// "AID-FP" of Grazzi et al., ICML 2020, and Ji et al., ICML 2021, Alg. 1): per outer iteration,
// LowerSteps gradient steps on g from the previous y, FixedPointSteps steps on the linear system
// ∇²_yy g·z = ∇_y F from the previous z, and x ← x − UpperLR·(∇_x F − ∇²_xy g·z).
type AIDConfig struct {
	LowerSteps, FixedPointSteps int
	LowerLR, FixedPointLR       float64
	UpperLR                     float64
}

// DefaultAIDConfig returns 10 lower steps at 0.1, 10 fixed-point steps at 0.1, upper LR 0.1.
func DefaultAIDConfig() AIDConfig {
	return AIDConfig{LowerSteps: 10, FixedPointSteps: 10, LowerLR: 0.1, FixedPointLR: 0.1, UpperLR: 0.1}
}

// Validate checks every setting.
func (c AIDConfig) Validate() error {
	for _, e := range []error{
		atLeast("aid", "LowerSteps", c.LowerSteps, 1), atLeast("aid", "FixedPointSteps", c.FixedPointSteps, 1),
		positive("aid", "LowerLR", c.LowerLR), positive("aid", "FixedPointLR", c.FixedPointLR), positive("aid", "UpperLR", c.UpperLR),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

// AID is the alternating implicit-differentiation baseline (see AIDConfig).
type AID struct {
	cfg     AIDConfig
	x, y, z []float64
}

// NewAID returns an AID method; its settings are checked by Init.
func NewAID(c AIDConfig) *AID { return &AID{cfg: c} }

func (a *AID) Name() string { return "aid" }
func (a *AID) X() []float64 { return a.x }
func (a *AID) Y() []float64 { return a.y }

// Init implements Method (z starts at 0).
func (a *AID) Init(o *Oracle) error {
	if err := a.cfg.Validate(); err != nil {
		return err
	}
	if err := noConstraints("aid", o); err != nil {
		return err
	}
	a.x, a.y, a.z = clone(o.p.X0), clone(o.p.Y0), make([]float64, o.ny)
	return nil
}

// Step implements Method.
func (a *AID) Step(o *Oracle, _ int) error {
	y, err := o.LowerSteps(a.x, a.y, a.cfg.LowerLR, a.cfg.LowerSteps)
	if err != nil {
		return err
	}
	z, h, err := o.FixedPointZ(a.x, y, a.z, a.cfg.FixedPointLR, a.cfg.FixedPointSteps)
	if err != nil {
		return err
	}
	hg := h.Hypergradient()
	for i := range a.x {
		a.x[i] -= a.cfg.UpperLR * hg[i]
	}
	a.y, a.z = y, z
	return nil
}

// BOREPConfig sets BO-REP (Hao, Gong & Liu, "Bilevel optimization under unbounded smoothness:
// a new algorithm and convergence analysis", ICLR 2024, Alg. 1), with its official data-cleaning
// defaults (MingruiLiu-ML-Lab/Bilevel-Optimization-under-Unbounded-Smoothness,
// data_cleaning/main.py): UpperLR η = 0.05 (--outer_update_lr), LowerLR γ = 0.05
// (--inner_update_lr), ZLR ν = 0.01 (--nu), Beta β = 0.9 (--beta), Interval I = 2
// (--interval), LowerSteps N = 10 (--y_warm_start).
type BOREPConfig struct {
	UpperLR, LowerLR, ZLR, Beta float64
	// Interval I: the lower variable is updated (N steps) only at iterations k with k % I == 0
	// and frozen in between (the paper's periodic updates).
	Interval, LowerSteps int
	// Radius ρ > 0 projects z onto the ball ‖z‖ ≤ ρ after each step (Alg. 1 line 8); 0 leaves it
	// unprojected, as the official code does.
	Radius float64
	// RefineStages × RefineSteps is the initialization refinement (Alg. 2, epoch-SGD): stages of
	// RefineSteps lower steps from Y0 at fixed x0, the step size LowerLR halved at each stage.
	// 0 stages skips it (the official data-cleaning code has none).
	RefineStages, RefineSteps int
	// Seed draws z's Xavier-uniform initialization (the official code's), bound √(6/(n_y+1)).
	Seed uint64
}

// DefaultBOREPConfig returns the official defaults and a 3 × 100-step refinement.
func DefaultBOREPConfig() BOREPConfig {
	return BOREPConfig{UpperLR: 0.05, LowerLR: 0.05, ZLR: 0.01, Beta: 0.9, Interval: 2, LowerSteps: 10, RefineStages: 3, RefineSteps: 100, Seed: 1}
}

// Validate checks every setting.
func (c BOREPConfig) Validate() error {
	for _, e := range []error{
		positive("bo-rep", "UpperLR", c.UpperLR), positive("bo-rep", "LowerLR", c.LowerLR), positive("bo-rep", "ZLR", c.ZLR),
		atLeast("bo-rep", "Interval", c.Interval, 1), atLeast("bo-rep", "LowerSteps", c.LowerSteps, 1),
		atLeast("bo-rep", "RefineStages", c.RefineStages, 0), atLeast("bo-rep", "RefineSteps", c.RefineSteps, 0),
	} {
		if e != nil {
			return e
		}
	}
	if !(c.Beta >= 0 && c.Beta < 1) {
		return fmt.Errorf("bilevel bo-rep: Beta = %v; must be in [0, 1)", c.Beta)
	}
	if !(c.Radius >= 0) || math.IsInf(c.Radius, 0) {
		return fmt.Errorf("bilevel bo-rep: Radius = %v; must be ≥ 0 (0 = no projection)", c.Radius)
	}
	return nil
}

// BOREP is BO-REP: initialization refinement, periodic lower updates, one projected step on z
// per iteration, and normalized momentum on x:
//
//	z ← Proj_ρ(z − ν(∇²_yy g·z − ∇_y F)),  h = ∇_x F − ∇²_xy g·z,  m ← βm + (1−β)h,  x ← x − η m/‖m‖.
//
// The hypergradient uses the z just updated, as the official code does (Alg. 1 lines 8-10).
type BOREP struct {
	cfg        BOREPConfig
	x, y, z, m []float64
}

// NewBOREP returns a BO-REP method; its settings are checked by Init.
func NewBOREP(c BOREPConfig) *BOREP { return &BOREP{cfg: c} }

func (b *BOREP) Name() string { return "bo-rep" }
func (b *BOREP) X() []float64 { return b.x }
func (b *BOREP) Y() []float64 { return b.y }

// Init implements Method: it runs the initialization refinement.
func (b *BOREP) Init(o *Oracle) error {
	if err := b.cfg.Validate(); err != nil {
		return err
	}
	if err := noConstraints("bo-rep", o); err != nil {
		return err
	}
	b.x, b.y, b.m = clone(o.p.X0), clone(o.p.Y0), make([]float64, o.nx)
	r := rand.New(rand.NewPCG(b.cfg.Seed, 0x626f726570))
	bound := math.Sqrt(6 / float64(o.ny+1))
	b.z = make([]float64, o.ny)
	for i := range b.z {
		b.z[i] = (2*r.Float64() - 1) * bound
	}
	lr := b.cfg.LowerLR
	for range b.cfg.RefineStages {
		y, err := o.LowerSteps(b.x, b.y, lr, b.cfg.RefineSteps)
		if err != nil {
			return err
		}
		b.y, lr = y, lr/2
	}
	return nil
}

// Step implements Method.
func (b *BOREP) Step(o *Oracle, k int) error {
	if k > 0 && k%b.cfg.Interval == 0 {
		y, err := o.LowerSteps(b.x, b.y, b.cfg.LowerLR, b.cfg.LowerSteps)
		if err != nil {
			return err
		}
		b.y = y
	}
	h, err := o.HyperAt(b.x, b.y, b.z)
	if err != nil {
		return err
	}
	for i := range b.z {
		b.z[i] -= b.cfg.ZLR * (h.HZ[i] - h.GradYF[i])
	}
	if b.cfg.Radius > 0 {
		if n := norm(b.z); n > b.cfg.Radius {
			scale(b.z, b.cfg.Radius/n)
		}
	}
	// The hypergradient at the updated z: ∇²_xy g·z is linear in z, so JZ at the new z is
	// recomputed (one more call) rather than extrapolated.
	h, err = o.HyperAt(b.x, b.y, b.z)
	if err != nil {
		return err
	}
	hg := h.Hypergradient()
	for i := range b.m {
		b.m[i] = b.cfg.Beta*b.m[i] + (1-b.cfg.Beta)*hg[i]
	}
	step := b.cfg.UpperLR / (1e-10 + norm(b.m))
	for i := range b.x {
		b.x[i] -= step * b.m[i]
	}
	return nil
}

// LVHBAConfig sets LV-HBA (Yao, Xu, Ye, Yuan, Zhang, Zeng, "Constrained bi-level optimization:
// proximal Lagrangian value function approach and Hessian-free algorithm", ICLR 2024, Alg. 1),
// with its official data-cleaning constants (SUSTech-Optimization/LV-HBA, Hyperparameter
// optimization/Data Clean/LV-HBA/LV-HBA.py): Alpha α = 0.01 (x, y step), Beta β = 0.1 (z step),
// Eta η = 0.01 (θ, λ step), Gamma1 = Gamma2 = 10 (the code's gama1 = gama2 = 0.1 multiply the
// proximal terms, i.e. 1/γ), and c_k = (k+1)^CPower with CPower 0.5 (the code's ck = 1/√(k+1)
// multiplies ∇F). Lambda0 initializes λ and z (the code: ones).
type LVHBAConfig struct {
	Alpha, Beta, Eta, Gamma1, Gamma2, CPower, Lambda0 float64
}

// DefaultLVHBAConfig returns the official constants.
func DefaultLVHBAConfig() LVHBAConfig {
	return LVHBAConfig{Alpha: 0.01, Beta: 0.1, Eta: 0.01, Gamma1: 10, Gamma2: 10, CPower: 0.5, Lambda0: 1}
}

// Validate checks every setting.
func (c LVHBAConfig) Validate() error {
	for _, e := range []error{
		positive("lv-hba", "Alpha", c.Alpha), positive("lv-hba", "Beta", c.Beta), positive("lv-hba", "Eta", c.Eta),
		positive("lv-hba", "Gamma1", c.Gamma1), positive("lv-hba", "Gamma2", c.Gamma2),
	} {
		if e != nil {
			return e
		}
	}
	if !(c.CPower >= 0) || math.IsInf(c.CPower, 0) {
		return fmt.Errorf("bilevel lv-hba: CPower = %v; must be ≥ 0", c.CPower)
	}
	if !(c.Lambda0 >= 0) || math.IsInf(c.Lambda0, 0) {
		return fmt.Errorf("bilevel lv-hba: Lambda0 = %v; must be ≥ 0", c.Lambda0)
	}
	return nil
}

// LVHBA is LV-HBA, single loop and first order (Alg. 1): with the proximal Lagrangian value
// function v(x, y, z) = min_θ max_{λ≥0} g(x, θ) + λᵀc(x, θ) + ‖θ−y‖²/(2γ₁) − ‖λ−z‖²/(2γ₂),
// each iteration takes one primal-dual step on (θ, λ),
//
//	θ ← θ − η(∇_θ g(x, θ) + J_θ c(x, θ)ᵀλ + (θ − y)/γ₁),   λ ← max(0, λ + η(c(x, θ) − (λ − z)/γ₂)),
//
// then one projected step on (x, y) and one on z of the penalized objective F/c_k + g − v:
//
//	d_x = ∇_x F(x, y)/c_k + ∇_x g(x, y) − ∇_x g(x, θ) − J_x c(x, θ)ᵀλ
//	d_y = ∇_y F(x, y)/c_k + ∇_y g(x, y) − (y − θ)/γ₁,      d_z = (z − λ)/γ₂
//	(x, y) ← Proj((x, y) − α(d_x, d_y)),                  z ← max(0, z − β d_z).
//
// Deviations from the official code, which this follows the paper on: the code adds d_x to C
// out of place (so x moves only through the projection), never updates z and does not project λ.
type LVHBA struct {
	cfg                LVHBAConfig
	x, y, th, lam, zed []float64
}

// NewLVHBA returns an LV-HBA method; its settings are checked by Init.
func NewLVHBA(c LVHBAConfig) *LVHBA { return &LVHBA{cfg: c} }

func (l *LVHBA) Name() string { return "lv-hba" }
func (l *LVHBA) X() []float64 { return l.x }
func (l *LVHBA) Y() []float64 { return l.y }

// Init implements Method: θ starts at Y0, λ and z at Lambda0.
func (l *LVHBA) Init(o *Oracle) error {
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	l.x, l.y, l.th = clone(o.p.X0), clone(o.p.Y0), clone(o.p.Y0)
	l.lam, l.zed = nil, nil
	if o.hasCons {
		c, err := o.Constraints(l.x, l.y)
		if err != nil {
			return err
		}
		l.lam, l.zed = make([]float64, len(c)), make([]float64, len(c))
		for i := range c {
			l.lam[i], l.zed[i] = l.cfg.Lambda0, l.cfg.Lambda0
		}
	}
	if o.p.Project != nil {
		return o.p.Project(l.x, l.y)
	}
	return nil
}

// Step implements Method.
func (l *LVHBA) Step(o *Oracle, k int) error {
	c := l.cfg
	gth, cons, err := o.LVTheta(l.x, l.th, l.lam)
	if err != nil {
		return err
	}
	for i := range l.th {
		l.th[i] -= c.Eta * (gth[i] + (l.th[i]-l.y[i])/c.Gamma1)
	}
	for i := range l.lam {
		l.lam[i] = max(0, l.lam[i]+c.Eta*(cons[i]-(l.lam[i]-l.zed[i])/c.Gamma2))
	}
	g, err := o.LVOuterAt(l.x, l.y, l.th, l.lam)
	if err != nil {
		return err
	}
	inv := math.Pow(float64(k+1), -c.CPower)
	for i := range l.x {
		l.x[i] -= c.Alpha * (inv*g.GradXF[i] + g.GradXg[i] - g.GradXLag[i])
	}
	for i := range l.y {
		l.y[i] -= c.Alpha * (inv*g.GradYF[i] + g.GradYg[i] - (l.y[i]-l.th[i])/c.Gamma1)
	}
	for i := range l.zed {
		l.zed[i] = max(0, l.zed[i]-c.Beta*(l.zed[i]-l.lam[i])/c.Gamma2)
	}
	if o.p.Project != nil {
		return o.p.Project(l.x, l.y)
	}
	return nil
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

func norm(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func scale(v []float64, s float64) {
	for i := range v {
		v[i] *= s
	}
}
