package imitation

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"hash/fnv"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moeboost/moeboost/boosting/rl"
	"github.com/moeboost/moeboost/boosting/rl/envs"
	"github.com/moeboost/moeboost/train/backend"
)

// ExpertPolicy is a trained actor-critic agent (boosting/rl) acting as an imitation Policy:
// observations go through the run's observation normalizer with its statistics frozen (when
// the preset normalizes observations), then the policy head; deterministic actions are the
// argmax of the logits or the Gaussian mean (clipped to the action bounds), stochastic ones
// are sampled from the softmax or from N(mean, exp(LogStd)^2).
type ExpertPolicy struct {
	AC   *rl.ActorCritic
	Norm *rl.Normalizer
}

// Act implements Policy.
func (e *ExpertPolicy) Act(obs []float32, n int, rng *rand.Rand, deterministic bool) ([]int, []float32, error) {
	spec := e.AC.Spec
	if len(obs) != n*spec.NumObs {
		return nil, nil, fmt.Errorf("imitation: %d observation values for %d rows of %d features", len(obs), n, spec.NumObs)
	}
	if !deterministic && rng == nil {
		return nil, nil, fmt.Errorf("imitation: stochastic actions need an rng")
	}
	x := append([]float32(nil), obs...)
	if e.Norm != nil {
		e.Norm.ObsFrozen(x)
	}
	pol, err := e.AC.PolicyOutputs(rl.Obs{N: n, NumDim: spec.NumObs, Num: x})
	if err != nil {
		return nil, nil, err
	}
	pd := e.AC.PolicyDim
	if spec.Discrete() {
		a := make([]int, n)
		for i := range a {
			z := pol[i*pd : (i+1)*pd]
			if deterministic {
				a[i] = argmax32(z)
			} else {
				a[i] = sampleSoftmax(z, rng)
			}
		}
		return a, nil, nil
	}
	u := make([]float32, n*pd)
	for i, m := range pol {
		d := i % pd
		v := float64(m)
		if !deterministic {
			v += math.Exp(e.AC.LogStd[d]) * rng.NormFloat64()
		}
		u[i] = min(max(float32(v), spec.ActionLow[d]), spec.ActionHigh[d])
	}
	return nil, u, nil
}

func argmax32(z []float32) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// sampleSoftmax draws an index from softmax(z).
func sampleSoftmax(z []float32, rng *rand.Rand) int {
	m := float64(z[argmax32(z)])
	var s float64
	p := make([]float64, len(z))
	for i, v := range z {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	u := rng.Float64() * s
	var c float64
	for i, x := range p {
		c += x
		if u < c {
			return i
		}
	}
	return len(z) - 1
}

// ExpertConfig returns the PPO settings of the expert for env: the project's network PPO
// preset (rl.Preset(env, rl.PPO, rl.ModelNN), the hyperparameters of GBRL's experiment
// scripts / rl-zoo) with a step budget and an early stop at a target mean return of 10
// deterministic evaluation episodes, chosen by measurement (2 vCPU, Go backend) so each expert
// trains in well under a minute:
//
//	cartpole-v1  budget 100k (the preset's), stop at 500 (the time limit), eval every 4,096 steps
//	             (measured: stopped at 20k steps, 6 s, 492.9 on 50 fresh episodes)
//	acrobot-v1   budget 300k, stop at -80, eval every 16,384 steps
//	             (stopped at 197k steps, 34 s, -79.4 on 50 fresh episodes; -85 gave -97.7)
//	pendulum-v1  budget 200k, stop at -170, eval every 8,192 steps
//	             (stopped at 66k steps, 23 s, -158.7 on 50 fresh episodes)
//
// Other environments use the preset with a 200k budget and its reward threshold. Network
// initialization is not seeded by boosting/rl, so a retrained expert differs run to run: the
// cache (LoadOrTrainExpert) is what makes demonstrations reproducible.
func ExpertConfig(env string) (rl.Config, error) {
	cfg, err := rl.Preset(env, rl.PPO, rl.ModelNN)
	if err != nil {
		return rl.Config{}, err
	}
	cfg.EvalEpisodes = 10
	cfg.StopAtTarget = true
	switch cfg.Env {
	case "CartPole-v1":
		cfg.TotalSteps, cfg.Target, cfg.EvalEvery = 100_000, 500, 4096
	case "Acrobot-v1":
		cfg.TotalSteps, cfg.Target, cfg.EvalEvery = 300_000, -80, 16384
	case "Pendulum-v1":
		cfg.TotalSteps, cfg.Target, cfg.EvalEvery = 200_000, -170, 8192
	default:
		cfg.TotalSteps, cfg.EvalEvery = 200_000, 16384
		cfg.StopAtTarget = cfg.Target != 0
	}
	return cfg, nil
}

// expertVersion names the expert recipe; bump it when ExpertConfig, the collection or the
// cache layout change in a way the settings hash below does not see.
const expertVersion = "v1"

// settingsKey is a short hash of everything that determines the expert and its demos.
func settingsKey(cfg rl.Config) string {
	cfg.Backend = nil
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%+v|%d|%d", expertVersion, cfg, ExpertCacheTrajectories, ExpertEvalEpisodes)
	return fmt.Sprintf("%s-%016x", expertVersion, h.Sum64())
}

// ExpertCacheTrajectories is the number of demonstrations stored per expert (the largest demo
// count of the benchmark); ExpertEvalEpisodes the fresh episodes its return is measured on.
const (
	ExpertCacheTrajectories = 16
	ExpertEvalEpisodes      = 50
)

// Seeds of an expert's demos and of its return measurement, apart from its training
// environments (seed) and training evaluations (seed + 1,000,003 + steps < 2^40), and from
// the benchmark's final evaluations (2^62 + seed).
func demoSeed(seed uint64) uint64       { return 1<<61 + seed }
func expertEvalSeed(seed uint64) uint64 { return 1<<60 + seed }

// Expert is what the cache stores for one expert: its demonstrations and how it was made.
type Expert struct {
	Version string
	Env     string
	Seed    uint64
	// Demos holds ExpertCacheTrajectories (or more) deterministic expert trajectories.
	Demos *Demos
	// Returns are the expert's returns on ExpertEvalEpisodes fresh deterministic episodes;
	// Return their mean (the 1 of Normalized).
	Returns []float64
	Return  float64
	// TrainSteps, TrainSeconds and TrainEval describe its PPO run (environment steps, wall
	// time, last training evaluation).
	TrainSteps   int
	TrainSeconds float64
	TrainEval    float64
}

// TrainExpert trains the expert for env with PPO (ExpertConfig) and returns it as a Policy with
// its run's result.
func TrainExpert(ctx context.Context, env string, seed uint64) (*ExpertPolicy, *rl.Result, error) {
	cfg, err := ExpertConfig(env)
	if err != nil {
		return nil, nil, err
	}
	cfg.Seed = seed
	if cfg.Backend, err = backend.Default(); err != nil {
		return nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	ac, err := rl.NewActorCritic(cfg)
	if err != nil {
		return nil, nil, err
	}
	res, err := rl.TrainAgent(ctx, cfg, ac, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("imitation: training the %s expert: %w", env, err)
	}
	res.Norm.Training = false
	return &ExpertPolicy{AC: ac, Norm: res.Norm}, res, nil
}

// LoadOrTrainExpert returns the expert of env and seed from cacheDir, or trains it
// (TrainExpert), collects max(trajectories, ExpertCacheTrajectories) deterministic
// demonstrations and measures its return on ExpertEvalEpisodes fresh episodes, and caches
// that. The cache file, cacheDir/<env>-seed<seed>-<settings>.gob, is keyed by a hash of the
// expert settings, written atomically (a temporary file renamed into place); a file that does
// not decode or holds too few trajectories is ignored with a one-line warning and replaced.
// cacheDir "" disables the cache.
func LoadOrTrainExpert(ctx context.Context, env string, trajectories int, seed uint64, cacheDir string) (*Expert, error) {
	cfg, err := ExpertConfig(env)
	if err != nil {
		return nil, err
	}
	if trajectories < 1 {
		return nil, fmt.Errorf("imitation: %d expert trajectories requested; need >= 1", trajectories)
	}
	want := max(trajectories, ExpertCacheTrajectories)
	var path string
	if cacheDir != "" {
		name := fmt.Sprintf("%s-seed%d-%s.gob", strings.ToLower(cfg.Env), seed, settingsKey(cfg))
		path = filepath.Join(cacheDir, name)
		if e, err := readExpert(path); err == nil {
			if e.Demos.Trajectories >= want && e.Env == cfg.Env && e.Seed == seed {
				spec, err := envs.SpecOf(env)
				if err != nil {
					return nil, err
				}
				e.Demos.Spec = spec
				if err := e.Demos.Validate(); err == nil {
					return e, nil
				} else {
					log.Printf("imitation: ignoring expert cache %s (%v); regenerating", path, err)
				}
			} else {
				log.Printf("imitation: ignoring expert cache %s (%d trajectories of %s seed %d; need %d of %s seed %d); regenerating",
					path, e.Demos.Trajectories, e.Env, e.Seed, want, cfg.Env, seed)
			}
		} else if !os.IsNotExist(err) {
			log.Printf("imitation: ignoring unreadable expert cache %s (%v); regenerating", path, err)
		}
	}
	start := time.Now()
	pol, res, err := TrainExpert(ctx, env, seed)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	demos, err := Collect(env, pol, want, demoSeed(seed))
	if err != nil {
		return nil, err
	}
	rets, err := Evaluate(env, pol, ExpertEvalEpisodes, expertEvalSeed(seed))
	if err != nil {
		return nil, err
	}
	e := &Expert{Version: settingsKey(cfg), Env: cfg.Env, Seed: seed, Demos: demos, Returns: rets, Return: meanOf(rets),
		TrainSteps: res.EnvSteps, TrainSeconds: secs, TrainEval: res.FinalReturn}
	if path != "" {
		if err := writeExpert(path, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// ExpertDemos returns the first `trajectories` deterministic demonstrations of the PPO expert
// of env trained with seed (see LoadOrTrainExpert for the cache in cacheDir) and the expert's
// mean return on ExpertEvalEpisodes fresh episodes.
func ExpertDemos(ctx context.Context, env string, trajectories int, seed uint64, cacheDir string) (*Demos, float64, error) {
	e, err := LoadOrTrainExpert(ctx, env, trajectories, seed, cacheDir)
	if err != nil {
		return nil, 0, err
	}
	d, err := e.Demos.Subset(trajectories)
	if err != nil {
		return nil, 0, err
	}
	return d, e.Return, nil
}

func readExpert(path string) (*Expert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var e Expert
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&e); err != nil {
		return nil, err
	}
	if e.Demos == nil {
		return nil, fmt.Errorf("no demonstrations in the file")
	}
	return &e, nil
}

// writeExpert writes e to path atomically: a temporary file in the same directory, renamed.
func writeExpert(path string, e *Expert) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(e); err != nil {
		return fmt.Errorf("imitation: encoding the expert cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes it 0600; a cache is shareable
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// DefaultExpertCache is os.UserCacheDir()/moeboost/experts, or "" when there is no user cache
// directory.
func DefaultExpertCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "moeboost", "experts")
}
