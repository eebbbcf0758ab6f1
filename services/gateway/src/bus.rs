//! Request/reply over NATS with a deadline, mapped onto the wire protocol's errors: no
//! responder or no answer in time is `unavailable`, never silence.

use std::time::Duration;

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
    let unavailable = |why: &str| {
        metrics.nats_errors.inc();
        WireError::new(
            ErrorCode::Unavailable,
            format!("the {service} {why}; retry"),
        )
    };
    let request = async {
        match switchboard_common::telemetry::traceparent() {
            None => nats.request(subject, payload).await,
            Some(tp) => {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(switchboard_common::telemetry::TRACEPARENT, tp.as_str());
                nats.request_with_headers(subject, headers, payload).await
            }
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
                RequestErrorKind::MaxPayloadExceeded => {
                    WireError::new(ErrorCode::TooLarge, "the request is too large")
                }
                _ => {
                    metrics.nats_errors.inc();
                    WireError::new(
                        ErrorCode::Unavailable,
                        "the message bus is unavailable; retry",
                    )
                }
            })
        }
    }
}
