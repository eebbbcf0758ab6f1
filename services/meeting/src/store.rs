//! SQL for the `meetings` table.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::Person;
use crate::error::MeetingError;
use crate::providers::Attempt;

/// One row of `meetings`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MeetingRow {
    pub id: Uuid,
    pub provider: String,
    pub join_url: String,
    pub host_url: Option<String>,
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub start_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub time_zone: Option<String>,
    pub status: String,
    pub ics_uid: String,
    pub ics_sequence: i32,
    pub organizer_email: String,
    pub organizer_name: Option<String>,
    pub attendees: Json<Vec<Person>>,
    pub attempts: Json<Vec<Attempt>>,
    pub provider_data: Json<serde_json::Value>,
    pub consultation_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

const COLUMNS: &str = "id, provider, join_url, host_url, external_id, title, description, \
    start_at, duration_minutes, time_zone, status, ics_uid, ics_sequence, organizer_email, \
    organizer_name, attendees, attempts, provider_data, consultation_id, idempotency_key, \
    created_at, updated_at, cancelled_at, cancel_reason";

/// What a successful `CreateMeeting` stores.
pub struct NewMeeting {
    pub id: Uuid,
    pub provider: String,
    pub join_url: String,
    pub host_url: Option<String>,
    pub external_id: String,
    pub title: String,
    pub description: Option<String>,
    pub start_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub time_zone: Option<String>,
    pub ics_uid: String,
    pub organizer: Person,
    pub attendees: Vec<Person>,
    pub attempts: Vec<Attempt>,
    pub provider_data: serde_json::Value,
    pub consultation_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
}

/// A reschedule: new time, maybe a new title and new links.
pub struct Schedule {
    pub start_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub title: String,
    pub join_url: Option<String>,
    pub host_url: Option<String>,
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

    pub async fn get(&self, id: Uuid) -> Result<Option<MeetingRow>, MeetingError> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM meetings WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn by_idempotency_key(&self, key: &str) -> Result<Option<MeetingRow>, MeetingError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM meetings WHERE idempotency_key = $1"
        ))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Inserts the meeting; `None` when another call with the same idempotency key got
    /// there first.
    pub async fn insert(&self, m: &NewMeeting) -> Result<Option<MeetingRow>, MeetingError> {
        Ok(sqlx::query_as(&format!(
            "INSERT INTO meetings (id, provider, join_url, host_url, external_id, title, description,
                 start_at, duration_minutes, time_zone, ics_uid, ics_sequence, organizer_email,
                 organizer_name, attendees, attempts, provider_data, consultation_id, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15, $16, $17, $18)
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING {COLUMNS}"
        ))
        .bind(m.id)
        .bind(&m.provider)
        .bind(&m.join_url)
        .bind(&m.host_url)
        .bind(&m.external_id)
        .bind(&m.title)
        .bind(&m.description)
        .bind(m.start_at)
        .bind(m.duration_minutes)
        .bind(&m.time_zone)
        .bind(&m.ics_uid)
        .bind(&m.organizer.email)
        .bind(&m.organizer.name)
        .bind(Json(&m.attendees))
        .bind(Json(&m.attempts))
        .bind(Json(&m.provider_data))
        .bind(m.consultation_id)
        .bind(&m.idempotency_key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Moves a scheduled meeting and bumps its ICS sequence; `None` when it is no longer
    /// scheduled.
    pub async fn reschedule(
        &self,
        id: Uuid,
        s: &Schedule,
    ) -> Result<Option<MeetingRow>, MeetingError> {
        Ok(sqlx::query_as(&format!(
            "UPDATE meetings SET start_at = $2, duration_minutes = $3, title = $4,
                 join_url = COALESCE($5, join_url), host_url = COALESCE($6, host_url),
                 ics_sequence = ics_sequence + 1, updated_at = now()
             WHERE id = $1 AND status = 'scheduled'
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(s.start_at)
        .bind(s.duration_minutes)
        .bind(&s.title)
        .bind(&s.join_url)
        .bind(&s.host_url)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Cancels a scheduled meeting and bumps its ICS sequence; `None` when it was not
    /// scheduled any more.
    pub async fn cancel(
        &self,
        id: Uuid,
        reason: Option<&str>,
    ) -> Result<Option<MeetingRow>, MeetingError> {
        Ok(sqlx::query_as(&format!(
            "UPDATE meetings SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2,
                 ics_sequence = ics_sequence + 1, updated_at = now()
             WHERE id = $1 AND status = 'scheduled'
             RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?)
    }
}
