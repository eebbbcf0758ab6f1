//! Zoom through a Server-to-Server OAuth app.
//!
//! Auth: `POST {oauth}/oauth/token?grant_type=account_credentials&account_id=…` with HTTP
//! Basic `client_id:client_secret`; the token (about an hour, no refresh token) is cached
//! until shortly before `expires_in` and fetched again once when the API answers 401.
//!
//! Meetings: `POST /users/{userId}/meetings` makes a scheduled meeting (`type: 2`) with its
//! start time (UTC, `yyyy-MM-ddTHH:mm:ssZ`), duration, time zone and a waiting room;
//! `PATCH /meetings/{id}` moves it; `DELETE /meetings/{id}` cancels it (404 counts as done).

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::config::ZoomSettings;
use crate::domain::ProviderKind;
use crate::links::LinkValidator;
use crate::providers::http::{self, ApiClient};
use crate::providers::token::TokenCache;
use crate::providers::{Created, MeetingSpec, ProviderError, Rescheduled};

/// Zoom's limits on the topic and agenda.
const MAX_TOPIC: usize = 200;
const MAX_AGENDA: usize = 2000;

pub struct Zoom {
    settings: ZoomSettings,
    api: ApiClient,
    tokens: TokenCache,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct MeetingResponse {
    id: i64,
    join_url: String,
    #[serde(default)]
    start_url: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl Zoom {
    pub fn new(settings: ZoomSettings, api: ApiClient) -> Self {
        Self {
            settings,
            api,
            tokens: TokenCache::new(),
        }
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), ProviderError> {
        let url = format!("{}/oauth/token", self.settings.oauth_base);
        let op = "zoom token";
        let resp = self
            .api
            .send(op, |c| {
                c.post(&url)
                    .query(&[
                        ("grant_type", "account_credentials"),
                        ("account_id", self.settings.account_id.as_str()),
                    ])
                    .basic_auth(
                        &self.settings.client_id,
                        Some(self.settings.client_secret.expose_secret()),
                    )
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
            })
            .await?;
        let status = resp.status();
        let token: TokenResponse = match http::json(op, resp).await {
            Ok(t) => t,
            Err(ProviderError::Rejected(m)) if status.is_client_error() => {
                return Err(ProviderError::Auth(m));
            }
            Err(e) => return Err(e),
        };
        if token.access_token.is_empty() {
            return Err(ProviderError::Malformed(format!(
                "{op}: empty access_token"
            )));
        }
        Ok((
            SecretString::from(token.access_token),
            Duration::from_secs(token.expires_in.unwrap_or(3600)),
        ))
    }

    async fn call(
        &self,
        op: &str,
        make: impl Fn(&reqwest::Client, &str) -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let token = self.tokens.get(|| self.fetch_token()).await?;
        let resp = self
            .api
            .send(op, |c| make(c, token.expose_secret()))
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        tracing::info!(op, "Zoom refused the access token; fetching a new one");
        self.tokens.invalidate(&token).await;
        let token = self.tokens.get(|| self.fetch_token()).await?;
        self.api.send(op, |c| make(c, token.expose_secret())).await
    }

    fn schedule_body(&self, spec: &MeetingSpec<'_>) -> serde_json::Value {
        json!({
            "topic": truncate(spec.title, MAX_TOPIC),
            "start_time": spec.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "duration": spec.duration_minutes,
            "timezone": spec.time_zone.unwrap_or("UTC"),
        })
    }

    pub async fn create(&self, spec: &MeetingSpec<'_>) -> Result<Created, ProviderError> {
        let url = format!(
            "{}/users/{}/meetings",
            self.settings.api_base,
            percent_encoding::utf8_percent_encode(
                &self.settings.user_id,
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let mut body = self.schedule_body(spec);
        body["type"] = json!(2);
        body["agenda"] = json!(truncate(spec.description.unwrap_or_default(), MAX_AGENDA));
        body["settings"] = json!({
            "waiting_room": self.settings.waiting_room,
            "join_before_host": false,
            "mute_upon_entry": true,
            "host_video": true,
            "participant_video": true,
            "approval_type": 2,
        });
        let op = "zoom create meeting";
        let resp = self
            .call(op, |c, token| c.post(&url).bearer_auth(token).json(&body))
            .await?;
        let meeting: MeetingResponse = http::json(op, resp).await?;
        match LinkValidator::new(Vec::new()).validate(&meeting.join_url) {
            Ok(v) if v.provider == ProviderKind::Zoom => {}
            _ => {
                return Err(ProviderError::Malformed(format!(
                    "Zoom returned {:?}, which is not a Zoom join link",
                    meeting.join_url
                )));
            }
        }
        Ok(Created {
            join_url: meeting.join_url,
            host_url: meeting.start_url,
            external_id: meeting.id.to_string(),
            data: json!({ "uuid": meeting.uuid, "hasPasscode": meeting.password.is_some() }),
            ics_uid: None,
        })
    }

    pub async fn reschedule(
        &self,
        meeting_id: &str,
        spec: &MeetingSpec<'_>,
    ) -> Result<Rescheduled, ProviderError> {
        let url = format!(
            "{}/meetings/{}",
            self.settings.api_base,
            path_id(meeting_id)?
        );
        let body = self.schedule_body(spec);
        let op = "zoom update meeting";
        let resp = self
            .call(op, |c, token| c.patch(&url).bearer_auth(token).json(&body))
            .await?;
        http::success(op, resp).await?;
        Ok(Rescheduled::default())
    }

    pub async fn cancel(&self, meeting_id: &str) -> Result<(), ProviderError> {
        let url = format!(
            "{}/meetings/{}",
            self.settings.api_base,
            path_id(meeting_id)?
        );
        let op = "zoom delete meeting";
        let resp = self
            .call(op, |c, token| {
                c.delete(&url)
                    .query(&[("schedule_for_reminder", "false")])
                    .bearer_auth(token)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        http::success(op, resp).await
    }
}

/// Zoom meeting ids are integers; anything else never reaches a URL path.
fn path_id(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(ProviderError::Rejected(format!(
            "{id:?} is not a Zoom meeting id"
        )))
    }
}
