//! `switchboard-gateway`: wires settings, telemetry and the application, then runs until a
//! signal.

use std::process::ExitCode;

use switchboard_gateway::{Application, Settings};

// glibc's allocator took an eighth of this service's CPU when saturated; with mimalloc
// here and in the chat service the saturated throughput rose by a quarter, for about
// 0.2 KiB more per idle connection (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Config: bad settings exit with one line.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard-gateway: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Telemetry.
    let _telemetry = switchboard_common::telemetry::init("gateway");
    // Build: bind, load keys, connect to NATS.
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchboard-gateway: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(http = %app.addr(), gateway_id = app.gateway_id(), "gateway listening");
    switchboard_common::announce_ready("gateway", &[("http", app.addr())]);
    // Run until SIGINT/SIGTERM, then drain.
    let shutdown = switchboard_common::shutdown::on_signal();
    match switchboard_common::on_workers(app.run_until_stopped(shutdown)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "gateway failed");
            ExitCode::FAILURE
        }
    }
}
