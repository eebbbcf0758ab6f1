//! The meeting service's errors and their one mapping to gRPC statuses.

use switchboard_common::db::DbFailure;

#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The meeting is in a state that does not allow the operation (e.g. rescheduling a
    /// cancelled meeting).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No provider could do it, or the database is unreachable; the message says why.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for MeetingError {
    fn from(e: sqlx::Error) -> Self {
        match switchboard_common::db::classify(e) {
            DbFailure::Unavailable(message) => Self::Unavailable(message.into()),
            DbFailure::Fault(e) => Self::Unexpected(e),
        }
    }
}

impl From<MeetingError> for tonic::Status {
    fn from(e: MeetingError) -> Self {
        match e {
            MeetingError::Invalid(m) => tonic::Status::invalid_argument(m),
            MeetingError::NotFound(m) => tonic::Status::not_found(m),
            MeetingError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
            MeetingError::Unavailable(m) => tonic::Status::unavailable(m),
            MeetingError::Unexpected(err) => {
                tracing::error!(error = format!("{err:#}"), "unexpected error");
                tonic::Status::internal("internal error")
            }
        }
    }
}

/// Parses a UUID field, naming it in the error.
pub fn parse_id(field: &str, raw: &str) -> Result<uuid::Uuid, MeetingError> {
    uuid::Uuid::parse_str(raw.trim())
        .map_err(|_| MeetingError::Invalid(format!("{field} must be a UUID")))
}
