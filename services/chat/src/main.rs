//! `switchboard-chat`: wires settings, telemetry and the application, then runs until a
//! signal.

use std::process::ExitCode;

use switchboard_chat::{Application, Settings};

// glibc's allocator took over a quarter of this service's CPU when saturated; with mimalloc
// here and in the gateway the saturated throughput rose by a quarter (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Config: bad settings exit with one line.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard-chat: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Telemetry.
    let _telemetry = switchboard_common::telemetry::init("chat");
    // Build: bind the listeners, connect to PostgreSQL and NATS, migrate.
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchboard-chat: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(grpc = %app.grpc_addr(), http = %app.http_addr(), "chat service listening");
    switchboard_common::announce_ready(
        "chat",
        &[("grpc", app.grpc_addr()), ("http", app.http_addr())],
    );
    // Run until SIGINT/SIGTERM, then drain.
    let shutdown = switchboard_common::shutdown::on_signal();
    match switchboard_common::on_workers(app.run_until_stopped(shutdown)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "chat service failed");
            ExitCode::FAILURE
        }
    }
}
