//! One WebSocket connection, from authentication to close.
//!
//! [`open`] authenticates, registers and greets in the upgrade's task; the open connection
//! then gets a task of its own ([`serve`]), which is all an idle connection costs. That task
//! owns the socket: it reads client frames, writes acks and queued events, pings, and
//! watches the token's expiry, the hub's close requests and shutdown. Commands
//! run concurrently inside the task (up to `max_in_flight`; beyond that reading pauses),
//! so a client can pipeline sends without a task per request. The logic is generic over
//! `Sink`/`Stream` so it does not care where the socket came from.
//!
//! One core, two framings: the native JSON framing and Socket.IO differ only in how a
//! connection authenticates and how frames are spelled ([`Framing`]); the limits, the
//! handlers and the event model are the same.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use switchboard_common::auth::VerifiedToken;
use switchboard_common::wire::{ErrorCode, WireError};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use uuid::Uuid;

use crate::hub::{CloseRequest, ConnectionHandle, EncodedEvent, Outbox};
use crate::state::{ConnectionPermit, GatewayState};
use crate::ws::native::{self, Inbound};
use crate::ws::session::{Action, CLIENT_EVENTS, Session};
use crate::ws::socketio::{self, Packet};

/// Close codes beyond the standard ones.
pub mod close_code {
    /// Authentication failed, timed out, or the token expired (SPEC §2.1).
    pub const UNAUTHORIZED: u16 = 4001;
    /// The outbound queue stayed full.
    pub const SLOW_CONSUMER: u16 = 4008;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const TOO_LARGE: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Events written per flush when many are queued.
const WRITE_BATCH: usize = 64;

type Reply = (Option<u64>, Result<Bytes, WireError>);

/// How frames are spelled on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Native,
    SocketIo,
}

impl Framing {
    fn event(self, e: &EncodedEvent) -> Utf8Bytes {
        match self {
            Self::Native => e.native(),
            Self::SocketIo => e.socketio(),
        }
    }

    fn ack(self, ack: u64, result: &Result<Bytes, WireError>) -> Utf8Bytes {
        match self {
            Self::Native => native::encode_ack(ack, result),
            Self::SocketIo => socketio::encode_ack(ack, result),
        }
    }

    fn error(self, e: &WireError) -> Utf8Bytes {
        match self {
            Self::Native => native::encode_error(e),
            Self::SocketIo => socketio::encode_error(e),
        }
    }

    fn new_event(self, event: &str, data: &[u8]) -> Utf8Bytes {
        match self {
            Self::Native => native::encode_event(event, data),
            Self::SocketIo => socketio::encode_event(event, data),
        }
    }

    /// The keep-alive probe: a WebSocket ping, or Engine.IO's `2` (answered by `3`).
    fn heartbeat(self) -> Message {
        match self {
            Self::Native => Message::Ping(Bytes::new()),
            Self::SocketIo => Message::Text(socketio::PING.into()),
        }
    }
}

/// What an open connection's long-lived task starts from.
pub struct Opened {
    session: Session,
    outbox: Arc<Outbox>,
}

/// Authenticates a new socket, records the user, registers the connection with the hub
/// and presence and greets the client. `None` when the connection was refused (and closed).
///
/// The native framing takes the token from the upgrade or from the first frame; Socket.IO
/// sends the Engine.IO open packet, then takes a CONNECT to the main namespace whose auth
/// payload carries the token (or the upgrade carried one).
pub async fn open<S>(
    ws: &mut S,
    state: &Arc<GatewayState>,
    upgrade_token: Option<VerifiedToken>,
    framing: Framing,
) -> Option<Opened>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send,
{
    let settings = &state.settings;
    let write_timeout = settings.write_timeout;
    let authenticated = match (framing, upgrade_token) {
        (Framing::Native, Some(token)) => Ok((token, None)),
        (Framing::Native, None) => await_auth_frame(ws, state).await,
        (Framing::SocketIo, upgrade_token) => {
            let sid = Uuid::new_v4().simple().to_string();
            let open = socketio::open_packet(
                &sid,
                settings.ping_interval.as_millis(),
                settings.pong_timeout.as_millis(),
                settings.max_frame_bytes,
            );
            if !write(ws, Message::Text(open), write_timeout).await {
                return None;
            }
            await_socketio_connect(ws, state, upgrade_token)
                .await
                .map(|token| (token, None))
        }
    };
    let (token, auth_ack) = match authenticated {
        Ok(found) => found,
        Err(reason) => {
            close(
                ws,
                framing,
                close_code::UNAUTHORIZED,
                &reason,
                write_timeout,
            )
            .await;
            return None;
        }
    };
    let unavailable = "service unavailable; retry";
    if let Err(e) = state.chat.upsert_user(&token).await {
        tracing::warn!(error = %e, "cannot record the user; refusing the connection");
        close(
            ws,
            framing,
            close_code::TRY_AGAIN_LATER,
            unavailable,
            write_timeout,
        )
        .await;
        return None;
    }

    let connection_id = Uuid::new_v4();
    let user_id = token.user_id;
    let outbox = Outbox::new(settings.outbound_queue);
    let handle = ConnectionHandle {
        id: connection_id,
        outbox: outbox.clone(),
    };
    if let Err(e) = state.hub.register(user_id, handle).await {
        tracing::warn!(error = %e, "cannot subscribe to the user's deliveries");
        close(
            ws,
            framing,
            close_code::TRY_AGAIN_LATER,
            unavailable,
            write_timeout,
        )
        .await;
        return None;
    }
    state.metrics.connections.inc();
    state
        .presence
        .connection_opened(user_id, connection_id)
        .await;
    tracing::debug!(%user_id, %connection_id, ?framing, "connected");
    let session = Session::new(state.clone(), user_id, connection_id, token.expires_at);

    let connected = serde_json::to_vec(&serde_json::json!({
        "userId": user_id.to_string(),
        "connectionId": connection_id.to_string(),
    }))
    .expect("serialises");
    let mut greeting = Vec::new();
    if framing == Framing::SocketIo {
        greeting.push(Message::Text(socketio::connect_ok(
            &connection_id.to_string(),
        )));
    }
    greeting.push(Message::Text(framing.new_event("connected", &connected)));
    if let Some(ack) = auth_ack {
        greeting.push(Message::Text(framing.ack(ack, &Ok(connected.into()))));
    }
    if !write_all(ws, greeting.into_iter(), write_timeout).await {
        leave(state, session).await;
        return None;
    }
    Some(Opened { session, outbox })
}

/// An open connection until it closes: the future an idle connection costs, run as a task
/// of its own so nothing of the upgrade and authentication steps stays with it.
///
/// Not an `async fn`: those store their arguments twice (as arguments and again as the
/// body's locals), and the socket alone is a few hundred bytes.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store the socket twice"
)]
pub fn serve<S>(
    mut ws: S,
    state: Arc<GatewayState>,
    mut opened: Opened,
    framing: Framing,
    permit: ConnectionPermit,
) -> impl Future<Output = ()> + Send + 'static
where
    S: Stream<Item = Result<Message, WsError>>
        + Sink<Message, Error = WsError>
        + Unpin
        + Send
        + 'static,
{
    async move {
        let write_timeout = state.settings.write_timeout;
        // The stream keeps the waker of the last task that wrote to it, and a waker keeps
        // its task's memory alive: one flush from here lets the finished upgrade task go.
        let _ = Box::pin(tokio::time::timeout(write_timeout, ws.flush())).await;
        let outcome = run(
            &mut ws,
            &state,
            &mut opened.session,
            &opened.outbox,
            framing,
        )
        .await;
        opened.outbox.shut();
        if let Some((code, reason)) = outcome {
            // One close path, outside the loop, boxed: it keeps the idle connection's state small.
            Box::pin(close(&mut ws, framing, code, &reason, write_timeout)).await;
        }
        Box::pin(leave(&state, opened.session)).await;
        drop(permit);
    }
}

/// Undoes what [`open`] registered.
async fn leave(state: &GatewayState, session: Session) {
    let (user_id, connection_id) = (session.user_id, session.connection_id);
    state.hub.unregister(user_id, connection_id);
    state.metrics.connections.dec();
    state
        .presence
        .connection_closed(user_id, connection_id)
        .await;
    session.finish().await;
    tracing::debug!(%user_id, %connection_id, "disconnected");
}

/// The connection loop. Every write inside it is boxed: the loop's future is sized by its
/// largest await, and an idle connection should pay only for the wait in `select!`.
async fn run<S>(
    ws: &mut S,
    state: &Arc<GatewayState>,
    session: &mut Session,
    outbox: &Outbox,
    framing: Framing,
) -> Option<(u16, String)>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send,
{
    let settings = &state.settings;
    let write_timeout = settings.write_timeout;
    let mut in_flight: FuturesUnordered<BoxFuture<'static, Reply>> = FuturesUnordered::new();
    // One timer for both the keep-alive probe and the token's expiry.
    let mut next_ping = Instant::now() + settings.ping_interval;
    let mut expires = deadline(session.expires_at);
    let mut timer = Box::pin(tokio::time::sleep_until(next_ping.min(expires)));
    let mut last_heard = Instant::now();

    loop {
        tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                return Box::pin(drain_in_flight(ws, state, outbox, &mut in_flight, framing)).await;
            }
            reason = outbox.closed() => {
                return Some(close_for(state, reason));
            }
            _ = &mut timer => {
                let now = Instant::now();
                if now >= expires {
                    return Some((close_code::UNAUTHORIZED, "token expired".to_string()));
                }
                if now >= next_ping {
                    if last_heard.elapsed() > settings.ping_interval + settings.pong_timeout {
                        return Some((close_code::POLICY, "ping timeout".to_string()));
                    }
                    if !Box::pin(write(ws, framing.heartbeat(), write_timeout)).await {
                        return None;
                    }
                    next_ping = Instant::now() + settings.ping_interval;
                }
                timer.as_mut().reset(next_ping.min(expires));
            }
            pending = outbox.next_batch(WRITE_BATCH) => {
                // Write what is queued in one go, then flush once.
                let events = pending.iter().map(|e| Message::Text(framing.event(e)));
                match Box::pin(unless_closed(outbox, write_all(ws, events, write_timeout))).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(reason) => return Some(close_for(state, reason)),
                }
            }
            Some(first) = in_flight.next(), if !in_flight.is_empty() => {
                // Replies ready together (one group commit acks a sender's whole window)
                // share one flush, i.e. one send.
                let ready = std::iter::once(first)
                    .chain(std::iter::from_fn(|| in_flight.next().now_or_never().flatten()));
                let frames = ready.filter_map(|(ack, result)| reply_frame(framing, ack, &result));
                match Box::pin(unless_closed(outbox, write_all(ws, frames, write_timeout))).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(reason) => return Some(close_for(state, reason)),
                }
            }
            frame = ws.next(), if in_flight.len() < settings.max_in_flight => {
                last_heard = Instant::now();
                let message = match frame {
                    None => return None,
                    Some(Ok(m)) => m,
                    Some(Err(WsError::Capacity(_))) => {
                        let reason = format!("message too large (limit {} bytes)", settings.max_frame_bytes);
                        return Some((close_code::TOO_LARGE, reason));
                    }
                    // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection.
                    Some(Err(WsError::Utf8(_))) => {
                        return Some((close_code::INVALID_PAYLOAD, "text frames must be UTF-8".to_string()));
                    }
                    Some(Err(WsError::Protocol(_))) => {
                        return Some((close_code::PROTOCOL_ERROR, "WebSocket protocol error".to_string()));
                    }
                    Some(Err(_)) => return None,
                };
                match message {
                    Message::Text(text) => {
                        let inbound = match framing {
                            Framing::Native => native::decode(text.as_str()),
                            Framing::SocketIo => match socketio::decode(text.as_str()) {
                                Packet::Message(inbound) => inbound,
                                Packet::Pong | Packet::Noop | Packet::Connect { .. } => continue,
                                Packet::Ping => {
                                    if !Box::pin(write(ws, Message::Text(socketio::PONG.into()), write_timeout)).await {
                                        return None;
                                    }
                                    continue;
                                }
                                Packet::ConnectElsewhere { namespace } => {
                                    let e = WireError::new(ErrorCode::NotFound, "Invalid namespace");
                                    let reply = Message::Text(socketio::connect_error(&namespace, &e));
                                    if !Box::pin(write(ws, reply, write_timeout)).await {
                                        return None;
                                    }
                                    continue;
                                }
                                Packet::Close => {
                                    return Some((1000, "client disconnected".to_string()));
                                }
                            },
                        };
                        let expires_before = session.expires_at;
                        match inbound {
                            Inbound::Malformed { ack, message } => {
                                let reply = write_reply(ws, framing, ack, Err(native::invalid(message)), write_timeout);
                                if !Box::pin(reply).await {
                                    return None;
                                }
                            }
                            Inbound::Event { name, data, ack } => {
                                let label = if CLIENT_EVENTS.contains(&name.as_str()) { name.as_str() } else { "unknown" };
                                state.metrics.events_in.with_label_values(&[label]).inc();
                                match session.dispatch(&name, data.as_deref()) {
                                    Action::Reply(result) => {
                                        if !Box::pin(write_reply(ws, framing, ack, result, write_timeout)).await {
                                            return None;
                                        }
                                    }
                                    Action::Pending(fut) => {
                                        in_flight.push(Box::pin(async move { (ack, fut.await) }));
                                    }
                                }
                            }
                        }
                        if session.expires_at != expires_before {
                            expires = deadline(session.expires_at);
                            timer.as_mut().reset(next_ping.min(expires));
                        }
                    }
                    Message::Binary(_) => {
                        let e = native::invalid("binary frames are not supported; send JSON text frames");
                        if !Box::pin(write_reply(ws, framing, None, Err(e), write_timeout)).await {
                            return None;
                        }
                    }
                    // tungstenite queues the pong (or the close reply); flushing sends it.
                    Message::Ping(_) | Message::Close(_) => {
                        let closing = matches!(message, Message::Close(_));
                        let _ = Box::pin(tokio::time::timeout(write_timeout, ws.flush())).await;
                        if closing {
                            return None;
                        }
                    }
                    Message::Pong(_) | Message::Frame(_) => {}
                }
            }
        }
    }
}

/// Shutdown: reading stops; what was taken gets its answer before the goodbye, so the
/// client never retries a message that is stored already without knowing. Every command
/// ends within the request deadline.
async fn drain_in_flight<S>(
    ws: &mut S,
    state: &GatewayState,
    outbox: &Outbox,
    in_flight: &mut FuturesUnordered<BoxFuture<'static, Reply>>,
    framing: Framing,
) -> Option<(u16, String)>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let write_timeout = state.settings.write_timeout;
    while let Some((ack, result)) = in_flight.next().await {
        match unless_closed(outbox, write_reply(ws, framing, ack, result, write_timeout)).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(reason) => return Some(close_for(state, reason)),
        }
    }
    Some((
        close_code::GOING_AWAY,
        "server shutting down; reconnect".to_string(),
    ))
}

/// A write that gives way to the hub's close request. A peer that stopped reading blocks
/// the write (up to `WRITE_TIMEOUT_MS`) while its queue fills; the slow-consumer verdict
/// must not wait for that, or the connection would end without its 4008.
async fn unless_closed(
    outbox: &Outbox,
    write: impl std::future::Future<Output = bool>,
) -> Result<bool, CloseRequest> {
    tokio::select! {
        biased;
        written = write => Ok(written),
        reason = outbox.closed() => Err(reason),
    }
}

/// The close code and reason for the hub's request.
fn close_for(state: &GatewayState, reason: CloseRequest) -> (u16, String) {
    match reason {
        CloseRequest::SlowConsumer => {
            state.metrics.slow_consumer_closes.inc();
            (
                close_code::SLOW_CONSUMER,
                "slow consumer: outbound queue full".to_string(),
            )
        }
    }
}

/// Waits for `{"event":"auth","data":{"token":…}}`; the error is the close reason.
async fn await_auth_frame<S>(
    ws: &mut S,
    state: &GatewayState,
) -> Result<(VerifiedToken, Option<u64>), String>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send,
{
    let deadline = Instant::now() + state.settings.auth_timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("authentication timeout".into()),
            Ok(None) | Ok(Some(Err(_))) => {
                return Err("connection lost before authentication".into());
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(t) => t,
            Message::Ping(_) | Message::Pong(_) => continue,
            _ => return Err("expected an auth frame".into()),
        };
        return match native::decode(text.as_str()) {
            Inbound::Event { name, data, ack } if name == "auth" => {
                #[derive(serde::Deserialize)]
                struct AuthData {
                    token: String,
                }
                let data: AuthData =
                    crate::ws::session::parse("auth", data.as_deref()).map_err(|e| e.message)?;
                let token = state
                    .verifier
                    .verify(&data.token)
                    .map_err(|e| e.to_string())?;
                Ok((token, ack))
            }
            _ => Err("the first frame must be {\"event\":\"auth\",\"data\":{\"token\":…}}".into()),
        };
    }
}

/// Waits for a CONNECT to `/` with a good token; a bad one gets CONNECT_ERROR and the
/// client may try again until the auth timeout. The error is the close reason.
async fn await_socketio_connect<S>(
    ws: &mut S,
    state: &GatewayState,
    upgrade_token: Option<VerifiedToken>,
) -> Result<VerifiedToken, String>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin + Send,
{
    let timeout = state.settings.write_timeout;
    let deadline = Instant::now() + state.settings.auth_timeout;
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err("authentication timeout".into()),
            Ok(None) | Ok(Some(Err(_))) => {
                return Err("connection lost before authentication".into());
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Message::Text(text) = frame else {
            continue;
        };
        let reply = match socketio::decode(text.as_str()) {
            Packet::Connect { token } => {
                let verified = match (token, &upgrade_token) {
                    (Some(raw), _) => state
                        .verifier
                        .verify(&raw)
                        .map_err(|e| socketio::unauthorized(e.to_string())),
                    (None, Some(t)) => Ok(t.clone()),
                    (None, None) => Err(socketio::unauthorized(
                        "authentication required: connect with auth: {token}",
                    )),
                };
                match verified {
                    Ok(token) => return Ok(token),
                    Err(e) => socketio::connect_error("/", &e),
                }
            }
            Packet::ConnectElsewhere { namespace } => socketio::connect_error(
                &namespace,
                &WireError::new(ErrorCode::NotFound, "Invalid namespace"),
            ),
            Packet::Ping => socketio::PONG.into(),
            Packet::Close => return Err("client disconnected".into()),
            Packet::Pong | Packet::Noop => continue,
            Packet::Message(_) => socketio::encode_error(&WireError::new(
                ErrorCode::Unauthorized,
                "connect to the main namespace first",
            )),
        };
        if !write(ws, Message::Text(reply), timeout).await {
            return Err("connection lost before authentication".into());
        }
    }
}

/// The frame answering a command: its ack, or an `error` event when the frame had no ack
/// and failed; nothing for a success without an ack.
fn reply_frame(
    framing: Framing,
    ack: Option<u64>,
    result: &Result<Bytes, WireError>,
) -> Option<Message> {
    match (ack, result) {
        (Some(ack), _) => Some(Message::Text(framing.ack(ack, result))),
        (None, Err(e)) => Some(Message::Text(framing.error(e))),
        (None, Ok(_)) => None,
    }
}

/// Writes the frame answering a command, if any.
async fn write_reply<S>(
    ws: &mut S,
    framing: Framing,
    ack: Option<u64>,
    result: Result<Bytes, WireError>,
    timeout: Duration,
) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    match reply_frame(framing, ack, &result) {
        Some(frame) => write(ws, frame, timeout).await,
        None => true,
    }
}

async fn write<S>(ws: &mut S, message: Message, timeout: Duration) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    matches!(
        tokio::time::timeout(timeout, ws.send(message)).await,
        Ok(Ok(()))
    )
}

async fn write_all<S, I>(ws: &mut S, messages: I, timeout: Duration) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
    I: Iterator<Item = Message>,
{
    let result = tokio::time::timeout(timeout, async {
        for m in messages {
            ws.feed(m).await?;
        }
        ws.flush().await
    })
    .await;
    matches!(result, Ok(Ok(())))
}

/// Sends a close frame, then gives the peer a moment to answer so it sees a clean close.
/// A Socket.IO client whose token is refused or expired first gets DISCONNECT, so it does
/// not reconnect by itself with the same token.
pub async fn close<S>(ws: &mut S, framing: Framing, code: u16, reason: &str, timeout: Duration)
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    if framing == Framing::SocketIo && code == close_code::UNAUTHORIZED {
        let _ = write(ws, Message::Text(socketio::DISCONNECT.into()), timeout).await;
    }
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    if !write(ws, Message::Close(Some(frame)), timeout).await {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
}

/// The longest a token keeps a connection open. A validly signed `exp` can be anything up
/// to `u64::MAX`, and an `Instant` that far away does not exist (adding it panics).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The instant a token that expires at `exp` (Unix seconds) runs out.
fn deadline(exp: u64) -> Instant {
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Instant::now() + Duration::from_secs(exp.saturating_sub(now_unix)).min(MAX_TOKEN_LIFETIME)
}

/// An error that a rejected upgrade reports before any socket exists.
pub fn unauthorized(message: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::Unauthorized, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_token_expiry_has_a_deadline() {
        let now = Instant::now();
        assert!(deadline(0) <= Instant::now());
        let in_an_hour = deadline(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 3600,
        );
        assert!(in_an_hour > now + Duration::from_secs(3590));
        // A signed `exp` of u64::MAX used to panic the connection task after it had
        // registered, leaving the user subscribed and online.
        assert!(deadline(u64::MAX) <= Instant::now() + MAX_TOKEN_LIFETIME);
    }
}
