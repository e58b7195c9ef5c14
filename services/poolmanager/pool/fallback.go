package pool

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/foresight-run/foresight/pkg/catalog"
)

// Option is one way to get a VM: a tier and an instance type.
type Option struct {
	Tier         string
	InstanceType string
}

func (o Option) String() string { return o.Tier + " " + o.InstanceType }

// Breakers says which options are refused now. breaker.Provider implements it; an empty
// instanceType asks about a whole tier.
type Breakers interface {
	Open(tier, instanceType string) bool
}

// OpenSet is a Breakers given as data: an option is open if it is in the set, or its tier
// is with an empty instance type.
type OpenSet map[Option]bool

// Open implements Breakers.
func (s OpenSet) Open(tier, instanceType string) bool {
	return s[Option{Tier: tier, InstanceType: instanceType}] || s[Option{Tier: tier}]
}

var _ Breakers = OpenSet(nil)

// ErrNoFallback says no tier or type can serve the request now.
var ErrNoFallback = errors.New("no fallback option")

// Request is a VM the plan asked for that cannot be had as planned.
type Request struct {
	// Option is what the plan chose.
	Option
	// Cores and MemoryBytes are what the VM must hold.
	Cores       float64
	MemoryBytes int64
	// HotIdle and Warm count the idle running and the stopped VMs the pool holds per type:
	// only these can serve from the hot and warm tiers.
	HotIdle, Warm map[string]int
	// HoldSeconds is how long the VM is predicted to be used; at least the minimum bill is
	// charged. Zero means just the minimum.
	HoldSeconds float64
	// Lambda is the objective's price of delay in USD per second. Zero or less ranks by
	// delay first and cost second, the safe reading when the plan's λ is unknown.
	Lambda float64
}

type candidate struct {
	opt   Option
	delay float64 // seconds later than the planned option would have been ready
	cost  float64 // USD for the hold, with billed boot time
	rank  int     // hot 0, warm 1, cold 2
}

// Fallback chooses what to use instead of req.Option when it is refused (its breaker is
// open, or the pool holds no VM for it): among the hot, warm and cold options of every type
// that fits the request and whose breaker is closed, the one with the least
// cost + Lambda × extra delay. Delay is each tier's P90 latency beyond the planned option's;
// cost is the type's price for the hold (at least the minimum bill) plus its billed boot
// time. The reason names the refused option, the choice and its price in delay and money.
func Fallback(req Request, cat catalog.Catalog, open Breakers) (Option, string, error) {
	planned, ok := cat.Type(req.InstanceType)
	plannedLat := 0.0
	if ok {
		plannedLat = tierLatency(planned, req.Tier)
	}
	hold := math.Max(req.HoldSeconds, cat.MinimumBillSeconds)

	var cands []candidate
	for _, it := range cat.Types {
		if it.Cores < req.Cores || it.MemoryBytes < req.MemoryBytes {
			continue
		}
		for rank, tier := range []string{TierHot, TierWarm, TierCold} {
			opt := Option{Tier: tier, InstanceType: it.Name}
			if opt == req.Option {
				continue
			}
			switch tier {
			case TierHot:
				if req.HotIdle[it.Name] <= 0 {
					continue
				}
			case TierWarm:
				if req.Warm[it.Name] <= 0 {
					continue
				}
			}
			if open != nil && open.Open(tier, it.Name) {
				continue
			}
			lat := tierLatency(it, tier)
			cands = append(cands, candidate{
				opt:   opt,
				delay: math.Max(0, lat-plannedLat),
				cost:  it.PricePerSecond * (hold + lat),
				rank:  rank,
			})
		}
	}
	if len(cands) == 0 {
		return Option{}, "", fmt.Errorf("%s for %.2f cores, %d bytes: every fitting tier and type is refused or empty: %w",
			req.Option, req.Cores, req.MemoryBytes, ErrNoFallback)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if req.Lambda > 0 {
			sa, sb := a.cost+req.Lambda*a.delay, b.cost+req.Lambda*b.delay
			if sa != sb {
				return sa < sb
			}
		} else if a.delay != b.delay {
			return a.delay < b.delay
		}
		if a.cost != b.cost {
			return a.cost < b.cost
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return a.opt.InstanceType < b.opt.InstanceType
	})
	best := cands[0]
	why := "refused"
	if open != nil && open.Open(req.Tier, req.InstanceType) {
		why = "breaker open"
	}
	reason := fmt.Sprintf("%s %s; using %s: +%.0f s, $%.5f for %.0f s", req.Option, why, best.opt, best.delay, best.cost, hold)
	return best.opt, reason, nil
}

// tierLatency is the P90 time a tier of it takes to hand over a running VM.
func tierLatency(it catalog.InstanceType, tier string) float64 {
	switch tier {
	case TierWarm:
		return it.Warm.P90Seconds
	case TierCold:
		return it.Cold.P90Seconds
	}
	return it.Hot.P90Seconds
}
