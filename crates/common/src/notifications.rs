//! Publishing notification events into the notification service's JetStream stream.
//!
//! Every producer (chat for unread messages, consultation for invitations, the
//! notification service's own `Enqueue`) goes through [`publish`]: the event is protobuf on
//! `<prefix>.notification.<kind>`, and the dedupe key is also the `Nats-Msg-Id`, so the
//! stream itself drops a second publish within its duplicate window.

use std::time::Duration;

use prost::Message as _;
use switchboard_proto::notification::v1::NotificationEvent;
use switchboard_proto::notification::v1::notification_event::Kind;

use crate::subjects::Subjects;

/// The subject token of an event kind.
pub fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::MessageUnread(_) => "message_unread",
        Kind::ConsultationScheduled(_) => "consultation_scheduled",
        Kind::ConsultationCancelled(_) => "consultation_cancelled",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the event has no kind")]
    NoKind,
    #[error("the event has no dedupe key")]
    NoDedupeKey,
    #[error("JetStream did not take the event: {0}")]
    NotStored(String),
    #[error("JetStream did not confirm the event within {0:?}")]
    Timeout(Duration),
}

/// Publishes `event` and waits until the stream has stored it. `msg_id` is the
/// `Nats-Msg-Id` (usually the dedupe key; a replay uses a fresh one).
pub async fn publish(
    jetstream: &async_nats::jetstream::Context,
    subjects: &Subjects,
    event: &NotificationEvent,
    msg_id: &str,
    timeout: Duration,
) -> Result<(), PublishError> {
    let kind = event.kind.as_ref().ok_or(PublishError::NoKind)?;
    if event.dedupe_key.is_empty() {
        return Err(PublishError::NoDedupeKey);
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    let confirmed = async {
        jetstream
            .publish_with_headers(
                subjects.notification(kind_name(kind)),
                headers,
                event.encode_to_vec().into(),
            )
            .await
            .map_err(|e| PublishError::NotStored(e.to_string()))?
            .await
            .map_err(|e| PublishError::NotStored(e.to_string()))
    };
    match tokio::time::timeout(timeout, confirmed).await {
        Err(_) => Err(PublishError::Timeout(timeout)),
        Ok(result) => result.map(|_| ()),
    }
}
