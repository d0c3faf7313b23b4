package imitation

import (
	"fmt"

	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// Collect runs n episodes of env with p acting deterministically (episode i seeded as copy i
// of envs.NewVec(env, n, seed)) and returns them as demonstrations, trajectory after
// trajectory. Terminal marks only true terminations (CartPole falling, Acrobot reaching the
// line), never the time limit, so a trajectory cut at MaxEpisodeSteps has no terminal row.
// Continuous actions are stored clipped to the action bounds (what the environment executed).
func Collect(env string, p Policy, n int, seed uint64) (*Demos, error) {
	ep, err := rollout(env, p, n, seed, true, true)
	if err != nil {
		return nil, err
	}
	spec, err := envs.SpecOf(env)
	if err != nil {
		return nil, err
	}
	d := &Demos{Env: env, Spec: spec, Trajectories: n, Returns: ep.returns, Lengths: ep.lengths}
	for i := 0; i < n; i++ {
		d.Obs = append(d.Obs, ep.obs[i]...)
		d.Next = append(d.Next, ep.next[i]...)
		d.Terminal = append(d.Terminal, ep.terminal[i]...)
		if spec.Discrete() {
			d.Discrete = append(d.Discrete, ep.discrete[i]...)
		} else {
			d.Continuous = append(d.Continuous, ep.cont[i]...)
		}
	}
	return d, d.Validate()
}

// Validate reports demonstrations that are empty or whose slices disagree: Lengths and
// Returns must have Trajectories entries, every length must be >= 1, they must sum to N, Obs
// and Next must be [N, NumObs], and actions [N] (discrete, within [0, Actions)) or [N,
// ActionDim] (continuous); only a trajectory's last row may be terminal.
func (d *Demos) Validate() error {
	if d == nil {
		return fmt.Errorf("imitation: nil demonstrations")
	}
	if d.Trajectories < 1 {
		return fmt.Errorf("imitation: demonstrations hold %d trajectories; need >= 1", d.Trajectories)
	}
	if len(d.Lengths) != d.Trajectories || len(d.Returns) != d.Trajectories {
		return fmt.Errorf("imitation: %d trajectories but %d lengths and %d returns", d.Trajectories, len(d.Lengths), len(d.Returns))
	}
	n := 0
	for i, l := range d.Lengths {
		if l < 1 {
			return fmt.Errorf("imitation: trajectory %d has length %d; need >= 1", i, l)
		}
		n += l
	}
	s := d.Spec
	if s.NumObs < 1 {
		return fmt.Errorf("imitation: demonstrations of %q have no observation features (spec not set?)", d.Env)
	}
	if len(d.Terminal) != n {
		return fmt.Errorf("imitation: lengths sum to %d but Terminal has %d rows", n, len(d.Terminal))
	}
	if len(d.Obs) != n*s.NumObs || len(d.Next) != n*s.NumObs {
		return fmt.Errorf("imitation: Obs has %d and Next %d values; need N*NumObs = %d*%d", len(d.Obs), len(d.Next), n, s.NumObs)
	}
	if s.Discrete() {
		if len(d.Discrete) != n || len(d.Continuous) != 0 {
			return fmt.Errorf("imitation: %s has discrete actions: need %d action indices, have %d (and %d continuous values)", s.ID, n, len(d.Discrete), len(d.Continuous))
		}
		for i, a := range d.Discrete {
			if a < 0 || a >= s.Actions {
				return fmt.Errorf("imitation: row %d has action %d; %s has actions [0, %d)", i, a, s.ID, s.Actions)
			}
		}
	} else if len(d.Continuous) != n*s.ActionDim || len(d.Discrete) != 0 {
		return fmt.Errorf("imitation: %s has continuous actions: need N*ActionDim = %d*%d values, have %d (and %d discrete)", s.ID, n, s.ActionDim, len(d.Continuous), len(d.Discrete))
	}
	off := 0
	for i, l := range d.Lengths {
		for r := off; r < off+l-1; r++ {
			if d.Terminal[r] {
				return fmt.Errorf("imitation: row %d of trajectory %d is terminal but is not its last row", r, i)
			}
		}
		off += l
	}
	return nil
}

// Subset returns the first k trajectories of d (copies of its slices).
func (d *Demos) Subset(k int) (*Demos, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if k < 1 || k > d.Trajectories {
		return nil, fmt.Errorf("imitation: subset of %d trajectories; must be in [1, %d]", k, d.Trajectories)
	}
	n := 0
	for _, l := range d.Lengths[:k] {
		n += l
	}
	o, ad := d.Spec.NumObs, d.Spec.ActionDim
	s := &Demos{Env: d.Env, Spec: d.Spec, Trajectories: k,
		Returns: append([]float64(nil), d.Returns[:k]...), Lengths: append([]int(nil), d.Lengths[:k]...),
		Obs: append([]float32(nil), d.Obs[:n*o]...), Next: append([]float32(nil), d.Next[:n*o]...),
		Terminal: append([]bool(nil), d.Terminal[:n]...)}
	if d.Spec.Discrete() {
		s.Discrete = append([]int(nil), d.Discrete[:n]...)
	} else {
		s.Continuous = append([]float32(nil), d.Continuous[:n*ad]...)
	}
	return s, nil
}

// Offsets returns the first row of each trajectory and, last, N.
func (d *Demos) Offsets() []int {
	off := make([]int, len(d.Lengths)+1)
	for i, l := range d.Lengths {
		off[i+1] = off[i] + l
	}
	return off
}

// MeanReturn is the mean return of the demonstrated trajectories.
func (d *Demos) MeanReturn() float64 { return meanOf(d.Returns) }
