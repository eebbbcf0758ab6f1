//! The operational HTTP endpoints of services that serve nothing else over HTTP:
//! `/healthz` (alive), `/readyz` (dependencies reachable), `/metrics` (Prometheus text).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};

/// Answers whether the service's dependencies are reachable right now.
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Ready while PostgreSQL answers and, when given, NATS is connected: the check of every
/// service whose dependencies are those two.
pub fn nats_and_db_readiness(
    nats: Option<async_nats::Client>,
    pool: sqlx::PgPool,
) -> ReadinessCheck {
    Arc::new(move || {
        let (nats, pool) = (nats.clone(), pool.clone());
        Box::pin(async move {
            if let Some(nats) = &nats
                && !crate::nats::is_connected(nats)
            {
                return Err("NATS is not connected".to_owned());
            }
            if !crate::db::is_ready(&pool).await {
                return Err("PostgreSQL does not answer".to_owned());
            }
            Ok(())
        })
    })
}

#[derive(Clone)]
struct OpsState {
    registry: Registry,
    readiness: ReadinessCheck,
}

/// The three routes, ready to be served or merged into a larger router.
pub fn router(registry: Registry, readiness: ReadinessCheck) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(OpsState {
            registry,
            readiness,
        })
}

async fn readyz(State(state): State<OpsState>) -> Response {
    match (state.readiness)().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    render_metrics(&state.registry)
}

/// The registry's metrics in the Prometheus text format.
pub fn render_metrics(registry: &Registry) -> Response {
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut body) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
