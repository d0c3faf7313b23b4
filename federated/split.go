package federated

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DirichletSplit splits example indices 0..len(labels)-1 among clients by label: for each class
// c it draws proportions p ~ Dirichlet(α·1_N) and deals the class's shuffled examples to the
// clients in those proportions (the split of Hsu et al. 2019 used by Cheng et al.). Every
// example goes to exactly one client; the result is deterministic in seed. Small α gives each
// client few classes, large α approaches an IID split. labels must be class ids in
// [0, numClasses).
func DirichletSplit(labels []int, numClasses, clients int, alpha float64, seed uint64) ([][]int, error) {
	if clients < 1 {
		return nil, fmt.Errorf("federated: clients = %d; must be ≥ 1", clients)
	}
	if !(alpha > 0) || math.IsInf(alpha, 1) {
		return nil, fmt.Errorf("federated: Dirichlet alpha = %v; must be a finite number > 0", alpha)
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("federated: numClasses = %d; must be ≥ 1", numClasses)
	}
	byClass := make([][]int, numClasses)
	for i, y := range labels {
		if y < 0 || y >= numClasses {
			return nil, fmt.Errorf("federated: label %d of example %d outside [0, %d)", y, i, numClasses)
		}
		byClass[y] = append(byClass[y], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eedd1c1))
	parts := make([][]int, clients)
	p := make([]float64, clients)
	for _, idx := range byClass {
		if len(idx) == 0 {
			continue
		}
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		sum := 0.0
		for j := range p {
			p[j] = gammaSample(rng, alpha)
			sum += p[j]
		}
		if !(sum > 0) { // every draw underflowed (tiny α): give the class to one client
			for j := range p {
				p[j] = 0
			}
			p[rng.IntN(clients)], sum = 1, 1
		}
		// Cumulative cut points, as numpy's split at (cumsum(p)·n).astype(int).
		start, cum := 0, 0.0
		for j := range clients {
			cum += p[j] / sum
			end := int(cum * float64(len(idx)))
			if j == clients-1 {
				end = len(idx)
			}
			end = max(end, start)
			parts[j] = append(parts[j], idx[start:end]...)
			start = end
		}
	}
	return parts, nil
}

// gammaSample draws Gamma(shape, 1) by Marsaglia–Tsang (boosted by U^{1/shape} for shape < 1).
func gammaSample(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		return gammaSample(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// SampleClients returns the S of N clients (sorted) that take part in round r: a uniform draw
// without replacement, deterministic in (seed, r). S = N returns every client.
func SampleClients(seed uint64, round, n, s int) []int {
	if s >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0xc11e+uint64(round)))
	perm := rng.Perm(n)[:s]
	sortInts(perm)
	return perm
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// BatchIndices returns the mini-batch client i uses at local step k of round r: batch indices
// drawn uniformly with replacement from its part (deterministic in seed, r, i, k), or the whole
// part when batch = 0. Round −1 is the draw for the initial momentum g⁰.
func BatchIndices(seed uint64, round, client, step int, part []int, batch int) []int {
	if batch <= 0 {
		return part
	}
	rng := rand.New(rand.NewPCG(seed^0xba7c4, uint64(round+1)<<40|uint64(client)<<20|uint64(step)))
	out := make([]int, batch)
	for j := range out {
		out[j] = part[rng.IntN(len(part))]
	}
	return out
}
