//! The meeting-link service over gRPC, with a deadline per call and its statuses turned
//! into this service's errors.

use std::time::Duration;

use switchboard_proto::meeting::v1::{self as pb, meeting_service_client::MeetingServiceClient};
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument as _;

use crate::error::ConsultationError;

#[derive(Clone)]
pub struct MeetingClient {
    inner: MeetingServiceClient<Channel>,
}

impl MeetingClient {
    /// Connects on first use, so the consultation service starts while the meeting
    /// service is still down (and reads keep working).
    pub fn connect_lazy(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(3))
            .timeout(timeout)
            .connect_lazy();
        Ok(Self {
            inner: MeetingServiceClient::new(channel),
        })
    }

    pub async fn create(
        &self,
        req: pb::CreateMeetingRequest,
    ) -> Result<pb::Meeting, ConsultationError> {
        let span = tracing::info_span!("consultation.create_meeting");
        async {
            self.inner
                .clone()
                .create_meeting(traced(req))
                .await
                .map(tonic::Response::into_inner)
                .map_err(|s| status_error("created", s))
        }
        .instrument(span)
        .await
    }

    pub async fn update(
        &self,
        req: pb::UpdateMeetingRequest,
    ) -> Result<pb::Meeting, ConsultationError> {
        self.inner
            .clone()
            .update_meeting(traced(req))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|s| status_error("moved", s))
    }

    /// `None` when the meeting service no longer knows the meeting.
    pub async fn cancel(
        &self,
        req: pb::CancelMeetingRequest,
    ) -> Result<Option<pb::Meeting>, ConsultationError> {
        match self.inner.clone().cancel_meeting(traced(req)).await {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(status_error("cancelled", s)),
        }
    }
}

/// The request with the current trace in its metadata.
fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    switchboard_common::telemetry::inject_grpc(request.metadata_mut());
    request
}

fn status_error(done: &str, s: tonic::Status) -> ConsultationError {
    use tonic::Code;
    let message = s.message();
    match s.code() {
        Code::InvalidArgument => {
            ConsultationError::Invalid(format!("the meeting was refused: {message}"))
        }
        Code::FailedPrecondition => ConsultationError::Conflict(message.to_owned()),
        Code::NotFound => ConsultationError::NotFound(message.to_owned()),
        Code::DeadlineExceeded | Code::Cancelled => ConsultationError::Unavailable(format!(
            "the meeting service did not answer in time; the meeting was not {done}"
        )),
        code => {
            tracing::warn!(?code, message, "meeting service call failed");
            ConsultationError::Unavailable(format!(
                "the meeting could not be {done} (the meeting service is unavailable: {message})"
            ))
        }
    }
}
