package bench

import (
	"fmt"
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/events"
)

// IdleTimeout is how long the reactive baselines keep an idle VM before scaling it in:
// the minimum bill, since keeping a VM any shorter saves nothing.
const IdleTimeout = 60.0

// baselineType is the instance type every baseline uses: the cheapest per core among the
// types that fit the workflow's largest task, so every task can be placed.
func baselineType(tr *Trace, cat catalog.Catalog) (catalog.InstanceType, error) {
	var cpu float64
	var mem int64
	for _, t := range tr.Tasks {
		cpu = max(cpu, t.CPU)
		mem = max(mem, t.Memory)
	}
	var best catalog.InstanceType
	found := false
	for _, t := range cat.Types {
		if t.Cores < cpu || t.MemoryBytes < mem {
			continue
		}
		if !found || t.PricePerSecond/t.Cores < best.PricePerSecond/best.Cores ||
			(t.PricePerSecond/t.Cores == best.PricePerSecond/best.Cores && t.Cores < best.Cores) {
			best, found = t, true
		}
	}
	if !found {
		return best, fmt.Errorf("%s: largest task (%.1f cores, %d bytes) fits no instance type: %w", tr.Name, cpu, mem, ErrStuck)
	}
	return best, nil
}

// peakVMs is how many VMs of typ hold the workflow's ASAP peak, capped by the quotas.
func peakVMs(tr *Trace, typ catalog.InstanceType, q catalog.Quotas) int {
	cores, mem := asapPeak(tr)
	n := int(math.Ceil(cores/typ.Cores - 1e-9))
	n = max(n, int(math.Ceil(float64(mem)/float64(typ.MemoryBytes)-1e-9)), 1)
	if q.MaxVMs > 0 {
		n = min(n, q.MaxVMs)
	}
	if q.MaxCores > 0 {
		n = min(n, max(int(q.MaxCores/typ.Cores), 1))
	}
	return n
}

// fifoRunnable lists runnable tasks in the order they became runnable (then trace order),
// the order a Kubernetes scheduler queue or an ASG-backed worker queue serves them.
func fifoRunnable(s *sim) []int {
	var out []int
	for _, i := range s.tr.Order {
		if s.runnable[i] {
			out = append(out, i)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return s.runnableAt[out[a]] < s.runnableAt[out[b]] })
	return out
}

// placeFirstFit starts each runnable task on the oldest ready VM with room and returns the
// tasks left waiting.
func placeFirstFit(s *sim) []int {
	var open []*simVM
	for _, v := range s.vms {
		if v.ready && !v.released() && v.freeCores > 1e-9 {
			open = append(open, v)
		}
	}
	var pending []int
	for _, i := range fifoRunnable(s) {
		t := &s.tr.Tasks[i]
		placed := false
		for k, v := range open {
			if v.fits(t) {
				s.place(i, v)
				placed = true
				if v.freeCores <= 1e-9 {
					open = append(open[:k], open[k+1:]...)
				}
				break
			}
		}
		if !placed {
			pending = append(pending, i)
		}
	}
	return pending
}

// warmPool is an EC2 Auto Scaling warm pool of stopped VMs of one type.
type warmPool struct {
	n    int
	last float64
}

// settle charges the stopped VMs' storage up to now, or up to the workflow's end once it
// has finished (as for every policy, the pool is charged to the workflow while it runs).
func (w *warmPool) settle(s *sim, typ catalog.InstanceType) {
	end := s.now
	if s.done == len(s.tr.Tasks) {
		end = s.makespan()
	}
	if end > w.last {
		s.standbyCost += float64(w.n) * (end - w.last) * typ.WarmCostPerSecond
		w.last = end
	}
}

// reactive is the Karpenter / cluster-autoscaler baseline, and with a warm pool the EC2
// Auto Scaling one.
type reactive struct {
	typ  catalog.InstanceType
	warm *warmPool
}

func (r *reactive) step(s *sim) error {
	pending := placeFirstFit(s)
	if r.warm != nil {
		r.warm.settle(s, r.typ)
	}
	finished := s.done == len(s.tr.Tasks)
	for _, v := range s.vms {
		if !v.ready || v.released() || v.running > 0 {
			continue
		}
		if s.now >= v.idleSince+IdleTimeout {
			s.release(v)
			if r.warm != nil && !finished {
				r.warm.n++ // ReuseOnScaleIn: the VM is stopped back into the pool
			}
		} else {
			s.wake(v.idleSince + IdleTimeout)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	// Pending tasks first claim room on VMs still booting; only the rest trigger launches,
	// as Karpenter counts in-flight nodeclaims.
	type room struct {
		cores float64
		mem   int64
	}
	var shadow []room
	for _, v := range s.vms {
		if !v.ready && !v.released() {
			shadow = append(shadow, room{v.freeCores, v.freeMem})
		}
	}
	n, cores := s.allocated()
	for _, i := range pending {
		t := &s.tr.Tasks[i]
		claimed := false
		for k := range shadow {
			if shadow[k].cores+1e-9 >= t.CPU && shadow[k].mem >= t.Memory {
				shadow[k].cores -= t.CPU
				shadow[k].mem -= t.Memory
				claimed = true
				if shadow[k].cores <= 1e-9 {
					shadow = append(shadow[:k], shadow[k+1:]...)
				}
				break
			}
		}
		q := s.cat.Quotas
		if claimed || (q.MaxVMs > 0 && n+1 > q.MaxVMs) || (q.MaxCores > 0 && cores+r.typ.Cores > q.MaxCores+1e-9) {
			continue
		}
		tier := events.TierCold
		if r.warm != nil && r.warm.n > 0 {
			tier = events.TierWarm
			r.warm.n--
		}
		v := s.request(r.typ, tier, s.now)
		n, cores = n+1, cores+r.typ.Cores
		shadow = append(shadow, room{v.freeCores - t.CPU, v.freeMem - t.Memory})
	}
	if len(s.vms) == 0 && len(pending) > 0 {
		return fmt.Errorf("%s: quota admits no %s: %w", s.tr.Name, r.typ.Name, ErrStuck)
	}
	return nil
}

// static is a hot pool sized for the ASAP peak, running for the whole workflow.
type static struct {
	typ     catalog.InstanceType
	n       int
	started bool
}

func (p *static) step(s *sim) error {
	if !p.started {
		p.started = true
		for range p.n {
			v := s.request(p.typ, events.TierHot, 0)
			v.hotFrom = 0
		}
		return nil // the VMs' ready events (at 0) come next
	}
	placeFirstFit(s)
	if s.done == len(s.tr.Tasks) {
		for _, v := range s.vms {
			s.release(v)
		}
	}
	return nil
}
