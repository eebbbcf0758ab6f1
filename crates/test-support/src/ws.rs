//! A WebSocket client for tests, speaking the native framing.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::Request;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame.
pub const WAIT: Duration = Duration::from_secs(5);

/// What arrived.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed { code: u16, reason: String },
}

/// What became of one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The ack frame (success or error).
    Ack(Value),
    /// The connection closed (or dropped: 1006) before the ack.
    Closed { code: u16, reason: String },
    /// Nothing within the wait, and the connection is still open.
    Silent,
}

pub struct WsClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ack: u64,
    /// Frames read while waiting for something else.
    backlog: VecDeque<Value>,
    /// The `connected` event's data, when connected.
    pub connected: Value,
}

impl WsClient {
    /// Connects with `?token=` and waits for `connected`.
    pub async fn connect(url: &str, token: &str) -> Self {
        let mut c = Self::open(&format!("{url}?token={token}"))
            .await
            .expect("upgrade");
        c.connected = c.expect_event("connected").await;
        c
    }

    /// Connects and waits for `connected`, or says why not (refused upgrade, a close such
    /// as 1013 while the services are unavailable, or nothing within `wait`).
    pub async fn try_connect(url: &str, token: &str, wait: Duration) -> Result<Self, String> {
        let mut c = tokio::time::timeout(wait, Self::open(&format!("{url}?token={token}")))
            .await
            .map_err(|_| "upgrade timed out".to_owned())?
            .map_err(|e| format!("upgrade refused: {e}"))?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match c.next_frame_until(deadline).await {
                Some(Frame::Json(v)) if v["event"] == "connected" => {
                    c.connected = v["data"].clone();
                    return Ok(c);
                }
                Some(Frame::Json(v)) => c.backlog.push_back(v),
                Some(Frame::Closed { code, reason }) => {
                    return Err(format!("closed {code} {reason}"));
                }
                None => return Err("no connected event".into()),
            }
        }
    }

    /// Connects over a socket whose receive buffer is `bytes` (the kernel's minimum at
    /// least), so a client that stops reading fills up fast: for slow-consumer tests.
    pub async fn connect_with_receive_buffer(url: &str, token: &str, bytes: u32) -> Self {
        let request = format!("{url}?token={token}")
            .into_client_request()
            .expect("request");
        let host = request.uri().host().expect("host").to_owned();
        let port = request.uri().port_u16().expect("port");
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve")
            .next()
            .expect("an address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade");
        let mut c = Self {
            ws,
            next_ack: 1,
            backlog: VecDeque::new(),
            connected: Value::Null,
        };
        c.connected = c.expect_event("connected").await;
        c
    }

    /// Opens the socket without authenticating.
    pub async fn open(url: &str) -> Result<Self, WsError> {
        Self::open_request(url.into_client_request()?).await
    }

    pub async fn open_request(request: Request<()>) -> Result<Self, WsError> {
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self {
            ws,
            next_ack: 1,
            backlog: VecDeque::new(),
            connected: Value::Null,
        })
    }

    pub fn user_id(&self) -> String {
        self.connected["userId"]
            .as_str()
            .expect("connected")
            .to_owned()
    }

    pub fn connection_id(&self) -> String {
        self.connected["connectionId"]
            .as_str()
            .expect("connected")
            .to_owned()
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::Text(text.into().into()))
            .await
            .expect("send");
    }

    pub async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// Sends an event without an ack.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_text(json!({ "event": event, "data": data }).to_string())
            .await;
    }

    /// Sends an event with an ack id and returns the whole ack frame.
    pub async fn request(&mut self, event: &str, data: Value) -> Value {
        let ack = self.next_ack;
        self.next_ack += 1;
        self.send_text(json!({ "event": event, "data": data, "ack": ack }).to_string())
            .await;
        self.expect_ack(ack).await
    }

    /// Sends an event with a fresh ack id and returns the id without waiting: for
    /// pipelining (see [`WsClient::await_reply`]).
    pub async fn send_request(&mut self, event: &str, data: Value) -> Result<u64, WsError> {
        let ack = self.next_ack;
        self.next_ack += 1;
        let frame = json!({ "event": event, "data": data, "ack": ack }).to_string();
        self.ws.send(Message::Text(frame.into())).await?;
        Ok(ack)
    }

    /// Waits at most `wait` for the answer to request `ack`; frames read meanwhile are
    /// kept for later.
    pub async fn await_reply(&mut self, ack: u64, wait: Duration) -> Reply {
        if let Some(v) = self.received_reply(ack) {
            return Reply::Ack(v);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.next_frame_until(deadline).await {
                Some(Frame::Json(v)) if v["ack"] == ack => return Reply::Ack(v),
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                Some(Frame::Closed { code, reason }) => return Reply::Closed { code, reason },
                None => return Reply::Silent,
            }
        }
    }

    /// The answer to request `ack` if it has arrived already (read while waiting for
    /// something else), without reading more.
    pub fn received_reply(&mut self, ack: u64) -> Option<Value> {
        let i = self.backlog.iter().position(|f| f["ack"] == ack)?;
        self.backlog.remove(i)
    }

    /// Like [`WsClient::request`], but `None` when the connection is lost or nothing
    /// answers within `wait`: for tests that kill things.
    pub async fn try_request(&mut self, event: &str, data: Value, wait: Duration) -> Option<Value> {
        let ack = self.next_ack;
        self.next_ack += 1;
        let frame = json!({ "event": event, "data": data, "ack": ack }).to_string();
        if self.ws.send(Message::Text(frame.into())).await.is_err() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.next_frame_until(deadline).await {
                Some(Frame::Json(v)) if v["ack"] == ack => return Some(v),
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                Some(Frame::Closed { .. }) | None => return None,
            }
        }
    }

    /// Every event named `name` that has arrived so far (without waiting).
    pub async fn drain_events(&mut self, name: &str) -> Vec<Value> {
        let mut found: Vec<Value> = Vec::new();
        let mut rest = VecDeque::new();
        for f in self.backlog.drain(..) {
            if f["event"] == name {
                found.push(f["data"].clone());
            } else {
                rest.push_back(f);
            }
        }
        self.backlog = rest;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        while let Some(Frame::Json(v)) = self.next_frame_until(deadline).await {
            if v["event"] == name {
                found.push(v["data"].clone());
            } else {
                self.backlog.push_back(v);
            }
        }
        found
    }

    /// The ack's `data`, failing the test on an error ack.
    pub async fn ok(&mut self, event: &str, data: Value) -> Value {
        let reply = self.request(event, data).await;
        assert!(reply.get("error").is_none(), "{event} failed: {reply}");
        reply["data"].clone()
    }

    /// The ack's error code, failing the test on success.
    pub async fn error_code(&mut self, event: &str, data: Value) -> String {
        let reply = self.request(event, data).await;
        reply["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{event} should have failed: {reply}"))
            .to_owned()
    }

    pub async fn expect_ack(&mut self, ack: u64) -> Value {
        if let Some(i) = self.backlog.iter().position(|f| f["ack"] == ack) {
            return self.backlog.remove(i).expect("present");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.next_frame_until(deadline).await {
                Some(Frame::Json(v)) if v["ack"] == ack => return v,
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                other => panic!("waiting for ack {ack}, got {other:?}"),
            }
        }
    }

    /// The next event named `name` (earlier other frames are kept).
    pub async fn expect_event(&mut self, name: &str) -> Value {
        self.try_event(name, WAIT)
            .await
            .unwrap_or_else(|| panic!("no {name} event within {WAIT:?}"))
    }

    pub async fn try_event(&mut self, name: &str, wait: Duration) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(|f| f["event"] == name) {
            return self.backlog.remove(i).map(|f| f["data"].clone());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.next_frame_until(deadline).await {
                Some(Frame::Json(v)) if v["event"] == name => return Some(v["data"].clone()),
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                Some(Frame::Closed { code, reason }) => {
                    panic!("closed ({code} {reason}) while waiting for {name}")
                }
                None => return None,
            }
        }
    }

    /// Asserts that no `name` event arrives within `wait`.
    pub async fn expect_no_event(&mut self, name: &str, wait: Duration) {
        if let Some(data) = self.try_event(name, wait).await {
            panic!("unexpected {name} event: {data}");
        }
    }

    /// The close code and reason if the server closes within `wait` (frames before it are
    /// kept for later).
    pub async fn try_close(&mut self, wait: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.next_frame_until(deadline).await? {
                Frame::Closed { code, reason } => return Some((code, reason)),
                Frame::Json(v) => self.backlog.push_back(v),
            }
        }
    }

    /// Waits for the server to close; returns the close code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.next_frame_until(deadline).await {
                Some(Frame::Closed { code, reason }) => return (code, reason),
                Some(Frame::Json(v)) => self.backlog.push_back(v),
                None => panic!("the server did not close within {WAIT:?}"),
            }
        }
    }

    /// The next JSON frame or close; `None` at the deadline.
    pub async fn next_frame_until(&mut self, deadline: tokio::time::Instant) -> Option<Frame> {
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(m) => m,
            };
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(Frame::Json(
                        serde_json::from_str(t.as_str()).expect("JSON frame"),
                    ));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Frame::Closed {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        },
                        None => Frame::Closed {
                            code: 1005,
                            reason: String::new(),
                        },
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    return Some(Frame::Closed {
                        code: 1006,
                        reason: "connection dropped".into(),
                    });
                }
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Read until the server's close arrives so it has seen ours.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
