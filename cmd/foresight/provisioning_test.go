package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/foresight-run/foresight/pkg/catalog"
	"github.com/foresight-run/foresight/pkg/clock"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/allocator"
	"github.com/foresight-run/foresight/services/poolmanager/provider"
	"github.com/foresight-run/foresight/services/poolmanager/provider/sim"
)

// TestVMsRequestedAheadAreReadyWhenTasksBecomeRunnable plans a three-wave workflow with
// the allocator's catalog planner and launches each planned VM in the simulated cloud, in
// virtual time, at the plan's request time. Requested one latency ahead (plus the policy's
// warm-ahead margin), the VMs are ready by the time their first task becomes runnable;
// launched reactively at that moment, none would be.
func TestVMsRequestedAheadAreReadyWhenTasksBecomeRunnable(t *testing.T) {
	t.Parallel()
	cat := catalog.Default()
	// Narrow, wide, narrow: one task, then a wave of 64 that needs VMs the first wave did
	// not, then one task. Each wave starts after the whole previous one.
	width := []int{1, 64, 1}
	var tasks []events.GraphTask
	var preds []events.TaskPrediction
	for w, n := range width {
		for i := range n {
			task := events.Task{ID: fmt.Sprintf("w%d-%02d", w, i), CPU: 1, MemoryBytes: 1 << 30}
			if w > 0 {
				for j := range width[w-1] {
					task.DependsOn = append(task.DependsOn, fmt.Sprintf("w%d-%02d", w-1, j))
				}
			}
			tasks = append(tasks, events.GraphTask{Task: task, EstimateSeconds: 600})
			preds = append(preds, events.TaskPrediction{TaskID: task.ID, P50Seconds: 600, P90Seconds: 600, P99Seconds: 600})
		}
	}
	cold := cat.Types[0].Cold
	dp := events.DemandPredicted{WorkflowID: "wf-ahead", Predictions: preds,
		Graph:  events.GraphBuilt{WorkflowID: "wf-ahead", Family: "waves", Tasks: tasks, TotalWorkCoreSeconds: 66 * 600, Objective: events.Objective{Mode: "balanced"}},
		Action: events.PolicyAction{RuntimeQuantile: 0.5, MemoryHeadroom: 1.1, WarmAheadSeconds: cold.P90Seconds - cold.MeanSeconds}}
	plan, err := allocator.CatalogPlanner(cat)(allocator.PlanRequest{Demand: dp, Version: 1})
	require.NoError(t, err)
	require.NotEmpty(t, plan.VMRequests)

	firstStart := map[string]float64{}
	for _, p := range plan.Placements {
		if s, ok := firstStart[p.VMKey]; !ok || p.StartSeconds < s {
			firstStart[p.VMKey] = p.StartSeconds
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	launch := func(clk *clock.Virtual, cloud *sim.Sim, key string, r events.VMRequest, at float64) float64 {
		clk.Set(t0.Add(time.Duration(at * float64(time.Second))))
		vm, err := cloud.Launch(context.Background(), provider.Spec{Key: key, InstanceType: r.InstanceType, Cores: r.Cores, MemoryBytes: r.MemoryBytes})
		require.NoError(t, err)
		return vm.ReadyAt.Sub(t0).Seconds()
	}
	var ahead []events.VMRequest
	for _, r := range plan.VMRequests {
		if _, ok := firstStart[r.Key]; ok && r.RequestAtSeconds > 0 {
			ahead = append(ahead, r) // nothing exists before the workflow starts: the first wave waits
		}
	}
	slices.SortFunc(ahead, func(a, b events.VMRequest) int { return cmp.Compare(a.RequestAtSeconds, b.RequestAtSeconds) })

	// Proactive: each VM launched in the simulated cloud at the plan's request time.
	var onTime, later int
	clk := clock.NewVirtual(t0)
	cloud, err := sim.New(sim.Options{Catalog: cat, Clock: clk, Seed: 11})
	require.NoError(t, err)
	for _, r := range ahead {
		need := firstStart[r.Key]
		require.Less(t, r.RequestAtSeconds, need, "VM %s is requested before it is needed", r.Key)
		if launch(clk, cloud, r.Key, r, r.RequestAtSeconds) <= need {
			onTime++
		} else {
			later++
		}
	}
	// Reactive: the same VMs launched only when their first task becomes runnable.
	reactiveOnTime := 0
	rclk := clock.NewVirtual(t0)
	rcloud, err := sim.New(sim.Options{Catalog: cat, Clock: rclk, Seed: 11})
	require.NoError(t, err)
	slices.SortFunc(ahead, func(a, b events.VMRequest) int { return cmp.Compare(firstStart[a.Key], firstStart[b.Key]) })
	for _, r := range ahead {
		if launch(rclk, rcloud, r.Key, r, firstStart[r.Key]) <= firstStart[r.Key] {
			reactiveOnTime++
		}
	}
	t.Logf("requested ahead: %d of %d ready on time; launched reactively: %d of %d", onTime, onTime+later, reactiveOnTime, len(ahead))
	require.Positive(t, onTime+later, "the plan provisions later waves ahead of time")
	require.GreaterOrEqual(t, float64(onTime)/float64(onTime+later), 0.85, "%d on time, %d late", onTime, later)
	require.Zero(t, reactiveOnTime, "a VM launched when its task becomes runnable is never ready then")
}
