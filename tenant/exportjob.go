package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Exports for people with much data run as a job: the member asks, a job
// builds the document, the member downloads it once within 7 days.

// ExportTTL is how long a prepared export waits for its download.
const ExportTTL = 7 * 24 * time.Hour

// maxExportBytes keeps a prepared export within one MongoDB document.
const maxExportBytes = 12 << 20

// exportStuckAfter is how long a pending export is awaited: a request after
// that is not answered with it but fails it and starts anew.
const exportStuckAfter = 6 * time.Hour

// ErrExportNotReady: the export is still being prepared, or failed.
var ErrExportNotReady = errors.New("the export is not ready")

// ExportJob is a requested export and its state.
type ExportJob struct {
	ID          string     `bson:"_id" json:"id"`
	MemberID    string     `bson:"member_id" json:"-"`
	State       string     `bson:"state" json:"state"` // pending, ready, downloaded, failed
	RequestedAt time.Time  `bson:"requested_at" json:"requested_at"`
	ReadyAt     *time.Time `bson:"ready_at,omitempty" json:"ready_at,omitempty"`
	ExpiresAt   time.Time  `bson:"expires_at" json:"expires_at"`
	Data        []byte     `bson:"data,omitempty" json:"-"`
}

var exportKind = Kind{Name: "exports", Indexes: []Index{{Keys: bson.D{{Key: "member_id", Value: 1}}}}}

// RequestExport records an export request; enqueue runs the job that
// prepares it (its payload carries the instance and export IDs only). While
// one of the member's exports is pending (for less than exportStuckAfter),
// it returns that one instead of queueing another. When enqueue fails the request is deleted again, so no
// pending export waits for a job that never comes.
func (p *Privacy) RequestExport(ctx context.Context, sc Scope, m Member, enqueue func(ctx context.Context, sc Scope, id string) error) (ExportJob, error) {
	now := p.svc.Now().UTC().Truncate(time.Millisecond)
	var pending []ExportJob
	if err := sc.Collection(exportKind).Find(ctx, bson.D{{Key: "member_id", Value: m.ID}, {Key: "state", Value: "pending"}}, &pending); err != nil {
		return ExportJob{}, err
	}
	for _, j := range pending {
		if now.Sub(j.RequestedAt) < exportStuckAfter {
			return j, nil
		}
		// Its job gave up (retries exhausted) or was lost: it never
		// becomes ready, and must not stop the member from asking again.
		if _, err := sc.Collection(exportKind).Update(ctx, bson.D{{Key: "_id", Value: j.ID}, {Key: "state", Value: "pending"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "failed"}}}}); err != nil {
			return ExportJob{}, err
		}
	}
	j := ExportJob{ID: httpapi.NewID(), MemberID: m.ID, State: "pending", RequestedAt: now, ExpiresAt: now.Add(ExportTTL)}
	if err := sc.Collection(exportKind).Insert(ctx, j); err != nil {
		return ExportJob{}, err
	}
	if err := enqueue(ctx, sc, j.ID); err != nil {
		err = fmt.Errorf("queue export: %w", err)
		if _, derr := sc.Collection(exportKind).Delete(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: j.ID}}); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete the unqueued export: %w", derr))
		}
		return ExportJob{}, err
	}
	return j, nil
}

// PrepareExport builds a requested export (the privacy:export job). It is
// idempotent: a ready export is left alone.
func (p *Privacy) PrepareExport(ctx context.Context, sc Scope, id string) error {
	var j ExportJob
	if err := sc.Collection(exportKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &j); err != nil {
		return err
	}
	if j.State != "pending" {
		return nil
	}
	m, err := sc.Member(ctx, j.MemberID)
	if err != nil {
		return err
	}
	ex, err := p.Export(ctx, sc, Subject{MemberID: m.ID, Email: m.Email})
	if err != nil {
		return err
	}
	data, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	state, ready := "ready", p.svc.Now().UTC().Truncate(time.Millisecond)
	if len(data) > maxExportBytes {
		state, data = "failed", nil
		p.log.ErrorContext(ctx, "export too large for one document", "export_id", id, "bytes", len(data))
	}
	_, err = sc.Collection(exportKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: "pending"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}, {Key: "data", Value: data}, {Key: "ready_at", Value: ready}}}})
	return err
}

// exportOf returns one of the member's own export jobs.
func exportOf(ctx context.Context, sc Scope, m Member, id string) (ExportJob, error) {
	if !httpapi.ValidID(id) {
		return ExportJob{}, ErrNotFound
	}
	var j ExportJob
	err := sc.Collection(exportKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "member_id", Value: m.ID}}, &j)
	return j, err
}

// postExports is POST /me/exports.
func (h *Handlers) postExports(c *gin.Context, sc Scope, me Member) error {
	if err := httpapi.DecodeNone(c); err != nil {
		return err
	}
	j, err := h.privacy.RequestExport(c.Request.Context(), sc, me, h.export)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, j)
	return nil
}

func (h *Handlers) getExportJob(c *gin.Context, sc Scope, me Member) error {
	j, err := exportOf(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, j)
	return nil
}

// downloadExport hands a ready export over once, then deletes its data.
func (h *Handlers) downloadExport(c *gin.Context, sc Scope, me Member) error {
	ctx := c.Request.Context()
	j, err := exportOf(ctx, sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	if j.State != "ready" || !j.ExpiresAt.After(h.svc.Now()) {
		return ErrExportNotReady
	}
	ok, err := sc.Collection(exportKind).Update(ctx, bson.D{{Key: "_id", Value: j.ID}, {Key: "state", Value: "ready"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "downloaded"}, {Key: "data", Value: nil}}}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrExportNotReady
	}
	c.Header("Content-Disposition", `attachment; filename="chorus-export.json"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json", j.Data)
	return nil
}

// SweepExports deletes every instance's exports past their expiry (a
// periodic job); it returns how many it deleted.
func (s *Store) SweepExports(ctx context.Context) (int64, error) {
	return s.sweepKind(ctx, exportKind)
}
