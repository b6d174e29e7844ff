package api

import (
	"net/http"

	"github.com/calltrail/calltrail/internal/daemon"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetricsHandler serves /metrics from a registry of its own: the Go
// runtime and process metrics, and the daemon's when o.Status is set.
func newMetricsHandler(o Options) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if o.Status != nil {
		reg.MustRegister(newStatusCollector(o.Status))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// statusCollector reads the daemon's status at each scrape.
type statusCollector struct {
	status func() daemon.Status

	events, unplaced, calls   *prometheus.Desc
	openCalls, openLegs, conn *prometheus.Desc
	waiting, saved, rejected  *prometheus.Desc
	unreachable, sent         *prometheus.Desc
	byType, byDisp, reconnect *prometheus.Desc
	agiSessions, agiActive    *prometheus.Desc
	agiErrors, writes, jbytes *prometheus.Desc
}

func newStatusCollector(status func() daemon.Status) *statusCollector {
	server := []string{"server"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("calltrail_"+name, help, labels, nil)
	}
	return &statusCollector{
		status:      status,
		events:      d("events_handled_total", "AMI events the engine handled.", server),
		unplaced:    d("events_unplaced_total", "AMI events the engine could not place in a call.", server),
		calls:       d("calls_completed_total", "Calls completed by the engine.", server),
		openCalls:   d("calls_in_flight", "Calls in progress.", server),
		openLegs:    d("legs_in_flight", "Channels of calls in progress.", server),
		conn:        d("ami_connected", "1 when the AMI connection to the server is up.", server),
		waiting:     d("writer_queue_depth", "Calls waiting for the database writer.", nil),
		saved:       d("writer_saved_total", "Calls the database writer saved.", nil),
		rejected:    d("writer_rejected_total", "Calls the database refused, and that were dropped.", nil),
		unreachable: d("database_unreachable", "1 when the database writer's last attempt found the database unreachable.", nil),
		sent:        d("calls_sent_total", "Calls handed to the database writer.", nil),
		byType:      d("events_total", "AMI events handled, by event name.", []string{"server", "type"}),
		byDisp:      d("calls_by_disposition_total", "Calls completed, by disposition.", []string{"server", "disposition"}),
		reconnect:   d("ami_reconnects_total", "AMI connections to the server after the first.", server),
		agiSessions: d("agi_sessions_total", "FastAGI sessions handed to a handler.", nil),
		agiActive:   d("agi_sessions_active", "FastAGI sessions in a handler now.", nil),
		agiErrors:   d("agi_errors_total", "FastAGI sessions that failed (handler: the handler returned an error; refused: not allowed or too many; bad: a bad or late environment).", []string{"kind"}),
		writes:      d("db_write_seconds", "How long the database transactions that saved calls took.", nil),
		jbytes:      d("journal_bytes", "The event journal's size on disk.", nil),
	}
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.unplaced, c.calls, c.openCalls, c.openLegs, c.conn, c.waiting, c.saved, c.rejected, c.unreachable, c.sent,
		c.byType, c.byDisp, c.reconnect, c.agiSessions, c.agiActive, c.agiErrors, c.writes, c.jbytes} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	m := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	for _, s := range st.Sources {
		m(c.events, prometheus.CounterValue, float64(s.Events), s.ID)
		m(c.unplaced, prometheus.CounterValue, float64(s.Unplaced), s.ID)
		m(c.calls, prometheus.CounterValue, float64(s.Calls), s.ID)
		m(c.openCalls, prometheus.GaugeValue, float64(s.OpenCalls), s.ID)
		m(c.openLegs, prometheus.GaugeValue, float64(s.OpenLegs), s.ID)
		m(c.conn, prometheus.GaugeValue, bool01(s.Connected), s.ID)
		m(c.reconnect, prometheus.CounterValue, float64(s.Reconnects), s.ID)
		for typ, n := range s.EventsByType {
			m(c.byType, prometheus.CounterValue, float64(n), s.ID, typ)
		}
		for disp, n := range s.CallsByDisposition {
			m(c.byDisp, prometheus.CounterValue, float64(n), s.ID, disp)
		}
	}
	m(c.agiSessions, prometheus.CounterValue, float64(st.AGI.Sessions))
	m(c.agiActive, prometheus.GaugeValue, float64(st.AGI.Active))
	m(c.agiErrors, prometheus.CounterValue, float64(st.AGI.Failed), "handler")
	m(c.agiErrors, prometheus.CounterValue, float64(st.AGI.Refused), "refused")
	m(c.agiErrors, prometheus.CounterValue, float64(st.AGI.Bad), "bad")
	m(c.jbytes, prometheus.GaugeValue, float64(st.JournalBytes))
	w := st.Writer.Writes
	buckets := make(map[float64]uint64, len(w.Buckets))
	for i, b := range store.WriteBuckets {
		buckets[b] = w.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.writes, w.Count, w.Sum, buckets)
	m(c.waiting, prometheus.GaugeValue, float64(st.Writer.Waiting))
	m(c.saved, prometheus.CounterValue, float64(st.Writer.Saved))
	m(c.rejected, prometheus.CounterValue, float64(st.Writer.Rejected))
	m(c.unreachable, prometheus.GaugeValue, bool01(st.Writer.Unreachable))
	m(c.sent, prometheus.CounterValue, float64(st.Sent))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
