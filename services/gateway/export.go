package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foresight-run/foresight/pkg/events"
	"github.com/foresight-run/foresight/services/graphbuilder/spec"
)

// exportWfFormat serves GET /v1/workflows/{id}/wfformat: the workflow as a WfFormat 1.5
// instance with what was measured when it ran (runtime, CPU seconds, peak RSS, exit code,
// machine), so WfCommons' tools can read Foresight's history.
func (s *Service) exportWfFormat(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if _, err := uuid.Parse(id); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid id", "workflow id must be a UUID", []events.Problem{{Field: "id", Reason: "not a UUID"}})
		return
	}
	ctx := r.Context()
	wf := &spec.Workflow{Format: spec.FormatNative}
	var specJSON []byte
	err := s.rt.Pool.QueryRow(ctx, `SELECT name, family, spec FROM workflows WHERE id = $1`, id).Scan(&wf.Name, &wf.Family, &specJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		writeProblem(w, r, http.StatusNotFound, "Workflow not found", "no workflow "+id, nil)
		return
	}
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Export unavailable", err.Error(), nil)
		return
	}
	if err := json.Unmarshal(specJSON, &wf.Tasks); err != nil {
		writeProblem(w, r, http.StatusInternalServerError, "Stored workflow unreadable", err.Error(), nil)
		return
	}
	rows, err := s.rt.Pool.Query(ctx,
		`SELECT task_id, vm_id, started_at, runtime_seconds, cpu_seconds, peak_rss_bytes, exit_code
		 FROM task_observations WHERE workflow_id = $1 ORDER BY task_id, attempt`, id)
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Export unavailable", err.Error(), nil)
		return
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (spec.Run, error) {
		var run spec.Run
		var started time.Time
		err := row.Scan(&run.TaskID, &run.Machine, &started, &run.RuntimeSeconds, &run.CPUSeconds, &run.PeakRSSBytes, &run.ExitCode)
		run.StartedAt = started
		return run, err
	})
	if err != nil {
		writeProblem(w, r, http.StatusServiceUnavailable, "Export unavailable", err.Error(), nil)
		return
	}
	out, err := spec.ExportWfFormat(wf, runs)
	if err != nil {
		writeProblem(w, r, http.StatusUnprocessableEntity, "Cannot export", err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.json"`)
	_, _ = w.Write(out)
}
