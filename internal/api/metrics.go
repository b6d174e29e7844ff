package api

import (
	"net/http"

	"github.com/calltrail/calltrail/internal/daemon"
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
	}
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.unplaced, c.calls, c.openCalls, c.openLegs, c.conn, c.waiting, c.saved, c.rejected, c.unreachable, c.sent} {
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
	}
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
