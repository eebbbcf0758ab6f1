//! SQL for consultations, the users they name, contacts, and the notification outbox.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::ConsultationError;

/// One row of `consultations`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConsultationRow {
    pub id: Uuid,
    pub applicant_id: Uuid,
    pub lawyer_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub notes: Option<String>,
    pub status: String,
    pub meeting_id: Option<Uuid>,
    pub meeting_link: Option<String>,
    pub provider: Option<String>,
    pub google_calendar_url: Option<String>,
    pub outlook_calendar_url: Option<String>,
    pub ics: Option<String>,
    pub ics_sequence: i32,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

impl ConsultationRow {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.scheduled_at + chrono::Duration::minutes(i64::from(self.duration_minutes))
    }

    pub fn is_participant(&self, user: Uuid) -> bool {
        user == self.applicant_id || user == self.lawyer_id
    }
}

const COLUMNS: &str = "id, applicant_id, lawyer_id, scheduled_at, duration_minutes, notes, \
    status, meeting_id, meeting_link, provider, google_calendar_url, outlook_calendar_url, ics, \
    ics_sequence, idempotency_key, created_at, updated_at, cancelled_at, cancel_reason";

/// The user fields a consultation needs.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub role: String,
}

/// The meeting as last returned by the meeting service.
#[derive(Clone, Debug)]
pub struct MeetingSnapshot {
    pub meeting_id: Uuid,
    pub join_url: String,
    pub provider: String,
    pub google_calendar_url: String,
    pub outlook_calendar_url: String,
    pub ics: String,
    pub ics_sequence: i32,
}

pub struct NewConsultation {
    pub id: Uuid,
    pub applicant_id: Uuid,
    pub lawyer_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub notes: Option<String>,
    pub idempotency_key: Option<String>,
    pub meeting: MeetingSnapshot,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Records the caller from its token's claims (as the gateway does on connect), so a
    /// user who never connected can book.
    pub async fn upsert_user(
        &self,
        id: Uuid,
        email: Option<&str>,
        name: Option<&str>,
        role: Option<&str>,
    ) -> Result<(), ConsultationError> {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, role)
             VALUES ($1, $2, $3, COALESCE($4, 'applicant'))
             ON CONFLICT (id) DO UPDATE SET
                 email = COALESCE(EXCLUDED.email, users.email),
                 display_name = COALESCE(EXCLUDED.display_name, users.display_name),
                 role = COALESCE($4, users.role),
                 updated_at = now()
             WHERE (users.email, users.display_name, users.role) IS DISTINCT FROM
                   (COALESCE(EXCLUDED.email, users.email),
                    COALESCE(EXCLUDED.display_name, users.display_name),
                    COALESCE($4, users.role))",
        )
        .bind(id)
        .bind(email)
        .bind(name)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user(&self, id: Uuid) -> Result<Option<UserRow>, ConsultationError> {
        Ok(
            sqlx::query_as("SELECT id, email, display_name, role FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<ConsultationRow>, ConsultationError> {
        get(&self.pool, id).await
    }

    pub async fn by_idempotency_key(
        &self,
        applicant: Uuid,
        key: &str,
    ) -> Result<Option<ConsultationRow>, ConsultationError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM consultations WHERE applicant_id = $1 AND idempotency_key = $2"
        ))
        .bind(applicant)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }
}

pub async fn get(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ConsultationRow>, ConsultationError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consultations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Serialises bookings of one lawyer until the transaction ends, so two overlapping
/// requests cannot both pass the overlap check.
pub async fn lock_lawyer(db: impl PgExecutor<'_>, lawyer: Uuid) -> Result<(), ConsultationError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7001))")
        .bind(lawyer)
        .execute(db)
        .await?;
    Ok(())
}

/// A scheduled consultation of `lawyer` that overlaps `[start, end)`, other than `except`.
pub async fn overlapping(
    db: impl PgExecutor<'_>,
    lawyer: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<Option<ConsultationRow>, ConsultationError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM consultations
         WHERE lawyer_id = $1 AND status = 'scheduled'
           AND scheduled_at < $3
           AND scheduled_at + make_interval(mins => duration_minutes) > $2
           AND ($4::uuid IS NULL OR id <> $4)
         ORDER BY scheduled_at LIMIT 1"
    ))
    .bind(lawyer)
    .bind(start)
    .bind(end)
    .bind(except)
    .fetch_optional(db)
    .await?)
}

/// Inserts the consultation; `None` when the applicant's idempotency key is taken.
pub async fn insert(
    db: impl PgExecutor<'_>,
    c: &NewConsultation,
) -> Result<Option<ConsultationRow>, ConsultationError> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO consultations (id, applicant_id, lawyer_id, scheduled_at, duration_minutes,
             notes, meeting_id, meeting_link, provider, google_calendar_url, outlook_calendar_url,
             ics, ics_sequence, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(c.id)
    .bind(c.applicant_id)
    .bind(c.lawyer_id)
    .bind(c.scheduled_at)
    .bind(c.duration_minutes)
    .bind(&c.notes)
    .bind(c.meeting.meeting_id)
    .bind(&c.meeting.join_url)
    .bind(&c.meeting.provider)
    .bind(&c.meeting.google_calendar_url)
    .bind(&c.meeting.outlook_calendar_url)
    .bind(&c.meeting.ics)
    .bind(c.meeting.ics_sequence)
    .bind(&c.idempotency_key)
    .fetch_optional(db)
    .await?)
}

/// Both directions, so each sees the other's presence (SPEC §2.4).
pub async fn make_contacts(
    db: impl PgExecutor<'_>,
    a: Uuid,
    b: Uuid,
) -> Result<(), ConsultationError> {
    sqlx::query(
        "INSERT INTO contacts (user_id, contact_id) VALUES ($1, $2), ($2, $1)
         ON CONFLICT DO NOTHING",
    )
    .bind(a)
    .bind(b)
    .execute(db)
    .await?;
    Ok(())
}

/// The new time and the moved meeting of a scheduled consultation.
pub async fn reschedule(
    db: impl PgExecutor<'_>,
    id: Uuid,
    start: DateTime<Utc>,
    duration_minutes: i32,
    meeting: &MeetingSnapshot,
) -> Result<Option<ConsultationRow>, ConsultationError> {
    Ok(sqlx::query_as(&format!(
        "UPDATE consultations SET scheduled_at = $2, duration_minutes = $3, meeting_link = $4,
             google_calendar_url = $5, outlook_calendar_url = $6, ics = $7, ics_sequence = $8,
             updated_at = now()
         WHERE id = $1 AND status = 'scheduled'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(start)
    .bind(duration_minutes)
    .bind(&meeting.join_url)
    .bind(&meeting.google_calendar_url)
    .bind(&meeting.outlook_calendar_url)
    .bind(&meeting.ics)
    .bind(meeting.ics_sequence)
    .fetch_optional(db)
    .await?)
}

/// Marks a scheduled consultation cancelled with the meeting's cancellation ICS.
pub async fn cancel(
    db: impl PgExecutor<'_>,
    id: Uuid,
    reason: Option<&str>,
    ics: Option<&str>,
    ics_sequence: Option<i32>,
) -> Result<Option<ConsultationRow>, ConsultationError> {
    Ok(sqlx::query_as(&format!(
        "UPDATE consultations SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2,
             ics = COALESCE($3, ics), ics_sequence = COALESCE($4, ics_sequence + 1),
             updated_at = now()
         WHERE id = $1 AND status = 'scheduled'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(reason)
    .bind(ics)
    .bind(ics_sequence)
    .fetch_optional(db)
    .await?)
}

/// Queues a notification event; a second one with the same dedupe key is dropped.
pub async fn enqueue(
    db: impl PgExecutor<'_>,
    kind: &str,
    dedupe_key: &str,
    payload: &[u8],
) -> Result<(), ConsultationError> {
    sqlx::query(
        "INSERT INTO consultation_outbox (kind, dedupe_key, payload) VALUES ($1, $2, $3)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(kind)
    .bind(dedupe_key)
    .bind(payload)
    .execute(db)
    .await?;
    Ok(())
}

/// One queued notification.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub payload: Vec<u8>,
}
