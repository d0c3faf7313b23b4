package diffusion

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func TestNamesAndUnknown(t *testing.T) {
	require.Equal(t, []string{"apg", "cfg"}, Names())
	_, err := New("pag", Config{})
	require.ErrorContains(t, err, `"pag"`)
	require.ErrorContains(t, err, `"apg", "cfg"`)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Momentum: -1}, "momentum=-1"},
		{Config{Momentum: 1.5}, "momentum=1.5"},
		{Config{NormThreshold: -2}, "norm_threshold=-2"},
		{Config{Eta: math.NaN()}, "eta=NaN"},
	} {
		_, err := New("apg", tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	g, err := New("apg", Config{})
	require.NoError(t, err)
	_, err = g.Guide([]float64{1, 2, 3}, []float64{1, 2, 3}, 2, 3)
	require.ErrorContains(t, err, "batch=2")
}

// eta=1, r=+Inf, beta=0 must reproduce CFG: cond + (w-1)Δ = uncond + wΔ.
func TestAPGReducesToCFG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, w := range []float64{1, 3, 7.5, 15} {
		for _, r := range []float64{0, math.Inf(1)} {
			cond, uncond := randVec(rng, 4*9), randVec(rng, 4*9)
			apg, err := New("apg", Config{Eta: 1, NormThreshold: r})
			require.NoError(t, err)
			cfg, err := New("cfg", Config{})
			require.NoError(t, err)
			a, err := apg.Guide(cond, uncond, 4, w)
			require.NoError(t, err)
			c, err := cfg.Guide(cond, uncond, 4, w)
			require.NoError(t, err)
			require.InDeltaSlice(t, c, a, 1e-12, "w=%v r=%v", w, r)
		}
	}
}

// ref re-states APG per sample with the projection written as a least-squares coefficient
// (Δ·c)/(c·c), independent of the unit-vector form in the package.
func ref(cond, uncond, buf []float64, batch int, w float64, c Config) (out, newBuf []float64) {
	dim := len(cond) / batch
	out = make([]float64, len(cond))
	newBuf = make([]float64, len(cond))
	for b := 0; b < batch; b++ {
		lo, hi := b*dim, (b+1)*dim
		d := make([]float64, dim)
		for i := lo; i < hi; i++ {
			d[i-lo] = cond[i] - uncond[i] + c.Momentum*buf[i]
			newBuf[i] = d[i-lo]
		}
		var nn float64
		for _, x := range d {
			nn += x * x
		}
		if c.NormThreshold > 0 && math.Sqrt(nn) > c.NormThreshold {
			for i := range d {
				d[i] *= c.NormThreshold / math.Sqrt(nn)
			}
		}
		var dc, cc float64
		for i := lo; i < hi; i++ {
			dc += d[i-lo] * cond[i]
			cc += cond[i] * cond[i]
		}
		k := dc / cc
		for i := lo; i < hi; i++ {
			par := k * cond[i]
			out[i] = cond[i] + (w-1)*((d[i-lo]-par)+c.Eta*par)
		}
	}
	return out, newBuf
}

func TestAPGPiecesAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []Config{
		{Eta: 0},                     // projection only
		{Eta: 0.3},                   // parallel part scaled
		{Eta: 1, NormThreshold: 0.5}, // rescaling only (radius below every ‖Δ‖)
		{Eta: 1, Momentum: -0.75},    // reverse momentum only
		{Eta: 0, NormThreshold: 2, Momentum: -0.5}, // all together
	} {
		g, err := New("apg", c)
		require.NoError(t, err)
		batch, dim := 3, 16
		buf := make([]float64, batch*dim)
		for run := 0; run < 2; run++ {
			g.Reset()
			for i := range buf {
				buf[i] = 0
			}
			for step := 0; step < 4; step++ {
				cond, uncond := randVec(rng, batch*dim), randVec(rng, batch*dim)
				got, err := g.Guide(cond, uncond, batch, 6)
				require.NoError(t, err)
				var want []float64
				want, buf = ref(cond, uncond, buf, batch, 6, c)
				require.InDeltaSlice(t, want, got, 1e-10, "cfg=%+v run=%d step=%d", c, run, step)
			}
		}
	}
}

// With eta=0 the update is orthogonal to cond, and rescaling caps the update's norm at r.
func TestAPGGeometry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cond, uncond := randVec(rng, 2*8), randVec(rng, 2*8)
	g, err := New("apg", Config{Eta: 0, NormThreshold: 0.1})
	require.NoError(t, err)
	w := 5.0
	out, err := g.Guide(cond, uncond, 2, w)
	require.NoError(t, err)
	for b := 0; b < 2; b++ {
		var dot, n2 float64
		for i := b * 8; i < (b+1)*8; i++ {
			u := (out[i] - cond[i]) / (w - 1)
			dot += u * cond[i]
			n2 += u * u
		}
		require.InDelta(t, 0, dot, 1e-12)
		require.LessOrEqual(t, math.Sqrt(n2), 0.1+1e-12)
		require.Greater(t, math.Sqrt(n2), 0.0)
	}
}
