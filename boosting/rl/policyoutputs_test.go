package rl

import (
	"testing"

	"github.com/moeboost/moeboost/train/backend"
	"github.com/stretchr/testify/require"
)

// TestPolicyOutputs checks that PolicyOutputs returns the policy slice of the agent's
// predictions (not the value) for tree and network agents, shared and separate.
func TestPolicyOutputs(t *testing.T) {
	for _, tc := range []struct {
		name, env, model string
		shared           bool
	}{
		{"trees-separate-discrete", "CartPole-v1", ModelTrees, false},
		{"trees-shared-continuous", "Pendulum-v1", ModelTrees, true},
		{"nn-discrete", "Acrobot-v1", ModelNN, false},
		{"nn-continuous", "Pendulum-v1", ModelNN, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Env: tc.env, Model: tc.model, Shared: tc.shared, Backend: backend.MustDefault()}
			ac, err := NewActorCritic(cfg)
			require.NoError(t, err)
			obs := Obs{N: 3, NumDim: ac.Spec.NumObs, Num: make([]float32, 3*ac.Spec.NumObs)}
			for i := range obs.Num {
				obs.Num[i] = float32(i%5) * 0.1
			}
			got, err := ac.PolicyOutputs(obs)
			require.NoError(t, err)
			require.Len(t, got, 3*ac.PolicyDim)
			p, err := ac.predict(obs)
			require.NoError(t, err)
			require.Equal(t, p.pol, got)
			if tc.model == ModelNN {
				// The value head is a separate output of the joint network: outputs hold
				// PolicyDim+1 values per row, PolicyOutputs the first PolicyDim.
				joint, err := ac.Joint.Predict(obs)
				require.NoError(t, err)
				for i := 0; i < 3; i++ {
					require.Equal(t, joint[i*(ac.PolicyDim+1):i*(ac.PolicyDim+1)+ac.PolicyDim], got[i*ac.PolicyDim:(i+1)*ac.PolicyDim])
				}
			}
		})
	}
}
