//! The REST fallback for clients without WebSocket (SPEC §3): the same commands, rules
//! and error codes as the socket, over plain HTTP with a Bearer token.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchboard_common::auth::VerifiedToken;
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_proto::chat::v1::{self as pb, command::Command as Cmd};

use crate::state::GatewayState;
use crate::ws::bearer;
use crate::ws::session::{SendMessageData, send_command};

/// `{"error":{"code","message"}}` with the status that fits the code.
pub fn error_response(e: &WireError) -> Response {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&serde_json::json!({ "error": e })).expect("serialises");
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if e.code == ErrorCode::RateLimited {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn authenticate(
    state: &GatewayState,
    req_headers: &axum::http::HeaderMap,
) -> Result<VerifiedToken, WireError> {
    state.check_origin(req_headers)?;
    let raw = bearer(req_headers)?.ok_or_else(|| {
        WireError::new(
            ErrorCode::Unauthorized,
            "missing Authorization: Bearer token",
        )
    })?;
    let token = state
        .verifier
        .verify(&raw)
        .map_err(|e| WireError::new(ErrorCode::Unauthorized, e.to_string()))?;
    state.ensure_user_recorded(&token).await?;
    Ok(token)
}

/// `POST /v1/messages` `{recipientId, content, clientMsgId?}` → 201 `{"message": …}`.
pub async fn send_message(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        let token = authenticate(&state, &parts.headers).await?;
        let body = read_body(body, state.settings.max_frame_bytes).await?;
        let data = send_message_body(&body)?;
        state.check_send_rate(token.user_id)?;
        state
            .chat
            .call(None, send_command(token.user_id, data))
            .await
    }
    .await;
    match result {
        Ok(json) => json_response(StatusCode::CREATED, json),
        Err(e) => error_response(&e),
    }
}

/// `GET /v1/conversations/{peerId}/messages?before=&limit=` → 200 `{"messages","hasMore"}`.
pub async fn history(
    State(state): State<Arc<GatewayState>>,
    peer_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
) -> Response {
    let result = async {
        let token = authenticate(&state, &headers).await?;
        let peer_id = path_param(peer_id)?;
        let (before, limit) = history_query(query.as_deref())?;
        state
            .chat
            .call(
                None,
                Cmd::History(pb::GetHistoryRequest {
                    user_id: token.user_id.to_string(),
                    peer_id,
                    before,
                    limit,
                }),
            )
            .await
    }
    .await;
    match result {
        Ok(json) => json_response(StatusCode::OK, json),
        Err(e) => error_response(&e),
    }
}

/// `POST /v1/messages/{id}/read` → 200 `{messageId, readAt}`.
pub async fn mark_read(
    State(state): State<Arc<GatewayState>>,
    message_id: Result<Path<String>, PathRejection>,
    headers: axum::http::HeaderMap,
) -> Response {
    let result = async {
        let token = authenticate(&state, &headers).await?;
        let message_id = path_param(message_id)?;
        state
            .chat
            .call(
                None,
                Cmd::MarkMessageRead(pb::MarkMessageReadRequest {
                    reader_id: token.user_id.to_string(),
                    message_id,
                }),
            )
            .await
    }
    .await;
    match result {
        Ok(json) => json_response(StatusCode::OK, json),
        Err(e) => error_response(&e),
    }
}

/// `GET /v1/presence?userIds=a,b` → 200 `{"presence":[…]}` (contacts only).
pub async fn presence(
    State(state): State<Arc<GatewayState>>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
) -> Response {
    let result = async {
        let token = authenticate(&state, &headers).await?;
        let ids = presence_query(query.as_deref())?;
        state.presence.get_presence(token.user_id, ids).await
    }
    .await;
    match result {
        Ok(json) => json_response(StatusCode::OK, json),
        Err(e) => error_response(&e),
    }
}

/// A path parameter, or `invalid_request` in the JSON error shape (axum's own rejection of
/// a segment that is not UTF-8 once percent-decoded is plain text); checked after the token.
fn path_param(param: Result<Path<String>, PathRejection>) -> Result<String, WireError> {
    param
        .map(|Path(p)| p)
        .map_err(|e| WireError::new(ErrorCode::InvalidRequest, e.body_text()))
}

/// The body of `POST /v1/messages`.
pub fn send_message_body(body: &[u8]) -> Result<SendMessageData, WireError> {
    serde_json::from_slice(body)
        .map_err(|e| WireError::new(ErrorCode::InvalidRequest, format!("invalid body: {e}")))
}

/// `before` and `limit` of `GET /v1/conversations/{peerId}/messages`; empty values are
/// absent, other parameters are ignored.
pub fn history_query(query: Option<&str>) -> Result<(Option<String>, Option<u32>), WireError> {
    let mut before = None;
    let mut limit = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*k {
            "before" if !v.is_empty() => before = Some(v.into_owned()),
            "limit" if !v.is_empty() => {
                limit = Some(v.parse::<u32>().map_err(|_| {
                    WireError::new(
                        ErrorCode::InvalidRequest,
                        "limit must be a positive integer",
                    )
                })?)
            }
            _ => {}
        }
    }
    Ok((before, limit))
}

/// The ids of `GET /v1/presence?userIds=a,b` (the parameter may repeat); at least one.
pub fn presence_query(query: Option<&str>) -> Result<Vec<String>, WireError> {
    let mut ids: Vec<String> = Vec::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "userIds" {
            ids.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    if ids.is_empty() {
        return Err(WireError::new(
            ErrorCode::InvalidRequest,
            "userIds is required",
        ));
    }
    Ok(ids)
}

/// Any other path.
pub async fn not_found() -> Response {
    error_response(&WireError::new(ErrorCode::NotFound, "no such endpoint"))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, WireError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        WireError::new(
            ErrorCode::TooLarge,
            format!("request body is larger than {limit} bytes"),
        )
    })
}
