package sim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
)

// ledgerJSON is the ledger's durable form, so a simulated cloud can outlive the process
// that drives it (write it on shutdown, read it on start, as a real cloud keeps its VMs).
type ledgerJSON struct {
	Seq int      `json:"seq"`
	VMs []vmJSON `json:"vms"`
}

type vmJSON struct {
	ID            string               `json:"id"`
	Spec          provider.Spec        `json:"spec"`
	Type          catalog.InstanceType `json:"type"`
	State         provider.State       `json:"state"`
	LaunchedAt    time.Time            `json:"launched_at"`
	ReadyAt       time.Time            `json:"ready_at"`
	Starts        int                  `json:"starts"`
	RunStart      time.Time            `json:"run_start"`
	StoppedAt     time.Time            `json:"stopped_at"`
	RunSeconds    float64              `json:"run_seconds"`
	BilledSeconds float64              `json:"billed_seconds"`
	WarmSeconds   float64              `json:"warm_seconds"`
}

// MarshalJSON encodes every VM, its key and its billing meter, in launch order.
func (l *Ledger) MarshalJSON() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := ledgerJSON{Seq: l.seq, VMs: make([]vmJSON, 0, len(l.order))}
	for _, id := range l.order {
		v := l.vms[id]
		out.VMs = append(out.VMs, vmJSON{
			ID: v.id, Spec: v.spec, Type: v.it, State: v.state, LaunchedAt: v.launchedAt, ReadyAt: v.readyAt,
			Starts: v.starts, RunStart: v.runStart, StoppedAt: v.stoppedAt,
			RunSeconds: v.runSeconds, BilledSeconds: v.billedSeconds, WarmSeconds: v.warmSeconds,
		})
	}
	return json.Marshal(out)
}

// UnmarshalJSON replaces the ledger's contents with a MarshalJSON encoding.
func (l *Ledger) UnmarshalJSON(data []byte) error {
	var in ledgerJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decode sim ledger: %w", err)
	}
	fresh := NewLedger()
	fresh.seq = in.Seq
	for i, j := range in.VMs {
		if j.ID == "" || j.Spec.Key == "" {
			return fmt.Errorf("decode sim ledger: vms[%d]: id and spec.key are required", i)
		}
		if _, dup := fresh.vms[j.ID]; dup {
			return fmt.Errorf("decode sim ledger: vms[%d]: duplicate id %s", i, j.ID)
		}
		if _, dup := fresh.byKey[j.Spec.Key]; dup {
			return fmt.Errorf("decode sim ledger: vms[%d]: duplicate key %s", i, j.Spec.Key)
		}
		v := &vmRecord{
			id: j.ID, spec: j.Spec, it: j.Type, state: j.State, launchedAt: j.LaunchedAt, readyAt: j.ReadyAt,
			starts: j.Starts, runStart: j.RunStart, stoppedAt: j.StoppedAt,
			runSeconds: j.RunSeconds, billedSeconds: j.BilledSeconds, warmSeconds: j.WarmSeconds,
		}
		fresh.vms[v.id] = v
		fresh.byKey[v.spec.Key] = v.id
		fresh.order = append(fresh.order, v.id)
		if v.state == provider.StatePending || v.state == provider.StateRunning {
			fresh.live(v, +1)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq, l.vms, l.byKey, l.order = fresh.seq, fresh.vms, fresh.byKey, fresh.order
	l.liveVMs, l.liveCores = fresh.liveVMs, fresh.liveCores
	return nil
}
