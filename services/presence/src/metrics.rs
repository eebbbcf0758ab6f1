//! The presence service's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

pub struct PresenceMetrics {
    pub registry: Registry,
    pub connection_events: IntCounter,
    pub transitions: IntCounterVec,
    pub snapshots: IntCounter,
    pub db_errors: IntCounter,
}

impl PresenceMetrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("switchboard_presence".into()), None).expect("registry");
        let connection_events = IntCounter::new(
            "connection_events_total",
            "Connection opened/closed events received",
        )
        .expect("metric");
        let transitions = IntCounterVec::new(
            Opts::new("transitions_total", "Users who came online or went offline"),
            &["to"],
        )
        .expect("metric");
        let snapshots = IntCounter::new(
            "snapshots_total",
            "Gateway snapshots requested because the state disagreed",
        )
        .expect("metric");
        let db_errors =
            IntCounter::new("db_errors_total", "Failed presence transactions").expect("metric");
        for c in [
            Box::new(connection_events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(transitions.clone()),
            Box::new(snapshots.clone()),
            Box::new(db_errors.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            connection_events,
            transitions,
            snapshots,
            db_errors,
        }
    }
}

impl Default for PresenceMetrics {
    fn default() -> Self {
        Self::new()
    }
}
