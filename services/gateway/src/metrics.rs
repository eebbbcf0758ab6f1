//! The gateway's Prometheus metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub struct GatewayMetrics {
    pub registry: Registry,
    pub connections: IntGauge,
    pub users: IntGauge,
    pub events_in: IntCounterVec,
    pub events_out: IntCounterVec,
    pub command_seconds: Histogram,
    /// Acks of stored sends, by how they came: `delivery` (the `message_sent` carried
    /// them) or `reply`.
    pub send_acks: IntCounterVec,
    pub slow_consumer_closes: IntCounter,
    pub nats_errors: IntCounter,
    /// Connections of this replica one delivery went to.
    pub delivery_fanout: Histogram,
    /// Events already waiting in a connection's outbound queue when one more is queued.
    pub outbound_queue_depth: Histogram,
}

impl GatewayMetrics {
    pub fn new(gateway_id: &str) -> Self {
        let labels = std::iter::once(("gateway".to_owned(), gateway_id.to_owned())).collect();
        let registry = Registry::new_custom(Some("switchboard_gateway".into()), Some(labels))
            .expect("valid registry");
        let connections =
            IntGauge::new("connections", "Open WebSocket connections").expect("metric");
        let users =
            IntGauge::new("users", "Users with at least one connection here").expect("metric");
        let events_in = IntCounterVec::new(
            Opts::new("events_in_total", "Client events received, by event"),
            &["event"],
        )
        .expect("metric");
        let events_out = IntCounterVec::new(
            Opts::new(
                "events_out_total",
                "Server events queued to connections, by event",
            ),
            &["event"],
        )
        .expect("metric");
        let command_seconds = Histogram::with_opts(
            HistogramOpts::new("command_seconds", "Time from a command to its ack").buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
        )
        .expect("metric");
        let send_acks = IntCounterVec::new(
            Opts::new(
                "send_acks_total",
                "Acks of stored sends, by the way they came (delivery or reply)",
            ),
            &["via"],
        )
        .expect("metric");
        let slow_consumer_closes = IntCounter::new(
            "slow_consumer_closes_total",
            "Connections closed because their outbound queue was full",
        )
        .expect("metric");
        let nats_errors = IntCounter::new(
            "nats_errors_total",
            "Failed NATS requests and subscriptions",
        )
        .expect("metric");
        let delivery_fanout = Histogram::with_opts(
            HistogramOpts::new(
                "delivery_fanout",
                "Connections of this replica one delivery went to",
            )
            .buckets(vec![0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0]),
        )
        .expect("metric");
        let outbound_queue_depth = Histogram::with_opts(
            HistogramOpts::new(
                "outbound_queue_depth",
                "Events already waiting in a connection's outbound queue when one more is queued",
            )
            .buckets(vec![0.0, 1.0, 4.0, 16.0, 64.0, 128.0, 255.0]),
        )
        .expect("metric");
        for c in [
            Box::new(connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(delivery_fanout.clone()),
            Box::new(outbound_queue_depth.clone()),
            Box::new(users.clone()),
            Box::new(events_in.clone()),
            Box::new(events_out.clone()),
            Box::new(command_seconds.clone()),
            Box::new(send_acks.clone()),
            Box::new(slow_consumer_closes.clone()),
            Box::new(nats_errors.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            connections,
            users,
            events_in,
            events_out,
            command_seconds,
            send_acks,
            slow_consumer_closes,
            nats_errors,
            delivery_fanout,
            outbound_queue_depth,
        }
    }
}
