//! Connecting as a user over the native protocol, with small buffers so that one process
//! can hold many thousands of sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) fn token(secret: &str, user: Uuid) -> String {
    switchboard_common::auth::mint_hs256(secret, user, 6 * 3600, serde_json::json!({}))
        .expect("HS256 signing cannot fail")
}

/// Source addresses spread over, when the target is on loopback.
const SOURCE_ADDRESSES: u32 = 4096;
static NEXT_SOURCE: AtomicU32 = AtomicU32::new(0);

/// A TCP connection to the host of a `ws://host:port/…` URL. To a loopback target, each
/// connection leaves from one of [`SOURCE_ADDRESSES`] addresses in 127/8: from a single
/// source address the kernel's search for a free ephemeral port to the same destination
/// grows with every open connection (`__inet_hash_connect` took 85 % of the generator's CPU
/// at 19,000 sockets), and the generator, not the gateway, set the connect latency.
async fn open_tcp(url: &str) -> anyhow::Result<TcpStream> {
    let authority = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .ok_or_else(|| anyhow::anyhow!("not a ws:// URL: {url}"))?;
    let addr: SocketAddr = tokio::net::lookup_host(authority)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{authority} does not resolve"))?;
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let IpAddr::V4(ip) = addr.ip()
        && ip.is_loopback()
    {
        let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCE_ADDRESSES;
        let source = Ipv4Addr::new(127, 1, (n / 250) as u8, (n % 250) as u8 + 1);
        socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    }
    socket.set_nodelay(true)?;
    Ok(socket.connect(addr).await?)
}

/// Opens `url?token=…` and waits for `connected`.
pub(crate) async fn connect(
    url: &str,
    secret: &str,
    user: Uuid,
    timeout: Duration,
) -> anyhow::Result<Ws> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20));
    let request = format!("{url}?token={}", token(secret, user));
    let attempt = async {
        let stream = open_tcp(url).await?;
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            request,
            MaybeTlsStream::Plain(stream),
            Some(config),
        )
        .await?;
        while let Some(frame) = ws.next().await {
            if let Message::Text(t) = frame?
                && t.as_str().starts_with("{\"event\":\"connected\"")
            {
                return Ok(ws);
            }
        }
        anyhow::bail!("closed before `connected`")
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| anyhow::anyhow!("no `connected` within {timeout:?}"))?
}

/// The frames the generator reads, parsed without building a JSON tree.
#[derive(serde::Deserialize)]
pub(crate) struct Frame<'a> {
    #[serde(borrow, default)]
    pub(crate) event: Option<&'a str>,
    #[serde(default)]
    pub(crate) ack: Option<u64>,
    #[serde(borrow, default)]
    pub(crate) data: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    pub(crate) error: Option<&'a serde_json::value::RawValue>,
}

/// The fields of a message object the generator uses.
#[derive(serde::Deserialize)]
pub(crate) struct MessageFields<'a> {
    #[serde(borrow)]
    pub(crate) id: &'a str,
    #[serde(borrow)]
    pub(crate) content: &'a str,
}

#[derive(serde::Deserialize)]
pub(crate) struct SendAck<'a> {
    #[serde(borrow)]
    pub(crate) message: MessageFields<'a>,
}

/// Resident memory of a process, in KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Deterministic user ids for seeded users (`scripts/bench.sh` inserts the same).
pub(crate) fn seeded_user(i: u64) -> Uuid {
    Uuid::from_u128(0xb000_0000_0000_7000_8000_0000_0000_0000 | u128::from(i))
}
