package rl

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/boosting/trees"
)

// CurvePoint is one evaluation during training.
type CurvePoint struct {
	Steps int
	// EvalReturn is the mean return of EvalEpisodes deterministic episodes; TrainReturn the
	// mean return of the last 100 training episodes (Stable-Baselines3's ep_rew_mean).
	EvalReturn, TrainReturn float64
	Updates                 int
	Seconds                 float64
}

// Result summarizes a run.
type Result struct {
	Curve []CurvePoint
	// FinalReturn is the last evaluation's mean return.
	FinalReturn float64
	// StepsToTarget is the environment steps at the first evaluation with mean return >=
	// Config.Target, or -1.
	StepsToTarget int
	EnvSteps      int
	// Updates is the number of trees grown (all ensembles) or optimizer steps.
	Updates int
	Seconds float64
	// Norm is the run's observation normalizer (it standardizes only when Config.NormObs), for
	// evaluating the trained agent afterwards with Evaluate.
	Norm *Normalizer
}

// StepsPerSecond is environment steps per wall-clock second.
func (r *Result) StepsPerSecond() float64 { return float64(r.EnvSteps) / r.Seconds }

// UpdatesPerSecond is trees (or optimizer steps) per wall-clock second.
func (r *Result) UpdatesPerSecond() float64 { return float64(r.Updates) / r.Seconds }

// NewActorCritic builds the agent's approximators for cfg.
func NewActorCritic(cfg Config) (*ActorCritic, error) {
	cfg = cfg.withDefaults()
	spec, err := envs.SpecOf(cfg.Env)
	if err != nil {
		return nil, err
	}
	pd, err := checkPolicy(spec)
	if err != nil {
		return nil, err
	}
	ac := &ActorCritic{Spec: spec, PolicyDim: pd}
	if !spec.Discrete() {
		ac.LogStd = make([]float64, pd)
		for i := range ac.LogStd {
			ac.LogStd[i] = cfg.LogStdInit
		}
		ac.logStdOpt = &adam{}
	}
	switch cfg.Model {
	case ModelTrees:
		if cfg.Shared {
			ac.Joint, err = NewTrees(spec.NumObs, spec.CatObs, pd+1, cfg.Tree,
				[]trees.LR{{Start: 0, Stop: pd, Init: cfg.PolicyLR}, {Start: pd, Stop: pd + 1, Init: cfg.ValueLR}}, nil)
			return ac, err
		}
		if ac.Actor, err = NewTrees(spec.NumObs, spec.CatObs, pd, cfg.Tree, []trees.LR{{Start: 0, Stop: pd, Init: cfg.PolicyLR}}, nil); err != nil {
			return nil, err
		}
		ac.Critic, err = NewTrees(spec.NumObs, spec.CatObs, 1, cfg.Tree, []trees.LR{{Start: 0, Stop: 1, Init: cfg.ValueLR}}, nil)
		return ac, err
	default:
		nc := cfg.NN
		nc.Seed = cfg.Seed
		ac.Joint, err = NewNN(cfg.Backend, spec, pd, true, nc)
		return ac, err
	}
}

// buffer is one rollout, [NSteps*NumEnvs] samples stored step-major.
type buffer struct {
	obs        Obs
	discrete   []int
	cont       []float32 // [n, actDim] unclipped actions
	rewards    []float64
	starts     []bool
	values     []float64
	logp       []float64
	pred       prediction // outputs at collection time
	adv, ret   []float64
	n, nEnv    int
	lastDones  []bool
	lastValues []float32
}

// gae computes advantages and returns as Stable-Baselines3's RolloutBuffer does.
func (b *buffer) gae(gamma, lambda float64) {
	steps := b.n / b.nEnv
	b.adv = make([]float64, b.n)
	b.ret = make([]float64, b.n)
	for e := 0; e < b.nEnv; e++ {
		last := 0.0
		for t := steps - 1; t >= 0; t-- {
			i := t*b.nEnv + e
			var nextNonTerminal, nextValue float64
			if t == steps-1 {
				if !b.lastDones[e] {
					nextNonTerminal = 1
				}
				nextValue = float64(b.lastValues[e])
			} else {
				if !b.starts[i+b.nEnv] {
					nextNonTerminal = 1
				}
				nextValue = b.values[i+b.nEnv]
			}
			delta := b.rewards[i] + gamma*nextValue*nextNonTerminal - b.values[i] // TD error
			last = delta + gamma*lambda*nextNonTerminal*last                      // GAE recursion
			b.adv[i] = last
			b.ret[i] = last + b.values[i]
		}
	}
}

// Train runs cfg and returns its learning curve. progress, when not nil, is called with the
// environment steps done after every rollout.
func Train(ctx context.Context, cfg Config, progress func(steps int)) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ac, err := NewActorCritic(cfg)
	if err != nil {
		return nil, err
	}
	return TrainAgent(ctx, cfg, ac, progress)
}

// TrainAgent trains an existing agent.
func TrainAgent(ctx context.Context, cfg Config, ac *ActorCritic, progress func(steps int)) (*Result, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	vec, err := envs.NewVec(cfg.Env, cfg.NumEnvs, cfg.Seed)
	if err != nil {
		return nil, err
	}
	spec := vec.Spec()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xac7))
	norm := NewNormalizer(cfg.NumEnvs, spec.NumObs, cfg.NormObs, cfg.NormReward, cfg.Gamma)
	obsNow := Obs{N: cfg.NumEnvs, NumDim: spec.NumObs, CatDim: spec.CatObs,
		Num: append([]float32(nil), vec.Num...), Cat: append([]string(nil), vec.Cat...)}
	norm.Obs(obsNow.Num, obsNow.N)
	starts := make([]bool, cfg.NumEnvs)
	for i := range starts {
		starts[i] = true
	}
	res := &Result{StepsToTarget: -1, Norm: norm}
	var recent []float64
	nextEval := cfg.EvalEvery
	steps := 0
	lp := make([]float64, max(spec.Actions, 1))
	for steps < cfg.TotalSteps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		progressRemaining := 1 - float64(steps)/float64(cfg.TotalSteps)
		b, err := collect(cfg, ac, vec, norm, &obsNow, starts, rng, lp)
		if err != nil {
			return res, err
		}
		steps += b.n
		for _, e := range vec.Episodes() {
			recent = append(recent, e.Return)
		}
		if len(recent) > 100 {
			recent = recent[len(recent)-100:]
		}
		b.gae(cfg.Gamma, cfg.GAELambda)
		if err := trainRollout(cfg, ac, b, rng, progressRemaining); err != nil {
			return res, err
		}
		if progress != nil {
			progress(steps)
		}
		if steps >= nextEval || steps >= cfg.TotalSteps {
			for nextEval <= steps {
				nextEval += cfg.EvalEvery
			}
			ev, err := Evaluate(ac, cfg, norm, cfg.EvalEpisodes, cfg.Seed+1_000_003+uint64(steps))
			if err != nil {
				return res, err
			}
			tr := math.NaN()
			if len(recent) > 0 {
				tr = mean(recent)
			}
			res.Curve = append(res.Curve, CurvePoint{Steps: steps, EvalReturn: ev, TrainReturn: tr,
				Updates: ac.NumUpdates(), Seconds: time.Since(start).Seconds()})
			if cfg.Target != 0 && res.StepsToTarget < 0 && ev >= cfg.Target {
				res.StepsToTarget = steps
				if cfg.StopAtTarget {
					break
				}
			}
		}
	}
	res.EnvSteps = steps
	res.Updates = ac.NumUpdates()
	res.Seconds = time.Since(start).Seconds()
	if len(res.Curve) > 0 {
		res.FinalReturn = res.Curve[len(res.Curve)-1].EvalReturn
	}
	return res, nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// act samples (or, deterministic, picks the mode of) actions for the policy outputs pol.
func act(ac *ActorCritic, pol []float32, n int, rng *rand.Rand, deterministic bool, lp []float64,
	discrete []int, cont []float32, logp []float64) {
	pd := ac.PolicyDim
	for i := 0; i < n; i++ {
		z := pol[i*pd : (i+1)*pd]
		if ac.Spec.Discrete() {
			var a int
			if deterministic {
				a = argmax(z)
			} else {
				a = categoricalSample(z, lp, rng)
			}
			discrete[i] = a
			if logp != nil {
				logSoftmax(z, lp)
				logp[i] = lp[a]
			}
			continue
		}
		u := cont[i*pd : (i+1)*pd]
		for d := range u {
			u[d] = z[d]
			if !deterministic {
				u[d] += float32(math.Exp(ac.LogStd[d]) * rng.NormFloat64())
			}
		}
		if logp != nil {
			logp[i] = gaussianLogp(u, z, ac.LogStd)
		}
	}
}

// clipActions clips continuous actions to the action space (the stored ones stay unclipped).
func clipActions(spec envs.Spec, u []float32) []float32 {
	out := make([]float32, len(u))
	for i, v := range u {
		d := i % spec.ActionDim
		out[i] = min(max(v, spec.ActionLow[d]), spec.ActionHigh[d])
	}
	return out
}

func collect(cfg Config, ac *ActorCritic, vec *envs.Vec, norm *Normalizer, obsNow *Obs, starts []bool,
	rng *rand.Rand, lp []float64) (*buffer, error) {
	spec := vec.Spec()
	ne, ns := cfg.NumEnvs, cfg.NSteps
	n := ne * ns
	b := &buffer{n: n, nEnv: ne, obs: Obs{N: n, NumDim: spec.NumObs, CatDim: spec.CatObs,
		Num: make([]float32, 0, n*spec.NumObs), Cat: make([]string, 0, n*spec.CatObs)},
		rewards: make([]float64, n), starts: make([]bool, n), values: make([]float64, n), logp: make([]float64, n)}
	if spec.Discrete() {
		b.discrete = make([]int, n)
	} else {
		b.cont = make([]float32, n*spec.ActionDim)
	}
	var preds []prediction
	acts := make([]int, ne)
	var cont []float32
	if !spec.Discrete() {
		cont = make([]float32, ne*spec.ActionDim)
	}
	for t := 0; t < ns; t++ {
		p, err := ac.predict(*obsNow)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
		off := t * ne
		act(ac, p.pol, ne, rng, false, lp, acts, cont, b.logp[off:off+ne])
		b.obs.Num = append(b.obs.Num, obsNow.Num...)
		b.obs.Cat = append(b.obs.Cat, obsNow.Cat...)
		for i := 0; i < ne; i++ {
			b.values[off+i] = float64(p.val[i])
			b.starts[off+i] = starts[i]
		}
		if spec.Discrete() {
			copy(b.discrete[off:], acts)
			vec.Step(acts, nil)
		} else {
			copy(b.cont[off*spec.ActionDim:], cont)
			vec.Step(nil, clipActions(spec, cont))
		}
		// VecNormalize's order: observation statistics, then the final observations of finished
		// episodes and the rewards; the algorithm then bootstraps truncations.
		obsNow.Num = append(obsNow.Num[:0], vec.Num...)
		obsNow.Cat = append(obsNow.Cat[:0], vec.Cat...)
		norm.Obs(obsNow.Num, ne)
		r := append([]float64(nil), vec.Reward...)
		dones := make([]bool, ne)
		var truncIdx []int
		for i := 0; i < ne; i++ {
			dones[i] = vec.Terminated[i] || vec.Truncated[i]
			if vec.Truncated[i] {
				truncIdx = append(truncIdx, i)
			}
		}
		norm.Reward(r, dones)
		if len(truncIdx) > 0 {
			// Bootstrap a time-limit truncation with the value of its final observation.
			fin := Obs{N: ne, NumDim: spec.NumObs, CatDim: spec.CatObs,
				Num: append([]float32(nil), vec.FinalNum...), Cat: append([]string(nil), vec.FinalCat...)}
			norm.ObsFrozen(fin.Num)
			fin = fin.Gather(truncIdx)
			v, err := ac.values(fin)
			if err != nil {
				return nil, err
			}
			for j, i := range truncIdx {
				r[i] += cfg.Gamma * float64(v[j])
			}
		}
		copy(b.rewards[off:], r)
		copy(starts, dones)
	}
	b.lastDones = append([]bool(nil), starts...)
	lv, err := ac.values(*obsNow)
	if err != nil {
		return nil, err
	}
	b.lastValues = lv
	// Concatenate the per-step predictions (same versions for the whole rollout).
	b.pred = prediction{vJ: preds[0].vJ, vA: preds[0].vA, vC: preds[0].vC}
	for _, p := range preds {
		b.pred.pol = append(b.pred.pol, p.pol...)
		b.pred.val = append(b.pred.val, p.val...)
		b.pred.joint = append(b.pred.joint, p.joint...)
	}
	return b, nil
}

func gatherPred(p prediction, idx []int, pd int) prediction {
	q := prediction{vJ: p.vJ, vA: p.vA, vC: p.vC, pol: make([]float32, len(idx)*pd), val: make([]float32, len(idx))}
	if p.joint != nil {
		q.joint = make([]float32, len(idx)*(pd+1))
	}
	for i, r := range idx {
		copy(q.pol[i*pd:(i+1)*pd], p.pol[r*pd:(r+1)*pd])
		q.val[i] = p.val[r]
		if p.joint != nil {
			copy(q.joint[i*(pd+1):(i+1)*(pd+1)], p.joint[r*(pd+1):(r+1)*(pd+1)])
		}
	}
	return q
}

// trainRollout runs PPO's epochs of minibatch updates, or A2C's single update, on b.
func trainRollout(cfg Config, ac *ActorCritic, b *buffer, rng *rand.Rand, progressRemaining float64) error {
	if nn, ok := ac.Joint.(*NN); ok && cfg.NN.LinearLR {
		nn.SetLR(cfg.NN.withDefaults().LR * progressRemaining)
	}
	clip := cfg.ClipRange
	if cfg.LinearClip {
		clip *= progressRemaining
	}
	logStdLR := cfg.LogStdLR
	if cfg.Model == ModelTrees && cfg.Algo == PPO {
		// GBRL's default log_std_lr "lin_0.0017": linear in the progress to LogStdMinLR.
		logStdLR = cfg.LogStdLR + (1-progressRemaining)*(cfg.LogStdMinLR-cfg.LogStdLR)
	}
	idx := make([]int, b.n)
	for i := range idx {
		idx[i] = i
	}
	if cfg.Algo == A2C {
		return updateBatch(cfg, ac, b, idx, 0, logStdLR)
	}
	for ep := 0; ep < cfg.Epochs; ep++ {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for lo := 0; lo < b.n; lo += cfg.BatchSize {
			mb := idx[lo:min(lo+cfg.BatchSize, b.n)]
			if err := updateBatch(cfg, ac, b, mb, clip, logStdLR); err != nil {
				return err
			}
		}
	}
	return nil
}

// updateBatch computes the loss gradients on the samples mb (see lossGrads) and updates the
// agent: the approximators with the per-sample output gradients, the log-std with Adam.
func updateBatch(cfg Config, ac *ActorCritic, b *buffer, mb []int, clip float64, logStdLR float64) error {
	pd := ac.PolicyDim
	obs := b.obs.Gather(mb)
	cur, err := ac.refresh(obs, gatherPred(b.pred, mb, pd))
	if err != nil {
		return err
	}
	gPol, gVal, gLogStd := lossGrads(cfg, ac, b, mb, cur, clip)
	if _, isNN := ac.Joint.(*NN); !isNN {
		clipRows(gPol, pd, cfg.MaxPolicyGradNorm)
		clipRows(gVal, 1, cfg.MaxValueGradNorm)
	}
	if gLogStd != nil {
		if c := cfg.MaxPolicyGradNorm; c > 0 {
			var s float64
			for _, v := range gLogStd {
				s += v * v
			}
			if nrm := math.Sqrt(s); nrm > c {
				for d := range gLogStd {
					gLogStd[d] *= c / (nrm + 1e-6)
				}
			}
		}
		lr := logStdLR
		if nn, ok := ac.Joint.(*NN); ok {
			lr = nn.cfg.LR
		}
		ac.logStdOpt.step(ac.LogStd, gLogStd, lr)
	}
	for _, g := range gPol {
		if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
			return fmt.Errorf("rl: non-finite policy gradient")
		}
	}
	return ac.update(obs, gPol, gVal)
}

// lossGrads returns the per-sample gradients of the PPO (clip > 0) or A2C loss on the samples
// mb with respect to the policy outputs ([n, PolicyDim]) and values ([n]), and the gradient of
// the mean loss with respect to the log-stds (continuous actions; nil otherwise). cur holds the
// current outputs of the samples.
//
// PPO (Stable-Baselines3/gbrl_sb3 ppo.py): l_i = -min(r_i A_i, clip(r_i, 1-eps, 1+eps) A_i)
// - ent_coef H_i + vf_coef * 0.5 (R_i - V_i)^2, r_i = exp(logp_i - logp_old_i), A normalized
// per minibatch (mean 0, unbiased std 1, +1e-8).
// A2C (gbrl_sb3 a2c.py): l_i = -A_i logp_i - ent_coef H_i + vf_coef (R_i - V_i)^2.
// The approximators receive g_i = dl_i/d(outputs_i) = n * dL/d(outputs_i), L = mean_i l_i.
func lossGrads(cfg Config, ac *ActorCritic, b *buffer, mb []int, cur prediction, clip float64) (gPol, gVal []float32, gLogStd []float64) {
	n := len(mb)
	pd := ac.PolicyDim
	adv := make([]float64, n)
	for i, r := range mb {
		adv[i] = b.adv[r]
	}
	if !cfg.NoAdvantageNorm && n > 1 {
		m := mean(adv)
		var v float64
		for _, a := range adv {
			v += (a - m) * (a - m)
		}
		sd := math.Sqrt(v / float64(n-1)) // torch's unbiased std
		for i := range adv {
			adv[i] = (adv[i] - m) / (sd + 1e-8)
		}
	}
	gPol = make([]float32, n*pd)
	gVal = make([]float32, n)
	if ac.LogStd != nil {
		gLogStd = make([]float64, pd)
	}
	lp := make([]float64, pd)
	for i, r := range mb {
		z := cur.pol[i*pd : (i+1)*pd]
		var wLogp float64
		if clip > 0 {
			// dl/dlogp = -A r when the unclipped term is the minimum (ties included), else 0.
			var logp float64
			if ac.Spec.Discrete() {
				logSoftmax(z, lp)
				logp = lp[b.discrete[r]]
			} else {
				logp = gaussianLogp(b.cont[r*pd:(r+1)*pd], z, ac.LogStd)
			}
			ratio := math.Exp(logp - b.logp[r])
			clipped := min(max(ratio, 1-clip), 1+clip)
			if ratio*adv[i] <= clipped*adv[i] {
				wLogp = -adv[i] * ratio
			}
		} else {
			wLogp = -adv[i]
		}
		wEnt := -cfg.EntCoef
		if ac.Spec.Discrete() {
			categoricalGrad(z, b.discrete[r], wLogp, wEnt, lp, gPol[i*pd:(i+1)*pd])
		} else {
			gaussianGrad(b.cont[r*pd:(r+1)*pd], z, ac.LogStd, wLogp, wEnt, gPol[i*pd:(i+1)*pd], gLogStd)
		}
		dv := float64(cur.val[i]) - b.ret[r]
		if clip > 0 {
			gVal[i] = float32(cfg.VFCoef * dv) // d/dV of vf * 0.5 (R - V)^2
		} else {
			gVal[i] = float32(2 * cfg.VFCoef * dv) // d/dV of vf * (R - V)^2
		}
	}
	for d := range gLogStd {
		gLogStd[d] /= float64(n) // gradient of the mean loss
	}
	return gPol, gVal, gLogStd
}

// Evaluate runs episodes deterministic episodes (one per environment copy, seeded with seed)
// with the normalizer's frozen observation statistics and returns their mean return.
func Evaluate(ac *ActorCritic, cfg Config, norm *Normalizer, episodes int, seed uint64) (float64, error) {
	vec, err := envs.NewVec(cfg.Env, episodes, seed)
	if err != nil {
		return 0, err
	}
	spec := vec.Spec()
	done := make([]bool, episodes)
	ret := make([]float64, episodes)
	remaining := episodes
	acts := make([]int, episodes)
	var cont []float32
	if !spec.Discrete() {
		cont = make([]float32, episodes*spec.ActionDim)
	}
	lp := make([]float64, max(spec.Actions, 1))
	for remaining > 0 {
		obs := Obs{N: episodes, NumDim: spec.NumObs, CatDim: spec.CatObs,
			Num: append([]float32(nil), vec.Num...), Cat: vec.Cat}
		if norm != nil {
			norm.ObsFrozen(obs.Num)
		}
		p, err := ac.predict(obs)
		if err != nil {
			return 0, err
		}
		act(ac, p.pol, episodes, nil, true, lp, acts, cont, nil)
		if spec.Discrete() {
			vec.Step(acts, nil)
		} else {
			vec.Step(nil, clipActions(spec, cont))
		}
		for i := 0; i < episodes; i++ {
			if done[i] {
				continue
			}
			ret[i] += vec.Reward[i]
			if vec.Terminated[i] || vec.Truncated[i] {
				done[i] = true
				remaining--
			}
		}
	}
	return mean(ret), nil
}
