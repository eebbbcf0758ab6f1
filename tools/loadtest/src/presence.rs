//! Presence storm: seeded users, each a contact of the 5 before and the 5 after it on a ring
//! (`scripts/bench.sh` seeds the same graph), connect at a fixed rate across the replicas.
//! Every `user_online` a user receives must come from a contact, at most once; and for
//! every pair of contacts, the one that connected second must have been announced to the
//! other (or, when both came online in one batch, the other way round).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{self, Frame, seeded_user};
use crate::report::{self, Latency};

/// Contacts on each side of a user on the ring.
pub(crate) const RING_REACH: u64 = 5;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Gateway `ws://…/ws` URLs; users alternate between them.
    #[arg(long, value_delimiter = ',')]
    urls: Vec<String>,
    /// Seeded users (ids from `seeded_user(0..users)`).
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Connections per second, all replicas together.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Seconds to wait for the last announcements after everyone is connected.
    #[arg(long, default_value_t = 5)]
    settle: u64,
}

#[derive(Serialize)]
struct Outcome {
    scenario: &'static str,
    users: u64,
    rate: f64,
    connected: u64,
    failed: u64,
    first_error: Option<String>,
    connect_ms: Latency,
    online_events: u64,
    to_non_contacts: u64,
    duplicates: u64,
    contact_pairs: u64,
    pairs_announced: u64,
}

#[derive(Default)]
struct Seen {
    events: u64,
    to_non_contacts: u64,
    duplicates: u64,
    pairs: HashSet<(u64, u64)>,
}

fn index_of(user: &str) -> Option<u64> {
    let id = Uuid::parse_str(user).ok()?;
    let v = id.as_u128();
    (v >> 48 == seeded_user(0).as_u128() >> 48).then_some((v & 0xffff_ffff_ffff) as u64)
}

fn are_contacts(a: u64, b: u64, n: u64) -> bool {
    let d = a.abs_diff(b);
    a != b && d.min(n - d) <= RING_REACH
}

pub(crate) async fn run(args: Args, secret: &str) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(!args.urls.is_empty(), "give --urls");
    let n = args.users;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = CancellationToken::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(1024);
    let start = Instant::now() + Duration::from_millis(300);
    for i in 0..n {
        let intended = start + Duration::from_secs_f64(i as f64 / args.rate);
        let url = args.urls[(i as usize) % args.urls.len()].clone();
        let secret = secret.to_owned();
        let (seen, stop, done) = (seen.clone(), stop.clone(), done_tx.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(intended).await;
            let result =
                client::connect(&url, &secret, seeded_user(i), Duration::from_secs(30)).await;
            let latency = intended.elapsed();
            let mut ws = match result {
                Ok(ws) => {
                    let _ = done.send(Ok(latency)).await;
                    ws
                }
                Err(e) => {
                    let _ = done.send(Err(e.to_string())).await;
                    return;
                }
            };
            loop {
                let frame = tokio::select! {
                    _ = stop.cancelled() => return,
                    f = ws.next() => f,
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
                if f.event != Some("user_online") {
                    continue;
                }
                #[derive(serde::Deserialize)]
                struct Online<'a> {
                    #[serde(rename = "userId", borrow)]
                    user_id: &'a str,
                }
                let Some(from) = f
                    .data
                    .and_then(|d| serde_json::from_str::<Online<'_>>(d.get()).ok())
                    .and_then(|o| index_of(o.user_id))
                else {
                    continue;
                };
                let mut s = seen.lock().expect("seen");
                s.events += 1;
                if !are_contacts(i, from, n) {
                    s.to_non_contacts += 1;
                } else if !s.pairs.insert((i, from)) {
                    s.duplicates += 1;
                }
            }
        });
    }
    drop(done_tx);
    let mut hist = report::histogram();
    let (mut connected, mut failed, mut first_error) = (0u64, 0u64, None);
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(l) => {
                connected += 1;
                report::record(&mut hist, l);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        if connected + failed == n {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    stop.cancel();
    let s = seen.lock().expect("seen");
    let mut expected = 0;
    let mut announced = 0;
    for i in 0..n {
        for d in 1..=RING_REACH.min(n.saturating_sub(1) / 2) {
            let j = (i + d) % n;
            expected += 1;
            if s.pairs.contains(&(i, j)) || s.pairs.contains(&(j, i)) {
                announced += 1;
            }
        }
    }
    Ok(serde_json::to_value(Outcome {
        scenario: "presence",
        users: n,
        rate: args.rate,
        connected,
        failed,
        first_error,
        connect_ms: report::summarize(&hist),
        online_events: s.events,
        to_non_contacts: s.to_non_contacts,
        duplicates: s.duplicates,
        contact_pairs: expected,
        pairs_announced: announced,
    })?)
}
