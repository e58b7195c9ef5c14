package pool

import (
	"fmt"
	"math"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// Action is what scale-in does with an idle VM.
type Action string

// Scale-in actions.
const (
	// ActionKeepHot leaves a running VM running.
	ActionKeepHot Action = "keep_hot"
	// ActionStop stops a running VM to warm standby.
	ActionStop Action = "stop"
	// ActionKeepWarm leaves a stopped VM stopped.
	ActionKeepWarm Action = "keep_warm"
	// ActionTerminate terminates the VM.
	ActionTerminate Action = "terminate"
)

// IdleVM is a VM with nothing to run: running and idle, or stopped.
type IdleVM struct {
	ID           string
	InstanceType string
	// Stopped says the VM is already a warm standby; otherwise it is running.
	Stopped bool
	// SinceStartSeconds is how long a running VM has run since its last launch or start; the
	// rest of that start's minimum charge is already paid.
	SinceStartSeconds float64
	// IdleSeconds is how long it has been idle (running) or stopped (warm), used when no
	// need is predicted.
	IdleSeconds float64
}

// Decision is what to do with an idle VM, and why.
type Decision struct {
	Action Action
	Reason string
	// HotCost, WarmCost and ColdCost are the predicted USD spent until the next need if the
	// VM is kept running, kept or put in warm standby, or terminated and relaunched ahead of
	// the need; +Inf marks an option that cannot be back in time.
	HotCost, WarmCost, ColdCost float64
}

// ScaleIn decides whether an idle VM stays hot, goes (or stays) warm, or is terminated.
//
// nextNeedSeconds is the predicted time until a VM of this type is needed again: +Inf when
// no need is forecast, NaN or negative when there is no forecast at all. minBill is the
// catalog's minimum charge per start.
//
// With a prediction g, each option is costed until the need. Billing runs from ready (as in
// the planner and the simulators), so a VM brought back ahead of the need costs no boot
// time; what getting it back costs is a fresh start's minimum charge, at worst
// price × minBill when the next work is short. The latency of getting it back decides
// which options are feasible: one that cannot be running by g (its tier's P90 latency
// exceeds g) is ruled out, so a VM needed sooner than a warm start stays hot.
//
//	hot:  price × max(0, g − prepaid)         prepaid = minBill − SinceStart, already paid
//	warm: storage × g + price × minBill        only if g ≥ Lwarm
//	cold: price × minBill                      only if g ≥ Lcold; 0 if g = +Inf
//
// The cheapest feasible option wins; ties go to the faster tier, which forgives a need that
// comes early. Since a warm VM only adds storage to a relaunch, warm wins exactly for the
// gaps too short for a launch but long enough for a start: warm standby exists for what a
// launch is too slow for.
//
// Without a prediction the break-even (ski-rental) rule applies, with delay valued at the
// VM's own price: keep a running VM hot until it has idled for prepaid + price·minBill /
// (price − storage); keep a stopped one until its storage has cost what the extra latency
// of a launch over a start would, price·(Lcold − Lwarm)/storage seconds.
func ScaleIn(vm IdleVM, nextNeedSeconds float64, it catalog.InstanceType, minBill float64) Decision {
	p, w := it.PricePerSecond, it.WarmCostPerSecond
	lw, lc := it.Warm.P90Seconds, it.Cold.P90Seconds
	minBill = math.Max(0, minBill)
	restart := p * minBill
	prepaid := 0.0
	if !vm.Stopped {
		prepaid = math.Max(0, minBill-math.Max(0, vm.SinceStartSeconds))
	}

	if math.IsNaN(nextNeedSeconds) || nextNeedSeconds < 0 {
		return breakEven(vm, it, prepaid, minBill)
	}
	g := nextNeedSeconds

	inf := math.Inf(1)
	d := Decision{HotCost: inf, WarmCost: inf, ColdCost: inf}
	if !vm.Stopped {
		d.HotCost = p * math.Max(0, g-prepaid)
	}
	if g >= lw {
		d.WarmCost = restart
		if w > 0 { // 0 × +Inf would be NaN
			d.WarmCost += w * g
		}
	}
	switch {
	case math.IsInf(g, 1):
		d.ColdCost = 0
	case g >= lc:
		d.ColdCost = restart
	}

	need := "no need forecast"
	if !math.IsInf(g, 1) {
		need = fmt.Sprintf("next need in %.0f s", g)
	}
	switch {
	case !vm.Stopped && d.HotCost <= d.WarmCost && d.HotCost <= d.ColdCost:
		d.Action = ActionKeepHot
		if math.IsInf(d.WarmCost, 1) {
			d.Reason = fmt.Sprintf("%s, sooner than a warm start (%.0f s): keep hot", need, lw)
		} else {
			d.Reason = fmt.Sprintf("%s: keeping hot ($%.5f, %.0f s prepaid) beats a restart's minimum ($%.5f)", need, d.HotCost, prepaid, restart)
		}
	case !math.IsInf(d.WarmCost, 1) && d.WarmCost <= d.ColdCost:
		d.Action = ActionStop
		if vm.Stopped {
			d.Action = ActionKeepWarm
		}
		d.Reason = fmt.Sprintf("%s, sooner than a launch (%.0f s): warm standby ($%.5f) beats hot ($%.5f)", need, lc, d.WarmCost, d.HotCost)
	case !math.IsInf(d.ColdCost, 1):
		d.Action = ActionTerminate
		d.Reason = fmt.Sprintf("%s, time to relaunch ahead of it: terminate ($%.5f) beats warm ($%.5f) and hot ($%.5f)", need, d.ColdCost, d.WarmCost, d.HotCost)
	default:
		// Only reachable for a stopped VM needed sooner than a warm start: start it now,
		// late by Lwarm − g.
		d.Action = ActionKeepWarm
		d.WarmCost = restart
		d.Reason = fmt.Sprintf("%s, sooner than a warm start (%.0f s): keep warm and start it now", need, lw)
	}
	return d
}

// breakEven is the deterministic ski-rental rule, used when nothing is predicted.
func breakEven(vm IdleVM, it catalog.InstanceType, prepaid, minBill float64) Decision {
	p, w := it.PricePerSecond, it.WarmCostPerSecond
	lw, lc := it.Warm.P90Seconds, it.Cold.P90Seconds
	nan := math.NaN()
	d := Decision{HotCost: nan, WarmCost: nan, ColdCost: nan}
	if !vm.Stopped {
		// Stopping saves p−w per second; coming back costs a fresh minimum, p·minBill.
		hotBE := prepaid + p*minBill/math.Max(p-w, 1e-18)
		if vm.IdleSeconds < hotBE {
			d.Action = ActionKeepHot
			d.Reason = fmt.Sprintf("no forecast: idle %.0f s < break-even %.0f s, keep hot", vm.IdleSeconds, hotBE)
			return d
		}
		d.Action = ActionStop
		d.Reason = fmt.Sprintf("no forecast: idle %.0f s ≥ break-even %.0f s, stop to warm", vm.IdleSeconds, hotBE)
		return d
	}
	warmBE := math.Inf(1)
	if w > 0 {
		warmBE = p * math.Max(0, lc-lw) / w
	}
	if vm.IdleSeconds < warmBE {
		d.Action = ActionKeepWarm
		d.Reason = fmt.Sprintf("no forecast: stopped %.0f s < break-even %.0f s, keep warm", vm.IdleSeconds, warmBE)
		return d
	}
	d.Action = ActionTerminate
	d.Reason = fmt.Sprintf("no forecast: stopped %.0f s ≥ break-even %.0f s, terminate", vm.IdleSeconds, warmBE)
	return d
}
