//! `switchboard-meeting`: wires settings, telemetry and the application, then runs until a
//! signal.

use std::process::ExitCode;

use switchboard_meeting::{Application, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    // Config: bad settings exit with one line.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard-meeting: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Telemetry.
    let _telemetry = switchboard_common::telemetry::init("meeting");
    // Build: bind the listeners, connect to PostgreSQL, migrate.
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchboard-meeting: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(grpc = %app.grpc_addr(), http = %app.http_addr(), "meeting service listening");
    switchboard_common::announce_ready(
        "meeting",
        &[("grpc", app.grpc_addr()), ("http", app.http_addr())],
    );
    // Run until SIGINT/SIGTERM; the servers drain in-flight calls before returning.
    let shutdown = switchboard_common::shutdown::on_signal();
    match switchboard_common::on_workers(app.run_until_stopped(shutdown)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "meeting service failed");
            ExitCode::FAILURE
        }
    }
}
