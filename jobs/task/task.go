// Package task names Chorus's background tasks and builds their payloads,
// so domain packages can enqueue work without importing jobs. Payloads
// carry IDs only; handlers reload everything through the tenant-scoped
// store.
package task

import "github.com/hibiken/asynq"

// Task types, domain:action.
const (
	// TypeHealthPing proves the queue turns: the scheduler enqueues it and
	// the worker records when it ran.
	TypeHealthPing = "health:ping"
	// TypeSweepExpired deletes expired sessions, sign-in links and
	// rate-limit windows.
	TypeSweepExpired = "tenant:sweep_expired"
)

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
