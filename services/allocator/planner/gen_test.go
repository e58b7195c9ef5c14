package planner

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// layeredDAG generates n tasks in layers of the given width; every task past the first
// layer has up to four distinct parents in the layer before. Durations are lognormal
// around 60 s, requests 1–2 cores and 1–4 GiB: the shape of the scientific workflows the
// planner is built for, at any size. Deterministic for a seed.
func layeredDAG(n, width int, seed uint64) []Task {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ts := make([]Task, n)
	for i := range ts {
		layer := i / width
		t := Task{ID: "t" + strconv.Itoa(i), CPU: float64(1 + rng.IntN(2)),
			MemoryBytes: int64(1+rng.IntN(4)) << 30,
			Duration:    60 * math.Exp(0.8*rng.NormFloat64())}
		if layer > 0 {
			lo := (layer - 1) * width
			for k := 0; k < 4; k++ {
				p := int32(lo + rng.IntN(width))
				dup := false
				for _, q := range t.Parents {
					dup = dup || q == p
				}
				if !dup {
					t.Parents = append(t.Parents, p)
				}
			}
		}
		ts[i] = t
	}
	return ts
}
