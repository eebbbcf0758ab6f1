//! The notification service's Prometheus metrics.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub struct NotificationMetrics {
    pub registry: Registry,
    /// E-mails the SMTP server accepted, by kind.
    pub sent: IntCounterVec,
    /// Failed SMTP tries, by kind (each is retried until dead-lettered).
    pub failed: IntCounterVec,
    /// E-mails given up on, by kind.
    pub dead_lettered: IntCounterVec,
    /// Redeliveries and republished events recognised by their dedupe key.
    pub duplicates: IntCounter,
    /// Queue messages that could not be decoded (acknowledged and dropped).
    pub malformed: IntCounter,
    /// Digests due that had nothing left to say (all read, or the recipient online).
    pub digests_skipped: IntCounter,
    /// Queue messages being worked on by this replica.
    pub in_flight: IntGauge,
    /// Digests waiting for their quiet period to end (all replicas; sampled).
    pub digests_pending: IntGauge,
    /// One SMTP transaction.
    pub smtp_seconds: Histogram,
}

impl NotificationMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("switchboard_notification".into()), None)
            .expect("valid registry prefix");
        let by_kind = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["kind"]).expect("valid metric")
        };
        let sent = by_kind("sent_total", "E-mails the SMTP server accepted, by kind");
        let failed = by_kind("failed_total", "Failed SMTP tries, by kind");
        let dead_lettered = by_kind("dead_lettered_total", "E-mails given up on, by kind");
        let duplicates = IntCounter::new(
            "duplicates_total",
            "Redelivered or republished notifications recognised by their dedupe key",
        )
        .expect("valid metric");
        let malformed = IntCounter::new(
            "malformed_total",
            "Queue messages that could not be decoded",
        )
        .expect("valid metric");
        let digests_skipped = IntCounter::new(
            "digests_skipped_total",
            "Digests due with nothing left to say",
        )
        .expect("valid metric");
        let in_flight =
            IntGauge::new("in_flight", "Queue messages being worked on").expect("valid metric");
        let digests_pending = IntGauge::new(
            "digests_pending",
            "Digests waiting for their quiet period to end",
        )
        .expect("valid metric");
        let smtp_seconds = Histogram::with_opts(
            HistogramOpts::new("smtp_seconds", "One SMTP transaction").buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        for c in [
            Box::new(sent.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(failed.clone()),
            Box::new(dead_lettered.clone()),
            Box::new(duplicates.clone()),
            Box::new(malformed.clone()),
            Box::new(digests_skipped.clone()),
            Box::new(in_flight.clone()),
            Box::new(digests_pending.clone()),
            Box::new(smtp_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            sent,
            failed,
            dead_lettered,
            duplicates,
            malformed,
            digests_skipped,
            in_flight,
            digests_pending,
            smtp_seconds,
        }
    }
}

impl Default for NotificationMetrics {
    fn default() -> Self {
        Self::new()
    }
}
