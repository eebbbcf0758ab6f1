//! gRPC `MeetingService` for internal callers (the consultation service).

use std::sync::Arc;

use switchboard_proto::meeting::v1::{self as pb, meeting_service_server::MeetingService};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

use crate::service::MeetingCore;

pub struct MeetingGrpc {
    pub core: Arc<MeetingCore>,
}

#[tonic::async_trait]
impl MeetingService for MeetingGrpc {
    #[tracing::instrument(skip_all, fields(consultation = ?request.get_ref().consultation_id))]
    async fn create_meeting(
        &self,
        request: Request<pb::CreateMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let span = tracing::info_span!("meeting.create");
        switchboard_common::telemetry::set_parent_from_grpc(&span, request.metadata());
        let row = self.core.create(request.get_ref()).instrument(span).await?;
        Ok(Response::new(self.core.render(&row)))
    }

    #[tracing::instrument(skip_all, fields(meeting = %request.get_ref().id))]
    async fn get_meeting(
        &self,
        request: Request<pb::GetMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let row = self.core.get(&request.get_ref().id).await?;
        Ok(Response::new(self.core.render(&row)))
    }

    #[tracing::instrument(skip_all, fields(meeting = %request.get_ref().id))]
    async fn update_meeting(
        &self,
        request: Request<pb::UpdateMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let row = self.core.update(request.get_ref()).await?;
        Ok(Response::new(self.core.render(&row)))
    }

    #[tracing::instrument(skip_all, fields(meeting = %request.get_ref().id))]
    async fn cancel_meeting(
        &self,
        request: Request<pb::CancelMeetingRequest>,
    ) -> Result<Response<pb::Meeting>, Status> {
        let row = self.core.cancel(request.get_ref()).await?;
        Ok(Response::new(self.core.render(&row)))
    }

    // The URL is not recorded: it may carry a passcode or a token.
    #[tracing::instrument(skip_all)]
    async fn validate_meeting_link(
        &self,
        request: Request<pb::ValidateMeetingLinkRequest>,
    ) -> Result<Response<pb::ValidateMeetingLinkResponse>, Status> {
        Ok(Response::new(
            self.core.validate_link(&request.get_ref().url),
        ))
    }
}
