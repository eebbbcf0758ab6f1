//! `switchboard-notification`: wires settings, telemetry and the application, then runs
//! until a signal.

use std::process::ExitCode;

use switchboard_notification::{Application, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switchboard-notification: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = switchboard_common::telemetry::init("notification");
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchboard-notification: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(grpc = %app.grpc_addr(), http = %app.http_addr(), "notification service listening");
    switchboard_common::announce_ready(
        "notification",
        &[("grpc", app.grpc_addr()), ("http", app.http_addr())],
    );
    let shutdown = switchboard_common::shutdown::on_signal();
    match switchboard_common::on_workers(app.run_until_stopped(shutdown)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "notification service failed");
            ExitCode::FAILURE
        }
    }
}
