//! The consultation operations behind both entry points (REST and gRPC).
//!
//! Booking order, so a failure anywhere leaves nothing half-made:
//! 1. validate (the lawyer exists and is a lawyer, the start is in the future, 15–240
//!    minutes, no overlapping consultation of the lawyer);
//! 2. create the meeting over gRPC (idempotency key `consultation:<id>`, so a retry
//!    reuses it) — if that fails, nothing is stored;
//! 3. in one transaction, with the lawyer's bookings serialised: check the overlap again,
//!    store the consultation with its link, make the two users contacts, queue the
//!    notification — if that fails, the meeting is cancelled again;
//! 4. publish the notification from the outbox.
//!
//! Cancelling and rescheduling go to the meeting service first and change the
//! consultation only once it agreed.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use prost::Message as _;
use switchboard_proto::meeting::v1 as mpb;
use switchboard_proto::notification::v1 as npb;
use uuid::Uuid;

use crate::error::{ConsultationError, parse_id};
use crate::meeting_client::MeetingClient;
use crate::metrics::ConsultationMetrics;
use crate::outbox::Outbox;
use crate::store::{self, ConsultationRow, MeetingSnapshot, NewConsultation, Store, UserRow};

pub const MIN_DURATION_MINUTES: i64 = 15;
pub const MAX_DURATION_MINUTES: i64 = 240;
const MAX_NOTES_CHARS: usize = 2000;
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// Consultation ids derived from `(applicant, idempotency key)` live in this namespace.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f0b_52c5_37d4_4b8e_9a41_4c1f_0d6e_2a90);

/// Who asks: the token's user (REST) or, for internal gRPC callers, nobody in particular.
#[derive(Clone, Copy, Debug)]
pub enum Viewer {
    User(Uuid),
    Internal,
}

/// A booking request, before validation.
pub struct Booking {
    pub applicant_id: Uuid,
    pub lawyer_id: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub duration_minutes: i64,
    pub notes: Option<String>,
    pub provider: Option<mpb::Provider>,
    pub idempotency_key: Option<String>,
}

pub struct ConsultationCore {
    pub store: Store,
    pub meetings: MeetingClient,
    pub outbox: Outbox,
    pub metrics: Arc<ConsultationMetrics>,
}

/// The provider name stored with a consultation (the meeting service's names).
pub fn provider_name(p: i32) -> Option<&'static str> {
    match mpb::Provider::try_from(p).ok()? {
        mpb::Provider::Jitsi => Some("jitsi"),
        mpb::Provider::GoogleMeet => Some("google_meet"),
        mpb::Provider::Zoom => Some("zoom"),
        mpb::Provider::Unspecified => None,
    }
}

/// `jitsi`, `google_meet` (or `google`), `zoom`.
pub fn parse_provider(raw: &str) -> Result<mpb::Provider, ConsultationError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "jitsi" => Ok(mpb::Provider::Jitsi),
        "google_meet" | "google" | "meet" => Ok(mpb::Provider::GoogleMeet),
        "zoom" => Ok(mpb::Provider::Zoom),
        _ => Err(ConsultationError::Invalid(
            "provider must be one of jitsi, google_meet, zoom".into(),
        )),
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn snapshot(m: &mpb::Meeting) -> Result<MeetingSnapshot, ConsultationError> {
    Ok(MeetingSnapshot {
        meeting_id: Uuid::parse_str(&m.id)
            .map_err(|_| ConsultationError::Unexpected(anyhow::anyhow!("meeting id {:?}", m.id)))?,
        join_url: m.join_url.clone(),
        provider: provider_name(m.provider).unwrap_or("jitsi").to_owned(),
        google_calendar_url: m.google_calendar_url.clone(),
        outlook_calendar_url: m.outlook_calendar_url.clone(),
        ics: m.ics.clone(),
        ics_sequence: m.ics_sequence as i32,
    })
}

fn check_schedule(
    start: Option<DateTime<Utc>>,
    minutes: i64,
) -> Result<DateTime<Utc>, ConsultationError> {
    let start =
        start.ok_or_else(|| ConsultationError::Invalid("scheduledAt is required".into()))?;
    if start <= Utc::now() {
        return Err(ConsultationError::Invalid(
            "scheduledAt must be in the future".into(),
        ));
    }
    if !(MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes) {
        return Err(ConsultationError::Invalid(format!(
            "durationMinutes must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES}"
        )));
    }
    Ok(start)
}

fn overlap_error(other: &ConsultationRow) -> ConsultationError {
    ConsultationError::Conflict(format!(
        "the lawyer already has a consultation from {} to {}",
        switchboard_common::wire::format_time(other.scheduled_at),
        switchboard_common::wire::format_time(other.ends_at()),
    ))
}

fn display(u: &UserRow, fallback: &str) -> String {
    u.display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| fallback.to_owned())
}

fn attendee(u: &UserRow) -> Option<mpb::Attendee> {
    u.email
        .as_ref()
        .filter(|e| !e.trim().is_empty())
        .map(|e| mpb::Attendee {
            email: e.clone(),
            display_name: u.display_name.clone(),
        })
}

fn participant(u: &UserRow) -> npb::ConsultationParticipant {
    npb::ConsultationParticipant {
        user_id: u.id.to_string(),
        email: u.email.clone().unwrap_or_default(),
        display_name: u.display_name.clone(),
    }
}

impl ConsultationCore {
    fn refused(&self, e: &ConsultationError) {
        let reason = match e {
            ConsultationError::Invalid(_) | ConsultationError::TooLarge(_) => "invalid",
            ConsultationError::Conflict(_) => "conflict",
            ConsultationError::NotFound(_) => "not_found",
            ConsultationError::Forbidden(_) | ConsultationError::Unauthorized(_) => "forbidden",
            ConsultationError::Unavailable(_) => "unavailable",
            ConsultationError::Unexpected(_) => "internal",
        };
        self.metrics.refused.with_label_values(&[reason]).inc();
    }

    async fn user(&self, id: Uuid, what: &str) -> Result<UserRow, ConsultationError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| ConsultationError::NotFound(format!("{what} {id} does not exist")))
    }

    pub async fn create(&self, booking: Booking) -> Result<ConsultationRow, ConsultationError> {
        let result = self.create_inner(booking).await;
        match &result {
            Ok(_) => {}
            Err(e) => self.refused(e),
        }
        result
    }

    async fn create_inner(&self, b: Booking) -> Result<ConsultationRow, ConsultationError> {
        let lawyer_id = parse_id("lawyerId", &b.lawyer_id)?;
        if lawyer_id == b.applicant_id {
            return Err(ConsultationError::Invalid(
                "a consultation needs two people: lawyerId is the applicant".into(),
            ));
        }
        let start = check_schedule(b.scheduled_at, b.duration_minutes)?;
        let end = start + Duration::minutes(b.duration_minutes);
        let notes = b
            .notes
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTES_CHARS)
        {
            return Err(ConsultationError::Invalid(format!(
                "notes must be at most {MAX_NOTES_CHARS} characters"
            )));
        }
        let key = b
            .idempotency_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        if key.as_ref().is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
            return Err(ConsultationError::Invalid(format!(
                "the idempotency key is longer than {MAX_IDEMPOTENCY_KEY} bytes"
            )));
        }
        if let Some(k) = &key
            && let Some(existing) = self.store.by_idempotency_key(b.applicant_id, k).await?
        {
            return Ok(existing);
        }
        let lawyer = self.user(lawyer_id, "lawyer").await?;
        if lawyer.role != "lawyer" {
            return Err(ConsultationError::Invalid(format!(
                "user {lawyer_id} is not a lawyer"
            )));
        }
        let applicant = self.user(b.applicant_id, "applicant").await?;
        if let Some(other) =
            store::overlapping(self.store.pool(), lawyer_id, start, end, None).await?
        {
            return Err(overlap_error(&other));
        }

        // The same key books the same consultation, and through it the same meeting.
        let id = match &key {
            Some(k) => Uuid::new_v5(
                &IDEMPOTENCY_NAMESPACE,
                format!("{}:{k}", b.applicant_id).as_bytes(),
            ),
            None => Uuid::now_v7(),
        };
        let request = mpb::CreateMeetingRequest {
            title: format!(
                "Legal consultation: {} with {}",
                display(&applicant, "applicant"),
                display(&lawyer, "lawyer")
            ),
            description: Some(format!(
                "Video consultation between {} (applicant) and {} (lawyer).",
                display(&applicant, "the applicant"),
                display(&lawyer, "the lawyer")
            )),
            start: Some(timestamp(start)),
            duration_minutes: b.duration_minutes as u32,
            time_zone: None,
            organizer: None,
            attendees: [attendee(&lawyer), attendee(&applicant)]
                .into_iter()
                .flatten()
                .collect(),
            preferred_provider: b.provider.unwrap_or(mpb::Provider::Unspecified) as i32,
            consultation_id: Some(id.to_string()),
            idempotency_key: format!("consultation:{id}"),
        };
        let mut meeting = self.meetings.create(request.clone()).await?;
        if meeting.status == mpb::MeetingStatus::Cancelled as i32 {
            // An earlier try with this key made the meeting and then gave it up.
            meeting = self
                .meetings
                .create(mpb::CreateMeetingRequest {
                    idempotency_key: format!("consultation:{id}:{}", Uuid::new_v4()),
                    ..request
                })
                .await?;
        }
        for a in meeting.attempts.iter().filter(|a| !a.succeeded) {
            tracing::warn!(
                consultation = %id,
                provider = provider_name(a.provider).unwrap_or("unknown"),
                error = a.error.as_deref().unwrap_or_default(),
                "meeting provider failed; another served"
            );
        }
        let snapshot = snapshot(&meeting)?;
        match self
            .store_booking(
                NewConsultation {
                    id,
                    applicant_id: b.applicant_id,
                    lawyer_id,
                    scheduled_at: start,
                    duration_minutes: b.duration_minutes as i32,
                    notes,
                    idempotency_key: key.clone(),
                    meeting: snapshot,
                },
                &lawyer,
                &applicant,
            )
            .await
        {
            Ok(Some(row)) => {
                self.outbox.kick();
                self.metrics.created.inc();
                tracing::info!(consultation = %row.id, provider = row.provider.as_deref().unwrap_or_default(), "consultation booked");
                Ok(row)
            }
            Ok(None) => {
                // The same idempotency key won a race: its consultation holds this meeting.
                let k = key.unwrap_or_default();
                self.store
                    .by_idempotency_key(b.applicant_id, &k)
                    .await?
                    .ok_or_else(|| {
                        ConsultationError::Unexpected(anyhow::anyhow!(
                            "idempotency conflict without a row"
                        ))
                    })
            }
            Err(e) => {
                self.undo_meeting(&meeting.id).await;
                Err(e)
            }
        }
    }

    /// Step 3 of a booking; `Ok(None)` when the idempotency key was taken meanwhile.
    async fn store_booking(
        &self,
        new: NewConsultation,
        lawyer: &UserRow,
        applicant: &UserRow,
    ) -> Result<Option<ConsultationRow>, ConsultationError> {
        let end = new.scheduled_at + Duration::minutes(i64::from(new.duration_minutes));
        let mut tx = self.store.pool().begin().await?;
        store::lock_lawyer(&mut *tx, new.lawyer_id).await?;
        if let Some(other) =
            store::overlapping(&mut *tx, new.lawyer_id, new.scheduled_at, end, Some(new.id)).await?
        {
            return Err(overlap_error(&other));
        }
        let Some(row) = store::insert(&mut *tx, &new).await? else {
            return Ok(None);
        };
        store::make_contacts(&mut *tx, new.applicant_id, new.lawyer_id).await?;
        let (kind, key, payload) = scheduled_event(&row, lawyer, applicant);
        store::enqueue(&mut *tx, kind, &key, &payload).await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    async fn undo_meeting(&self, meeting_id: &str) {
        let req = mpb::CancelMeetingRequest {
            id: meeting_id.to_owned(),
            reason: Some("the booking could not be stored".into()),
        };
        if let Err(e) = self.meetings.cancel(req).await {
            tracing::error!(meeting = meeting_id, error = %e, "could not cancel the meeting of a failed booking");
        }
    }

    fn may_see(row: &ConsultationRow, viewer: Viewer) -> Result<(), ConsultationError> {
        match viewer {
            Viewer::Internal => Ok(()),
            Viewer::User(u) if row.is_participant(u) => Ok(()),
            Viewer::User(_) => Err(ConsultationError::Forbidden(
                "only the applicant and the lawyer may see this consultation".into(),
            )),
        }
    }

    pub async fn get(
        &self,
        id: &str,
        viewer: Viewer,
    ) -> Result<ConsultationRow, ConsultationError> {
        let id = parse_id("id", id)?;
        let row = self.store.get(id).await?.ok_or_else(|| {
            ConsultationError::NotFound(format!("consultation {id} does not exist"))
        })?;
        Self::may_see(&row, viewer)?;
        Ok(row)
    }

    /// Moves the consultation (and its meeting); the invitation's sequence is bumped.
    pub async fn reschedule(
        &self,
        id: &str,
        viewer: Viewer,
        scheduled_at: Option<DateTime<Utc>>,
        duration_minutes: Option<i64>,
    ) -> Result<ConsultationRow, ConsultationError> {
        let row = self.get(id, viewer).await?;
        if row.status != "scheduled" {
            return Err(ConsultationError::Conflict(format!(
                "consultation {} is cancelled",
                row.id
            )));
        }
        let minutes = duration_minutes.unwrap_or(i64::from(row.duration_minutes));
        let start = check_schedule(scheduled_at, minutes)?;
        let end = start + Duration::minutes(minutes);
        if start == row.scheduled_at && minutes == i64::from(row.duration_minutes) {
            return Ok(row);
        }
        if let Some(other) =
            store::overlapping(self.store.pool(), row.lawyer_id, start, end, Some(row.id)).await?
        {
            return Err(overlap_error(&other));
        }
        let Some(meeting_id) = row.meeting_id else {
            return Err(ConsultationError::Unexpected(anyhow::anyhow!(
                "consultation without a meeting"
            )));
        };
        let meeting = self
            .meetings
            .update(mpb::UpdateMeetingRequest {
                id: meeting_id.to_string(),
                start: Some(timestamp(start)),
                duration_minutes: minutes as u32,
                title: None,
            })
            .await?;
        let snapshot = snapshot(&meeting)?;
        let lawyer = self.user(row.lawyer_id, "lawyer").await?;
        let applicant = self.user(row.applicant_id, "applicant").await?;
        let mut tx = self.store.pool().begin().await?;
        store::lock_lawyer(&mut *tx, row.lawyer_id).await?;
        if let Some(other) =
            store::overlapping(&mut *tx, row.lawyer_id, start, end, Some(row.id)).await?
        {
            drop(tx);
            // Booked meanwhile: put the meeting back where the consultation still is.
            let _ = self
                .meetings
                .update(mpb::UpdateMeetingRequest {
                    id: meeting_id.to_string(),
                    start: Some(timestamp(row.scheduled_at)),
                    duration_minutes: row.duration_minutes as u32,
                    title: None,
                })
                .await;
            return Err(overlap_error(&other));
        }
        let updated = store::reschedule(&mut *tx, row.id, start, minutes as i32, &snapshot)
            .await?
            .ok_or_else(|| {
                ConsultationError::Conflict(format!(
                    "consultation {} was cancelled meanwhile",
                    row.id
                ))
            })?;
        let (kind, key, payload) = scheduled_event(&updated, &lawyer, &applicant);
        store::enqueue(&mut *tx, kind, &key, &payload).await?;
        tx.commit().await?;
        self.outbox.kick();
        self.metrics.rescheduled.inc();
        tracing::info!(consultation = %updated.id, sequence = updated.ics_sequence, "consultation rescheduled");
        Ok(updated)
    }

    /// Cancels the meeting, then the consultation; cancelling twice changes nothing.
    pub async fn cancel(
        &self,
        id: &str,
        viewer: Viewer,
        reason: Option<String>,
    ) -> Result<ConsultationRow, ConsultationError> {
        let row = self.get(id, viewer).await?;
        if row.status == "cancelled" {
            return Ok(row);
        }
        let reason = reason
            .map(|r| r.trim().chars().take(500).collect::<String>())
            .filter(|r| !r.is_empty());
        let meeting = match row.meeting_id {
            Some(m) => {
                self.meetings
                    .cancel(mpb::CancelMeetingRequest {
                        id: m.to_string(),
                        reason: reason.clone(),
                    })
                    .await?
            }
            None => None,
        };
        let lawyer = self.user(row.lawyer_id, "lawyer").await?;
        let applicant = self.user(row.applicant_id, "applicant").await?;
        let mut tx = self.store.pool().begin().await?;
        let Some(cancelled) = store::cancel(
            &mut *tx,
            row.id,
            reason.as_deref(),
            meeting.as_ref().map(|m| m.ics.as_str()),
            meeting.as_ref().map(|m| m.ics_sequence as i32),
        )
        .await?
        else {
            drop(tx);
            return self.get(id, viewer).await;
        };
        let (kind, key, payload) = cancelled_event(&cancelled, &lawyer, &applicant);
        store::enqueue(&mut *tx, kind, &key, &payload).await?;
        tx.commit().await?;
        self.outbox.kick();
        self.metrics.cancelled.inc();
        tracing::info!(consultation = %cancelled.id, "consultation cancelled");
        Ok(cancelled)
    }
}

/// `consultation_scheduled`, keyed by the invitation's sequence: a reschedule is a new
/// notification, a retry of the same one is not.
fn scheduled_event(
    c: &ConsultationRow,
    lawyer: &UserRow,
    applicant: &UserRow,
) -> (&'static str, String, Vec<u8>) {
    let key = format!("consultation:{}:scheduled:{}", c.id, c.ics_sequence);
    let event = npb::NotificationEvent {
        dedupe_key: key.clone(),
        occurred_at: Some(timestamp(c.updated_at)),
        kind: Some(npb::notification_event::Kind::ConsultationScheduled(
            npb::ConsultationScheduled {
                consultation_id: c.id.to_string(),
                lawyer: Some(participant(lawyer)),
                applicant: Some(participant(applicant)),
                scheduled_at: Some(timestamp(c.scheduled_at)),
                duration_minutes: c.duration_minutes as u32,
                meeting_link: c.meeting_link.clone().unwrap_or_default(),
                google_calendar_url: c.google_calendar_url.clone().unwrap_or_default(),
                outlook_calendar_url: c.outlook_calendar_url.clone().unwrap_or_default(),
                ics: c.ics.clone().unwrap_or_default(),
            },
        )),
    };
    ("consultation_scheduled", key, event.encode_to_vec())
}

fn cancelled_event(
    c: &ConsultationRow,
    lawyer: &UserRow,
    applicant: &UserRow,
) -> (&'static str, String, Vec<u8>) {
    let key = format!("consultation:{}:cancelled:{}", c.id, c.ics_sequence);
    let event = npb::NotificationEvent {
        dedupe_key: key.clone(),
        occurred_at: Some(timestamp(c.updated_at)),
        kind: Some(npb::notification_event::Kind::ConsultationCancelled(
            npb::ConsultationCancelled {
                consultation_id: c.id.to_string(),
                lawyer: Some(participant(lawyer)),
                applicant: Some(participant(applicant)),
                scheduled_at: Some(timestamp(c.scheduled_at)),
                ics: c.ics.clone().unwrap_or_default(),
                reason: c.cancel_reason.clone(),
            },
        )),
    };
    ("consultation_cancelled", key, event.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_outside_the_rules_are_refused_with_a_reason() {
        let soon = Utc::now() + Duration::hours(1);
        assert!(check_schedule(Some(soon), 15).is_ok());
        assert!(check_schedule(Some(soon), 240).is_ok());
        for (start, minutes, needle) in [
            (None, 30, "required"),
            (Some(Utc::now() - Duration::minutes(1)), 30, "future"),
            (Some(soon), 14, "between 15 and 240"),
            (Some(soon), 241, "between 15 and 240"),
        ] {
            let e = check_schedule(start, minutes).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn providers_by_name() {
        assert_eq!(parse_provider("Google").unwrap(), mpb::Provider::GoogleMeet);
        assert_eq!(parse_provider("zoom").unwrap(), mpb::Provider::Zoom);
        assert!(parse_provider("teams").is_err());
        assert_eq!(provider_name(mpb::Provider::Jitsi as i32), Some("jitsi"));
        assert_eq!(provider_name(0), None);
    }

    #[test]
    fn idempotent_ids_are_stable_per_applicant_and_key() {
        let a = Uuid::now_v7();
        let id = |who: Uuid, k: &str| {
            Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, format!("{who}:{k}").as_bytes())
        };
        assert_eq!(id(a, "k1"), id(a, "k1"));
        assert_ne!(id(a, "k1"), id(a, "k2"));
        assert_ne!(id(a, "k1"), id(Uuid::now_v7(), "k1"));
    }
}
