//! The meeting operations behind the gRPC face: create with failover and idempotency,
//! read, reschedule, cancel, and the rendering of a stored meeting (links, ICS).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use switchboard_proto::meeting::v1 as pb;
use uuid::Uuid;

use crate::calendar::EventLink;
use crate::domain::{Person, ProviderKind, clean_line, is_plausible_time_zone};
use crate::error::{MeetingError, parse_id};
use crate::ics::{Invitation, Method};
use crate::links::LinkValidator;
use crate::metrics::MeetingMetrics;
use crate::providers::{MeetingSpec, Providers};
use crate::store::{MeetingRow, NewMeeting, Schedule, Store};

const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 4000;
const MAX_ATTENDEES: usize = 100;
const MAX_DURATION_MINUTES: u32 = 24 * 60;
/// A start this far in the past is still accepted (clock skew, slow callers).
const PAST_TOLERANCE_MINUTES: i64 = 5;

pub struct MeetingCore {
    pub store: Store,
    pub providers: Providers,
    pub validator: LinkValidator,
    pub organizer: Person,
    pub uid_domain: String,
    pub app_url: Option<String>,
    pub metrics: Arc<MeetingMetrics>,
}

/// A validated `CreateMeetingRequest`.
struct CreateInput {
    title: String,
    description: Option<String>,
    start: DateTime<Utc>,
    duration_minutes: u32,
    time_zone: Option<String>,
    organizer: Person,
    attendees: Vec<Person>,
    preferred: Option<ProviderKind>,
    consultation_id: Option<Uuid>,
    idempotency_key: Option<String>,
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn from_timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, MeetingError> {
    let t = t.ok_or_else(|| MeetingError::Invalid(format!("{field} is required")))?;
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .ok_or_else(|| MeetingError::Invalid(format!("{field} is out of range")))
}

fn title(raw: &str) -> Result<String, MeetingError> {
    let t = clean_line(raw);
    if t.is_empty() {
        return Err(MeetingError::Invalid("title is required".into()));
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(MeetingError::Invalid(format!(
            "title is longer than {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(t)
}

fn duration(raw: u32) -> Result<u32, MeetingError> {
    if raw == 0 || raw > MAX_DURATION_MINUTES {
        return Err(MeetingError::Invalid(format!(
            "duration_minutes must be between 1 and {MAX_DURATION_MINUTES}"
        )));
    }
    Ok(raw)
}

fn not_in_the_past(start: DateTime<Utc>) -> Result<(), MeetingError> {
    if start < Utc::now() - Duration::minutes(PAST_TOLERANCE_MINUTES) {
        return Err(MeetingError::Invalid("start is in the past".into()));
    }
    Ok(())
}

impl MeetingCore {
    fn parse_create(&self, req: &pb::CreateMeetingRequest) -> Result<CreateInput, MeetingError> {
        let start = from_timestamp("start", req.start.as_ref())?;
        not_in_the_past(start)?;
        let description = req
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err(MeetingError::Invalid(format!(
                "description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let time_zone = req
            .time_zone
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(tz) = &time_zone
            && !is_plausible_time_zone(tz)
        {
            return Err(MeetingError::Invalid(format!(
                "{tz:?} is not a time zone name"
            )));
        }
        let organizer = match &req.organizer {
            Some(o) if !o.email.trim().is_empty() => Person::from_proto(o)
                .map_err(|e| MeetingError::Invalid(format!("organizer: {e}")))?,
            _ => self.organizer.clone(),
        };
        if req.attendees.len() > MAX_ATTENDEES {
            return Err(MeetingError::Invalid(format!(
                "at most {MAX_ATTENDEES} attendees"
            )));
        }
        let mut attendees: Vec<Person> = Vec::new();
        for a in &req.attendees {
            let p = Person::from_proto(a)
                .map_err(|e| MeetingError::Invalid(format!("attendee: {e}")))?;
            if !attendees
                .iter()
                .any(|x| x.email.eq_ignore_ascii_case(&p.email))
                && !p.email.eq_ignore_ascii_case(&organizer.email)
            {
                attendees.push(p);
            }
        }
        let preferred = match req.preferred_provider {
            0 => None,
            n => Some(ProviderKind::from_proto(n).ok_or_else(|| {
                MeetingError::Invalid(format!("preferred_provider {n} is unknown"))
            })?),
        };
        let consultation_id = req
            .consultation_id
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| parse_id("consultation_id", c))
            .transpose()?;
        let idempotency_key = Some(req.idempotency_key.trim().to_owned()).filter(|k| !k.is_empty());
        if idempotency_key.as_ref().is_some_and(|k| k.len() > 200) {
            return Err(MeetingError::Invalid(
                "idempotency_key is longer than 200 bytes".into(),
            ));
        }
        Ok(CreateInput {
            title: title(&req.title)?,
            description,
            start,
            duration_minutes: duration(req.duration_minutes)?,
            time_zone,
            organizer,
            attendees,
            preferred,
            consultation_id,
            idempotency_key,
        })
    }

    /// Creates the meeting at the first provider that can, or returns the one an earlier
    /// call with the same idempotency key created.
    pub async fn create(&self, req: &pb::CreateMeetingRequest) -> Result<MeetingRow, MeetingError> {
        let input = self.parse_create(req)?;
        if let Some(key) = &input.idempotency_key
            && let Some(existing) = self.store.by_idempotency_key(key).await?
        {
            self.metrics.idempotent_replays.inc();
            tracing::info!(meeting = %existing.id, "CreateMeeting retry: returning the stored meeting");
            return Ok(existing);
        }
        let id = Uuid::now_v7();
        let spec = MeetingSpec {
            meeting_id: id,
            title: &input.title,
            description: input.description.as_deref(),
            start: input.start,
            duration_minutes: input.duration_minutes,
            time_zone: input.time_zone.as_deref(),
            organizer: &input.organizer,
            attendees: &input.attendees,
        };
        let (result, attempts) = self.providers.create(input.preferred, &spec).await;
        for a in &attempts {
            let outcome = if a.succeeded { "ok" } else { "failed" };
            self.metrics
                .provider_attempts
                .with_label_values(&[a.provider.as_str(), outcome])
                .inc();
        }
        let Some((kind, created)) = result else {
            self.metrics.create_failures.inc();
            let why = attempts
                .iter()
                .map(|a| format!("{}: {}", a.provider, a.error.as_deref().unwrap_or("failed")))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(MeetingError::Unavailable(format!(
                "no meeting provider could create the meeting ({why})"
            )));
        };
        self.metrics
            .created
            .with_label_values(&[kind.as_str()])
            .inc();
        let new = NewMeeting {
            id,
            provider: kind.as_str().to_owned(),
            join_url: created.join_url.clone(),
            host_url: created.host_url.clone(),
            external_id: created.external_id.clone(),
            title: input.title.clone(),
            description: input.description.clone(),
            start_at: input.start,
            duration_minutes: input.duration_minutes as i32,
            time_zone: input.time_zone.clone(),
            ics_uid: created
                .ics_uid
                .clone()
                .unwrap_or_else(|| format!("{id}@{}", self.uid_domain)),
            organizer: input.organizer.clone(),
            attendees: input.attendees.clone(),
            attempts,
            provider_data: created.data.clone(),
            consultation_id: input.consultation_id,
            idempotency_key: input.idempotency_key.clone(),
        };
        let inserted = match self.store.insert(&new).await {
            Ok(row) => row,
            Err(e) => {
                self.undo(kind, &created.external_id, &created.data).await;
                return Err(e);
            }
        };
        match inserted {
            Some(row) => Ok(row),
            None => {
                // A concurrent call with the same key stored its meeting first: ours goes.
                self.undo(kind, &created.external_id, &created.data).await;
                let key = input.idempotency_key.as_deref().unwrap_or_default();
                self.store.by_idempotency_key(key).await?.ok_or_else(|| {
                    MeetingError::Unexpected(anyhow::anyhow!(
                        "idempotency conflict without a stored meeting"
                    ))
                })
            }
        }
    }

    /// Cancels a provider meeting that will not be stored.
    async fn undo(&self, kind: ProviderKind, external_id: &str, data: &serde_json::Value) {
        if let Some(p) = self.providers.get(kind)
            && let Err(e) = p.cancel(external_id, data).await
        {
            tracing::warn!(provider = %kind, external_id, error = %e, "could not cancel an unused provider meeting");
        }
    }

    pub async fn get(&self, id: &str) -> Result<MeetingRow, MeetingError> {
        let id = parse_id("id", id)?;
        self.store
            .get(id)
            .await?
            .ok_or_else(|| MeetingError::NotFound(format!("meeting {id} does not exist")))
    }

    fn provider_of(&self, row: &MeetingRow) -> Result<&crate::providers::Provider, MeetingError> {
        let kind = ProviderKind::parse(&row.provider).ok_or_else(|| {
            MeetingError::Unexpected(anyhow::anyhow!(
                "stored provider {:?} is unknown",
                row.provider
            ))
        })?;
        self.providers.get(kind).ok_or_else(|| {
            MeetingError::Unavailable(format!(
                "the meeting lives at {kind}, which is no longer configured"
            ))
        })
    }

    /// Moves the meeting at its provider, then bumps the ICS sequence. Asking for the
    /// schedule it already has changes nothing.
    pub async fn update(&self, req: &pb::UpdateMeetingRequest) -> Result<MeetingRow, MeetingError> {
        let row = self.get(&req.id).await?;
        if row.status != "scheduled" {
            return Err(MeetingError::FailedPrecondition(format!(
                "meeting {} is cancelled",
                row.id
            )));
        }
        let start = from_timestamp("start", req.start.as_ref())?;
        not_in_the_past(start)?;
        let duration_minutes = match req.duration_minutes {
            0 => row.duration_minutes as u32,
            d => duration(d)?,
        };
        let new_title = match &req.title {
            Some(t) => title(t)?,
            None => row.title.clone(),
        };
        if start == row.start_at
            && duration_minutes == row.duration_minutes as u32
            && new_title == row.title
        {
            return Ok(row);
        }
        let provider = self.provider_of(&row)?;
        let organizer = Person {
            email: row.organizer_email.clone(),
            name: row.organizer_name.clone(),
        };
        let spec = MeetingSpec {
            meeting_id: row.id,
            title: &new_title,
            description: row.description.as_deref(),
            start,
            duration_minutes,
            time_zone: row.time_zone.as_deref(),
            organizer: &organizer,
            attendees: &row.attendees.0,
        };
        let moved = provider
            .reschedule(&row.external_id, &row.provider_data.0, &spec)
            .await
            .map_err(|e| {
                MeetingError::Unavailable(format!(
                    "{} could not move the meeting: {e}",
                    row.provider
                ))
            })?;
        let updated = self
            .store
            .reschedule(
                row.id,
                &Schedule {
                    start_at: start,
                    duration_minutes: duration_minutes as i32,
                    title: new_title,
                    join_url: moved.join_url,
                    host_url: moved.host_url,
                },
            )
            .await?
            .ok_or_else(|| {
                MeetingError::FailedPrecondition(format!(
                    "meeting {} was cancelled meanwhile",
                    row.id
                ))
            })?;
        self.metrics.rescheduled.inc();
        tracing::info!(meeting = %row.id, sequence = updated.ics_sequence, "meeting rescheduled");
        Ok(updated)
    }

    /// Cancels at the provider, then marks the meeting cancelled with the sequence bumped.
    /// Cancelling a cancelled meeting returns it unchanged.
    pub async fn cancel(&self, req: &pb::CancelMeetingRequest) -> Result<MeetingRow, MeetingError> {
        let row = self.get(&req.id).await?;
        if row.status == "cancelled" {
            return Ok(row);
        }
        let provider = self.provider_of(&row)?;
        provider
            .cancel(&row.external_id, &row.provider_data.0)
            .await
            .map_err(|e| {
                MeetingError::Unavailable(format!(
                    "{} could not cancel the meeting: {e}",
                    row.provider
                ))
            })?;
        let reason = req
            .reason
            .as_deref()
            .map(clean_line)
            .filter(|r| !r.is_empty())
            .map(|r| r.chars().take(500).collect::<String>());
        match self.store.cancel(row.id, reason.as_deref()).await? {
            Some(cancelled) => {
                self.metrics.cancelled.inc();
                tracing::info!(meeting = %row.id, sequence = cancelled.ics_sequence, "meeting cancelled");
                Ok(cancelled)
            }
            None => self.get(&req.id).await,
        }
    }

    pub fn validate_link(&self, url: &str) -> pb::ValidateMeetingLinkResponse {
        match self.validator.validate(url) {
            Ok(v) => pb::ValidateMeetingLinkResponse {
                valid: true,
                provider: v.provider.to_proto() as i32,
                normalized: Some(v.normalized),
                reason: None,
            },
            Err(reason) => pb::ValidateMeetingLinkResponse {
                valid: false,
                provider: pb::Provider::Unspecified as i32,
                normalized: None,
                reason: Some(reason),
            },
        }
    }

    /// What calendar entries say below the join link: the description and, for a
    /// consultation, where to read it in the app.
    fn notes(&self, row: &MeetingRow) -> Option<String> {
        let mut parts: Vec<String> = row.description.iter().cloned().collect();
        if let (Some(app), Some(c)) = (&self.app_url, row.consultation_id) {
            parts.push(format!("Details: {app}/consultations/{c}"));
        }
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// The stored meeting as callers see it: links and the ICS for its current state.
    pub fn render(&self, row: &MeetingRow) -> pb::Meeting {
        let end = row.start_at + Duration::minutes(i64::from(row.duration_minutes));
        let organizer = Person {
            email: row.organizer_email.clone(),
            name: row.organizer_name.clone(),
        };
        let cancelled = row.status == "cancelled";
        let notes = self.notes(row);
        let details = match &notes {
            Some(n) => format!("Join: {}\n\n{n}", row.join_url),
            None => format!("Join: {}", row.join_url),
        };
        let link = EventLink {
            title: &row.title,
            start: row.start_at,
            end,
            details: &details,
            location: &row.join_url,
            time_zone: row.time_zone.as_deref(),
        };
        let ics = Invitation {
            uid: &row.ics_uid,
            sequence: row.ics_sequence.max(0) as u32,
            method: if cancelled {
                Method::Cancel
            } else {
                Method::Request
            },
            stamp: row.updated_at,
            start: row.start_at,
            end,
            summary: &row.title,
            description: notes.as_deref(),
            join_url: &row.join_url,
            organizer: &organizer,
            attendees: &row.attendees.0,
        }
        .render();
        pb::Meeting {
            id: row.id.to_string(),
            provider: ProviderKind::parse(&row.provider)
                .map(|p| p.to_proto())
                .unwrap_or(pb::Provider::Unspecified) as i32,
            join_url: row.join_url.clone(),
            host_url: row.host_url.clone(),
            external_id: row.external_id.clone(),
            google_calendar_url: link.google(),
            outlook_calendar_url: link.outlook(),
            ics,
            ics_uid: row.ics_uid.clone(),
            ics_sequence: row.ics_sequence.max(0) as u32,
            start: Some(timestamp(row.start_at)),
            duration_minutes: row.duration_minutes.max(0) as u32,
            status: if cancelled {
                pb::MeetingStatus::Cancelled
            } else {
                pb::MeetingStatus::Scheduled
            } as i32,
            consultation_id: row.consultation_id.map(|c| c.to_string()),
            attempts: row
                .attempts
                .0
                .iter()
                .map(|a| pb::ProviderAttempt {
                    provider: a.provider.to_proto() as i32,
                    succeeded: a.succeeded,
                    error: a.error.clone(),
                })
                .collect(),
            title: row.title.clone(),
            time_zone: row.time_zone.clone(),
            organizer: Some(organizer.to_proto()),
            attendees: row.attendees.0.iter().map(Person::to_proto).collect(),
            updated_at: Some(timestamp(row.updated_at)),
            cancel_reason: row.cancel_reason.clone(),
        }
    }
}
