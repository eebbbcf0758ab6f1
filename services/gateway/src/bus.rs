//! Request/reply over NATS with a deadline, mapped onto the wire protocol's errors: no
//! responder or no answer in time is `unavailable`, never silence. [`publish_with_reply`]
//! is the sending half for callers that collect their answers themselves.

use std::time::Duration;

use async_nats::client::PublishErrorKind;
use bytes::Bytes;
use switchboard_common::wire::{ErrorCode, WireError};

use crate::metrics::GatewayMetrics;

/// Sends `payload` to `subject` and waits at most `timeout` for the reply's payload.
/// `service` names the other side in error messages.
pub async fn request(
    nats: &async_nats::Client,
    subject: String,
    payload: Bytes,
    timeout: Duration,
    service: &str,
    metrics: &GatewayMetrics,
) -> Result<Bytes, WireError> {
    let unavailable = |why: &str| unavailable(service, why, metrics);
    let request = async {
        match trace_headers() {
            None => nats.request(subject, payload).await,
            Some(headers) => nats.request_with_headers(subject, headers, payload).await,
        }
    };
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Err(unavailable("did not answer in time")),
        Ok(Ok(msg)) => Ok(msg.payload),
        Ok(Err(e)) => {
            use async_nats::client::RequestErrorKind;
            Err(match e.kind() {
                RequestErrorKind::NoResponders => unavailable("is unavailable"),
                RequestErrorKind::TimedOut => unavailable("did not answer in time"),
                RequestErrorKind::MaxPayloadExceeded => too_large(),
                _ => bus_unavailable(metrics),
            })
        }
    }
}

/// Publishes `payload` to `subject` with `reply` as the subject to answer on, for a caller
/// that waits for the answer itself.
pub async fn publish_with_reply(
    nats: &async_nats::Client,
    subject: String,
    reply: String,
    payload: Bytes,
    metrics: &GatewayMetrics,
) -> Result<(), WireError> {
    let published = match trace_headers() {
        None => nats.publish_with_reply(subject, reply, payload).await,
        Some(headers) => {
            nats.publish_with_reply_and_headers(subject, reply, headers, payload)
                .await
        }
    };
    published.map_err(|e| match e.kind() {
        PublishErrorKind::MaxPayloadExceeded => too_large(),
        _ => bus_unavailable(metrics),
    })
}

/// `unavailable`, naming the other side (`service`) and what it did (`why`).
pub fn unavailable(service: &str, why: &str, metrics: &GatewayMetrics) -> WireError {
    metrics.nats_errors.inc();
    WireError::new(
        ErrorCode::Unavailable,
        format!("the {service} {why}; retry"),
    )
}

fn bus_unavailable(metrics: &GatewayMetrics) -> WireError {
    metrics.nats_errors.inc();
    WireError::new(
        ErrorCode::Unavailable,
        "the message bus is unavailable; retry",
    )
}

fn too_large() -> WireError {
    WireError::new(ErrorCode::TooLarge, "the request is too large")
}

/// The current trace's `traceparent`, as NATS headers, when spans are exported.
fn trace_headers() -> Option<async_nats::HeaderMap> {
    let tp = switchboard_common::telemetry::traceparent()?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(switchboard_common::telemetry::TRACEPARENT, tp.as_str());
    Some(headers)
}
