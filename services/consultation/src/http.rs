//! The REST API (SPEC §3), Bearer JWT with the gateway's rules and its error shape
//! `{"error":{"code","message"}}`:
//!
//! - `POST /v1/consultations` `{lawyerId, scheduledAt, durationMinutes, notes?, provider?}`
//!   (the applicant is the token's user; an `Idempotency-Key` header makes retries safe)
//!   → 201 `{"consultation": …}`;
//! - `GET /v1/consultations/{id}` (participants only) → 200;
//! - `PATCH /v1/consultations/{id}` `{scheduledAt, durationMinutes?}` reschedules → 200;
//! - `DELETE /v1/consultations/{id}[?reason=…]` cancels → 200 with the cancelled one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_common::auth::{JwtVerifier, VerifiedToken};
use switchboard_common::wire::{ErrorCode, WireError, format_time};

use crate::error::ConsultationError;
use crate::service::{Booking, ConsultationCore, Viewer, parse_provider};
use crate::store::ConsultationRow;

#[derive(Clone)]
struct ApiState {
    core: Arc<ConsultationCore>,
    verifier: Arc<JwtVerifier>,
    max_body: usize,
}

pub fn router(core: Arc<ConsultationCore>, verifier: Arc<JwtVerifier>, max_body: usize) -> Router {
    Router::new()
        .route("/v1/consultations", post(create))
        .route(
            "/v1/consultations/{id}",
            get(read).patch(reschedule).delete(cancel),
        )
        .fallback(not_found)
        .with_state(ApiState {
            core,
            verifier,
            max_body,
        })
}

/// The `{id}` of a path. A segment that is not UTF-8 once percent-decoded gets the JSON
/// error shape like every other refusal (axum's own rejection is plain text).
struct IdParam(String);

impl<S: Send + Sync> FromRequestParts<S> for IdParam {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Self(id))
            .map_err(|e| error_response(&WireError::new(ErrorCode::InvalidRequest, e.body_text())))
    }
}

/// The consultation object of every response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsultationJson {
    pub id: String,
    pub applicant_id: String,
    pub lawyer_id: String,
    pub scheduled_at: String,
    pub ends_at: String,
    pub duration_minutes: i32,
    pub notes: Option<String>,
    pub status: String,
    pub provider: Option<String>,
    pub meeting_id: Option<String>,
    pub meeting_link: Option<String>,
    pub google_calendar_url: Option<String>,
    pub outlook_calendar_url: Option<String>,
    pub ics: Option<String>,
    pub ics_sequence: i32,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled_at: Option<String>,
    pub cancel_reason: Option<String>,
}

impl From<&ConsultationRow> for ConsultationJson {
    fn from(c: &ConsultationRow) -> Self {
        Self {
            id: c.id.to_string(),
            applicant_id: c.applicant_id.to_string(),
            lawyer_id: c.lawyer_id.to_string(),
            scheduled_at: format_time(c.scheduled_at),
            ends_at: format_time(c.ends_at()),
            duration_minutes: c.duration_minutes,
            notes: c.notes.clone(),
            status: c.status.clone(),
            provider: c.provider.clone(),
            meeting_id: c.meeting_id.map(|m| m.to_string()),
            meeting_link: c.meeting_link.clone(),
            google_calendar_url: c.google_calendar_url.clone(),
            outlook_calendar_url: c.outlook_calendar_url.clone(),
            ics: c.ics.clone(),
            ics_sequence: c.ics_sequence,
            created_at: format_time(c.created_at),
            updated_at: format_time(c.updated_at),
            cancelled_at: c.cancelled_at.map(format_time),
            cancel_reason: c.cancel_reason.clone(),
        }
    }
}

/// `{"error":{"code","message"}}` with the status that fits the code.
pub fn error_response(e: &WireError) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&serde_json::json!({ "error": e })).expect("serialises");
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if e.code == ErrorCode::RateLimited || e.code == ErrorCode::Unavailable {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn respond(status: StatusCode, result: Result<ConsultationRow, ConsultationError>) -> Response {
    match result {
        Ok(row) => {
            let body = serde_json::to_vec(&serde_json::json!({
                "consultation": ConsultationJson::from(&row)
            }))
            .expect("serialises");
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => error_response(&e.to_wire()),
    }
}

fn bearer(headers: &HeaderMap) -> Result<String, ConsultationError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ConsultationError::Unauthorized("missing Authorization: Bearer token".into())
        })?
        .to_str()
        .map_err(|_| ConsultationError::Unauthorized("Authorization header is not text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(ConsultationError::Unauthorized(
            "Authorization must be \"Bearer <token>\"".into(),
        )),
    }
}

/// The token's user, recorded from its claims.
async fn authenticate(
    state: &ApiState,
    headers: &HeaderMap,
) -> Result<VerifiedToken, ConsultationError> {
    let raw = bearer(headers)?;
    let token = state
        .verifier
        .verify(&raw)
        .map_err(|e| ConsultationError::Unauthorized(e.to_string()))?;
    state
        .core
        .store
        .upsert_user(
            token.user_id,
            token.email.as_deref(),
            token.name.as_deref(),
            token.role.as_deref(),
        )
        .await?;
    Ok(token)
}

async fn read_json<T: serde::de::DeserializeOwned>(
    body: Body,
    limit: usize,
) -> Result<T, ConsultationError> {
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ConsultationError::TooLarge(format!("request body is larger than {limit} bytes"))
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ConsultationError::Invalid(format!("invalid body: {e}")))
}

fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ConsultationError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ConsultationError::Invalid(format!(
                "{field} must be an RFC 3339 time such as 2026-12-01T15:00:00Z"
            ))
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    lawyer_id: String,
    scheduled_at: String,
    duration_minutes: i64,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    provider: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn create(State(state): State<ApiState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        let token = authenticate(&state, &parts.headers).await?;
        let body: CreateBody = read_json(body, state.max_body).await?;
        let idempotency_key = parts
            .headers
            .get("idempotency-key")
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| ConsultationError::Invalid("Idempotency-Key is not text".into()))
            })
            .transpose()?;
        state
            .core
            .create(Booking {
                applicant_id: token.user_id,
                lawyer_id: body.lawyer_id,
                scheduled_at: Some(parse_time("scheduledAt", &body.scheduled_at)?),
                duration_minutes: body.duration_minutes,
                notes: body.notes,
                provider: body.provider.as_deref().map(parse_provider).transpose()?,
                idempotency_key,
            })
            .await
    }
    .await;
    respond(StatusCode::CREATED, result)
}

#[tracing::instrument(skip_all, fields(consultation = %id))]
async fn read(State(state): State<ApiState>, IdParam(id): IdParam, headers: HeaderMap) -> Response {
    let result = async {
        let token = authenticate(&state, &headers).await?;
        state.core.get(&id, Viewer::User(token.user_id)).await
    }
    .await;
    respond(StatusCode::OK, result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RescheduleBody {
    scheduled_at: String,
    #[serde(default)]
    duration_minutes: Option<i64>,
}

#[tracing::instrument(skip_all, fields(consultation = %id))]
async fn reschedule(State(state): State<ApiState>, IdParam(id): IdParam, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        let token = authenticate(&state, &parts.headers).await?;
        let body: RescheduleBody = read_json(body, state.max_body).await?;
        let at = parse_time("scheduledAt", &body.scheduled_at)?;
        state
            .core
            .reschedule(
                &id,
                Viewer::User(token.user_id),
                Some(at),
                body.duration_minutes,
            )
            .await
    }
    .await;
    respond(StatusCode::OK, result)
}

#[tracing::instrument(skip_all, fields(consultation = %id))]
async fn cancel(
    State(state): State<ApiState>,
    IdParam(id): IdParam,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let token = authenticate(&state, &headers).await?;
        state
            .core
            .cancel(
                &id,
                Viewer::User(token.user_id),
                query.get("reason").cloned(),
            )
            .await
    }
    .await;
    respond(StatusCode::OK, result)
}

async fn not_found() -> Response {
    error_response(&WireError::new(ErrorCode::NotFound, "no such endpoint"))
}
