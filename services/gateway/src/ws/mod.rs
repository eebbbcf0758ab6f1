//! WebSocket endpoints: the HTTP upgrade, the connection loop, the framing.
//!
//! - [`native`] — the native JSON framing.
//! - [`socketio`] — the Socket.IO framing (Engine.IO v4, Socket.IO v5).
//! - [`session`] — what each client event does, framing aside.
//! - [`connection`] — the per-connection task.

pub mod connection;
pub mod native;
pub mod session;
pub mod socketio;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use switchboard_common::auth::VerifiedToken;
use switchboard_common::wire::{ErrorCode, WireError};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::rest::error_response;
use crate::state::GatewayState;
use crate::ws::connection::Framing;

/// Bytes of queued frames that trigger a write before the flush: with none, tungstenite
/// writes every frame with its own syscall, even inside one flush.
const WRITE_COALESCE_BYTES: usize = 2048;

/// `GET /ws`: checks the origin, the token (header or query) and the upgrade headers
/// before switching protocols, so a bad token gets HTTP 401.
pub async fn upgrade(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    if let Err(e) = state.check_origin(req.headers()) {
        return error_response(&e);
    }
    let key = match websocket_key(req.headers()) {
        Ok(k) => k,
        Err(e) => return *e,
    };
    let token = match token_from_request(&state, &req) {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    accept(state, req, key, token, Framing::Native)
}

/// `GET /socket.io/?EIO=4&transport=websocket`. Long-polling is not offered (it would need
/// sticky sessions across replicas); such requests get an Engine.IO error saying so. A
/// token may come with the upgrade too, but normally it is in the CONNECT packet.
pub async fn upgrade_socketio(State(state): State<Arc<GatewayState>>, req: Request) -> Response {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let engine_error = |code: u8, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            socketio::http_error(code, message),
        )
            .into_response()
    };
    if param("EIO") != Some("4") {
        return engine_error(5, "Unsupported protocol version: this server speaks EIO=4");
    }
    if param("transport") != Some("websocket") {
        return engine_error(
            0,
            "Transport unknown: only the websocket transport is served; connect with transports: [\"websocket\"]",
        );
    }
    if let Err(e) = state.check_origin(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            socketio::http_error(4, &e.message),
        )
            .into_response();
    }
    let key = match websocket_key(req.headers()) {
        Ok(k) => k,
        Err(_) => return engine_error(3, "Bad request: a WebSocket upgrade is required"),
    };
    let token = match token_from_request(&state, &req) {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    accept(state, req, key, token, Framing::SocketIo)
}

/// Switches protocols and hands the socket to its connection task.
fn accept(
    state: Arc<GatewayState>,
    mut req: Request,
    key: String,
    token: Option<VerifiedToken>,
    framing: Framing,
) -> Response {
    if state.draining() {
        return error_response(&WireError::new(
            ErrorCode::Unavailable,
            "gateway is shutting down",
        ));
    }
    let Some(permit) = state.try_reserve_connection() else {
        return error_response(&WireError::new(
            ErrorCode::Unavailable,
            "this gateway is at its connection limit; retry",
        ));
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection cannot be upgraded",
        )
            .into_response();
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(state.settings.max_frame_bytes))
        .max_frame_size(Some(state.settings.max_frame_bytes))
        // Small buffers: most connections are idle most of the time.
        .read_buffer_size(512)
        // Frames written together (a burst of deliveries or acks) share one send up to this
        // size; a flush sends the rest. The buffer grows only as far as it is used.
        .write_buffer_size(WRITE_COALESCE_BYTES)
        // The bound on what waits unsent; the gateway's own frames (a 5,000-character
        // message escaped is under 64 KiB) must fit however low the inbound limit is set.
        .max_write_buffer_size(
            WRITE_COALESCE_BYTES + 4 * state.settings.max_frame_bytes.max(64 * 1024),
        );
    let task_state = state.clone();
    state.tracker.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let Some(opened) = connection::open(&mut ws, &task_state, token, framing).await else {
            return;
        };
        // The open connection runs as a task of its own: this one, with room for the
        // upgrade and authentication steps, ends here and frees that memory.
        let serve = connection::serve(ws, task_state.clone(), opened, framing, permit);
        task_state.tracker.spawn(serve);
    });
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .expect("base64 is a valid header"),
    );
    response
}

/// The `Sec-WebSocket-Key` of a valid upgrade request.
fn websocket_key(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    let bad = |m: &str| error_response(&WireError::new(ErrorCode::InvalidRequest, m));
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        let mut r = bad("this endpoint speaks WebSocket only (Upgrade: websocket)");
        *r.status_mut() = StatusCode::UPGRADE_REQUIRED;
        r.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(Box::new(r));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err(Box::new(bad("Sec-WebSocket-Version must be 13")));
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Box::new(bad("Sec-WebSocket-Key is missing")))
}

/// The token of an upgrade request: `Authorization: Bearer` first, then `?token=`. `None`
/// means the client will authenticate with its first frame.
fn token_from_request(
    state: &GatewayState,
    req: &Request,
) -> Result<Option<VerifiedToken>, WireError> {
    let raw = match bearer(req.headers())? {
        Some(t) => Some(t),
        None => req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        }),
    };
    match raw {
        None => Ok(None),
        Some(t) => state
            .verifier
            .verify(&t)
            .map(Some)
            .map_err(|e| WireError::new(ErrorCode::Unauthorized, e.to_string())),
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, WireError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| WireError::new(ErrorCode::Unauthorized, "Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(WireError::new(
            ErrorCode::Unauthorized,
            "Authorization must be \"Bearer <token>\"",
        )),
    }
}
