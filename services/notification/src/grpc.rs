//! gRPC `NotificationService`: queue an event without NATS, and the dead-letter tools
//! (`switchboard notifications dead-letters|replay`).

use std::time::Duration;

use prost::Message as _;
use switchboard_common::notifications::{self, PublishError};
use switchboard_common::subjects::Subjects;
use switchboard_proto::notification::v1::{
    self as pb, notification_service_server::NotificationService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::store::Store;

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DEDUPE_KEY_CHARS: usize = 200;

pub struct NotificationGrpc {
    pub store: Store,
    pub jetstream: async_nats::jetstream::Context,
    pub subjects: Subjects,
}

fn publish_status(e: PublishError) -> Status {
    match e {
        PublishError::NoKind | PublishError::NoDedupeKey => Status::invalid_argument(e.to_string()),
        PublishError::NotStored(_) | PublishError::Timeout(_) => {
            Status::unavailable(format!("the notification queue is unavailable: {e}"))
        }
    }
}

fn db_status(e: sqlx::Error) -> Status {
    tracing::warn!(error = %e, "database error");
    Status::unavailable("the database is unavailable; retry")
}

#[tonic::async_trait]
impl NotificationService for NotificationGrpc {
    async fn enqueue(
        &self,
        request: Request<pb::NotificationEvent>,
    ) -> Result<Response<pb::EnqueueResponse>, Status> {
        let event = request.into_inner();
        if event.dedupe_key.chars().count() > MAX_DEDUPE_KEY_CHARS {
            return Err(Status::invalid_argument(format!(
                "dedupe_key is longer than {MAX_DEDUPE_KEY_CHARS} characters"
            )));
        }
        if event.dedupe_key.trim().is_empty() {
            return Err(Status::invalid_argument("dedupe_key is required"));
        }
        notifications::publish(
            &self.jetstream,
            &self.subjects,
            &event,
            &event.dedupe_key,
            PUBLISH_TIMEOUT,
        )
        .await
        .map_err(publish_status)?;
        Ok(Response::new(pb::EnqueueResponse { accepted: true }))
    }

    async fn list_dead_letters(
        &self,
        request: Request<pb::ListDeadLettersRequest>,
    ) -> Result<Response<pb::ListDeadLettersResponse>, Status> {
        let limit = request.into_inner().limit.unwrap_or(50).clamp(1, 500);
        let rows = self
            .store
            .dead_letters(limit as i64)
            .await
            .map_err(db_status)?;
        let dead_letters = rows
            .into_iter()
            .map(|r| pb::DeadLetter {
                id: r.id.to_string(),
                event: pb::NotificationEvent::decode(r.payload.as_slice()).ok(),
                attempts: r.attempts.max(0) as u32,
                last_error: r.last_error.unwrap_or_default(),
                dead_at: r.dead_at.map(|t| prost_types::Timestamp {
                    seconds: t.timestamp(),
                    nanos: t.timestamp_subsec_nanos() as i32,
                }),
            })
            .collect();
        Ok(Response::new(pb::ListDeadLettersResponse { dead_letters }))
    }

    async fn replay_dead_letter(
        &self,
        request: Request<pb::ReplayDeadLetterRequest>,
    ) -> Result<Response<pb::ReplayDeadLetterResponse>, Status> {
        let raw = request.into_inner().id;
        let id = Uuid::parse_str(raw.trim())
            .map_err(|_| Status::invalid_argument("id must be a dead letter's UUID"))?;
        let Some((_kind, payload)) = self.store.revive(id).await.map_err(db_status)? else {
            return Err(Status::not_found(format!("no dead letter {id}")));
        };
        let event = pb::NotificationEvent::decode(payload.as_slice()).map_err(|_| {
            Status::failed_precondition("the dead letter's stored event cannot be decoded")
        })?;
        // A fresh message id: the stream's duplicate window must not drop the replay.
        let msg_id = format!("replay:{id}:{}", Uuid::now_v7());
        if let Err(e) = notifications::publish(
            &self.jetstream,
            &self.subjects,
            &event,
            &msg_id,
            PUBLISH_TIMEOUT,
        )
        .await
        {
            // Back to dead, so it stays listed and can be replayed later.
            let _ = self
                .store
                .mark_dead(id, &format!("replay could not be queued: {e}"))
                .await;
            return Err(publish_status(e));
        }
        tracing::info!(%id, key = %event.dedupe_key, "dead letter replayed");
        Ok(Response::new(pb::ReplayDeadLetterResponse {
            replayed: true,
        }))
    }
}
