//! The meeting service's Prometheus metrics.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

pub struct MeetingMetrics {
    pub registry: Registry,
    /// Provider tries by provider and outcome (`ok`, `failed`).
    pub provider_attempts: IntCounterVec,
    /// Meetings created, by the provider that served.
    pub created: IntCounterVec,
    /// `CreateMeeting` calls no provider could serve.
    pub create_failures: IntCounter,
    /// `CreateMeeting` retries answered with the stored meeting.
    pub idempotent_replays: IntCounter,
    pub rescheduled: IntCounter,
    pub cancelled: IntCounter,
}

impl MeetingMetrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("switchboard_meeting".into()), None)
            .expect("valid registry prefix");
        let provider_attempts = IntCounterVec::new(
            Opts::new(
                "provider_attempts_total",
                "Provider tries, by provider and outcome",
            ),
            &["provider", "outcome"],
        )
        .expect("valid metric");
        let created = IntCounterVec::new(
            Opts::new("meetings_created_total", "Meetings created, by provider"),
            &["provider"],
        )
        .expect("valid metric");
        let create_failures = IntCounter::new(
            "create_failures_total",
            "CreateMeeting calls that no provider could serve",
        )
        .expect("valid metric");
        let idempotent_replays = IntCounter::new(
            "idempotent_replays_total",
            "CreateMeeting retries answered with the stored meeting",
        )
        .expect("valid metric");
        let rescheduled =
            IntCounter::new("meetings_rescheduled_total", "Meetings moved").expect("valid metric");
        let cancelled = IntCounter::new("meetings_cancelled_total", "Meetings cancelled")
            .expect("valid metric");
        for c in [
            Box::new(provider_attempts.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(created.clone()),
            Box::new(create_failures.clone()),
            Box::new(idempotent_replays.clone()),
            Box::new(rescheduled.clone()),
            Box::new(cancelled.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            provider_attempts,
            created,
            create_failures,
            idempotent_replays,
            rescheduled,
            cancelled,
        }
    }
}

impl Default for MeetingMetrics {
    fn default() -> Self {
        Self::new()
    }
}
