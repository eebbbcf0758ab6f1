//! The video-meeting providers and the failover between them.
//!
//! - [`http`] — the shared HTTP client: timeouts, retries, `Retry-After`, error bodies.
//! - [`token`] — OAuth access tokens cached until shortly before expiry.
//! - [`jitsi`] — room links, optionally with self-hosted (HS256) or JaaS (RS256) tokens.
//! - [`google`] — Google Meet through Calendar `events.insert` or Meet `spaces.create`.
//! - [`zoom`] — Zoom Server-to-Server OAuth and the meetings API.
//!
//! A provider is one of a closed set, so dispatch is an enum rather than a trait object.

pub mod google;
pub mod http;
pub mod jitsi;
pub mod token;
pub mod zoom;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::{Person, ProviderKind};

/// Why a provider could not serve; each leads to the next provider in the order.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Not in `MEETING_PROVIDERS` or without credentials.
    #[error("{0}")]
    NotEnabled(String),
    /// Network errors, timeouts, 429 and 5xx after every retry.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused the request (4xx other than 401/403).
    #[error("{0}")]
    Rejected(String),
    /// The token grant failed, or the API refused the credentials.
    #[error("{0}")]
    Auth(String),
    /// A success status with a body that is not the documented shape.
    #[error("{0}")]
    Malformed(String),
}

/// What a provider is asked to create or move.
pub struct MeetingSpec<'a> {
    pub meeting_id: Uuid,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub start: DateTime<Utc>,
    pub duration_minutes: u32,
    pub time_zone: Option<&'a str>,
    pub organizer: &'a Person,
    pub attendees: &'a [Person],
}

impl MeetingSpec<'_> {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::minutes(i64::from(self.duration_minutes))
    }
}

/// A meeting the provider made.
#[derive(Clone, Debug)]
pub struct Created {
    pub join_url: String,
    pub host_url: Option<String>,
    /// The provider's id: a Calendar event id, a Meet space name, a Zoom meeting id, a
    /// Jitsi room name.
    pub external_id: String,
    /// What later updates and the cancellation need (calendar id, mode, links).
    pub data: serde_json::Value,
    /// The provider's own iCalendar UID, when it keeps a calendar event: the invitation
    /// reuses it so calendars see one event, not two.
    pub ics_uid: Option<String>,
}

/// New links after a reschedule, when the provider's links depend on the time.
#[derive(Clone, Debug, Default)]
pub struct Rescheduled {
    pub join_url: Option<String>,
    pub host_url: Option<String>,
}

/// One provider tried by `CreateMeeting`, kept with the meeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: ProviderKind,
    pub succeeded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// Boxed: the clients differ a lot in size and live for the whole process.
pub enum Provider {
    Jitsi(Box<jitsi::Jitsi>),
    Google(Box<google::Google>),
    Zoom(Box<zoom::Zoom>),
}

impl Provider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Jitsi(_) => ProviderKind::Jitsi,
            Self::Google(_) => ProviderKind::GoogleMeet,
            Self::Zoom(_) => ProviderKind::Zoom,
        }
    }

    pub async fn create(&self, spec: &MeetingSpec<'_>) -> Result<Created, ProviderError> {
        match self {
            Self::Jitsi(p) => p.create(spec),
            Self::Google(p) => p.create(spec).await,
            Self::Zoom(p) => p.create(spec).await,
        }
    }

    pub async fn reschedule(
        &self,
        external_id: &str,
        data: &serde_json::Value,
        spec: &MeetingSpec<'_>,
    ) -> Result<Rescheduled, ProviderError> {
        match self {
            Self::Jitsi(p) => Ok(p.reschedule(external_id, spec)),
            Self::Google(p) => p.reschedule(external_id, data, spec).await,
            Self::Zoom(p) => p.reschedule(external_id, spec).await,
        }
    }

    pub async fn cancel(
        &self,
        external_id: &str,
        data: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        match self {
            Self::Jitsi(_) => Ok(()),
            Self::Google(p) => p.cancel(external_id, data).await,
            Self::Zoom(p) => p.cancel(external_id).await,
        }
    }
}

/// Every configured provider and the order `CreateMeeting` tries them in.
pub struct Providers {
    order: Vec<ProviderKind>,
    // Every provider with credentials, enabled or not: a meeting made before a settings
    // change can still be moved and cancelled where it lives.
    all: HashMap<ProviderKind, Provider>,
}

impl Providers {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let api = http::ApiClient::new(settings.http.clone())?;
        let mut all = HashMap::new();
        all.insert(
            ProviderKind::Jitsi,
            Provider::Jitsi(Box::new(
                jitsi::Jitsi::new(settings.jitsi.clone()).map_err(anyhow::Error::msg)?,
            )),
        );
        if let Some(g) = &settings.google {
            all.insert(
                ProviderKind::GoogleMeet,
                Provider::Google(Box::new(google::Google::new(g.clone(), api.clone()))),
            );
        }
        if let Some(z) = &settings.zoom {
            all.insert(
                ProviderKind::Zoom,
                Provider::Zoom(Box::new(zoom::Zoom::new(z.clone(), api.clone()))),
            );
        }
        Ok(Self::new(settings.providers.clone(), all))
    }

    pub fn new(
        order: Vec<ProviderKind>,
        providers: impl IntoIterator<Item = (ProviderKind, Provider)>,
    ) -> Self {
        Self {
            order,
            all: providers.into_iter().collect(),
        }
    }

    pub fn get(&self, kind: ProviderKind) -> Option<&Provider> {
        self.all.get(&kind)
    }

    pub fn order(&self) -> &[ProviderKind] {
        &self.order
    }

    /// Tries the preferred provider first, then the configured order, until one creates
    /// the meeting. Every try, failed or not, is in the returned attempts.
    pub async fn create(
        &self,
        preferred: Option<ProviderKind>,
        spec: &MeetingSpec<'_>,
    ) -> (Option<(ProviderKind, Created)>, Vec<Attempt>) {
        let mut candidates: Vec<ProviderKind> = preferred.into_iter().collect();
        for p in &self.order {
            if !candidates.contains(p) {
                candidates.push(*p);
            }
        }
        let mut attempts = Vec::new();
        for kind in candidates {
            let result = match (self.order.contains(&kind), self.all.get(&kind)) {
                (true, Some(p)) => p.create(spec).await,
                _ => Err(ProviderError::NotEnabled(format!(
                    "{kind} is not enabled (MEETING_PROVIDERS)"
                ))),
            };
            match result {
                Ok(created) => {
                    tracing::info!(provider = %kind, meeting = %spec.meeting_id, "meeting created");
                    attempts.push(Attempt {
                        provider: kind,
                        succeeded: true,
                        error: None,
                    });
                    return (Some((kind, created)), attempts);
                }
                Err(e) => {
                    tracing::warn!(provider = %kind, meeting = %spec.meeting_id, error = %e, "provider failed; trying the next");
                    attempts.push(Attempt {
                        provider: kind,
                        succeeded: false,
                        error: Some(e.to_string()),
                    });
                }
            }
        }
        (None, attempts)
    }
}
