package envs

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Vec runs N copies of one environment in lock step with the registered time limit and
// automatic reset, like Stable-Baselines3's DummyVecEnv over gymnasium.make(id).
//
// After Step, Num/Cat hold the next observations (for a copy whose episode just ended: the
// first observation of its new episode), Reward/Terminated/Truncated the step's outcome, and
// FinalNum/FinalCat (rows of the copies that ended) the last observation of the finished
// episode, which GAE uses to bootstrap a truncated episode.
type Vec struct {
	spec Spec
	envs []Env
	rngs []*rand.Rand
	// Num is [N, NumObs] row-major; Cat is [N, CatObs].
	Num []float32
	Cat []string
	// Reward, Terminated and Truncated are the outcome of the last Step, one per copy.
	Reward                []float64
	Terminated, Truncated []bool
	// FinalNum and FinalCat hold, for copies whose episode ended in the last Step, the final
	// observation of that episode (other rows are stale).
	FinalNum []float32
	FinalCat []string

	steps   []int
	returns []float64
	// episodes collects the returns and lengths of finished episodes (see Episodes).
	episodes []Episode
	// TotalSteps counts environment steps over all copies since creation.
	TotalSteps int
}

// Episode is one finished episode.
type Episode struct {
	Return float64
	Length int
	// Truncated says whether the time limit ended it.
	Truncated bool
}

// NewVec creates n copies of the environment registered under name, seeded with seed (copy i
// uses the PCG stream (seed, i)), and resets them.
func NewVec(name string, n int, seed uint64) (*Vec, error) {
	if n < 1 {
		return nil, fmt.Errorf("envs: number of environments %d must be >= 1", n)
	}
	v := &Vec{}
	for i := 0; i < n; i++ {
		e, err := New(name)
		if err != nil {
			return nil, err
		}
		v.envs = append(v.envs, e)
		v.rngs = append(v.rngs, rand.New(rand.NewPCG(seed, uint64(i)+0x9e3779b97f4a7c15)))
	}
	v.spec = v.envs[0].Spec()
	s := v.spec
	v.Num = make([]float32, n*s.NumObs)
	v.Cat = make([]string, n*s.CatObs)
	v.FinalNum = make([]float32, n*s.NumObs)
	v.FinalCat = make([]string, n*s.CatObs)
	v.Reward = make([]float64, n)
	v.Terminated = make([]bool, n)
	v.Truncated = make([]bool, n)
	v.steps = make([]int, n)
	v.returns = make([]float64, n)
	for i := range v.envs {
		v.resetOne(i)
	}
	return v, nil
}

// Spec returns the environment's spec.
func (v *Vec) Spec() Spec { return v.spec }

// N returns the number of copies.
func (v *Vec) N() int { return len(v.envs) }

func (v *Vec) rowNum(buf []float32, i int) []float32 {
	d := v.spec.NumObs
	return buf[i*d : (i+1)*d]
}

func (v *Vec) rowCat(buf []string, i int) []string {
	d := v.spec.CatObs
	return buf[i*d : (i+1)*d]
}

func (v *Vec) resetOne(i int) {
	v.envs[i].Reset(v.rngs[i], v.rowNum(v.Num, i), v.rowCat(v.Cat, i))
	v.steps[i], v.returns[i] = 0, 0
}

// Step advances every copy: discrete holds one action per copy (Discrete spaces), continuous
// [N, ActionDim] actions (Box spaces; the other argument is ignored and may be nil).
func (v *Vec) Step(discrete []int, continuous []float32) {
	s := v.spec
	if s.Discrete() {
		checkLen("discrete actions", len(discrete), len(v.envs))
	} else {
		checkLen("continuous actions", len(continuous), len(v.envs)*s.ActionDim)
	}
	for i, e := range v.envs {
		var a int
		var u []float32
		if s.Discrete() {
			a = discrete[i]
			if a < 0 || a >= s.Actions {
				panic(fmt.Sprintf("envs: %s action %d out of range [0, %d)", s.ID, a, s.Actions))
			}
		} else {
			u = continuous[i*s.ActionDim : (i+1)*s.ActionDim]
		}
		r, term := e.Step(v.rngs[i], a, u, v.rowNum(v.Num, i), v.rowCat(v.Cat, i))
		v.steps[i]++
		v.returns[i] += r
		v.TotalSteps++
		trunc := !term && s.MaxEpisodeSteps > 0 && v.steps[i] >= s.MaxEpisodeSteps
		v.Reward[i], v.Terminated[i], v.Truncated[i] = r, term, trunc
		if term || trunc {
			copy(v.rowNum(v.FinalNum, i), v.rowNum(v.Num, i))
			copy(v.rowCat(v.FinalCat, i), v.rowCat(v.Cat, i))
			v.episodes = append(v.episodes, Episode{Return: v.returns[i], Length: v.steps[i], Truncated: trunc})
			v.resetOne(i)
		}
	}
}

// Episodes returns the episodes finished since the last call and forgets them.
func (v *Vec) Episodes() []Episode {
	out := slices.Clone(v.episodes)
	v.episodes = v.episodes[:0]
	return out
}

// OneHot encodes categorical observations cat ([n, CatObs]) as one-hot float32 features
// ([n, OneHotDim()]) in the order of spec.CatValues; a value not in the list encodes as zeros.
func (s Spec) OneHot(cat []string, n int) []float32 {
	dim := s.OneHotDim()
	out := make([]float32, n*dim)
	index := make([]map[string]int, s.CatObs)
	off := make([]int, s.CatObs)
	o := 0
	for f, vals := range s.CatValues {
		index[f] = make(map[string]int, len(vals))
		for j, val := range vals {
			index[f][val] = j
		}
		off[f] = o
		o += len(vals)
	}
	for i := 0; i < n; i++ {
		for f := 0; f < s.CatObs; f++ {
			if j, ok := index[f][cat[i*s.CatObs+f]]; ok {
				out[i*dim+off[f]+j] = 1
			}
		}
	}
	return out
}

// OneHotDim is the width of OneHot's encoding: the total number of categorical values.
func (s Spec) OneHotDim() int {
	d := 0
	for _, vals := range s.CatValues {
		d += len(vals)
	}
	return d
}
