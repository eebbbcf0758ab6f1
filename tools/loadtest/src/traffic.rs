//! 1:1 chat traffic between pairs of users, each sender on one gateway and its recipient on
//! the other: open loop at a fixed rate, or saturating with a window of unacked sends.
//!
//! Every message carries its intended send time; the ack latency and the delivery latency
//! are measured from it. At the end, every acked message id must have been delivered.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{self, Frame, MessageFields, SendAck};
use crate::report::{self, Latency};

#[derive(clap::Args, Clone)]
pub(crate) struct Common {
    /// Gateway `ws://…/ws` URLs; senders and recipients alternate between them.
    #[arg(long, value_delimiter = ',')]
    urls: Vec<String>,
    /// Sender/recipient pairs.
    #[arg(long, default_value_t = 500)]
    pairs: u64,
    /// Seconds of traffic.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds to wait for deliveries after the last send.
    #[arg(long, default_value_t = 5)]
    drain: u64,
}

#[derive(clap::Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    common: Common,
    /// Messages per second, all pairs together.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
}

#[derive(clap::Args)]
pub(crate) struct SaturateArgs {
    #[command(flatten)]
    common: Common,
    /// Unacked messages each sender keeps in flight.
    #[arg(long, default_value_t = 4)]
    window: u64,
}

#[derive(Serialize)]
struct Outcome {
    scenario: &'static str,
    pairs: u64,
    target_rate: Option<f64>,
    window: Option<u64>,
    duration_s: f64,
    sent: u64,
    acked: u64,
    errors: u64,
    first_error: Option<String>,
    delivered: u64,
    /// Acked messages whose delivery never arrived (must be 0).
    acked_not_delivered: u64,
    /// Acked-and-delivered messages per second over the sending period.
    achieved_rate: f64,
    ack_ms: Latency,
    delivery_ms: Latency,
    ack_max_ms_per_second: Vec<f64>,
}

/// Shared tallies.
#[derive(Default)]
struct Tally {
    ack: Option<Histogram<u64>>,
    delivery: Option<Histogram<u64>>,
    /// Message ids as numbers: no allocation per message in the generator.
    acked: HashSet<u128>,
    delivered: HashSet<u128>,
    /// The slowest ack of each second of intended send times: shows stalls apart from
    /// steady queueing.
    ack_max_us_per_second: Vec<u64>,
    delivered_in_window: u64,
    errors: u64,
    first_error: Option<String>,
    sent: u64,
}

struct Shared {
    tally: Mutex<Tally>,
    origin: Instant,
    send_until: Instant,
}

impl Shared {
    fn micros_since_origin(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_micros() as u64
    }
}

pub(crate) async fn open_loop(args: ChatArgs, secret: &str) -> anyhow::Result<serde_json::Value> {
    run(args.common, secret, Mode::Rate(args.rate)).await
}

pub(crate) async fn saturate(
    args: SaturateArgs,
    secret: &str,
) -> anyhow::Result<serde_json::Value> {
    run(args.common, secret, Mode::Window(args.window)).await
}

#[derive(Clone, Copy)]
enum Mode {
    Rate(f64),
    Window(u64),
}

async fn run(args: Common, secret: &str, mode: Mode) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(!args.urls.is_empty(), "give --urls");
    // Connect everyone first, a few hundred at a time.
    let mut pairs = Vec::new();
    for chunk in (0..args.pairs).collect::<Vec<_>>().chunks(200) {
        let mut handles = Vec::new();
        for &i in chunk {
            let sender_url = args.urls[(i as usize) % args.urls.len()].clone();
            let recipient_url = args.urls[(i as usize + 1) % args.urls.len()].clone();
            let secret = secret.to_owned();
            handles.push(tokio::spawn(async move {
                let (s, r) = (Uuid::new_v4(), Uuid::new_v4());
                let recipient =
                    client::connect(&recipient_url, &secret, r, Duration::from_secs(30)).await?;
                let sender =
                    client::connect(&sender_url, &secret, s, Duration::from_secs(30)).await?;
                anyhow::Ok((r, sender, recipient))
            }));
        }
        for h in handles {
            pairs.push(h.await??);
        }
    }
    let origin = Instant::now() + Duration::from_millis(500);
    let shared = Arc::new(Shared {
        tally: Mutex::new(Tally {
            ack: Some(report::histogram()),
            delivery: Some(report::histogram()),
            ack_max_us_per_second: vec![0; args.duration as usize],
            ..Tally::default()
        }),
        origin,
        send_until: origin + Duration::from_secs(args.duration),
    });
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for (index, (recipient_id, sender, recipient)) in pairs.into_iter().enumerate() {
        tasks.push(tokio::spawn(recipient_task(
            recipient,
            shared.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(sender_task(
            sender,
            recipient_id,
            index as u64,
            args.pairs,
            mode,
            shared.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep_until(shared.send_until).await;
    // Let the last acks and deliveries land, then stop: done when every send is answered
    // and every acked message has arrived.
    let drain_deadline = Instant::now() + Duration::from_secs(args.drain);
    loop {
        let complete = {
            let t = shared.tally.lock().expect("tally");
            t.sent == t.acked.len() as u64 + t.errors
                && t.acked.iter().all(|id| t.delivered.contains(id))
        };
        if complete || Instant::now() >= drain_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    let t = shared.tally.lock().expect("tally");
    let lost = t
        .acked
        .iter()
        .filter(|id| !t.delivered.contains(*id))
        .count() as u64;
    let duration = args.duration as f64;
    let outcome = Outcome {
        scenario: match mode {
            Mode::Rate(_) => "chat",
            Mode::Window(_) => "saturate",
        },
        pairs: args.pairs,
        target_rate: match mode {
            Mode::Rate(r) => Some(r),
            Mode::Window(_) => None,
        },
        window: match mode {
            Mode::Window(w) => Some(w),
            Mode::Rate(_) => None,
        },
        duration_s: duration,
        sent: t.sent,
        acked: t.acked.len() as u64,
        errors: t.errors,
        first_error: t.first_error.clone(),
        delivered: t.delivered.len() as u64,
        acked_not_delivered: lost,
        achieved_rate: t.delivered_in_window as f64 / duration,
        ack_ms: report::summarize(t.ack.as_ref().expect("histogram")),
        delivery_ms: report::summarize(t.delivery.as_ref().expect("histogram")),
        ack_max_ms_per_second: t
            .ack_max_us_per_second
            .iter()
            .map(|&us| us as f64 / 1000.0)
            .collect(),
    };
    Ok(serde_json::to_value(outcome)?)
}

async fn sender_task(
    ws: client::Ws,
    recipient: Uuid,
    index: u64,
    pairs: u64,
    mode: Mode,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let (mut sink, mut stream) = ws.split();
    // ack id → intended send time
    let mut pending: HashMap<u64, Instant> = HashMap::new();
    let mut next: u64 = 0;
    let mut window_free = match mode {
        Mode::Window(w) => w,
        Mode::Rate(_) => 0,
    };
    let intended_of = |k: u64| -> Instant {
        match mode {
            // Pairs interleave, so the whole run sends at `rate` evenly.
            Mode::Rate(rate) => {
                shared.origin + Duration::from_secs_f64((k * pairs + index) as f64 / rate)
            }
            Mode::Window(_) => Instant::now(),
        }
    };
    tokio::time::sleep_until(shared.origin).await;
    // One timer for the whole run, moved to each send's due time (not one per wakeup).
    let send_timer = tokio::time::sleep_until(shared.origin);
    tokio::pin!(send_timer);
    loop {
        let due = match mode {
            Mode::Rate(_) => intended_of(next),
            Mode::Window(_) => shared.origin,
        };
        if send_timer.deadline() != due {
            send_timer.as_mut().reset(due);
        }
        let can_send = due < shared.send_until
            && Instant::now() < shared.send_until
            && match mode {
                Mode::Rate(_) => true,
                Mode::Window(_) => window_free > 0,
            };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = &mut send_timer, if can_send => {
                let intended = match mode { Mode::Rate(_) => due, Mode::Window(_) => Instant::now() };
                let content = format!("{}", shared.micros_since_origin(intended));
                let frame = format!(
                    "{{\"event\":\"send_message\",\"data\":{{\"recipientId\":\"{recipient}\",\"content\":\"{content}\",\"clientMsgId\":\"{index}-{next}\"}},\"ack\":{next}}}"
                );
                if sink.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
                pending.insert(next, intended);
                next += 1;
                if let Mode::Window(_) = mode { window_free -= 1; }
                shared.tally.lock().expect("tally").sent += 1;
            }
            frame = stream.next() => {
                let Some(Ok(Message::Text(text))) = frame else {
                    if frame.is_none() { return; }
                    continue;
                };
                let Ok(f) = serde_json::from_str::<Frame<'_>>(text.as_str()) else { continue };
                let Some(ack) = f.ack else { continue };
                let Some(intended) = pending.remove(&ack) else { continue };
                if let Mode::Window(_) = mode { window_free += 1; }
                let now = Instant::now();
                let mut t = shared.tally.lock().expect("tally");
                if let Some(err) = f.error {
                    t.errors += 1;
                    t.first_error.get_or_insert_with(|| err.get().to_owned());
                    continue;
                }
                let Some(data) = f.data else { continue };
                if let Some(id) = serde_json::from_str::<SendAck<'_>>(data.get()).ok().and_then(|a| message_id(a.message.id)) {
                    let latency = now - intended;
                    if let Some(h) = t.ack.as_mut() { report::record(h, latency); }
                    let second = (shared.micros_since_origin(intended) / 1_000_000) as usize;
                    if let Some(slowest) = t.ack_max_us_per_second.get_mut(second) {
                        *slowest = (*slowest).max(latency.as_micros() as u64);
                    }
                    t.acked.insert(id);
                }
            }
        }
    }
}

async fn recipient_task(ws: client::Ws, shared: Arc<Shared>, stop: CancellationToken) {
    let (_sink, mut stream) = ws.split();
    loop {
        let frame = tokio::select! {
            _ = stop.cancelled() => return,
            f = stream.next() => f,
        };
        let Some(Ok(Message::Text(text))) = frame else {
            if frame.is_none() {
                return;
            }
            continue;
        };
        let Ok(f) = serde_json::from_str::<Frame<'_>>(text.as_str()) else {
            continue;
        };
        if f.event != Some("message_received") {
            continue;
        }
        let Some(data) = f.data else { continue };
        let Ok(m) = serde_json::from_str::<MessageFields<'_>>(data.get()) else {
            continue;
        };
        let Some(id) = message_id(m.id) else { continue };
        let now = Instant::now();
        let Ok(intended_us) = m.content.parse::<u64>() else {
            continue;
        };
        let intended = shared.origin + Duration::from_micros(intended_us);
        let mut t = shared.tally.lock().expect("tally");
        if t.delivered.insert(id) {
            if let Some(h) = t.delivery.as_mut() {
                report::record(h, now.saturating_duration_since(intended));
            }
            if now <= shared.send_until + Duration::from_millis(1) {
                t.delivered_in_window += 1;
            }
        }
    }
}

fn message_id(id: &str) -> Option<u128> {
    Uuid::parse_str(id).ok().map(|u| u.as_u128())
}
