//! The delivery subscriptions: one NATS subscription per user with a connection here, all
//! on one dedicated NATS connection spoken to directly.
//!
//! A general client gives every subscription its own channel and a task to drain it —
//! several KiB per user, with thousands of users per replica. Here a subscription is a
//! row in a table (sid → the user's entry): each incoming message is handed straight to
//! the user's connections by the one reader task. After a reconnect every subscription is
//! sent again. Subscribing waits for the server's PONG, so a delivery published after
//! `register` returns cannot be missed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::hub::UserEntry;
use crate::metrics::GatewayMetrics;
use crate::replies::{Answer, Replies};

/// How long subscribing may wait for the server to confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// Commands queued to the connection task before callers wait.
const COMMAND_QUEUE: usize = 4096;
/// Largest message accepted from the server (NATS' own default maximum payload).
const MAX_PAYLOAD: usize = 8 * 1024 * 1024;

enum Command {
    Subscribe {
        sid: u64,
        subject: String,
        confirmed: oneshot::Sender<()>,
    },
    Unsubscribe {
        sid: u64,
    },
}

struct Target {
    subject: String,
    entry: Weak<UserEntry>,
}

/// A delivery: the event name, the connection to skip, the `data` JSON.
pub struct Delivery {
    pub event: String,
    pub skip: Option<Uuid>,
    pub data: Bytes,
    /// The sender's trace, when it is being traced.
    pub traceparent: Option<String>,
    /// On a `message_sent`: the token of the send it acks.
    pub ack: Option<String>,
}

pub struct DeliveryBus {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    next_sid: AtomicU64,
    stop: CancellationToken,
}

/// What the bus and its connection task both see.
struct Shared {
    targets: Mutex<HashMap<u64, Target>>,
    connected: AtomicBool,
    /// Sends acked by their `message_sent` are answered here.
    replies: Arc<Replies>,
    metrics: Arc<GatewayMetrics>,
}

impl DeliveryBus {
    /// Starts the connection task; it reconnects by itself until [`DeliveryBus::stop`].
    pub fn start(
        nats_url: &str,
        name: String,
        replies: Arc<Replies>,
        metrics: Arc<GatewayMetrics>,
    ) -> Result<Self, String> {
        let stop = CancellationToken::new();
        let server = ServerAddress::parse(nats_url)?;
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let shared = Arc::new(Shared {
            targets: Mutex::default(),
            connected: AtomicBool::new(false),
            replies,
            metrics,
        });
        tokio::spawn(run(server, name, rx, shared.clone(), stop.clone()));
        Ok(Self {
            commands,
            shared,
            next_sid: AtomicU64::new(1),
            stop,
        })
    }

    /// Closes the delivery connection. Only once the connections have drained: the acks
    /// of their last sends arrive here.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// Subscribes `entry` to `subject`; returns its sid once the server has it.
    pub async fn subscribe(&self, subject: String, entry: Weak<UserEntry>) -> Result<u64, String> {
        let sid = self.next_sid.fetch_add(1, Ordering::Relaxed);
        self.shared.targets.lock().expect("targets lock").insert(
            sid,
            Target {
                subject: subject.clone(),
                entry,
            },
        );
        let (confirmed, wait) = oneshot::channel();
        let sent = self
            .commands
            .send(Command::Subscribe {
                sid,
                subject,
                confirmed,
            })
            .await;
        let outcome = match sent {
            Err(_) => Err("the delivery connection is closed".to_owned()),
            Ok(()) => match tokio::time::timeout(CONFIRM_TIMEOUT, wait).await {
                Ok(Ok(())) => Ok(sid),
                Ok(Err(_)) => Err("the delivery connection was lost".to_owned()),
                Err(_) => Err("NATS did not confirm the subscription in time".to_owned()),
            },
        };
        if outcome.is_err() {
            self.unsubscribe(sid);
        }
        outcome
    }

    pub fn unsubscribe(&self, sid: u64) {
        self.shared
            .targets
            .lock()
            .expect("targets lock")
            .remove(&sid);
        // A full queue only delays the UNSUB; the server drops messages for a removed sid
        // here anyway.
        if self
            .commands
            .try_send(Command::Unsubscribe { sid })
            .is_err()
        {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(Command::Unsubscribe { sid }).await;
            });
        }
    }
}

/// `nats://[user:pass@|token@]host:port`.
#[derive(Clone, Debug)]
struct ServerAddress {
    host_port: String,
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
}

impl ServerAddress {
    fn parse(url: &str) -> Result<Self, String> {
        let first = url.split(',').next().unwrap_or(url).trim();
        let rest = first
            .strip_prefix("nats://")
            .ok_or_else(|| format!("NATS_URL must start with nats:// (got {first:?})"))?;
        let (auth, host_port) = match rest.rsplit_once('@') {
            Some((auth, hp)) => (Some(auth), hp),
            None => (None, rest),
        };
        let host_port = if host_port.contains(':') {
            host_port.trim_end_matches('/').to_owned()
        } else {
            format!("{}:4222", host_port.trim_end_matches('/'))
        };
        let (user, pass, token) = match auth.map(|a| a.split_once(':')) {
            Some(Some((u, p))) => (Some(u.to_owned()), Some(p.to_owned()), None),
            Some(None) => (None, None, auth.map(str::to_owned)),
            None => (None, None, None),
        };
        Ok(Self {
            host_port,
            user,
            pass,
            token,
        })
    }
}

async fn run(
    server: ServerAddress,
    name: String,
    mut commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match session(&server, &name, &mut commands, &shared, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                // Subscribers waiting for a confirmation see their sender dropped and fail;
                // the subscriptions already confirmed are sent again on the next session.
                shared.connected.store(false, Ordering::Release);
                shared.metrics.nats_errors.inc();
                tracing::warn!(error = %e, "delivery connection lost; reconnecting");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn session(
    server: &ServerAddress,
    name: &str,
    commands: &mut mpsc::Receiver<Command>,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect(&server.host_port),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read, write) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read);
    let mut writer = BufWriter::with_capacity(64 * 1024, write);

    let mut line = Vec::with_capacity(256);
    read_line(&mut reader, &mut line).await?;
    if !line.starts_with(b"INFO ") {
        return Err("the server did not start with INFO".into());
    }
    let mut connect = serde_json::json!({
        "verbose": false, "pedantic": false, "headers": true, "no_responders": false,
        "name": name, "lang": "rust", "version": env!("CARGO_PKG_VERSION"), "protocol": 1,
    });
    if let (Some(u), Some(p)) = (&server.user, &server.pass) {
        connect["user"] = u.clone().into();
        connect["pass"] = p.clone().into();
    }
    if let Some(t) = &server.token {
        connect["auth_token"] = t.clone().into();
    }
    writer
        .write_all(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // Every subscription this replica holds goes again (after a reconnect they are gone).
    let existing: Vec<(u64, String)> = shared
        .targets
        .lock()
        .expect("targets lock")
        .iter()
        .map(|(sid, t)| (*sid, t.subject.clone()))
        .collect();
    for (sid, subject) in &existing {
        writer
            .write_all(format!("SUB {subject} {sid}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    writer.flush().await.map_err(|e| e.to_string())?;
    // The first PONG answers our PING: the server accepted CONNECT and the SUBs.
    let mut confirms: VecDeque<Vec<oneshot::Sender<()>>> = VecDeque::from([Vec::new()]);
    let mut established = false;
    let mut pending: Vec<Command> = Vec::new();

    loop {
        // Queue what came in, then write it in one flush with one PING confirming all.
        if established {
            let mut confirm_batch: Vec<oneshot::Sender<()>> = Vec::new();
            for cmd in pending.drain(..) {
                match cmd {
                    Command::Subscribe {
                        sid,
                        subject,
                        confirmed,
                    } => {
                        // A subscription dropped meanwhile needs no SUB.
                        if shared
                            .targets
                            .lock()
                            .expect("targets lock")
                            .contains_key(&sid)
                        {
                            writer
                                .write_all(format!("SUB {subject} {sid}\r\n").as_bytes())
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        confirm_batch.push(confirmed);
                    }
                    Command::Unsubscribe { sid } => {
                        writer
                            .write_all(format!("UNSUB {sid}\r\n").as_bytes())
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            if !confirm_batch.is_empty() {
                // One PING after the batch: its PONG confirms every SUB before it.
                writer
                    .write_all(b"PING\r\n")
                    .await
                    .map_err(|e| e.to_string())?;
                confirms.push_back(confirm_batch);
            }
            writer.flush().await.map_err(|e| e.to_string())?;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            cmd = commands.recv(), if established => match cmd {
                Some(cmd) => {
                    pending.push(cmd);
                    while let Ok(more) = commands.try_recv() {
                        pending.push(more);
                    }
                }
                None => return Ok(()),
            },
            read = read_line(&mut reader, &mut line) => {
                read?;
                match handle_line(&line, &mut reader, shared, &mut writer).await? {
                    Control::Pong => {
                        if let Some(confirmed) = confirms.pop_front() {
                            if !established {
                                established = true;
                                shared.connected.store(true, Ordering::Release);
                                tracing::info!("delivery connection up");
                            }
                            for c in confirmed {
                                let _ = c.send(());
                            }
                        }
                    }
                    Control::None => {}
                }
            }
        }
        if !established {
            // Subscribe requests must wait until CONNECT is through.
            while let Ok(cmd) = commands.try_recv() {
                pending.push(cmd);
            }
        }
    }
}

enum Control {
    Pong,
    None,
}

async fn handle_line<R, W>(
    line: &[u8],
    reader: &mut R,
    shared: &Shared,
    writer: &mut W,
) -> Result<Control, String>
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let text = std::str::from_utf8(line).map_err(|_| "protocol line is not UTF-8".to_owned())?;
    let mut parts = text.split_ascii_whitespace();
    match parts.next().unwrap_or("") {
        "MSG" | "HMSG" => {
            let with_headers = text.starts_with('H');
            let fields: Vec<&str> = parts.collect();
            // MSG <subject> <sid> [reply] <len> / HMSG <subject> <sid> [reply] <hlen> <len>
            let numbers = if with_headers { 2 } else { 1 };
            if fields.len() < 2 + numbers {
                return Err(format!("malformed {text:?}"));
            }
            let sid: u64 = fields[1].parse().map_err(|_| "bad sid".to_owned())?;
            let total: usize = fields[fields.len() - 1]
                .parse()
                .map_err(|_| "bad length".to_owned())?;
            let header_len: usize = if with_headers {
                fields[fields.len() - 2]
                    .parse()
                    .map_err(|_| "bad header length".to_owned())?
            } else {
                0
            };
            if total > MAX_PAYLOAD || header_len > total {
                return Err("oversized message".into());
            }
            let mut body = vec![0u8; total + 2];
            reader
                .read_exact(&mut body)
                .await
                .map_err(|e| e.to_string())?;
            body.truncate(total);
            let mut body = Bytes::from(body);
            let headers = body.split_to(header_len);
            let entry = shared
                .targets
                .lock()
                .expect("targets lock")
                .get(&sid)
                .and_then(|t| t.entry.upgrade());
            let Some(mut delivery) = parse_delivery(&headers, body) else {
                return Ok(Control::None);
            };
            // A send acked by its `message_sent`: the waiting command gets the message.
            if let Some(token) = delivery.ack.take() {
                shared
                    .replies
                    .answer(&token, Answer::Delivered(delivery.data.clone()));
            }
            if let Some(entry) = entry {
                entry.deliver(delivery, &shared.metrics);
            }
            Ok(Control::None)
        }
        "PING" => {
            writer
                .write_all(b"PONG\r\n")
                .await
                .map_err(|e| e.to_string())?;
            writer.flush().await.map_err(|e| e.to_string())?;
            Ok(Control::None)
        }
        "PONG" => Ok(Control::Pong),
        "+OK" | "INFO" => Ok(Control::None),
        "-ERR" => {
            tracing::warn!(error = text, "NATS error on the delivery connection");
            // Permission and parser errors end the session; the server closes it anyway.
            if text.contains("Permissions") {
                Ok(Control::None)
            } else {
                Err(text.to_owned())
            }
        }
        other => Err(format!("unexpected protocol line {other:?}")),
    }
}

/// The event name and skip id from the NATS headers block, with the payload.
fn parse_delivery(headers: &[u8], data: Bytes) -> Option<Delivery> {
    use switchboard_common::subjects::headers as h;
    let text = std::str::from_utf8(headers).ok()?;
    let mut event = None;
    let mut skip = None;
    let mut traceparent = None;
    let mut ack = None;
    for line in text.split("\r\n").skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case(h::EVENT) {
                event = Some(v.to_owned());
            } else if k.eq_ignore_ascii_case(h::SKIP_CONNECTION) {
                skip = Uuid::parse_str(v).ok();
            } else if k.eq_ignore_ascii_case(switchboard_common::telemetry::TRACEPARENT) {
                traceparent = Some(v.to_owned());
            } else if k.eq_ignore_ascii_case(h::ACK) {
                ack = Some(v.to_owned());
            }
        }
    }
    Some(Delivery {
        event: event?,
        skip,
        data,
        traceparent,
        ack,
    })
}

/// Longest protocol line accepted (INFO is the longest the server sends).
const MAX_LINE: u64 = 64 * 1024;

/// Reads one protocol line (without CRLF) into `line`.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> Result<(), String> {
    line.clear();
    let n = (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', line)
        .await
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    if line.last() != Some(&b'\n') {
        return Err("protocol line too long".into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = ServerAddress::parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!(a.host_port, "127.0.0.1:4222");
        let b = ServerAddress::parse("nats://u:p@nats.internal").unwrap();
        assert_eq!(
            (b.host_port.as_str(), b.user.as_deref(), b.pass.as_deref()),
            ("nats.internal:4222", Some("u"), Some("p"))
        );
        let c = ServerAddress::parse("nats://s3cr3t@10.0.0.1:4333,nats://other:4222").unwrap();
        assert_eq!(
            (c.host_port.as_str(), c.token.as_deref()),
            ("10.0.0.1:4333", Some("s3cr3t"))
        );
        assert!(ServerAddress::parse("tls://x").is_err());
    }

    #[test]
    fn delivery_headers() {
        let d = parse_delivery(
            b"NATS/1.0\r\nSb-Event: message_received\r\nSb-Skip-Connection: 7c1e2a3b-0000-4000-8000-000000000001\r\n\r\n",
            Bytes::from_static(b"{}"),
        )
        .unwrap();
        assert_eq!(d.event, "message_received");
        assert!(d.skip.is_some());
        assert!(parse_delivery(b"NATS/1.0\r\n\r\n", Bytes::new()).is_none());
    }
}
