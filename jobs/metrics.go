package jobs

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
)

// QueueCollector reports Asynq's queues at each scrape: how many tasks
// each queue holds per state, how long its oldest pending task has waited,
// and Asynq's cumulative processed and failed counts. A scrape costs one
// inspection per queue (a few Redis commands, memory sampled on 20 tasks),
// whatever the queues hold; nothing runs between scrapes.
type QueueCollector struct {
	insp *asynq.Inspector
	log  *slog.Logger

	tasks, latency, paused, processed, failed, up *prometheus.Desc
}

// Queue metric names, which deploy/grafana/chorus.json queries.
const (
	MetricQueueTasks     = "chorus_queue_tasks"
	MetricQueueLatency   = "chorus_queue_latency_seconds"
	MetricQueuePaused    = "chorus_queue_paused"
	MetricQueueProcessed = "chorus_queue_processed_total"
	MetricQueueFailed    = "chorus_queue_failed_total"
	MetricQueueUp        = "chorus_queue_inspection_up"
)

// NewQueueCollector returns the collector of the queues insp's Redis
// holds (and Chorus's own three, even before their first task).
func NewQueueCollector(insp *asynq.Inspector, log *slog.Logger) *QueueCollector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := []string{"queue"}
	return &QueueCollector{insp: insp, log: log,
		tasks:     prometheus.NewDesc(MetricQueueTasks, "Tasks in a queue by state (pending, active, scheduled, retry, archived, completed, aggregating).", []string{"queue", "state"}, nil),
		latency:   prometheus.NewDesc(MetricQueueLatency, "Age of the oldest pending task of a queue (0 when none waits).", q, nil),
		paused:    prometheus.NewDesc(MetricQueuePaused, "1 when the queue is paused.", q, nil),
		processed: prometheus.NewDesc(MetricQueueProcessed, "Tasks a queue processed, succeeded or failed (Asynq's count, kept in Redis).", q, nil),
		failed:    prometheus.NewDesc(MetricQueueFailed, "Task runs of a queue that failed (Asynq's count, kept in Redis).", q, nil),
		up:        prometheus.NewDesc(MetricQueueUp, "1 when the last scrape could read the queues from Redis.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.latency, c.paused, c.processed, c.failed, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it inspects every queue now.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	// Chorus's own queues are reported, empty, before their first task
	// puts them in Redis; others are reported as Redis lists them.
	queues := []string{task.QueueCritical, task.QueueDefault, task.QueueLow}
	up := 1.0
	known, err := c.insp.Queues()
	if err != nil {
		// Redis does not answer: no numbers rather than zeros.
		c.log.Warn("queue metrics: list queues", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	for _, q := range known {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	for _, q := range queues {
		info := &asynq.QueueInfo{Queue: q}
		if slices.Contains(known, q) {
			if info, err = c.insp.GetQueueInfo(q); err != nil {
				up = 0
				c.log.Warn("queue metrics: inspect queue", "queue", q, "err", err)
				continue
			}
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
		p := 0.0
		if info.Paused {
			p = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, p, q)
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal), q)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

// The worker's own task metrics.
const (
	MetricTaskFailures = "chorus_task_failures_total"
	MetricTaskDuration = "chorus_task_duration_seconds"
)

// MetricPublishOutcomes counts publishing attempts by network and outcome.
const MetricPublishOutcomes = "chorus_publish_outcomes_total"

// PublishOutcomes registers the count of publishing attempts per network
// and outcome (published, failed, retried, paused, unconfirmed, cancelled) and
// returns the hook social.Config.OnPublishOutcome takes.
func PublishOutcomes(reg prometheus.Registerer) (func(network string, outcome social.PublishOutcome), error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricPublishOutcomes,
		Help: "Attempts to publish a share through its network, by network and outcome (published, failed, retried, paused, unconfirmed, cancelled).",
	}, []string{"network", "outcome"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("register publish metrics: %w", err)
	}
	return func(network string, outcome social.PublishOutcome) {
		c.WithLabelValues(network, string(outcome)).Inc()
	}, nil
}
