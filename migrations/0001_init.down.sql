DROP TABLE IF EXISTS predictor_state, task_observations, agent_runs, vms, task_runs, allocation_vms, allocations,
    plans, forecasts, workflow_tasks, graphs, workflow_events, workflows, dead_letters, outbox,
    processed_events;
