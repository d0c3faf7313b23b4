package imitation

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// dampingController is a continuous Pendulum policy u = clip(-1.5 * thetadot, -2, 2)
// (observations cos, sin, thetadot).
type dampingController struct{}

func (dampingController) Act(obs []float32, n int, _ *rand.Rand, _ bool) ([]int, []float32, error) {
	u := make([]float32, n)
	for i := range u {
		u[i] = min(max(-1.5*obs[i*3+2], -2), 2)
	}
	return nil, u, nil
}

func TestBCRegistered(t *testing.T) {
	m, err := Get("bc")
	require.NoError(t, err)
	require.NotNil(t, m)
	require.Contains(t, Methods(), "bc")
}

// TestBCClonesABalancingController: BC on 4 trajectories of the hand-coded CartPole controller
// (each 500 steps) balances for hundreds of steps on fresh episodes.
func TestBCClonesABalancingController(t *testing.T) {
	demos, err := Collect("cartpole-v1", pdController{}, 4, 7)
	require.NoError(t, err)
	require.Equal(t, 500.0, demos.MeanReturn())
	res, err := BC(context.Background(), demos, Config{Seed: 1}, nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.EnvSteps)
	require.Equal(t, 500.0, res.Extra["val_rows"], "one of 4 trajectories held out")
	require.Equal(t, 1500.0, res.Extra["train_rows"])
	rets, err := Evaluate("cartpole-v1", res.Policy, 20, 99)
	require.NoError(t, err)
	m := meanOf(rets)
	t.Logf("BC on 4 controller trajectories: mean return %.1f over 20 fresh episodes (steps %v, best val loss %.4f)",
		m, res.Extra["bc_steps"], res.Extra["best_val_loss"])
	require.Greater(t, m, 400.0)
	// The clone agrees with the controller on the demonstrated states.
	disc, _, err := res.Policy.Act(demos.Obs, demos.N(), nil, true)
	require.NoError(t, err)
	agree := 0
	for i, a := range disc {
		if a == demos.Discrete[i] {
			agree++
		}
	}
	require.Greater(t, float64(agree)/float64(demos.N()), 0.95)
}

// TestBCContinuous: on one Pendulum trajectory of a damping controller, BC's mean actions
// reproduce the controller's on the demonstrated states (scaled MSE), and stochastic actions
// stay within the bounds.
func TestBCContinuous(t *testing.T) {
	demos, err := Collect("pendulum-v1", dampingController{}, 1, 3)
	require.NoError(t, err)
	res, err := BC(context.Background(), demos, Config{Seed: 2, Params: map[string]float64{"steps": 1500}}, nil)
	require.NoError(t, err)
	require.Equal(t, 0.0, res.Extra["val_rows"], "one trajectory: no validation split")
	require.Equal(t, 1500.0, res.Extra["bc_steps"])
	_, u, err := res.Policy.Act(demos.Obs, demos.N(), nil, true)
	require.NoError(t, err)
	var se float64
	for i, a := range demos.Continuous {
		se += float64((u[i] - a) * (u[i] - a))
	}
	rmse := math.Sqrt(se / float64(len(u)))
	t.Logf("BC on a damping controller: action RMSE %.4f (actions in [-2, 2])", rmse)
	require.Less(t, rmse, 0.1)
	_, us, err := res.Policy.Act(demos.Obs, demos.N(), rand.New(rand.NewPCG(1, 2)), false)
	require.NoError(t, err)
	for _, v := range us {
		require.True(t, v >= -2 && v <= 2, "action %v outside the bounds", v)
	}
}

func TestBCRejectsBadConfig(t *testing.T) {
	demos, err := Collect("cartpole-v1", constPolicy{a: 1}, 1, 1)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown", Config{Params: map[string]float64{"epochz": 3}}, `no parameter "epochz"; known: batch_size, eval_every, lr`},
		{"steps", Config{Params: map[string]float64{"steps": 0}}, "steps=0 must be an integer >= 1"},
		{"fraction", Config{Params: map[string]float64{"val_fraction": 1}}, "val_fraction=1 must be in (0, 1)"},
		{"lr", Config{Params: map[string]float64{"lr": -1}}, "lr=-1 must be > 0"},
		{"hidden", Config{Hidden: []int{8, 0}}, "hidden width 0 must be >= 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BC(context.Background(), demos, tc.cfg, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err = BC(context.Background(), &Demos{}, Config{}, nil)
	require.ErrorContains(t, err, "0 trajectories")
}
