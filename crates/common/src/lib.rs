//! Plumbing shared by every Switchboard service.
//!
//! - [`config`] — typed settings read from the environment, with compiled-in defaults.
//! - [`telemetry`] — one call to set up logging.
//! - [`shutdown`] — SIGINT/SIGTERM as a cancellation token.
//! - [`auth`] — JWT verification (HS256, RS256/ES256/EdDSA from PEM or JWKS).
//! - [`subjects`] — every NATS subject name, under a per-deployment prefix.
//! - [`nats`] — connecting to NATS with the project's timeouts.
//! - [`db`] — the PostgreSQL pool and the migrations.
//! - [`grpc`] — health, reflection and deadlines for every gRPC server.
//! - [`domain`] — validated values (message content, client message ids).
//! - [`wire`] — the wire protocol's error codes and message object.
//! - [`ops`] — `/healthz`, `/readyz` and `/metrics` for services that serve nothing else over HTTP.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod grpc;
pub mod nats;
pub mod notifications;
pub mod ops;
pub mod shutdown;
pub mod subjects;
pub mod telemetry;
pub mod wire;

/// Printed on stdout once a service has bound its listeners, e.g.
/// `switchboard-ready service=gateway http=127.0.0.1:8081`, so scripts and tests learn the
/// real ports when they asked for port 0.
pub const READY_MARKER: &str = "switchboard-ready";

/// Runs `future` as a task on the runtime's worker threads and waits for it. The future that
/// `#[tokio::main]` blocks on lives on the main thread, so every wake-up of whatever it
/// drives itself (a service's consumers) also woke that thread; a service's run goes here.
pub async fn on_workers<F>(future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::spawn(future).await {
        Ok(output) => output,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the service's task was cancelled: {e}"),
    }
}

/// Prints the [`READY_MARKER`] line with the bound addresses.
pub fn announce_ready(service: &str, addrs: &[(&str, std::net::SocketAddr)]) {
    use std::io::Write as _;
    let mut line = format!("{READY_MARKER} service={service}");
    for (name, addr) in addrs {
        line.push_str(&format!(" {name}={addr}"));
    }
    let mut stdout = std::io::stdout().lock();
    // Nothing useful can be done if stdout is gone; the service still runs.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
