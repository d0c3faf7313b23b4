package envs

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/moeboost/moeboost/internal/golden"
	"github.com/stretchr/testify/require"
)

// TestCartPoleHandStep checks one step from rest against the equations worked by hand.
func TestCartPoleHandStep(t *testing.T) {
	c := &CartPole{}
	c.SetState([4]float64{0, 0, 0, 0})
	num := make([]float32, 4)
	r, term := c.Step(nil, 1, nil, num, nil)
	// temp = 10/1.1; thacc = -temp/(0.5*(4/3 - 0.1/1.1)); xacc = temp - 0.05*thacc/1.1.
	temp := 10 / 1.1
	thacc := -temp / (0.5 * (4.0/3.0 - 0.1/1.1))
	xacc := temp - 0.05*thacc/1.1
	s := c.State()
	require.Equal(t, 0.0, s[0]) // x uses the old (zero) velocity
	require.InDelta(t, 0.02*xacc, s[1], 1e-15)
	require.Equal(t, 0.0, s[2])
	require.InDelta(t, 0.02*thacc, s[3], 1e-15)
	require.InDelta(t, 0.1951219512195122, s[1], 1e-12)
	require.InDelta(t, -0.2926829268292683, s[3], 1e-12)
	require.Equal(t, 1.0, r)
	require.False(t, term)
	require.Equal(t, float32(s[1]), num[1])
}

func TestMountainCarHandStep(t *testing.T) {
	m := &MountainCar{}
	m.SetState(-0.5, 0)
	num := make([]float32, 2)
	r, term := m.Step(nil, 2, nil, num, nil)
	v := 0.001 + math.Cos(-1.5)*(-0.0025)
	pos, vel := m.State()
	require.Equal(t, v, vel)
	require.Equal(t, -0.5+v, pos)
	require.Equal(t, -1.0, r)
	require.False(t, term)
	// The left wall stops the car: velocity clipped to -0.07, position to -1.2, then zeroed.
	m.SetState(-1.19, -0.07)
	m.Step(nil, 0, nil, num, nil)
	pos, vel = m.State()
	require.Equal(t, -1.2, pos)
	require.Equal(t, 0.0, vel)
}

func TestPendulumHandStep(t *testing.T) {
	p := &Pendulum{}
	p.SetState(math.Pi, 0) // theta = pi: hanging down (0 is upright)
	num := make([]float32, 3)
	r, term := p.Step(nil, 0, []float32{5}, num, nil) // torque clipped to 2
	th, thdot := p.State()
	an := angleNormalize(math.Pi)
	require.InDelta(t, -(an*an + 0.001*4), r, 1e-15)
	require.InDelta(t, (15*math.Sin(math.Pi)+3*2)*0.05, thdot, 1e-15)
	require.InDelta(t, math.Pi+thdot*0.05, th, 1e-15)
	require.False(t, term)
	require.InDelta(t, -math.Pi, angleNormalize(math.Pi), 1e-15)
	require.InDelta(t, 0.5, angleNormalize(0.5+4*math.Pi), 1e-12)
	require.InDelta(t, -0.5, angleNormalize(-0.5-4*math.Pi), 1e-12)
}

func TestAcrobotRK4Linear(t *testing.T) {
	// With zero state and zero torque the links hang still: the derivative is zero.
	d := acrobotDsdt([4]float64{0, 0, 0, 0}, 0)
	for _, v := range d {
		require.InDelta(t, 0, v, 1e-15)
	}
	require.InDelta(t, 0.5, wrap(0.5+2*math.Pi, -math.Pi, math.Pi), 1e-12)
	require.InDelta(t, -3.0, wrap(-3.0-4*math.Pi, -math.Pi, math.Pi), 1e-12)
}

type trajectory struct {
	Env   string    `json:"env"`
	Init  []float64 `json:"init"`
	Steps []struct {
		Action     *float64  `json:"action"`
		State      []float64 `json:"state"`
		Obs        []float64 `json:"obs"`
		Reward     *float64  `json:"reward"`
		Terminated *bool     `json:"terminated"`
	} `json:"steps"`
}

// recognizeTrajectories: an environment golden file is a JSON object with "cases", a list of
// {env, init, steps} (testdata/golden/envs/README.md).
func recognizeTrajectories(f golden.File) golden.Verdict {
	if !f.Has("cases") {
		return golden.Unknown
	}
	var doc struct {
		Cases []map[string]json.RawMessage `json:"cases"`
	}
	if f.Decode(&doc) != nil || len(doc.Cases) == 0 {
		return golden.Unknown
	}
	for _, k := range []string{"env", "init", "steps"} {
		if _, ok := doc.Cases[0][k]; !ok {
			return golden.Unknown
		}
	}
	return golden.Mine
}

// TestGolden replays classic-control trajectories from every environment golden file:
// testdata/golden/envs (gymnasium_classic_control.json, made by gen_gymnasium.py with
// gymnasium 1.4.0 itself, and classic_control.json, made by gen_classic.py, a numpy
// re-statement of its step functions), ../shared/golden/envs and the MOEBOOST_GOLDEN_DIR
// directories (files of other kinds there are skipped). Subtests are named after the files.
func TestGolden(t *testing.T) {
	files := golden.Select(t, "envs", recognizeTrajectories)
	golden.Run(t, files, func(t *testing.T, f golden.File) {
		var doc struct {
			Cases []trajectory `json:"cases"`
		}
		require.NoError(t, f.Decode(&doc))
		require.NotEmpty(t, doc.Cases)
		require.Equal(t, len(doc.Cases), replay(t, doc.Cases), "cases replayed")
	})
}

// replay steps every case from its initial state with the recorded actions and compares the
// state, observation, reward and termination of each step; it returns the number of cases
// replayed.
func replay(t *testing.T, cases []trajectory) int {
	done := 0
	for ci, tc := range cases {
		env, err := New(tc.Env)
		require.NoError(t, err, "case %d", ci)
		spec := env.Spec()
		num := make([]float32, spec.NumObs)
		var state func() []float64
		var dims int
		switch e := env.(type) {
		case *CartPole:
			dims = 4
			state = func() []float64 { s := e.State(); return s[:] }
		case *Acrobot:
			dims = 4
			state = func() []float64 { s := e.State(); return s[:] }
		case *MountainCar:
			dims = 2
			state = func() []float64 { p, v := e.State(); return []float64{p, v} }
		case *Pendulum:
			dims = 2
			state = func() []float64 { a, b := e.State(); return []float64{a, b} }
		default:
			t.Fatalf("case %d: no state access for %s", ci, tc.Env)
		}
		require.Len(t, tc.Init, dims, "case %d (%s): init", ci, tc.Env)
		switch e := env.(type) {
		case *CartPole:
			e.SetState([4]float64(tc.Init))
		case *Acrobot:
			e.SetState([4]float64(tc.Init))
		case *MountainCar:
			e.SetState(tc.Init[0], tc.Init[1])
		case *Pendulum:
			e.SetState(tc.Init[0], tc.Init[1])
		}
		require.NotEmpty(t, tc.Steps, "case %d (%s): no steps", ci, tc.Env)
		// Acrobot is chaotic: libm's sin/cos may differ from Go's by an ulp, and errors grow.
		tol := 1e-12
		if spec.ID == "Acrobot-v1" {
			tol = 1e-8
		}
		for si, st := range tc.Steps {
			require.True(t, st.Action != nil && st.Reward != nil && st.Terminated != nil,
				"case %d step %d: action, reward and terminated are required", ci, si)
			r, term := env.Step(nil, int(*st.Action), []float32{float32(*st.Action)}, num, nil)
			what := fmt.Sprintf("case %d (%s) step %d", ci, tc.Env, si)
			golden.RequireClose(t, what+" state", state(), st.State, tol, tol)
			obs := make([]float64, len(num))
			for k, v := range num {
				obs[k] = float64(v)
			}
			golden.RequireClose(t, what+" obs", obs, st.Obs, 1e-6, 1e-6)
			golden.RequireScalar(t, what+" reward", r, *st.Reward, 1e-12, 1e-12)
			require.Equal(t, *st.Terminated, term, "%s terminated", what)
		}
		done++
	}
	return done
}

// A trajectory file with a nudged state, one value more in an observation, a missing reward
// or a flipped termination fails.
func TestGoldenDetectsBadCases(t *testing.T) {
	files := golden.Select(t, "envs", recognizeTrajectories)
	data := files[0].Data
	step := func(doc map[string]any, c, s int) map[string]any {
		return doc["cases"].([]any)[c].(map[string]any)["steps"].([]any)[s].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"nudged state", func(doc map[string]any) {
			st := step(doc, 0, 4)["state"].([]any)
			st[1] = golden.Nudge(st[1], 1e-9)
		}, "case 0 (cartpole-v1) step 4 state[1]"},
		{"one obs more", func(doc map[string]any) {
			s := step(doc, 2, 7)
			s["obs"] = append(s["obs"].([]any), json.Number("0"))
		}, "case 2 (cartpole-v1) step 7 obs: got 4 values, want 5"},
		{"missing reward", func(doc map[string]any) { delete(step(doc, 1, 0), "reward") }, "action, reward and terminated are required"},
		{"flipped termination", func(doc map[string]any) {
			steps := doc["cases"].([]any)[0].(map[string]any)["steps"].([]any)
			s := steps[len(steps)-1].(map[string]any)
			s["terminated"] = !s["terminated"].(bool)
		}, "terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden.RequireDetects(t, "TestGolden", "zz_envs_"+strings.ReplaceAll(tc.name, " ", "_"), data, golden.Edit(t, data, tc.edit), tc.want)
		})
	}
}

func TestResetDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name   string
		lo, hi []float64
	}{
		{"cartpole-v1", []float64{-0.05, -0.05, -0.05, -0.05}, []float64{0.05, 0.05, 0.05, 0.05}},
		{"acrobot-v1", []float64{-0.1, -0.1, -0.1, -0.1}, []float64{0.1, 0.1, 0.1, 0.1}},
		{"mountaincar-v0", []float64{-0.6, 0}, []float64{-0.4, 0}},
		{"pendulum-v1", []float64{-math.Pi, -1}, []float64{math.Pi, 1}},
	} {
		e, err := New(tc.name)
		require.NoError(t, err)
		num := make([]float32, e.Spec().NumObs)
		for i := 0; i < 200; i++ {
			e.Reset(rng, num, nil)
			var s []float64
			switch e := e.(type) {
			case *CartPole:
				a := e.State()
				s = a[:]
			case *Acrobot:
				a := e.State()
				s = a[:]
				for _, v := range s {
					require.Equal(t, float64(float32(v)), v, "acrobot reset state is float32")
				}
			case *MountainCar:
				p, v := e.State()
				s = []float64{p, v}
			case *Pendulum:
				p, v := e.State()
				s = []float64{p, v}
			}
			for k := range s {
				require.GreaterOrEqual(t, s[k], tc.lo[k], tc.name)
				require.LessOrEqual(t, s[k], tc.hi[k], tc.name)
			}
		}
	}
}

func TestRegistry(t *testing.T) {
	require.Equal(t, []string{"acrobot-v1", "cartpole-v1", "keydoor-5x5-v0", "mountaincar-v0", "pendulum-v1"}, Names())
	for _, id := range []string{"CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "KeyDoor-5x5-v0"} {
		s, err := SpecOf(id)
		require.NoError(t, err)
		require.Equal(t, id, s.ID)
	}
	_, err := New("LunarLander-v2")
	require.ErrorContains(t, err, `unknown environment "lunarlander-v2"`)
	require.ErrorContains(t, err, `"cartpole-v1"`)
	for _, tc := range []struct {
		id       string
		steps    int
		thresh   float64
		hasThr   bool
		actions  int
		actDim   int
		num, cat int
	}{
		{"CartPole-v1", 500, 475, true, 2, 0, 4, 0},
		{"Acrobot-v1", 500, -100, true, 3, 0, 6, 0},
		{"MountainCar-v0", 200, -110, true, 3, 0, 2, 0},
		{"Pendulum-v1", 200, 0, false, 0, 1, 3, 0},
		{"KeyDoor-5x5-v0", 250, 0, false, 7, 0, 0, 51},
	} {
		s, err := SpecOf(tc.id)
		require.NoError(t, err)
		require.Equal(t, tc.steps, s.MaxEpisodeSteps, tc.id)
		require.Equal(t, tc.hasThr, s.HasRewardThreshold, tc.id)
		require.Equal(t, tc.thresh, s.RewardThreshold, tc.id)
		require.Equal(t, tc.actions, s.Actions, tc.id)
		require.Equal(t, tc.actDim, s.ActionDim, tc.id)
		require.Equal(t, tc.num, s.NumObs, tc.id)
		require.Equal(t, tc.cat, s.CatObs, tc.id)
	}
}

func TestVecTimeLimitAndAutoReset(t *testing.T) {
	v, err := NewVec("MountainCar-v0", 3, 7)
	require.NoError(t, err)
	acts := []int{1, 1, 1} // no push: never reaches the goal
	for step := 1; step <= 200; step++ {
		before := append([]float32(nil), v.Num...)
		v.Step(acts, nil)
		for i := 0; i < 3; i++ {
			require.False(t, v.Terminated[i])
			require.Equal(t, step == 200, v.Truncated[i], "step %d", step)
		}
		if step == 200 {
			// The final observation is the one the step produced; Num holds a fresh start.
			for i := 0; i < 3; i++ {
				require.Equal(t, float32(0), v.Num[i*2+1])
				require.GreaterOrEqual(t, v.Num[i*2], float32(-0.6))
				require.LessOrEqual(t, v.Num[i*2], float32(-0.4))
				require.NotEqual(t, before[i*2:i*2+2], v.FinalNum[i*2:i*2+2])
			}
		}
	}
	eps := v.Episodes()
	require.Len(t, eps, 3)
	for _, e := range eps {
		require.Equal(t, Episode{Return: -200, Length: 200, Truncated: true}, e)
	}
	require.Empty(t, v.Episodes())
	require.Equal(t, 600, v.TotalSteps)
}

func TestVecSeeding(t *testing.T) {
	a, err := NewVec("cartpole-v1", 4, 11)
	require.NoError(t, err)
	b, err := NewVec("cartpole-v1", 4, 11)
	require.NoError(t, err)
	c, err := NewVec("cartpole-v1", 4, 12)
	require.NoError(t, err)
	require.Equal(t, a.Num, b.Num)
	require.NotEqual(t, a.Num, c.Num)
	require.NotEqual(t, a.Num[0:4], a.Num[4:8], "copies use different streams")
	for k := 0; k < 300; k++ {
		acts := []int{k % 2, (k / 3) % 2, 1, 0}
		a.Step(acts, nil)
		b.Step(acts, nil)
		require.Equal(t, a.Num, b.Num)
		require.Equal(t, a.Terminated, b.Terminated)
	}
	// A pole pushed one way falls in well under 500 steps: the episode terminates, not truncates.
	eps := a.Episodes()
	require.NotEmpty(t, eps)
	for _, e := range eps {
		require.False(t, e.Truncated)
		require.Equal(t, float64(e.Length), e.Return)
	}
	_, err = NewVec("cartpole-v1", 0, 1)
	require.ErrorContains(t, err, "number of environments 0 must be >= 1")
}

func TestVecContinuous(t *testing.T) {
	// Each copy's return is recomputed by an independent float64 re-statement of gymnasium's
	// Pendulum-v1 (pendulum.py: cost from the pre-step state with angle_normalize((x+pi) mod 2pi
	// - pi), clipped torque, semi-implicit Euler, speed clip), started from the state the copy
	// was reset to. Copy 1's action -3 checks the torque clip at -2.
	actions := []float32{0.5, -3}
	v, err := NewVec("pendulum-v1", 2, 3)
	require.NoError(t, err)
	want := make([]float64, 2)
	for i := range want {
		th, thdot := v.envs[i].(*Pendulum).State()
		require.InDelta(t, 0, th, math.Pi)
		require.InDelta(t, 0, thdot, 1)
		u := math.Max(-2, math.Min(2, float64(actions[i])))
		for k := 0; k < 200; k++ {
			a := math.Mod(th+math.Pi, 2*math.Pi)
			if a < 0 {
				a += 2 * math.Pi
			}
			a -= math.Pi
			want[i] -= a*a + 0.1*thdot*thdot + 0.001*u*u
			thdot += (3*10/(2*1.0)*math.Sin(th) + 3.0/(1.0*1.0*1.0)*u) * 0.05
			thdot = math.Max(-8, math.Min(8, thdot))
			th += thdot * 0.05
		}
	}
	for k := 0; k < 200; k++ {
		v.Step(nil, actions)
	}
	eps := v.Episodes()
	require.Len(t, eps, 2)
	for i, e := range eps {
		require.True(t, e.Truncated)
		require.Equal(t, 200, e.Length)
		require.InDelta(t, want[i], e.Return, 1e-9*math.Abs(want[i]), "copy %d", i)
	}
	require.NotEqual(t, eps[0].Return, eps[1].Return)
}

func TestKeyDoorScriptedSolution(t *testing.T) {
	k := &KeyDoor{}
	spec := k.Spec()
	cat := make([]string, spec.CatObs)
	// Agent at (1,1) facing down, key at (1,3), door at (2,2).
	require.NoError(t, k.SetLayout(1, 1, 1, 2, 1, 3, cat))
	cell := func(r, c int) string { return cat[r*7+c] }
	require.Equal(t, "empty", cell(6, 3), "own cell, nothing carried")
	require.Equal(t, "empty", cell(5, 3), "cell in front")
	require.Equal(t, "key,yellow", cell(4, 3))
	require.Equal(t, "wall,grey", cell(3, 3))
	require.Equal(t, "unseen", cell(2, 3), "behind the wall")
	require.Equal(t, "wall,grey", cell(6, 2), "wall column to the agent's right-hand side when facing down")
	require.Equal(t, "1", cat[49])
	require.Equal(t, "none", cat[50])

	script := []int{2, 3, 0, 5, 2, 2, 1, 2} // forward, pickup, left, toggle, fwd, fwd, right, fwd
	var r float64
	var term bool
	for i, a := range script {
		r, term = k.Step(nil, a, nil, nil, cat)
		if i == 1 {
			require.Equal(t, "key,yellow", cat[50])
			require.Equal(t, "key,yellow", cell(6, 3), "the carried key shows in the agent's cell")
		}
		if i == 3 {
			require.Equal(t, "door,yellow,open", cell(5, 3))
		}
		if i < len(script)-1 {
			require.False(t, term, "step %d", i)
			require.Equal(t, 0.0, r)
		}
	}
	require.True(t, term)
	require.InDelta(t, 1-0.9*8.0/250, r, 1e-15)
}

func TestKeyDoorLockedDoorBlocks(t *testing.T) {
	k := &KeyDoor{}
	cat := make([]string, k.Spec().CatObs)
	require.NoError(t, k.SetLayout(1, 2, 0, 2, 1, 3, cat)) // facing the locked door
	require.Equal(t, "door,yellow,locked", cat[5*7+3])
	require.Equal(t, "unseen", cat[4*7+3], "a locked door hides what is behind it")
	k.Step(nil, 2, nil, nil, cat) // forward into a locked door: no move
	require.Equal(t, 1, k.x)
	k.Step(nil, 5, nil, nil, cat) // toggle without the key: stays locked
	require.Equal(t, "door,yellow,locked", cat[5*7+3])
	require.Error(t, k.SetLayout(3, 1, 0, 1, 1, 2, cat))
}

func TestKeyDoorVecAndOneHot(t *testing.T) {
	v, err := NewVec("keydoor-5x5-v0", 2, 5)
	require.NoError(t, err)
	s := v.Spec()
	require.Equal(t, 49*8+4+2, s.OneHotDim())
	oh := s.OneHot(v.Cat, 2)
	require.Len(t, oh, 2*s.OneHotDim())
	for i := 0; i < 2; i++ {
		sum := float32(0)
		for _, x := range oh[i*s.OneHotDim() : (i+1)*s.OneHotDim()] {
			sum += x
		}
		require.Equal(t, float32(51), sum, "one value per categorical feature")
	}
	// A random policy for 250 steps ends every episode by the time limit at the latest.
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 250; k++ {
		v.Step([]int{rng.IntN(7), rng.IntN(7)}, nil)
	}
	eps := v.Episodes()
	require.GreaterOrEqual(t, len(eps), 2)
	for _, e := range eps {
		require.LessOrEqual(t, e.Length, 250)
		if e.Truncated {
			require.Equal(t, 0.0, e.Return)
		} else {
			require.InDelta(t, 1-0.9*float64(e.Length)/250, e.Return, 1e-12)
		}
	}
}
