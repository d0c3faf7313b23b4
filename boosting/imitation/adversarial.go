package imitation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // GoMLX's graph-building style
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/moeboost/moeboost/boosting/rl/envs"
)

// Replay modes of the discriminator's policy samples.
const (
	// ReplayBoosted is AILBoost's weighted replay: the samples of learner t (collected by its
	// policy snapshot) carry weight alpha_t, where each new learner gets eta and every older
	// one is scaled by 1 - eta (the official ReplayBufferMemory.get_weights).
	ReplayBoosted = "boosted"
	// ReplayUniform is DAC's replay: every policy sample so far, uniformly.
	ReplayUniform = "uniform"
	// ReplayLatest is GAIL's on-policy discriminator: only the newest policy's samples.
	ReplayLatest = "latest"
)

// adversarial describes one adversarial imitation method: the discriminator's divergence and
// replay, and whether the returned policy is the boosted mixture of snapshots.
type adversarial struct {
	divergence string
	replay     string
	mixture    bool
}

func init() {
	// AILBoost (Chang et al. 2024): rkl discriminator on the boosted replay, mixture policy.
	Register("ailboost", adversarial{DivergenceRKL, ReplayBoosted, true}.train)
	// DAC (Kostrikov et al. 2019; the AILBoost repository's baseline): js discriminator on a
	// uniform replay of every policy sample, the last policy.
	Register("dac", adversarial{DivergenceJS, ReplayUniform, false}.train)
	// GAIL-style (Ho & Ermon 2016): one discriminator trained on the newest policy's samples
	// only, the last policy; the same off-policy learner as the others, so the comparison
	// isolates the discriminator's replay.
	Register("gail", adversarial{DivergenceJS, ReplayLatest, false}.train)
}

// advParams are the adversarial methods' settings, read from Config.Params by name. The
// defaults follow the official configs (config.yaml, boosting.yaml, sac.yaml) except where a
// 2-core laptop budget of 10^4 env steps needs otherwise: networks 64x64 (official 1024x1024),
// SAC batch 128 (1024), learning rate 3e-4 (1e-4), one SAC update per env step (official one
// per 2 steps with action repeat 2), initial temperature 0.1 (1), 1000 random seed steps
// (5000), discrete target entropy 0.5 log|A| (discrete SAC is not in the official code).
type advParams struct {
	Eta             float64 // boosting step (official eta 0.05)
	Samples         int     // env steps collected per learner (official n_samples 1000)
	DiscIter        int     // discriminator steps per learner (official disc_iter 100)
	DiscBatch       int     // expert and policy rows per discriminator step
	GP              float64 // gradient-penalty weight (official 10)
	UpdatesPerStep  float64 // SAC updates per collected env step (official 1 per 2 steps with action repeat 2)
	SeedSteps       int     // uniform-random env steps before learning
	SortedWeights   bool    // evaluate the mixture with the official sorted weights
	sac             sacConfig
	discHidden      []int
	evalDeterminist bool
}

var advParamNames = []string{"eta", "n_samples", "disc_iter", "disc_batch", "gp", "updates_per_step", "seed_steps",
	"sorted_weights", "lr", "batch", "gamma", "tau", "init_log_alpha", "target_entropy_ratio", "disc_hidden"}

func readAdvParams(cfg Config) (advParams, error) {
	p := advParams{Eta: 0.05, Samples: 1000, DiscIter: 100, DiscBatch: 128, GP: 10, UpdatesPerStep: 1, SeedSteps: 1000,
		SortedWeights: true, discHidden: []int{64, 64},
		sac: sacConfig{Hidden: []int{64, 64}, LR: 3e-4, Batch: 128, Gamma: 0.99, Tau: 5e-3, InitLogAlpha: math.Log(0.1),
			TargetEntropyRatio: 0.5, LogStdMin: -5, LogStdMax: 2}}
	if len(cfg.Hidden) > 0 {
		p.sac.Hidden = slices.Clone(cfg.Hidden)
	}
	for k, v := range cfg.Params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return p, fmt.Errorf("imitation: parameter %s = %v must be finite", k, v)
		}
		switch k {
		case "eta":
			p.Eta = v
		case "n_samples":
			p.Samples = int(v)
		case "disc_iter":
			p.DiscIter = int(v)
		case "disc_batch":
			p.DiscBatch = int(v)
		case "gp":
			p.GP = v
		case "updates_per_step":
			p.UpdatesPerStep = v
		case "seed_steps":
			p.SeedSteps = int(v)
		case "sorted_weights":
			p.SortedWeights = v != 0
		case "lr":
			p.sac.LR = v
		case "batch":
			p.sac.Batch = int(v)
		case "gamma":
			p.sac.Gamma = v
		case "tau":
			p.sac.Tau = v
		case "init_log_alpha":
			p.sac.InitLogAlpha = v
		case "target_entropy_ratio":
			p.sac.TargetEntropyRatio = v
		case "disc_hidden":
			p.discHidden = []int{int(v), int(v)}
		default:
			return p, fmt.Errorf("imitation: unknown parameter %q: known are %s", k, strings.Join(advParamNames, ", "))
		}
	}
	switch {
	case !(p.Eta > 0 && p.Eta < 1):
		return p, fmt.Errorf("imitation: eta %g must be in (0, 1)", p.Eta)
	case p.Samples < 1:
		return p, fmt.Errorf("imitation: n_samples %d must be >= 1", p.Samples)
	case p.DiscIter < 0 || p.DiscBatch < 1:
		return p, fmt.Errorf("imitation: disc_iter %d must be >= 0 and disc_batch %d >= 1", p.DiscIter, p.DiscBatch)
	case !(p.GP >= 0):
		return p, fmt.Errorf("imitation: gp %g must be >= 0", p.GP)
	case !(p.UpdatesPerStep > 0):
		return p, fmt.Errorf("imitation: updates_per_step %g must be > 0", p.UpdatesPerStep)
	case p.SeedSteps < 0:
		return p, fmt.Errorf("imitation: seed_steps %d must be >= 0", p.SeedSteps)
	case p.discHidden[0] < 1:
		return p, fmt.Errorf("imitation: disc_hidden %d must be >= 1", p.discHidden[0])
	}
	return p, p.sac.validate()
}

// replay holds every transition collected (plus DAC's absorbing transitions), in the agent's
// augmented observation space.
type replay struct {
	obsDim, actDim int
	obs, act, next []float32
	reward         []float32
	learner        []int     // block index of the learner whose snapshot collected it (-1: random seed steps)
	disc           []float32 // discriminator input rows
	blocks         [][]int   // rows of each learner block
	seedRows       []int
}

func (r *replay) n() int { return len(r.learner) }

func (r *replay) add(obs, act, next []float32, learner int) {
	row := r.n()
	r.obs = append(r.obs, obs...)
	r.act = append(r.act, act...)
	r.next = append(r.next, next...)
	r.reward = append(r.reward, 0)
	r.learner = append(r.learner, learner)
	r.disc = append(r.disc, discRow(obs, act, r.obsDim)...)
	if learner < 0 {
		r.seedRows = append(r.seedRows, row)
		return
	}
	for len(r.blocks) <= learner {
		r.blocks = append(r.blocks, nil)
	}
	r.blocks[learner] = append(r.blocks[learner], row)
}

// discRow is the discriminator's input: the augmented observation and the action, with the
// action zeroed in the absorbing state (DAC scores the absorbing state alone).
func discRow(obs, act []float32, obsDim int) []float32 {
	row := make([]float32, 0, len(obs)+len(act))
	row = append(row, obs...)
	absorbing := obs[obsDim-1] > 0.5
	for _, a := range act {
		if absorbing {
			a = 0
		}
		row = append(row, a)
	}
	return row
}

// boostWeights returns the official weight update: a new learner gets eta and the others are
// scaled by 1 - eta; the first learner alone has weight 1, the first two (1 - eta, eta).
func boostWeights(w []float64, eta float64) []float64 {
	if len(w) == 0 {
		return []float64{1}
	}
	out := make([]float64, len(w)+1)
	for i, x := range w {
		out[i] = x * (1 - eta)
	}
	out[len(w)] = eta
	return out
}

// env converts between the environment and the agent's spaces.
type agentEnv struct {
	spec   envs.Spec
	obsDim int
	actDim int
}

func (e agentEnv) augment(obs []float32) []float32 {
	out := make([]float32, e.obsDim)
	copy(out, obs)
	return out
}

func (e agentEnv) absorbing() []float32 {
	out := make([]float32, e.obsDim)
	out[e.obsDim-1] = 1
	return out
}

// toEnv maps an agent action row (tanh-space or one-hot) to the environment's action.
func (e agentEnv) toEnv(a []float32) (int, []float32) {
	if e.spec.Discrete() {
		return argmax32(a), nil
	}
	u := make([]float32, len(a))
	for i, x := range a {
		lo, hi := float64(e.spec.ActionLow[i]), float64(e.spec.ActionHigh[i])
		u[i] = float32(lo + (float64(x)+1)/2*(hi-lo))
	}
	return 0, u
}

// fromEnv maps an environment action to the agent's representation.
func (e agentEnv) fromEnv(a int, u []float32) []float32 {
	out := make([]float32, e.actDim)
	if e.spec.Discrete() {
		out[a] = 1
		return out
	}
	for i, x := range u {
		lo, hi := float64(e.spec.ActionLow[i]), float64(e.spec.ActionHigh[i])
		v := 2*(float64(x)-lo)/(hi-lo) - 1
		out[i] = float32(min(max(v, -1), 1))
	}
	return out
}

func (e agentEnv) randomAction(rng *rand.Rand) []float32 {
	out := make([]float32, e.actDim)
	if e.spec.Discrete() {
		out[rng.IntN(e.actDim)] = 1
		return out
	}
	for i := range out {
		out[i] = float32(2*rng.Float64() - 1)
	}
	return out
}

// expertRows returns the discriminator rows of the demonstrations, with one absorbing row
// for every terminal transition (DAC).
func expertRows(d *Demos, e agentEnv) ([]float32, int, error) {
	if err := d.Validate(); err != nil {
		return nil, 0, err
	}
	var rows []float32
	n := 0
	for i := 0; i < d.N(); i++ {
		obs := e.augment(d.Obs[i*d.Spec.NumObs : (i+1)*d.Spec.NumObs])
		var act []float32
		if d.Spec.Discrete() {
			act = e.fromEnv(d.Discrete[i], nil)
		} else {
			act = e.fromEnv(0, d.Continuous[i*d.Spec.ActionDim:(i+1)*d.Spec.ActionDim])
		}
		rows = append(rows, discRow(obs, act, e.obsDim)...)
		n++
		if d.Terminal[i] {
			rows = append(rows, discRow(e.absorbing(), make([]float32, e.actDim), e.obsDim)...)
			n++
		}
	}
	return rows, n, nil
}

// train runs the adversarial imitation loop (the official train_state.py, one learner per
// round):
//
//	seed: SeedSteps uniform-random steps (into the policy's replay only)
//	each round t: snapshot the actor as learner t; collect n_samples steps with it
//	    (stochastic); reweight the learners (eta); disc_iter discriminator steps on expert rows
//	    vs policy rows drawn from the replay mode; relabel every reward with the new D;
//	    n_samples * updates_per_step SAC updates on the whole replay (uniform)
//	end: the last actor is appended as a learner (AILBoost) and returned.
//
// Deviation (laptop scale): the collected samples are the only interaction (the official
// loop also steps a separate training environment between rounds, doubling the env steps).
func (m adversarial) train(ctx context.Context, demos *Demos, cfg Config, progress func(int)) (*Result, error) {
	p, err := readAdvParams(cfg)
	if err != nil {
		return nil, err
	}
	if demos == nil {
		return nil, fmt.Errorf("imitation: no demonstrations")
	}
	spec := demos.Spec
	if cfg.EnvSteps < p.SeedSteps+p.Samples {
		return nil, fmt.Errorf("imitation: env step budget %d must cover seed_steps %d plus one round of n_samples %d",
			cfg.EnvSteps, p.SeedSteps, p.Samples)
	}
	agent, err := newSAC(cfg.Backend, spec, p.sac, cfg.Seed)
	if err != nil {
		return nil, err
	}
	e := agentEnv{spec: spec, obsDim: agent.obsDim, actDim: agent.actDim}
	xe, ne, err := expertRows(demos, e)
	if err != nil {
		return nil, err
	}
	disc, err := newDiscriminator(cfg.Backend, e.obsDim+e.actDim, p.discHidden, m.divergence, p.GP, p.sac.LR, cfg.Seed+1)
	if err != nil {
		return nil, err
	}
	env, err := envs.New(demos.Env)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xa11b0057))
	envRng := rand.New(rand.NewPCG(cfg.Seed, 0xe5e5))
	rb := &replay{obsDim: e.obsDim, actDim: e.actDim}
	cur := make([]float32, spec.NumObs)
	env.Reset(envRng, cur, nil)
	epSteps := 0
	steps := 0
	res := &Result{Extra: map[string]float64{}}
	var snaps []actorSnapshot
	var weights []float64

	// collect takes n steps with the agent (random when random) and stores them.
	collect := func(n int, learner int, random bool) error {
		for range n {
			obs := e.augment(cur)
			var a []float32
			if random {
				a = e.randomAction(rng)
			} else {
				a, err = agent.act(obs, 1, rng, false)
				if err != nil {
					return err
				}
			}
			da, ca := e.toEnv(a)
			next := make([]float32, spec.NumObs)
			_, term := env.Step(envRng, da, ca, next, nil)
			epSteps++
			steps++
			trunc := !term && spec.MaxEpisodeSteps > 0 && epSteps >= spec.MaxEpisodeSteps
			if term {
				rb.add(obs, a, e.absorbing(), learner)
				rb.add(e.absorbing(), e.randomAction(rng), e.absorbing(), learner)
			} else {
				rb.add(obs, a, e.augment(next), learner)
			}
			if term || trunc {
				env.Reset(envRng, cur, nil)
				epSteps = 0
			} else {
				copy(cur, next)
			}
		}
		if progress != nil {
			progress(steps)
		}
		return ctx.Err()
	}

	if err := collect(p.SeedSteps, -1, true); err != nil {
		return nil, err
	}
	rounds := (cfg.EnvSteps - p.SeedSteps) / p.Samples
	var lastLoss, lastPen float64
	var secCollect, secDisc, secSAC float64
	for t := 0; t < rounds; t++ {
		t0 := time.Now()
		snap, err := agent.snapshot()
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, snap)
		if err := collect(p.Samples, t, false); err != nil {
			return nil, err
		}
		weights = boostWeights(weights, p.Eta)
		t1 := time.Now()
		secCollect += t1.Sub(t0).Seconds()
		// Discriminator.
		b := p.DiscBatch
		xeB := make([]float32, b*disc.inDim)
		xpB := make([]float32, b*disc.inDim)
		u := make([]float32, b)
		for range p.DiscIter {
			for i := range b {
				r := rng.IntN(ne)
				copy(xeB[i*disc.inDim:], xe[r*disc.inDim:(r+1)*disc.inDim])
				pr := m.samplePolicyRow(rb, weights, rng)
				copy(xpB[i*disc.inDim:], rb.disc[pr*disc.inDim:(pr+1)*disc.inDim])
				u[i] = float32(rng.Float64())
			}
			lastLoss, lastPen, err = disc.step(xeB, xpB, u, b)
			if err != nil {
				return nil, err
			}
		}
		// Relabel every reward with the current discriminator.
		if err := relabel(rb, disc); err != nil {
			return nil, err
		}
		t2 := time.Now()
		secDisc += t2.Sub(t1).Seconds()
		// Policy updates.
		nUpd := int(math.Round(float64(p.Samples) * p.UpdatesPerStep))
		if err := agent.updateMany(rb, nUpd, rng); err != nil {
			return nil, err
		}
		secSAC += time.Since(t2).Seconds()
		if cfg.EvalEvery > 0 && cfg.EvalEpisodes > 0 && ((t+1)*p.Samples)%cfg.EvalEvery < p.Samples {
			pol, err := m.policy(agent, snaps, weights, p, spec)
			if err != nil {
				return nil, err
			}
			rets, err := Evaluate(demos.Env, pol, cfg.EvalEpisodes, cfg.Seed^0x5eed0000+uint64(t))
			if err != nil {
				return nil, err
			}
			res.Curve = append(res.Curve, CurvePoint{EnvSteps: steps, Return: meanF(rets)})
		}
	}
	if rounds > 0 {
		snap, err := agent.snapshot()
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, snap)
		weights = boostWeights(weights, p.Eta)
	}
	pol, err := m.policy(agent, snaps, weights, p, spec)
	if err != nil {
		return nil, err
	}
	res.Policy = pol
	if mix, ok := pol.(*mixturePolicy); ok {
		res.Last = mix.members[len(mix.members)-1]
	}
	res.EnvSteps = steps
	res.Extra["disc_loss"] = lastLoss
	res.Extra["grad_penalty"] = lastPen
	res.Extra["learners"] = float64(len(snaps))
	res.Extra["sac_updates"] = float64(agent.updates)
	res.Extra["disc_updates"] = float64(disc.updates)
	res.Extra["expert_rows"] = float64(ne)
	res.Extra["seconds_collect"] = secCollect
	res.Extra["seconds_discriminator"] = secDisc
	res.Extra["seconds_policy_updates"] = secSAC
	return res, nil
}

func meanF(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// samplePolicyRow draws one policy row for the discriminator according to the replay mode.
func (m adversarial) samplePolicyRow(rb *replay, weights []float64, rng *rand.Rand) int {
	switch m.replay {
	case ReplayUniform:
		return rng.IntN(rb.n())
	case ReplayLatest:
		blk := rb.blocks[len(rb.blocks)-1]
		return blk[rng.IntN(len(blk))]
	default:
		// Learner t with probability alpha_t (the weights of the learners collected so far),
		// then a uniform row of its block.
		x := rng.Float64()
		acc := 0.0
		t := len(rb.blocks) - 1
		total := 0.0
		for i := range rb.blocks {
			total += weights[i]
		}
		for i := range rb.blocks {
			acc += weights[i] / total
			if x < acc {
				t = i
				break
			}
		}
		blk := rb.blocks[t]
		return blk[rng.IntN(len(blk))]
	}
}

// relabel sets every replay reward to D(s, a) (rkl: the tanh output; js: the logit).
func relabel(rb *replay, d *discriminator) error {
	const chunk = 4096
	for lo := 0; lo < rb.n(); lo += chunk {
		hi := min(lo+chunk, rb.n())
		s, err := d.score(rb.disc[lo*d.inDim:hi*d.inDim], hi-lo)
		if err != nil {
			return err
		}
		copy(rb.reward[lo:hi], s)
	}
	return nil
}

// policy returns the method's policy: the mixture of snapshots (AILBoost) or the last actor.
func (m adversarial) policy(agent *sac, snaps []actorSnapshot, weights []float64, p advParams, spec envs.Spec) (Policy, error) {
	last, err := agent.snapshot()
	if err != nil {
		return nil, err
	}
	if !m.mixture || len(snaps) == 0 {
		return newSnapshotPolicy(agent, last), nil
	}
	w := slices.Clone(weights)
	if p.SortedWeights {
		// The official boosted_eval draws learners (oldest first) with the weights sorted in
		// ascending order (replay_buffer.get_learner_weights).
		sort.Float64s(w)
	}
	mix := &mixturePolicy{}
	for i, s := range snaps {
		mix.members = append(mix.members, newSnapshotPolicy(agent, s))
		mix.weights = append(mix.weights, w[i])
	}
	return mix, nil
}

// actorSnapshot is a copy of the actor's variables (path -> values).
type actorSnapshot map[string]*tensors.Tensor

func (s *sac) snapshot() (actorSnapshot, error) {
	snap := actorSnapshot{}
	for v := range s.store.RootScope().At("actor").IterVariables() {
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		c, err := t.LocalClone()
		if err != nil {
			return nil, err
		}
		snap[v.Path()] = c
	}
	return snap, nil
}

// snapshotPolicy acts with a fixed actor snapshot through its own small store.
type snapshotPolicy struct {
	agent *sac
	snap  actorSnapshot
	exec  *model.Exec
}

func newSnapshotPolicy(agent *sac, snap actorSnapshot) *snapshotPolicy {
	return &snapshotPolicy{agent: agent, snap: snap}
}

// Act implements Policy.
func (p *snapshotPolicy) Act(obs []float32, n int, rng *rand.Rand, deterministic bool) ([]int, []float32, error) {
	s := p.agent
	nobs := s.spec.NumObs
	if len(obs) != n*nobs {
		return nil, nil, fmt.Errorf("imitation: %d observation values for %d rows of %d", len(obs), n, nobs)
	}
	if p.exec == nil {
		store := model.NewStore()
		for path, t := range p.snap {
			if _, err := store.CreateVariable(path, t); err != nil {
				return nil, nil, err
			}
		}
		exec, err := model.NewExec(s.backend, store, func(scope *model.Scope, o, eps *Node) []*Node {
			det, smp, _ := s.policy(scope.At("actor"), o, eps)
			return []*Node{det, smp}
		})
		if err != nil {
			return nil, nil, err
		}
		p.exec = exec
	}
	aug := make([]float32, n*s.obsDim)
	for i := range n {
		copy(aug[i*s.obsDim:], obs[i*nobs:(i+1)*nobs])
	}
	a, err := s.runActor(p.exec, aug, n, rng, deterministic)
	if err != nil {
		return nil, nil, err
	}
	e := agentEnv{spec: s.spec, obsDim: s.obsDim, actDim: s.actDim}
	if s.discrete {
		d := make([]int, n)
		for i := range n {
			d[i], _ = e.toEnv(a[i*s.actDim : (i+1)*s.actDim])
		}
		return d, nil, nil
	}
	u := make([]float32, 0, n*s.actDim)
	for i := range n {
		_, ui := e.toEnv(a[i*s.actDim : (i+1)*s.actDim])
		u = append(u, ui...)
	}
	return nil, u, nil
}

// mixturePolicy is AILBoost's boosted ensemble.
type mixturePolicy struct {
	members []Policy
	weights []float64
}

// Members implements Mixture.
func (m *mixturePolicy) Members() []Policy { return m.members }

// Weights implements Mixture.
func (m *mixturePolicy) Weights() []float64 { return m.weights }

// Act implements Policy by acting with the member of highest weight (Evaluate draws a member
// per episode through the Mixture interface).
func (m *mixturePolicy) Act(obs []float32, n int, rng *rand.Rand, deterministic bool) ([]int, []float32, error) {
	best := 0
	for i, w := range m.weights {
		if w > m.weights[best] {
			best = i
		}
	}
	return m.members[best].Act(obs, n, rng, deterministic)
}

// updateMany runs n SAC updates on uniform minibatches of the replay.
func (s *sac) updateMany(rb *replay, n int, rng *rand.Rand) error {
	b := s.cfg.Batch
	obs := make([]float32, b*s.obsDim)
	next := make([]float32, b*s.obsDim)
	act := make([]float32, b*s.actDim)
	rew := make([]float32, b)
	notDone := make([]float32, b)
	epsN := make([]float32, b*s.actDim)
	epsC := make([]float32, b*s.actDim)
	for range n {
		for i := range b {
			r := rng.IntN(rb.n())
			copy(obs[i*s.obsDim:], rb.obs[r*s.obsDim:(r+1)*s.obsDim])
			copy(next[i*s.obsDim:], rb.next[r*s.obsDim:(r+1)*s.obsDim])
			copy(act[i*s.actDim:], rb.act[r*s.actDim:(r+1)*s.actDim])
			rew[i] = rb.reward[r]
			notDone[i] = 1 // absorbing states make every transition non-terminal (DAC)
		}
		for i := range epsN {
			if s.discrete {
				epsN[i], epsC[i] = float32(rng.Float64()), float32(rng.Float64())
			} else {
				epsN[i], epsC[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
		}
		outs, err := s.updExec.Exec(
			tensors.FromFlatDataAndDimensions(obs, b, s.obsDim), tensors.FromFlatDataAndDimensions(act, b, s.actDim),
			tensors.FromFlatDataAndDimensions(rew, b), tensors.FromFlatDataAndDimensions(notDone, b),
			tensors.FromFlatDataAndDimensions(next, b, s.obsDim),
			tensors.FromFlatDataAndDimensions(epsN, b, s.actDim), tensors.FromFlatDataAndDimensions(epsC, b, s.actDim))
		if err != nil {
			return err
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
		s.updates++
	}
	return nil
}
