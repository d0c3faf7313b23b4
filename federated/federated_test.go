package federated

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/moeboost/moeboost/train/backend"
)

// quadProblem returns N clients' least-squares data with client-specific optima (non-IID).
func quadProblem(n, perClient, d int) (*Quadratic, [][]int) {
	rng := rand.New(rand.NewPCG(7, 8))
	q := &Quadratic{Dims: d}
	parts := make([][]int, n)
	for i := range n {
		shift := float64(i) - float64(n)/2
		for range perClient {
			parts[i] = append(parts[i], len(q.B))
			for j := range d {
				q.A = append(q.A, rng.NormFloat64()+0.3*float64(j%2)*shift)
			}
			q.B = append(q.B, rng.NormFloat64()+shift)
		}
	}
	return q, parts
}

// grad is an independent restatement of the client gradient (1/|idx|) Σ a(aᵀw − b).
func grad(q *Quadratic, w []float64, idx []int) []float64 {
	g := make([]float64, len(w))
	for _, i := range idx {
		r := -q.B[i]
		for j := range w {
			r += q.A[i*len(w)+j] * w[j]
		}
		for j := range w {
			g[j] += q.A[i*len(w)+j] * r / float64(len(idx))
		}
	}
	return g
}

// reference re-states each algorithm's equations in plain float64 loops.
func reference(t *testing.T, q *Quadratic, parts [][]int, x0 []float64, cfg Config, rounds int) []float64 {
	n, d, K, eta := len(parts), len(x0), cfg.LocalSteps, cfg.LocalLR
	x := append([]float64(nil), x0...)
	batch := func(r, i, k int) []int { return BatchIndices(cfg.Seed, r, i, k, parts[i], cfg.Batch) }
	// fedavg-m state: g⁰ = mean_i ∇F_i(x⁰; ξ_i^{−1}).
	g := make([]float64, d)
	for i := range n {
		gi := grad(q, x, batch(-1, i, 0))
		for j := range g {
			g[j] += gi[j] / float64(n)
		}
	}
	xPrev := append([]float64(nil), x...)
	v := make([]float64, d)
	c := make([]float64, d)
	ci := make([][]float64, n)
	for i := range ci {
		ci[i] = make([]float64, d)
	}
	for r := range rounds {
		S := SampleClients(cfg.Seed, r, n, cfg.PerRound)
		ys := make([][]float64, len(S))
		gNew := make([]float64, d)
		ciNew := make([][]float64, len(S))
		for t, i := range S {
			y := append([]float64(nil), x...)
			for k := range K {
				gr := grad(q, y, batch(r, i, k))
				dk := make([]float64, d)
				for j := range dk {
					switch cfg.Algorithm {
					case "fedavg-m":
						dk[j] = cfg.Beta*gr[j] + (1-cfg.Beta)*g[j]
					case "fedavg-m-vr":
						dk[j] = gr[j] + (1-cfg.Beta)*(g[j]-grad(q, xPrev, batch(r, i, k))[j])
					case "scaffold":
						dk[j] = gr[j] - ci[i][j] + c[j]
					default:
						dk[j] = gr[j]
					}
				}
				for j := range y {
					y[j] -= eta * dk[j]
					gNew[j] += dk[j] / float64(len(S)*K)
				}
			}
			ys[t] = y
			if cfg.Algorithm == "scaffold" {
				ciNew[t] = make([]float64, d)
				for j := range y {
					ciNew[t][j] = ci[i][j] - c[j] + (x[j]-y[j])/(float64(K)*eta)
				}
			}
		}
		mean := make([]float64, d)
		for _, y := range ys {
			for j := range y {
				mean[j] += y[j] / float64(len(ys))
			}
		}
		switch cfg.Algorithm {
		case "fedavg":
			for j := range x {
				x[j] += cfg.ServerLR * (mean[j] - x[j])
			}
		case "fedavg-m", "fedavg-m-vr":
			copy(xPrev, x)
			g = gNew
			for j := range x {
				x[j] -= cfg.ServerLR * eta * float64(K) * g[j]
			}
		case "server-momentum":
			for j := range x {
				v[j] = cfg.Momentum*v[j] + (x[j] - mean[j])
				x[j] -= cfg.ServerLR * v[j]
			}
		case "scaffold":
			for t, i := range S {
				for j := range c {
					c[j] += (ciNew[t][j] - ci[i][j]) / float64(n)
				}
				ci[i] = ciNew[t]
			}
			for j := range x {
				x[j] += cfg.ServerLR * (mean[j] - x[j])
			}
		default:
			t.Fatalf("no reference for %q", cfg.Algorithm)
		}
	}
	return x
}

func TestAlgorithmsMatchReference(t *testing.T) {
	q, parts := quadProblem(6, 12, 4)
	x0 := []float64{0.5, -0.2, 0.1, 0}
	base := Config{PerRound: 3, LocalSteps: 4, LocalLR: 0.03, ServerLR: 1, Beta: 0.3, Momentum: 0.8, Seed: 11}
	for _, tc := range []struct {
		alg      string
		batch    int
		serverLR float64
	}{
		{"fedavg", 0, 1}, {"fedavg", 5, 0.7},
		{"fedavg-m", 0, 1}, {"fedavg-m", 5, 1.5},
		{"fedavg-m-vr", 0, 1}, {"fedavg-m-vr", 5, 1},
		{"server-momentum", 0, 1}, {"server-momentum", 5, 0.5},
		{"scaffold", 0, 1}, {"scaffold", 5, 1},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			cfg := base
			cfg.Algorithm, cfg.Batch, cfg.ServerLR = tc.alg, tc.batch, tc.serverLR
			s, err := New(q, parts, x0, cfg)
			require.NoError(t, err)
			for range 6 {
				require.NoError(t, s.Step())
			}
			want := reference(t, q, parts, x0, cfg, 6)
			require.InDeltaSlice(t, want, s.X, 1e-12)
			moved := 0.0
			for j := range x0 {
				moved += math.Abs(s.X[j] - x0[j])
			}
			require.Greater(t, moved, 1e-3, "the model must move")
		})
	}
}

func TestBetaOneIsFedAvg(t *testing.T) {
	q, parts := quadProblem(5, 10, 3)
	x0 := []float64{1, 1, 1}
	run := func(alg string) []float64 {
		s, err := New(q, parts, x0, Config{Algorithm: alg, PerRound: 2, LocalSteps: 5, LocalLR: 0.05, ServerLR: 1, Beta: 1, Batch: 4, Seed: 3})
		require.NoError(t, err)
		for range 5 {
			require.NoError(t, s.Step())
		}
		return s.X
	}
	require.InDeltaSlice(t, run("fedavg"), run("fedavg-m"), 1e-12)
}

func TestScaffoldControlVariates(t *testing.T) {
	q, parts := quadProblem(5, 8, 3)
	x0 := []float64{0, 0, 0}
	// Full participation, first round, zero controls: c_i⁺ = (x − y_i)/(Kη) = the mean of client
	// i's gradients along its local path, and c = mean_i c_i.
	s, err := New(q, parts, x0, Config{Algorithm: "scaffold", PerRound: 5, LocalSteps: 3, LocalLR: 0.05, ServerLR: 1})
	require.NoError(t, err)
	require.NoError(t, s.Step())
	_, ci := s.Controls()
	for i := range parts {
		y := append([]float64(nil), x0...)
		avg := make([]float64, 3)
		for range 3 {
			g := grad(q, y, parts[i])
			for j := range y {
				avg[j] += g[j] / 3
				y[j] -= 0.05 * g[j]
			}
		}
		require.InDeltaSlice(t, avg, ci[i], 1e-12)
	}
	// Partial participation: the identity c = (1/N) Σ c_i holds after every round.
	s, err = New(q, parts, x0, Config{Algorithm: "scaffold", PerRound: 2, LocalSteps: 3, LocalLR: 0.05, ServerLR: 1, Batch: 3, Seed: 9})
	require.NoError(t, err)
	for range 7 {
		require.NoError(t, s.Step())
		c, ci := s.Controls()
		mean := make([]float64, 3)
		for _, v := range ci {
			for j := range v {
				mean[j] += v[j] / 5
			}
		}
		require.InDeltaSlice(t, mean, c, 1e-12)
		require.NotZero(t, c[0])
	}
}

func TestDirichletSplit(t *testing.T) {
	labels := make([]int, 2000)
	for i := range labels {
		labels[i] = i % 10
	}
	// maxShare is the mean over clients of the largest class share on that client.
	maxShare := func(parts [][]int) float64 {
		tot := 0.0
		for _, p := range parts {
			cnt := make([]int, 10)
			best := 0
			for _, i := range p {
				cnt[labels[i]]++
				best = max(best, cnt[labels[i]])
			}
			if len(p) > 0 {
				tot += float64(best) / float64(len(p))
			}
		}
		return tot / float64(len(parts))
	}
	for _, tc := range []struct {
		alpha  float64
		lo, hi float64
	}{{100, 0.1, 0.2}, {1, 0.2, 0.6}, {0.1, 0.6, 1}} {
		parts, err := DirichletSplit(labels, 10, 10, tc.alpha, 5)
		require.NoError(t, err)
		seen := make([]int, len(labels))
		for _, p := range parts {
			for _, i := range p {
				seen[i]++
			}
		}
		for i, c := range seen {
			require.Equal(t, 1, c, "example %d assigned %d times at alpha %v", i, c, tc.alpha)
		}
		ms := maxShare(parts)
		require.True(t, ms >= tc.lo && ms <= tc.hi, "alpha %v: mean top-class share %.3f not in [%v, %v]", tc.alpha, ms, tc.lo, tc.hi)
		again, err := DirichletSplit(labels, 10, 10, tc.alpha, 5)
		require.NoError(t, err)
		require.Equal(t, parts, again)
		other, err := DirichletSplit(labels, 10, 10, tc.alpha, 6)
		require.NoError(t, err)
		require.NotEqual(t, parts, other)
	}
	for _, bad := range []struct {
		alpha   float64
		clients int
		labels  []int
		msg     string
	}{{0, 3, labels, "alpha = 0"}, {math.Inf(1), 3, labels, "alpha = +Inf"}, {1, 0, labels, "clients = 0"}, {1, 3, []int{0, 12}, "label 12"}} {
		_, err := DirichletSplit(bad.labels, 10, bad.clients, bad.alpha, 1)
		require.ErrorContains(t, err, bad.msg)
	}
}

func TestConfigErrors(t *testing.T) {
	q, parts := quadProblem(3, 4, 2)
	good := Config{Algorithm: "fedavg-m", PerRound: 2, LocalSteps: 2, LocalLR: 0.1, ServerLR: 1, Beta: 0.5}
	for _, tc := range []struct {
		edit func(*Config)
		msg  string
	}{
		{func(c *Config) { c.Algorithm = "fedprox" }, `"fedprox"`},
		{func(c *Config) { c.PerRound = 4 }, "PerRound = 4"},
		{func(c *Config) { c.LocalSteps = 0 }, "LocalSteps = 0"},
		{func(c *Config) { c.LocalLR = -1 }, "LocalLR = -1"},
		{func(c *Config) { c.Beta = 1.5 }, "Beta = 1.5"},
		{func(c *Config) { c.Algorithm, c.Momentum = "server-momentum", 1 }, "Momentum = 1"},
	} {
		c := good
		tc.edit(&c)
		_, err := New(q, parts, []float64{0, 0}, c)
		require.ErrorContains(t, err, tc.msg)
	}
	require.ElementsMatch(t, []string{"fedavg", "fedavg-m", "fedavg-m-vr", "server-momentum", "scaffold"}, Names())
}

func TestMLPGradient(t *testing.T) {
	be := backend.MustDefault()
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d, h, c = 12, 3, 4, 3
	x := make([]float64, n*d)
	y := make([]int, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range y {
		y[i] = i % c
	}
	for _, hidden := range []int{0, h} {
		m, err := NewMLP(be, x, y, d, hidden, c)
		require.NoError(t, err)
		w := m.Init(4)
		idx := []int{0, 3, 4, 7, 11}
		g, err := m.Grad(w, idx)
		require.NoError(t, err)
		// Central finite differences of a float64 host forward pass.
		loss := func(w []float64) float64 {
			tot := 0.0
			for _, i := range idx {
				hv, in := x[i*d:(i+1)*d], d
				off := 0
				if hidden > 0 {
					hh := make([]float64, hidden)
					for k := range hidden {
						s := w[d*hidden+k]
						for j := range d {
							s += hv[j] * w[j*hidden+k]
						}
						hh[k] = math.Tanh(s)
					}
					hv, in, off = hh, hidden, d*hidden+hidden
				}
				z := make([]float64, c)
				mx := math.Inf(-1)
				for k := range c {
					z[k] = w[off+in*c+k]
					for j := range in {
						z[k] += hv[j] * w[off+j*c+k]
					}
					mx = math.Max(mx, z[k])
				}
				lse := 0.0
				for k := range c {
					lse += math.Exp(z[k] - mx)
				}
				tot += mx + math.Log(lse) - z[y[i]]
			}
			return tot / float64(len(idx))
		}
		for j := range w {
			wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
			wp[j] += 1e-6
			wm[j] -= 1e-6
			require.InDelta(t, (loss(wp)-loss(wm))/2e-6, g[j], 1e-6, "hidden %d param %d", hidden, j)
		}
		acc, err := m.Accuracy(w, x, y)
		require.NoError(t, err)
		require.True(t, acc >= 0 && acc <= 1)
		m.Close()
	}
}
