// Package gateway is Foresight's REST front door and read side. POST /v1/workflows
// validates a submission completely before anything is stored (RFC 9457 problem details on
// bad input), then commits the workflow and its workflow-submitted event together through
// the outbox. It consumes every lifecycle event into a per-workflow event log and status,
// which GET /v1/workflows/{id} and the event feed serve.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/bus"
	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/pkg/service"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// Source is the CloudEvents source of the gateway's events.
const Source = "foresight/gateway"

// Service is the gateway.
type Service struct {
	rt     *service.Runtime
	log    *slog.Logger
	limits spec.Limits
	router http.Handler
}

// New returns the gateway on rt.
func New(rt *service.Runtime) *Service {
	s := &Service{rt: rt, log: rt.Log.With("component", "gateway"), limits: spec.DefaultLimits()}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	health := service.HealthHandler(rt.Ready)
	r.Method(http.MethodGet, "/healthz", health)
	r.Method(http.MethodGet, "/readyz", health)
	r.Route("/v1/workflows", func(r chi.Router) {
		r.Post("/", s.submit)
		r.Get("/", s.list)
		r.Get("/{id}", s.get)
		r.Get("/{id}/events", s.eventLog)
		r.Get("/{id}/wfformat", s.exportWfFormat)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "Not found", "no route "+r.URL.Path, nil)
	})
	s.router = r
	return s
}

// Handler is the gateway's HTTP API (health endpoints included).
func (s *Service) Handler() http.Handler { return s.router }

// projectBatch is how many waiting events the projection takes per transaction: every
// task sends the gateway three events, and a commit each cost more than the projection.
const projectBatch = 64

// Start subscribes the read-side projection to every event type, in batches.
func (s *Service) Start(ctx context.Context) error {
	for _, t := range events.AllTypes {
		name := "gateway-" + string(t)[len("foresight."):len(t)-len(".v1")]
		if err := s.rt.Subscribe(ctx, bus.Subscription{Durable: name, Type: t, Concurrency: 4,
			Handler: bus.Transactional(s.rt.Pool, name, s.project), Batch: s.projectAll, BatchSize: projectBatch}); err != nil {
			return err
		}
	}
	return nil
}

// projectAll projects a batch of events in one transaction. The projection needs no inbox
// rows to be idempotent: an event is inserted once by its id, and a status only moves
// forward. Within the batch, a status already applied to a workflow is not applied again
// (each of a workflow's task-dispatched events implies "running").
func (s *Service) projectAll(ctx context.Context, envs []events.Envelope) error {
	return pgx.BeginFunc(ctx, s.rt.Pool, func(tx pgx.Tx) error {
		applied := map[[2]string]bool{}
		for _, env := range envs {
			if env.Subject == "" {
				continue
			}
			if err := insertEvent(ctx, tx, env); err != nil {
				return err
			}
			k := [2]string{env.Subject, statusOf[env.Type]}
			if k[1] != "" && applied[k] {
				continue
			}
			applied[k] = true
			if err := advance(ctx, tx, env); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stop is a no-op: the runtime's consumer owns the subscriptions.
func (s *Service) Stop() {}

// statusOf maps an event to the workflow status it implies, "" for none.
var statusOf = map[events.Type]string{
	events.TypeGraphBuilt:       "building",
	events.TypeDemandPredicted:  "planning",
	events.TypePlanReady:        "planned",
	events.TypeVMProvisioned:    "provisioning",
	events.TypeTaskDispatched:   "running",
	events.TypeWorkflowRejected: "rejected",
}

// statusOrder ranks statuses so an event delivered late never moves a workflow backwards.
const statusOrder = `ARRAY['submitted','building','planning','planned','provisioning','running','succeeded','failed','rejected']`

func (s *Service) project(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	if env.Subject == "" {
		return nil // about no workflow (the standing pool, its forecast): not a workflow's history
	}
	if err := insertEvent(ctx, tx, env); err != nil {
		return err
	}
	return advance(ctx, tx, env)
}

// insertEvent appends env to its workflow's event log, once.
func insertEvent(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	if _, err := tx.Exec(ctx,
		`INSERT INTO workflow_events (workflow_id, event_id, type, event_time, data) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (event_id) DO NOTHING`, env.Subject, env.ID, string(env.Type), env.Time, []byte(env.Data)); err != nil {
		return fmt.Errorf("project %s: %w", env.Type, err)
	}
	return nil
}

// advance moves the workflow's status to the one env implies, never backwards, and records
// a completion's makespan or a rejection's problems.
func advance(ctx context.Context, tx pgx.Tx, env events.Envelope) error {
	status := statusOf[env.Type]
	var makespan *float64
	var completedAt *time.Time
	switch env.Type {
	case events.TypeWorkflowCompleted:
		done, err := bus.Decode[events.WorkflowCompleted](env)
		if err != nil {
			return err
		}
		status, makespan, completedAt = done.Status, &done.MakespanSeconds, &done.CompletedAt
	case events.TypeWorkflowRejected:
		rej, err := bus.Decode[events.WorkflowRejected](env)
		if err != nil {
			return err
		}
		probs, _ := json.Marshal(rej.Problems)
		if _, err := tx.Exec(ctx, `UPDATE workflows SET problems = $2 WHERE id = $1`, env.Subject, probs); err != nil {
			return err
		}
	}
	if status == "" {
		return nil
	}
	_, err := tx.Exec(ctx,
		`UPDATE workflows SET status = $2, makespan_seconds = coalesce($3, makespan_seconds), completed_at = coalesce($4, completed_at)
		 WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'rejected')
		   AND array_position(`+statusOrder+`, status) < array_position(`+statusOrder+`, $2::text)`,
		env.Subject, status, makespan, completedAt)
	return err
}

// Build is the service's factory for service.Main and the all-in-one binary.
func Build(ctx context.Context, rt *service.Runtime) (service.Component, error) { return New(rt), nil }
