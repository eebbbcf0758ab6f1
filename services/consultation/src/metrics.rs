//! The consultation service's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

pub struct ConsultationMetrics {
    pub registry: Registry,
    pub created: IntCounter,
    pub rescheduled: IntCounter,
    pub cancelled: IntCounter,
    /// Bookings refused, by reason (`invalid`, `conflict`, `meeting_unavailable`, …).
    pub refused: IntCounterVec,
    pub outbox_published: IntCounter,
    pub outbox_errors: IntCounter,
}

impl ConsultationMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("switchboard_consultation".into()), None)
            .expect("valid registry prefix");
        let created = IntCounter::new("consultations_created_total", "Consultations booked")
            .expect("valid metric");
        let rescheduled = IntCounter::new("consultations_rescheduled_total", "Consultations moved")
            .expect("valid metric");
        let cancelled = IntCounter::new("consultations_cancelled_total", "Consultations cancelled")
            .expect("valid metric");
        let refused = IntCounterVec::new(
            Opts::new("bookings_refused_total", "Bookings refused, by reason"),
            &["reason"],
        )
        .expect("valid metric");
        let outbox_published = IntCounter::new(
            "notifications_published_total",
            "Notification events published from the outbox",
        )
        .expect("valid metric");
        let outbox_errors = IntCounter::new(
            "outbox_errors_total",
            "Outbox rounds that failed (NATS or the database unreachable)",
        )
        .expect("valid metric");
        for c in [
            Box::new(created.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rescheduled.clone()),
            Box::new(cancelled.clone()),
            Box::new(refused.clone()),
            Box::new(outbox_published.clone()),
            Box::new(outbox_errors.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            created,
            rescheduled,
            cancelled,
            refused,
            outbox_published,
            outbox_errors,
        }
    }
}

impl Default for ConsultationMetrics {
    fn default() -> Self {
        Self::new()
    }
}
