// Package pool is the pool manager's decision core: what state a VM is in, how many hot and
// warm VMs of each type to keep standing, what to do with a VM that has gone idle, and what
// to use instead when a tier or type is unavailable. It is plain Go: it takes data (the
// catalog, forecasts, breaker states) and returns data; the pool manager's shell performs the
// provider calls and persists each transition in Postgres.
//
// Model.
//
//	requested ──Provision──► provisioning ──Ready──► hot_idle ──Assign──► busy ◄──Assign──┐
//	    │                         ▲                     │                  │ Drain         │
//	    │                         │ Start               │ Stop             ▼               │
//	    │                         └──────────── warm ◄──┴──── Stop ───── idle ─────────────┘
//	    └─ Terminate / Fail from any live state ──► terminated   (failed ──Terminate──► terminated)
//
// Tiers: hot = hot_idle, busy, idle (running, billed, ready now); warm = stopped (storage cost
// only, a start away); cold = no VM (a launch away). Transition is the only way to change a
// VM's state, and it rejects illegal moves with a *TransitionError.
//
// Standing targets (Targets) size the hot tier for the demand forecast inside the warm lead
// time (what a warm start could not deliver in time) and the warm tier for the demand inside
// the cold lead time, as EC2 Auto Scaling warm pools pre-initialise stopped instances for
// the burst a launch would be too slow for.
//
// Scale-in (ScaleIn) is the multi-state ski-rental problem: paying rent (keeping a VM hot,
// or its volume stored while warm) against buying (a fresh start's minimum charge, and the
// latency of getting the VM back). With a predicted gap until the next need it takes the
// offline optimum — the cheapest state for that gap among those that can be running again
// in time (the lower envelope of Irani, Shukla & Gupta, "Online strategies for dynamic
// power management in systems with multiple power-saving states", ACM TECS 2003). Without a
// prediction it falls back to the classic break-even rule — stay in a state until its rent
// equals the cost of leaving it — which is 2-competitive (Karlin, Manasse, Rudolph & Sleator,
// "Competitive snoopy caching", Algorithmica 1988); Purohit, Svitkina & Kumar ("Improving
// online algorithms via ML predictions", NeurIPS 2018) study the same rule fed by
// predictions.
//
// Fallback (Fallback) picks the cheapest option by cost plus λ × extra delay among the tiers
// and types whose circuit breakers are closed, the way a Kubernetes scheduler filters then
// scores nodes.
package pool
