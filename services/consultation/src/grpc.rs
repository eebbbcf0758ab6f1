//! gRPC `ConsultationService` for internal callers: the same operations as the REST API,
//! with the applicant named in the request and an optional `viewer_id` that limits reads
//! and changes to the participants.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchboard_proto::consultation::v1::{
    self as pb, consultation_service_server::ConsultationService,
};
use switchboard_proto::meeting::v1 as mpb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::error::{ConsultationError, parse_id};
use crate::service::{Booking, ConsultationCore, Viewer, timestamp};
use crate::store::ConsultationRow;

pub struct ConsultationGrpc {
    pub core: Arc<ConsultationCore>,
}

fn viewer(raw: Option<&str>) -> Result<Viewer, ConsultationError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Viewer::Internal),
        Some(v) => Uuid::parse_str(v)
            .map(Viewer::User)
            .map_err(|_| ConsultationError::Invalid("viewer_id must be a UUID".into())),
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
}

fn to_proto(c: &ConsultationRow) -> pb::Consultation {
    pb::Consultation {
        id: c.id.to_string(),
        applicant_id: c.applicant_id.to_string(),
        lawyer_id: c.lawyer_id.to_string(),
        scheduled_at: Some(timestamp(c.scheduled_at)),
        duration_minutes: c.duration_minutes.max(0) as u32,
        notes: c.notes.clone(),
        status: if c.status == "cancelled" {
            pb::ConsultationStatus::Cancelled
        } else {
            pb::ConsultationStatus::Scheduled
        } as i32,
        meeting_id: c.meeting_id.map(|m| m.to_string()).unwrap_or_default(),
        meeting_link: c.meeting_link.clone().unwrap_or_default(),
        provider: match c.provider.as_deref() {
            Some("jitsi") => mpb::Provider::Jitsi,
            Some("google_meet") => mpb::Provider::GoogleMeet,
            Some("zoom") => mpb::Provider::Zoom,
            _ => mpb::Provider::Unspecified,
        } as i32,
        google_calendar_url: c.google_calendar_url.clone().unwrap_or_default(),
        outlook_calendar_url: c.outlook_calendar_url.clone().unwrap_or_default(),
        ics: c.ics.clone().unwrap_or_default(),
        created_at: Some(timestamp(c.created_at)),
        updated_at: Some(timestamp(c.updated_at)),
        cancelled_at: c.cancelled_at.map(timestamp),
        ics_sequence: c.ics_sequence.max(0) as u32,
        cancel_reason: c.cancel_reason.clone(),
    }
}

#[tonic::async_trait]
impl ConsultationService for ConsultationGrpc {
    #[tracing::instrument(skip_all)]
    async fn create_consultation(
        &self,
        request: Request<pb::CreateConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let req = request.into_inner();
        let provider = match req.provider {
            0 => None,
            n => Some(
                mpb::Provider::try_from(n)
                    .map_err(|_| ConsultationError::Invalid(format!("provider {n} is unknown")))?,
            ),
        };
        let row = self
            .core
            .create(Booking {
                applicant_id: parse_id("applicant_id", &req.applicant_id)?,
                lawyer_id: req.lawyer_id,
                scheduled_at: time(req.scheduled_at.as_ref()),
                duration_minutes: i64::from(req.duration_minutes),
                notes: req.notes,
                provider,
                idempotency_key: req.idempotency_key,
            })
            .await?;
        Ok(Response::new(to_proto(&row)))
    }

    #[tracing::instrument(skip_all, fields(consultation = %request.get_ref().id))]
    async fn get_consultation(
        &self,
        request: Request<pb::GetConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let req = request.into_inner();
        let row = self
            .core
            .get(&req.id, viewer(req.viewer_id.as_deref())?)
            .await?;
        Ok(Response::new(to_proto(&row)))
    }

    #[tracing::instrument(skip_all, fields(consultation = %request.get_ref().id))]
    async fn reschedule_consultation(
        &self,
        request: Request<pb::RescheduleConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let req = request.into_inner();
        let duration = (req.duration_minutes > 0).then_some(i64::from(req.duration_minutes));
        let row = self
            .core
            .reschedule(
                &req.id,
                viewer(req.viewer_id.as_deref())?,
                time(req.scheduled_at.as_ref()),
                duration,
            )
            .await?;
        Ok(Response::new(to_proto(&row)))
    }

    #[tracing::instrument(skip_all, fields(consultation = %request.get_ref().id))]
    async fn cancel_consultation(
        &self,
        request: Request<pb::CancelConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let req = request.into_inner();
        let row = self
            .core
            .cancel(&req.id, viewer(req.viewer_id.as_deref())?, req.reason)
            .await?;
        Ok(Response::new(to_proto(&row)))
    }
}
