// Package sim is a cloud simulator behind provider.Provider. It follows a catalog.Catalog the
// way EC2 follows its price list and service behaviour, so the pool manager and the
// benchmark exercise the same code paths a real cloud would:
//
//   - Launch and Start latencies are drawn from each type's cold and warm lognormal
//     (catalog.Latency.Sample). A VM's ReadyAt lies in the future of the injected clock and
//     Describe reports it pending until the clock passes it, in virtual and in real time
//     alike; the simulator never sleeps.
//   - Billing is EC2's: per second while running, with a 60 s minimum
//     (catalog.MinimumBillSeconds) charged on every start, and the type's warm standby cost
//     (root volume storage) per second while stopped. A run is billed from ReadyAt, as the
//     planner's cost model and the benchmark simulator do; Options.BillBoot bills from the
//     request instead (EC2's truth lies between: it bills from the running state, before
//     the agent is up).
//   - Quotas count VMs that are pending or running, as EC2's On-Demand vCPU limits do;
//     stopped standbys do not count until they are started again.
//   - A launch ledger keyed by the idempotency key returns the first VM for every retry, as
//     EC2's ClientToken does; reusing a key with a different shape is ErrInvalid
//     (EC2's IdempotentParameterMismatch). The ledger can outlive a Sim, so a "crash" and a
//     restart over the same ledger never make a second VM.
//   - Failures are injected (Faults): a per-call error rate, outage windows in clock time,
//     lost responses (the VM is made but the caller sees an error, the case idempotency keys
//     exist for) and slow launches; all surface as provider.ErrUnavailable.
//
// Latency draws are a hash of (seed, key, start number), not a shared stream, so the same
// VM gets the same latency whatever the order of concurrent calls and across restarts;
// injected errors come from a seeded stream.
package sim
