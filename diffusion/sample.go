package diffusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Sampler runs guided DDIM sampling with a trained Denoiser.
type Sampler struct {
	d    Denoiser
	ab   []float64
	exec *model.Exec
}

// NewSampler compiles the denoiser of store (as trained by Train) for sampling.
func NewSampler(be compute.Backend, store *model.Store, d Denoiser) (*Sampler, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	ab, err := CosineAlphaBar(d.T)
	if err != nil {
		return nil, err
	}
	exec, err := model.NewExec(be, store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		scope.Store().SetTraining(in[0].Graph(), false)
		return []*graph.Node{d.Build(scope.In("denoiser"), in[0], in[1], in[2])}
	})
	if err != nil {
		return nil, err
	}
	return &Sampler{d: d, ab: ab, exec: exec}, nil
}

// Close releases the compiled denoiser.
func (s *Sampler) Close() { s.exec.Finalize() }

// Timesteps returns the DDIM sub-sequence for steps sampling steps, from high noise to low:
// t_i = 1 + (i-1)·⌊T/steps⌋ for i = steps..1 (the "leading" spacing with offset 1 of diffusers'
// DDIMScheduler), so the first level is below T, where the clipped cosine ᾱ_T ≈ 0 would make
// the x0 estimate explode; the last step goes to ᾱ_0 = 1.
func (s *Sampler) Timesteps(steps int) ([]int, error) {
	if steps < 1 || steps > s.d.T {
		return nil, fmt.Errorf("diffusion: sampling steps %d must be in [1, T=%d]", steps, s.d.T)
	}
	ratio := s.d.T / steps
	ts := make([]int, steps)
	for i := range steps {
		ts[i] = 1 + (steps-1-i)*ratio
	}
	return ts, nil
}

// Sample draws one image per entry of classes ([n, Pixels] row-major, float64) by deterministic
// DDIM (Song et al. 2021, Eq. 12, σ = 0) from x_T ~ N(0, I) drawn with seed. At every step the
// conditional and the null-class predictions run in one batch of 2n, each ε is turned into an
// x0 prediction (X0FromEps), the guider combines them in x0 space (the space APG is defined in,
// Sadat et al. 2025, Sec. 4), and DDIMStep moves to the next level. The guider is Reset once at
// the start (APG's momentum buffer lives for one sampling run). The output is not clipped.
func (s *Sampler) Sample(classes []int, g Guider, w float64, steps int, seed uint64) ([]float64, error) {
	n, p := len(classes), s.d.Pixels
	if n == 0 {
		return nil, fmt.Errorf("diffusion: no classes to sample")
	}
	for i, c := range classes {
		if c < 0 || c >= s.d.Classes {
			return nil, fmt.Errorf("diffusion: class %d at %d outside [0, %d)", c, i, s.d.Classes)
		}
	}
	ts, err := s.Timesteps(steps)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x6464696d))
	x := make([]float64, n*p)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	cs := make([]int32, 2*n)
	for i, c := range classes {
		cs[i], cs[n+i] = int32(c), int32(s.d.Null())
	}
	g.Reset()
	xin := make([]float32, 2*n*p)
	tin := make([]float32, 2*n)
	for k, t := range ts {
		prev := 0
		if k+1 < len(ts) {
			prev = ts[k+1]
		}
		for i, v := range x {
			xin[i], xin[n*p+i] = float32(v), float32(v)
		}
		for i := range tin {
			tin[i] = float32(t)
		}
		res, err := s.exec.Call(tensors.FromFlatDataAndDimensions(xin, 2*n, p),
			tensors.FromFlatDataAndDimensions(tin, 2*n), tensors.FromFlatDataAndDimensions(cs, 2*n))
		if err != nil {
			return nil, err
		}
		eps32 := tensors.MustCopyFlatData[float32](res[0])
		res[0].MustFinalizeAll()
		eps := make([]float64, len(eps32))
		for i, v := range eps32 {
			eps[i] = float64(v)
		}
		x0c := X0FromEps(x, eps[:n*p], s.ab[t])
		x0u := X0FromEps(x, eps[n*p:], s.ab[t])
		x0, err := g.Guide(x0c, x0u, n, w)
		if err != nil {
			return nil, err
		}
		x = DDIMStep(x, x0, s.ab[t], s.ab[prev])
	}
	return x, nil
}
