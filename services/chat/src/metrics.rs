//! The chat service's Prometheus metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

pub struct ChatMetrics {
    pub registry: Registry,
    pub commands: IntCounterVec,
    pub messages_stored: IntCounter,
    pub duplicates: IntCounter,
    pub publish_errors: IntCounter,
    /// `message_unread` events for offline recipients, by outcome (`published`, `failed`,
    /// `dropped` when the worker's queue is full).
    pub unread_notifications: IntCounterVec,
    pub store_seconds: Histogram,
}

impl ChatMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("switchboard_chat".into()), None)
            .expect("valid registry prefix");
        let commands = IntCounterVec::new(
            Opts::new("commands_total", "Commands handled, by kind and outcome"),
            &["command", "outcome"],
        )
        .expect("valid metric");
        let messages_stored =
            IntCounter::new("messages_stored_total", "Messages committed").expect("valid metric");
        let duplicates = IntCounter::new(
            "duplicate_sends_total",
            "Sends answered with an already stored message (retries)",
        )
        .expect("valid metric");
        let unread_notifications = IntCounterVec::new(
            Opts::new(
                "unread_notifications_total",
                "message_unread events for offline recipients, by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let publish_errors = IntCounter::new(
            "delivery_publish_errors_total",
            "Deliveries that could not be published to NATS",
        )
        .expect("valid metric");
        let store_seconds = Histogram::with_opts(
            HistogramOpts::new("store_seconds", "Time from queueing a send to its commit").buckets(
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ],
            ),
        )
        .expect("valid metric");
        for c in [
            Box::new(commands.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(messages_stored.clone()),
            Box::new(duplicates.clone()),
            Box::new(publish_errors.clone()),
            Box::new(unread_notifications.clone()),
            Box::new(store_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            commands,
            messages_stored,
            duplicates,
            publish_errors,
            unread_notifications,
            store_seconds,
        }
    }
}

impl Default for ChatMetrics {
    fn default() -> Self {
        Self::new()
    }
}
