//! Idle connections: how much a held connection costs the gateway, and how fast they open.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{self, rss_kib};
use crate::report::{self, Latency};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The gateway's `ws://…/ws`.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 1000)]
    connections: u64,
    /// Connections opened per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds to hold them once open.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// The gateway's pid, to read its resident memory before and after.
    #[arg(long)]
    measure_pid: Option<u32>,
    /// Every connection as one user (isolates the per-connection cost from the per-user one).
    #[arg(long)]
    same_user: bool,
}

#[derive(Serialize)]
pub(crate) struct Outcome {
    scenario: &'static str,
    connections: u64,
    connected: u64,
    failed: u64,
    first_error: Option<String>,
    connect_rate: f64,
    achieved_rate: f64,
    connect_ms: Latency,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    rss_per_connection_kib: Option<f64>,
}

pub(crate) async fn run(args: Args, secret: &str) -> anyhow::Result<serde_json::Value> {
    let before = args.measure_pid.and_then(rss_kib);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(1024);
    let stop = CancellationToken::new();
    let start = Instant::now() + Duration::from_millis(200);
    let one_user = Uuid::new_v4();
    for i in 0..args.connections {
        let intended = start + Duration::from_secs_f64(i as f64 / args.rate);
        let url = args.url.clone();
        let secret = secret.to_owned();
        let done = done_tx.clone();
        let stop = stop.clone();
        let user = if args.same_user {
            one_user
        } else {
            Uuid::new_v4()
        };
        tokio::spawn(async move {
            tokio::time::sleep_until(intended).await;
            let result = client::connect(&url, &secret, user, Duration::from_secs(30)).await;
            let latency = intended.elapsed();
            match result {
                Ok(mut ws) => {
                    let _ = done.send(Ok(latency)).await;
                    // Keep reading so the gateway's pings are answered.
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            frame = ws.next() => if frame.is_none() { break },
                        }
                    }
                }
                Err(e) => {
                    let _ = done.send(Err(e.to_string())).await;
                }
            }
        });
    }
    drop(done_tx);
    let mut hist = report::histogram();
    let (mut connected, mut failed, mut first_error) = (0u64, 0u64, None);
    let mut last = start;
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(latency) => {
                connected += 1;
                report::record(&mut hist, latency);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        last = Instant::now();
        if connected + failed == args.connections {
            break;
        }
    }
    let elapsed = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-3);
    // Let allocations settle before reading the resident set.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = args.measure_pid.and_then(rss_kib);
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    stop.cancel();
    let per_connection = match (before, after) {
        (Some(b), Some(a)) if connected > 0 => Some(a.saturating_sub(b) as f64 / connected as f64),
        _ => None,
    };
    Ok(serde_json::to_value(Outcome {
        scenario: if args.same_user {
            "idle_same_user"
        } else {
            "idle"
        },
        connections: args.connections,
        connected,
        failed,
        first_error,
        connect_rate: args.rate,
        achieved_rate: (connected + failed) as f64 / elapsed,
        connect_ms: report::summarize(&hist),
        rss_before_kib: before,
        rss_after_kib: after,
        rss_per_connection_kib: per_connection,
    })?)
}
