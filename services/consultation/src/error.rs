//! The consultation service's errors and their one mapping to each boundary: the REST
//! API's `{"error":{"code","message"}}` and gRPC statuses.

use switchboard_common::db::DbFailure;
use switchboard_common::wire::{ErrorCode, WireError};

#[derive(Debug, thiserror::Error)]
pub enum ConsultationError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed but the state forbids it (an overlapping booking, a
    /// cancelled consultation).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// The database or the meeting service is unreachable; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ConsultationError {
    fn from(e: sqlx::Error) -> Self {
        match switchboard_common::db::classify(e) {
            DbFailure::Unavailable(message) => Self::Unavailable(message.into()),
            DbFailure::Fault(e) => Self::Unexpected(e),
        }
    }
}

impl ConsultationError {
    /// The REST body; a conflict is an `invalid_request` (the wire protocol has no
    /// conflict code) whose message names what is in the way.
    pub fn to_wire(&self) -> WireError {
        match self {
            Self::Invalid(m) | Self::Conflict(m) => {
                WireError::new(ErrorCode::InvalidRequest, m.clone())
            }
            Self::Unauthorized(m) => WireError::new(ErrorCode::Unauthorized, m.clone()),
            Self::NotFound(m) => WireError::new(ErrorCode::NotFound, m.clone()),
            Self::Forbidden(m) => WireError::new(ErrorCode::Forbidden, m.clone()),
            Self::TooLarge(m) => WireError::new(ErrorCode::TooLarge, m.clone()),
            Self::Unavailable(m) => WireError::new(ErrorCode::Unavailable, m.clone()),
            Self::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                WireError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl From<ConsultationError> for tonic::Status {
    fn from(e: ConsultationError) -> Self {
        match e {
            ConsultationError::Invalid(m) | ConsultationError::TooLarge(m) => {
                tonic::Status::invalid_argument(m)
            }
            ConsultationError::Unauthorized(m) => tonic::Status::unauthenticated(m),
            ConsultationError::NotFound(m) => tonic::Status::not_found(m),
            ConsultationError::Forbidden(m) => tonic::Status::permission_denied(m),
            ConsultationError::Conflict(m) => tonic::Status::failed_precondition(m),
            ConsultationError::Unavailable(m) => tonic::Status::unavailable(m),
            ConsultationError::Unexpected(err) => {
                tracing::error!(error = format!("{err:#}"), "unexpected error");
                tonic::Status::internal("internal error")
            }
        }
    }
}

/// Parses a UUID field, naming it in the error.
pub fn parse_id(field: &str, raw: &str) -> Result<uuid::Uuid, ConsultationError> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| ConsultationError::Invalid(format!("{field} must be a UUID")))
}
