//! gRPC `PresenceService` for internal callers.

use prost::Message as _;
use switchboard_proto::presence::v1::{self as pb, presence_service_server::PresenceService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::events::{Presence, get_presence};

pub struct PresenceGrpc {
    pub presence: Presence,
}

#[tonic::async_trait]
impl PresenceService for PresenceGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_presence(
        &self,
        request: Request<pb::GetPresenceRequest>,
    ) -> Result<Response<pb::GetPresenceResponse>, Status> {
        let payload = request.into_inner().encode_to_vec();
        get_presence(&self.presence, &payload)
            .await
            .map(Response::new)
            .map_err(Status::invalid_argument)
    }

    #[tracing::instrument(skip_all)]
    async fn is_online(
        &self,
        request: Request<pb::IsOnlineRequest>,
    ) -> Result<Response<pb::IsOnlineResponse>, Status> {
        let user = Uuid::parse_str(&request.get_ref().user_id)
            .map_err(|_| Status::invalid_argument("user_id must be a UUID"))?;
        let rows = self
            .presence
            .store
            .presence(None, &[user])
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let row = rows.into_iter().next();
        Ok(Response::new(pb::IsOnlineResponse {
            online: row.as_ref().is_some_and(|r| r.online),
            last_seen_at: row
                .and_then(|r| r.last_seen_at)
                .map(|t| prost_types::Timestamp {
                    seconds: t.timestamp(),
                    nanos: t.timestamp_subsec_nanos() as i32,
                }),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_online(
        &self,
        request: Request<pb::ListOnlineRequest>,
    ) -> Result<Response<pb::ListOnlineResponse>, Status> {
        let req = request.into_inner();
        let after = req
            .page_token
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| Status::invalid_argument("page_token is not one this service gave"))?;
        let size = req.page_size.unwrap_or(1000).clamp(1, 10_000);
        let users = self
            .presence
            .store
            .list_online(after, size)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let next_page_token =
            (users.len() == size as usize).then(|| users.last().expect("non-empty").to_string());
        Ok(Response::new(pb::ListOnlineResponse {
            user_ids: users.into_iter().map(|u| u.to_string()).collect(),
            next_page_token,
        }))
    }
}
