package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// streamEvents serves a workflow's lifecycle events as Server-Sent Events: every event
// recorded so far, then each new one as it is projected, until the workflow has finished
// and its last event was sent, or the client goes away. Each message's id is the event's
// sequence number, so a client reconnecting with Last-Event-ID resumes where it stopped.
// Events come in the order the gateway recorded them, which can differ from causal order
// between event types (each type has its own consumer); each event's time says when it
// happened.
func (s *Service) streamEvents(w http.ResponseWriter, r *http.Request, id string) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, r, http.StatusNotAcceptable, "Streaming unsupported", "this connection cannot stream", nil)
		return
	}
	var after int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := r.Context()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, last, err := s.sendEventsAfter(ctx, w, id, after)
		if err != nil {
			return
		}
		after = last
		flusher.Flush()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendEventsAfter writes the events after seq and reports whether the workflow is final
// (checked before reading, so its last event is always sent before the stream ends).
func (s *Service) sendEventsAfter(ctx context.Context, w http.ResponseWriter, id string, seq int64) (bool, int64, error) {
	var status string
	if err := s.rt.Pool.QueryRow(ctx, `SELECT status FROM workflows WHERE id = $1`, id).Scan(&status); err != nil {
		return true, seq, err
	}
	final := status == "succeeded" || status == "failed" || status == "rejected"
	rows, err := s.rt.Pool.Query(ctx,
		`SELECT seq, type, data FROM workflow_events WHERE workflow_id = $1 AND seq > $2 ORDER BY seq`, id, seq)
	if err != nil {
		return true, seq, err
	}
	var typ string
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&seq, &typ, &data}, func() error {
		_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, typ, data)
		return err
	})
	return final, seq, err
}
