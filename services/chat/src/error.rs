//! The chat service's errors and their one mapping to each boundary: the wire protocol's
//! codes (NATS commands) and gRPC statuses.

use switchboard_common::db::DbFailure;
use switchboard_common::wire::{ErrorCode, WireError};

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ChatError {
    fn from(e: sqlx::Error) -> Self {
        match switchboard_common::db::classify(e) {
            DbFailure::Unavailable(message) => Self::Unavailable(message.into()),
            DbFailure::Fault(e) => Self::Unexpected(e),
        }
    }
}

impl ChatError {
    pub fn to_wire(&self) -> WireError {
        match self {
            Self::Invalid(m) => WireError::new(ErrorCode::InvalidRequest, m.clone()),
            Self::NotFound(m) => WireError::new(ErrorCode::NotFound, m.clone()),
            Self::Forbidden(m) => WireError::new(ErrorCode::Forbidden, m.clone()),
            Self::Unavailable(m) => WireError::new(ErrorCode::Unavailable, m.clone()),
            Self::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                WireError::new(ErrorCode::Internal, "internal error")
            }
        }
    }
}

impl From<ChatError> for tonic::Status {
    fn from(e: ChatError) -> Self {
        match &e {
            ChatError::Invalid(m) => tonic::Status::invalid_argument(m.clone()),
            ChatError::NotFound(m) => tonic::Status::not_found(m.clone()),
            ChatError::Forbidden(m) => tonic::Status::permission_denied(m.clone()),
            ChatError::Unavailable(m) => tonic::Status::unavailable(m.clone()),
            ChatError::Unexpected(err) => {
                tracing::error!(error = format!("{err:#}"), "unexpected error");
                tonic::Status::internal("internal error")
            }
        }
    }
}

/// Parses a UUID field, naming it in the error.
pub fn parse_id(field: &str, raw: &str) -> Result<uuid::Uuid, ChatError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ChatError::Invalid(format!("{field} must be a UUID")))
}
