package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/outbox"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// problem is an RFC 9457 problem details document; Problems is our extension member
// listing each offending task and field.
type problem struct {
	Type     string           `json:"type"`
	Title    string           `json:"title"`
	Status   int              `json:"status"`
	Detail   string           `json:"detail,omitempty"`
	Instance string           `json:"instance,omitempty"`
	Problems []events.Problem `json:"problems,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string, probs []events.Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: title, Status: status, Detail: detail,
		Instance: r.URL.Path, Problems: probs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// submitted is the 202 response body.
type submitted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Tasks  int    `json:"tasks"`
	Links  struct {
		Self   string `json:"self"`
		Events string `json:"events"`
	} `json:"links"`
}

func (s *Service) submit(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.limits.MaxBodyBytes+1))
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Unreadable body", err.Error(), nil)
		return
	}
	wf, err := spec.Parse(body, s.limits)
	if err != nil {
		var se *spec.Error
		if errors.As(err, &se) {
			status, title := http.StatusUnprocessableEntity, "Invalid workflow"
			if se.TooLarge {
				status, title = http.StatusRequestEntityTooLarge, "Workflow too large"
			}
			writeProblem(w, r, status, title, fmt.Sprintf("%d problem(s) found; nothing was stored", len(se.Problems)), se.Problems)
			return
		}
		writeProblem(w, r, http.StatusUnprocessableEntity, "Invalid workflow", err.Error(), nil)
		return
	}
	tenant := "default"
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(key) > 255 {
		writeProblem(w, r, http.StatusBadRequest, "Invalid header", "Idempotency-Key is longer than 255 characters", []events.Problem{{Field: "Idempotency-Key", Reason: "longer than 255 characters"}})
		return
	}
	specJSON, _ := json.Marshal(wf.Tasks)
	if est := events.EstimatedLargestEventBytes(len(specJSON), len(wf.Tasks)); est > events.MaxEnvelopeBytes {
		// Accepting it would leave the workflow stuck: its forecast could never be sent.
		reason := fmt.Sprintf("its largest event would be about %.1f MiB; the event bus carries at most %d MiB",
			float64(est)/(1<<20), events.MaxEnvelopeBytes>>20)
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Workflow too large", reason+"; nothing was stored",
			[]events.Problem{{Field: "tasks", Reason: reason}})
		return
	}
	id := uuid.NewString()
	now := s.rt.Clock.Now().UTC()
	var existing string
	err = pgx.BeginFunc(r.Context(), s.rt.Pool, func(tx pgx.Tx) error {
		var keyArg *string
		if key != "" {
			keyArg = &key
		}
		tag, err := tx.Exec(r.Context(),
			`INSERT INTO workflows (id, name, family, tenant, status, spec, idempotency_key, submitted_at)
			 VALUES ($1, $2, $3, $4, 'submitted', $5, $6, $7) ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
			id, wf.Name, wf.Family, tenant, specJSON, keyArg, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return tx.QueryRow(r.Context(), `SELECT id::text FROM workflows WHERE tenant = $1 AND idempotency_key = $2`, tenant, key).Scan(&existing)
		}
		ev := events.WorkflowSubmitted{WorkflowID: id, Name: wf.Name, Family: wf.Family, Tenant: tenant,
			Objective: wf.Objective, Tasks: wf.Tasks, SubmittedAt: now}
		return outbox.Emit(r.Context(), tx, uuid.NewString(), Source, id, now, ev)
	})
	if err != nil {
		s.log.Error("store submission", "err", err)
		writeProblem(w, r, http.StatusServiceUnavailable, "Submission not stored", "the database did not accept the submission; retry with the same Idempotency-Key", nil)
		return
	}
	status := http.StatusAccepted
	if existing != "" {
		id, status = existing, http.StatusOK
	}
	var out submitted
	out.ID, out.Status, out.Tasks = id, "submitted", len(wf.Tasks)
	out.Links.Self = "/v1/workflows/" + id
	out.Links.Events = "/v1/workflows/" + id + "/events"
	w.Header().Set("Location", out.Links.Self)
	s.log.Info("workflow submitted", "workflow_id", id, "tasks", len(wf.Tasks))
	writeJSON(w, status, out)
}

// TaskStatus is one task in GET /v1/workflows/{id}.
type TaskStatus struct {
	ID              string     `json:"id"`
	State           string     `json:"state"`
	Attempt         int        `json:"attempt"`
	VMID            string     `json:"vm_id,omitempty"`
	EstimateSeconds *float64   `json:"estimate_seconds,omitempty"`
	EstimateSource  string     `json:"estimate_source,omitempty"`
	RuntimeSeconds  *float64   `json:"runtime_seconds,omitempty"`
	CPUSeconds      *float64   `json:"cpu_seconds,omitempty"`
	PeakRSSBytes    *int64     `json:"peak_rss_bytes,omitempty"`
	ExitCode        *int       `json:"exit_code,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
}

// WorkflowStatus is the body of GET /v1/workflows/{id}.
type WorkflowStatus struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Family          string            `json:"family"`
	Status          string            `json:"status"`
	SubmittedAt     time.Time         `json:"submitted_at"`
	CompletedAt     *time.Time        `json:"completed_at,omitempty"`
	MakespanSeconds *float64          `json:"makespan_seconds,omitempty"`
	Problems        []events.Problem  `json:"problems,omitempty"`
	Plan            *events.PlanReady `json:"plan,omitempty"`
	Tasks           []TaskStatus      `json:"tasks"`
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid id", "workflow id must be a UUID", []events.Problem{{Field: "id", Reason: "not a UUID"}})
		return
	}
	ctx := r.Context()
	var st WorkflowStatus
	var probs []byte
	var specJSON []byte
	err := s.rt.Pool.QueryRow(ctx,
		`SELECT id::text, name, family, status, submitted_at, completed_at, makespan_seconds, problems, spec FROM workflows WHERE id = $1`, id).
		Scan(&st.ID, &st.Name, &st.Family, &st.Status, &st.SubmittedAt, &st.CompletedAt, &st.MakespanSeconds, &probs, &specJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, r, http.StatusNotFound, "Workflow not found", "no workflow "+id, nil)
		return
	}
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Status unavailable", err.Error(), nil)
		return
	}
	if len(probs) > 0 {
		_ = json.Unmarshal(probs, &st.Problems)
	}
	var planJSON []byte
	if err := s.rt.Pool.QueryRow(ctx, `SELECT plan FROM plans WHERE workflow_id = $1 ORDER BY version DESC LIMIT 1`, id).Scan(&planJSON); err == nil {
		st.Plan = new(events.PlanReady)
		_ = json.Unmarshal(planJSON, st.Plan)
	}
	// Every submitted task, with whatever later stages know about it.
	var tasks []events.Task
	_ = json.Unmarshal(specJSON, &tasks)
	rows, err := s.rt.Pool.Query(ctx, `
		SELECT t.task_id, coalesce(r.state, 'pending'), coalesce(r.attempt, 0), coalesce(r.vm_id, ''),
		       wt.estimate_seconds, coalesce(wt.estimate_source, ''),
		       o.runtime_seconds, o.cpu_seconds, o.peak_rss_bytes, o.exit_code, o.started_at, o.finished_at
		FROM unnest($2::text[]) WITH ORDINALITY AS t(task_id, n)
		LEFT JOIN task_runs r ON r.workflow_id = $1 AND r.task_id = t.task_id
		LEFT JOIN workflow_tasks wt ON wt.workflow_id = $1 AND wt.task_id = t.task_id
		LEFT JOIN LATERAL (SELECT * FROM task_observations o WHERE o.workflow_id = $1 AND o.task_id = t.task_id
		                   ORDER BY attempt DESC LIMIT 1) o ON true
		ORDER BY t.n`, id, taskIDs(tasks))
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Status unavailable", err.Error(), nil)
		return
	}
	st.Tasks, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (TaskStatus, error) {
		var t TaskStatus
		return t, row.Scan(&t.ID, &t.State, &t.Attempt, &t.VMID, &t.EstimateSeconds, &t.EstimateSource,
			&t.RuntimeSeconds, &t.CPUSeconds, &t.PeakRSSBytes, &t.ExitCode, &t.StartedAt, &t.FinishedAt)
	})
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Status unavailable", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func taskIDs(tasks []events.Task) []string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return ids
}

// workflowSummary is one row of GET /v1/workflows.
type workflowSummary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	SubmittedAt time.Time `json:"submitted_at"`
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeProblem(w, r, http.StatusBadRequest, "Invalid query", "limit must be 1..500", []events.Problem{{Field: "limit", Reason: "must be an integer from 1 to 500"}})
			return
		}
		limit = n
	}
	rows, err := s.rt.Pool.Query(r.Context(), `SELECT id::text, name, status, submitted_at FROM workflows ORDER BY submitted_at DESC LIMIT $1`, limit)
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "List unavailable", err.Error(), nil)
		return
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[workflowSummary])
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "List unavailable", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": out})
}

// EventRecord is one entry of GET /v1/workflows/{id}/events.
type EventRecord struct {
	Seq  int64           `json:"seq"`
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

func (s *Service) eventLog(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid id", "workflow id must be a UUID", []events.Problem{{Field: "id", Reason: "not a UUID"}})
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.streamEvents(w, r, id)
		return
	}
	rows, err := s.rt.Pool.Query(r.Context(),
		`SELECT seq, event_id, type, event_time, data FROM workflow_events WHERE workflow_id = $1 ORDER BY seq`, id)
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Events unavailable", err.Error(), nil)
		return
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (EventRecord, error) {
		var e EventRecord
		var data []byte
		err := row.Scan(&e.Seq, &e.ID, &e.Type, &e.Time, &data)
		e.Data = data
		return e, err
	})
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Events unavailable", err.Error(), nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}
