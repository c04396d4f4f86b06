// Package task names Chorus's background tasks and builds their payloads,
// so domain packages can enqueue work without importing jobs. Payloads
// carry IDs only; handlers reload everything through the tenant-scoped
// store.
package task

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// Task types, domain:action.
const (
	// TypeHealthPing proves the queue turns: the scheduler enqueues it and
	// the worker records when it ran.
	TypeHealthPing = "health:ping"
	// TypeSweepExpired deletes expired sessions, sign-in links and
	// rate-limit windows.
	TypeSweepExpired = "tenant:sweep_expired"
	// TypeRecheckDomains checks verified domains' TXT records again.
	TypeRecheckDomains = "tenant:recheck_domains"
	// TypePublish publishes one share (TaskID = the share's ID).
	TypePublish = "share:publish"
	// TypeReconcile re-queues shares whose task was lost and marks shares
	// whose publishing was interrupted unconfirmed.
	TypeReconcile = "share:reconcile"
	// TypeSweepRetention deletes raw click events and audit entries past
	// each instance's retention period, and push notification marks past
	// 30 days.
	TypeSweepRetention = "privacy:sweep_retention"
	// TypeWarnExpiring mails members whose connection's token expires
	// soon and cannot renew itself.
	TypeWarnExpiring = "social:warn_expiring"
	// TypeExport prepares a member's data export.
	TypeExport = "privacy:export"
	// TypeSweepExports deletes exports past their 7 days.
	TypeSweepExports = "privacy:sweep_exports"
	// TypePreview fetches a post's link preview again after a failure.
	TypePreview = "content:preview"
	// TypeRefreshEngagement reads recent shares' engagement from the
	// networks into the reach rollups.
	TypeRefreshEngagement = "reach:refresh_engagement"
	// TypeSendDigests mails each member of each verified instance the
	// week's digest of new content, once per member and week.
	TypeSendDigests = "content:send_digests"
	// TypePollSources polls each instance's content sources that are due.
	TypePollSources = "content:poll_sources"
	// TypeNotify sends the push notifications of one published post.
	TypeNotify = "content:notify"
)

// Notify returns a content:notify task for a post.
func Notify(tenantID, postID string) *asynq.Task {
	b, _ := json.Marshal(Ref{TenantID: tenantID, ID: postID})
	return asynq.NewTask(TypeNotify, b)
}

// PollSources returns a content:poll_sources task.
func PollSources() *asynq.Task { return asynq.NewTask(TypePollSources, nil) }

// SendDigests returns a content:send_digests task.
func SendDigests() *asynq.Task { return asynq.NewTask(TypeSendDigests, nil) }

// RefreshEngagement returns a reach:refresh_engagement task.
func RefreshEngagement() *asynq.Task { return asynq.NewTask(TypeRefreshEngagement, nil) }

// Queues, highest priority first.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// HealthPing returns a health:ping task.
func HealthPing() *asynq.Task { return asynq.NewTask(TypeHealthPing, nil) }

// SweepExpired returns a tenant:sweep_expired task.
func SweepExpired() *asynq.Task { return asynq.NewTask(TypeSweepExpired, nil) }

// RecheckDomains returns a tenant:recheck_domains task.
func RecheckDomains() *asynq.Task { return asynq.NewTask(TypeRecheckDomains, nil) }

// Export returns a privacy:export task for an export job.
func Export(tenantID, exportID string) *asynq.Task {
	b, _ := json.Marshal(Ref{TenantID: tenantID, ID: exportID})
	return asynq.NewTask(TypeExport, b)
}

// Publish returns a share:publish task.
func Publish(tenantID, shareID string) *asynq.Task {
	b, _ := json.Marshal(Ref{TenantID: tenantID, ID: shareID})
	return asynq.NewTask(TypePublish, b)
}

// SweepRetention returns a privacy:sweep_retention task.
func SweepRetention() *asynq.Task { return asynq.NewTask(TypeSweepRetention, nil) }

// WarnExpiring returns a social:warn_expiring task.
func WarnExpiring() *asynq.Task { return asynq.NewTask(TypeWarnExpiring, nil) }

// Reconcile returns a share:reconcile task.
func Reconcile() *asynq.Task { return asynq.NewTask(TypeReconcile, nil) }

// SweepExports returns a privacy:sweep_exports task.
func SweepExports() *asynq.Task { return asynq.NewTask(TypeSweepExports, nil) }

// Ref names one object of one instance: all a payload carries. Handlers
// reload the object through the scope of TenantID, so a payload naming
// another instance's object finds nothing.
type Ref struct {
	TenantID string `json:"tenant_id"`
	ID       string `json:"id"`
}

// Preview returns a content:preview task for a post.
func Preview(tenantID, postID string) *asynq.Task {
	b, _ := json.Marshal(Ref{TenantID: tenantID, ID: postID})
	return asynq.NewTask(TypePreview, b)
}

// ParseRef reads a payload made for a Ref; a malformed one is a permanent
// failure (asynq.SkipRetry).
func ParseRef(t *asynq.Task) (Ref, error) {
	var r Ref
	if err := json.Unmarshal(t.Payload(), &r); err != nil || r.TenantID == "" || r.ID == "" {
		return Ref{}, fmt.Errorf("%s: malformed payload: %w", t.Type(), asynq.SkipRetry)
	}
	return r, nil
}
