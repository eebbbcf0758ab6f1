//! Google Meet through a service account with domain-wide delegation.
//!
//! Auth: an RS256 JWT assertion (`iss` = the key's `client_email`, `scope`, `aud` = the
//! token URI, `iat`, `exp` ≤ `iat` + 3600, `sub` = the impersonated Workspace user) traded
//! at the token URI for a Bearer access token (JWT bearer grant), cached until shortly
//! before `expires_in` and fetched again once when an API call answers 401.
//!
//! Calendar mode (default): `events.insert` on the organizer's calendar with the attendees,
//! `conferenceDataVersion=1` and a `hangoutsMeet` `createRequest`. Conference creation is
//! asynchronous: while `createRequest.status.statusCode` is `pending`, the event is read
//! again with backoff until `success` (the link is the video entry point Google returns) or
//! `failure`, or the service gives up and deletes the event. The event id is derived from
//! the meeting id, so a retried insert whose first answer was lost gets 409 and reads the
//! event it already made instead of making a second one.
//!
//! Spaces mode: Meet REST `spaces.create` (`POST v2/spaces`), a meeting space with no
//! calendar event; nothing at Google changes on reschedule or cancel.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::config::{GoogleMode, GoogleSettings};
use crate::domain::ProviderKind;
use crate::links::LinkValidator;
use crate::providers::http::{self, ApiClient};
use crate::providers::token::TokenCache;
use crate::providers::{Created, MeetingSpec, ProviderError, Rescheduled};

pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
pub const MEET_SCOPE: &str = "https://www.googleapis.com/auth/meetings.space.created";

/// Google caps an assertion's lifetime at one hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// The longest wait between two reads of a pending conference.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(2);

pub struct Google {
    settings: GoogleSettings,
    api: ApiClient,
    tokens: TokenCache,
    key: Result<EncodingKey, String>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    #[serde(default)]
    html_link: Option<String>,
    #[serde(default)]
    hangout_link: Option<String>,
    #[serde(default, rename = "iCalUID")]
    ical_uid: Option<String>,
    #[serde(default)]
    conference_data: Option<ConferenceData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConferenceData {
    #[serde(default)]
    create_request: Option<CreateRequest>,
    #[serde(default)]
    entry_points: Vec<EntryPoint>,
    #[serde(default)]
    conference_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateRequest {
    #[serde(default)]
    status: Option<RequestStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestStatus {
    status_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryPoint {
    entry_point_type: String,
    uri: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Space {
    name: String,
    meeting_uri: String,
    #[serde(default)]
    meeting_code: Option<String>,
}

enum Conference {
    Ready(String),
    Pending,
    Failed(String),
}

impl Event {
    fn conference(&self) -> Conference {
        let Some(data) = &self.conference_data else {
            return Conference::Failed("Google returned the event without conference data".into());
        };
        let status = data
            .create_request
            .as_ref()
            .and_then(|r| r.status.as_ref())
            .map(|s| s.status_code.as_str());
        let video = data
            .entry_points
            .iter()
            .find(|e| e.entry_point_type == "video")
            .map(|e| e.uri.clone())
            .or_else(|| self.hangout_link.clone());
        match (status, video) {
            (Some("pending"), _) => Conference::Pending,
            (Some("failure"), _) => {
                Conference::Failed("Google could not create the Meet conference".into())
            }
            (Some("success") | None, Some(link)) => Conference::Ready(link),
            (Some("success") | None, None) => Conference::Failed(
                "Google reported the conference without a video entry point".into(),
            ),
            (Some(other), _) => Conference::Failed(format!("unknown conference status {other:?}")),
        }
    }
}

fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The link must be a Meet link by shape; it is used exactly as Google returned it.
fn checked_link(link: String) -> Result<String, ProviderError> {
    match LinkValidator::new(Vec::new()).validate(&link) {
        Ok(v) if v.provider == ProviderKind::GoogleMeet => Ok(link),
        _ => Err(ProviderError::Malformed(format!(
            "Google returned {link:?}, which is not a Meet link"
        ))),
    }
}

impl Google {
    pub fn new(settings: GoogleSettings, api: ApiClient) -> Self {
        let key = EncodingKey::from_rsa_pem(settings.key.private_key.expose_secret().as_bytes())
            .map_err(|e| format!("the service-account private_key is unusable: {e}"));
        Self {
            settings,
            api,
            tokens: TokenCache::new(),
            key,
        }
    }

    fn scope(&self) -> &'static str {
        match self.settings.mode {
            GoogleMode::Calendar => CALENDAR_SCOPE,
            GoogleMode::Spaces => MEET_SCOPE,
        }
    }

    /// The signed JWT assertion of the bearer grant.
    fn assertion(&self) -> Result<String, ProviderError> {
        let key = self
            .key
            .as_ref()
            .map_err(|e| ProviderError::Auth(e.clone()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.settings.key.private_key_id.clone();
        let iat = Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.settings.key.client_email,
            "scope": self.scope(),
            "aud": self.settings.token_uri,
            "iat": iat,
            "exp": iat + ASSERTION_LIFETIME_SECS,
        });
        if let Some(sub) = &self.settings.subject {
            claims["sub"] = json!(sub);
        }
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| ProviderError::Auth(format!("signing the Google assertion: {e}")))
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), ProviderError> {
        let assertion = self.assertion()?;
        let op = "google token";
        let resp = self
            .api
            .send(op, |c| {
                c.post(&self.settings.token_uri).form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ])
            })
            .await?;
        let status = resp.status();
        let body: Result<TokenResponse, ProviderError> = http::json(op, resp).await;
        let token = match body {
            Ok(t) if !t.access_token.is_empty() => t,
            Ok(_) => {
                return Err(ProviderError::Malformed(format!(
                    "{op}: empty access_token"
                )));
            }
            Err(ProviderError::Rejected(m)) if status.is_client_error() => {
                return Err(ProviderError::Auth(m));
            }
            Err(e) => return Err(e),
        };
        Ok((
            SecretString::from(token.access_token),
            Duration::from_secs(token.expires_in.unwrap_or(3600)),
        ))
    }

    async fn access_token(&self) -> Result<SecretString, ProviderError> {
        self.tokens.get(|| self.fetch_token()).await
    }

    /// An API call with the Bearer token; on 401 the token is dropped and the call made
    /// once more with a fresh one.
    async fn call(
        &self,
        op: &str,
        make: impl Fn(&reqwest::Client, &str) -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let token = self.access_token().await?;
        let resp = self
            .api
            .send(op, |c| make(c, token.expose_secret()))
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        tracing::info!(op, "Google refused the access token; fetching a new one");
        self.tokens.invalidate(&token).await;
        let token = self.access_token().await?;
        self.api.send(op, |c| make(c, token.expose_secret())).await
    }

    fn events_url(&self, calendar_id: &str) -> String {
        format!(
            "{}/calendars/{}/events",
            self.settings.calendar_base,
            path_segment(calendar_id)
        )
    }

    pub async fn create(&self, spec: &MeetingSpec<'_>) -> Result<Created, ProviderError> {
        match self.settings.mode {
            GoogleMode::Calendar => self.create_event(spec).await,
            GoogleMode::Spaces => self.create_space().await,
        }
    }

    async fn create_event(&self, spec: &MeetingSpec<'_>) -> Result<Created, ProviderError> {
        let calendar_id = self.settings.calendar_id.clone();
        let event_id = spec.meeting_id.simple().to_string();
        let mut body = json!({
            "id": event_id,
            "summary": spec.title,
            "start": event_time(spec.start, spec.time_zone),
            "end": event_time(spec.end(), spec.time_zone),
            "attendees": spec.attendees.iter().map(|a| {
                let mut v = json!({ "email": a.email });
                if let Some(n) = &a.name { v["displayName"] = json!(n); }
                v
            }).collect::<Vec<_>>(),
            "guestsCanModify": false,
            "conferenceData": {
                "createRequest": {
                    "requestId": spec.meeting_id.to_string(),
                    "conferenceSolutionKey": { "type": "hangoutsMeet" },
                },
            },
        });
        if let Some(d) = spec.description {
            body["description"] = json!(d);
        }
        let url = self.events_url(&calendar_id);
        let op = "google calendar events.insert";
        let resp = self
            .call(op, |c, token| {
                c.post(&url)
                    .query(&[("conferenceDataVersion", "1"), ("sendUpdates", "none")])
                    .bearer_auth(token)
                    .json(&body)
            })
            .await?;
        let mut event: Event = if resp.status() == StatusCode::CONFLICT {
            // Our own earlier try made it and its answer was lost.
            tracing::info!(event = %event_id, "event exists already; reading it");
            self.get_event(&calendar_id, &event_id).await?
        } else {
            http::json(op, resp).await?
        };
        let mut wait = self.settings.poll_interval;
        let mut polls = 0;
        let link = loop {
            match event.conference() {
                Conference::Ready(link) => break link,
                Conference::Failed(why) => {
                    self.delete_quietly(&calendar_id, &event.id).await;
                    return Err(ProviderError::Rejected(why));
                }
                Conference::Pending if polls >= self.settings.poll_attempts => {
                    self.delete_quietly(&calendar_id, &event.id).await;
                    return Err(ProviderError::Unavailable(format!(
                        "the Meet conference was still pending after {polls} checks"
                    )));
                }
                Conference::Pending => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_POLL_INTERVAL);
                    polls += 1;
                    event = self.get_event(&calendar_id, &event.id).await?;
                }
            }
        };
        let join_url = match checked_link(link) {
            Ok(l) => l,
            Err(e) => {
                self.delete_quietly(&calendar_id, &event.id).await;
                return Err(e);
            }
        };
        Ok(Created {
            join_url,
            host_url: None,
            data: json!({
                "mode": "calendar",
                "calendarId": calendar_id,
                "htmlLink": event.html_link,
                "conferenceId": event.conference_data.as_ref().and_then(|d| d.conference_id.clone()),
            }),
            ics_uid: event.ical_uid,
            external_id: event.id,
        })
    }

    async fn get_event(&self, calendar_id: &str, event_id: &str) -> Result<Event, ProviderError> {
        let url = format!(
            "{}/{}",
            self.events_url(calendar_id),
            path_segment(event_id)
        );
        let op = "google calendar events.get";
        let resp = self
            .call(op, |c, token| c.get(&url).bearer_auth(token))
            .await?;
        http::json(op, resp).await
    }

    async fn delete_quietly(&self, calendar_id: &str, event_id: &str) {
        if let Err(e) = self.delete_event(calendar_id, event_id).await {
            tracing::warn!(event = event_id, error = %e, "could not delete the unusable event");
        }
    }

    async fn delete_event(&self, calendar_id: &str, event_id: &str) -> Result<(), ProviderError> {
        let url = format!(
            "{}/{}",
            self.events_url(calendar_id),
            path_segment(event_id)
        );
        let op = "google calendar events.delete";
        let resp = self
            .call(op, |c, token| {
                c.delete(&url)
                    .query(&[("sendUpdates", "none")])
                    .bearer_auth(token)
            })
            .await?;
        // Already deleted (410) or never there (404): the goal is reached.
        if matches!(resp.status(), StatusCode::GONE | StatusCode::NOT_FOUND) {
            return Ok(());
        }
        http::success(op, resp).await
    }

    async fn create_space(&self) -> Result<Created, ProviderError> {
        let url = format!("{}/v2/spaces", self.settings.meet_base);
        let body = match &self.settings.space_access_type {
            Some(access) => json!({ "config": { "accessType": access } }),
            None => json!({}),
        };
        let op = "google meet spaces.create";
        let resp = self
            .call(op, |c, token| c.post(&url).bearer_auth(token).json(&body))
            .await?;
        let space: Space = http::json(op, resp).await?;
        Ok(Created {
            join_url: checked_link(space.meeting_uri)?,
            host_url: None,
            data: json!({ "mode": "spaces", "meetingCode": space.meeting_code }),
            external_id: space.name,
            ics_uid: None,
        })
    }

    pub async fn reschedule(
        &self,
        event_id: &str,
        data: &serde_json::Value,
        spec: &MeetingSpec<'_>,
    ) -> Result<Rescheduled, ProviderError> {
        if data["mode"] == "spaces" {
            return Ok(Rescheduled::default());
        }
        let calendar_id = data["calendarId"]
            .as_str()
            .unwrap_or(&self.settings.calendar_id)
            .to_owned();
        let url = format!(
            "{}/{}",
            self.events_url(&calendar_id),
            path_segment(event_id)
        );
        let body = json!({
            "summary": spec.title,
            "start": event_time(spec.start, spec.time_zone),
            "end": event_time(spec.end(), spec.time_zone),
        });
        let op = "google calendar events.patch";
        let resp = self
            .call(op, |c, token| {
                c.patch(&url)
                    .query(&[("conferenceDataVersion", "1"), ("sendUpdates", "none")])
                    .bearer_auth(token)
                    .json(&body)
            })
            .await?;
        let _: Event = http::json(op, resp).await?;
        Ok(Rescheduled::default())
    }

    pub async fn cancel(
        &self,
        event_id: &str,
        data: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        if data["mode"] == "spaces" {
            // A space has no schedule to cancel; the invitation's CANCEL does the telling.
            return Ok(());
        }
        let calendar_id = data["calendarId"]
            .as_str()
            .unwrap_or(&self.settings.calendar_id)
            .to_owned();
        self.delete_event(&calendar_id, event_id).await
    }
}

fn event_time(t: chrono::DateTime<Utc>, tz: Option<&str>) -> serde_json::Value {
    let mut v = json!({ "dateTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) });
    if let Some(tz) = tz {
        v["timeZone"] = json!(tz);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(v: serde_json::Value) -> Event {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn conference_states_from_the_documented_event_shapes() {
        let pending = event(json!({"id":"e1","conferenceData":{"createRequest":{
            "requestId":"r","conferenceSolutionKey":{"type":"hangoutsMeet"},
            "status":{"statusCode":"pending"}}}}));
        assert!(matches!(pending.conference(), Conference::Pending));
        let ok = event(
            json!({"id":"e1","hangoutLink":"https://meet.google.com/abc-mnop-xyz",
            "conferenceData":{"createRequest":{"status":{"statusCode":"success"}},
            "entryPoints":[{"entryPointType":"more","uri":"https://tel.meet/abc-mnop-xyz?pin=1"},
                           {"entryPointType":"video","uri":"https://meet.google.com/abc-mnop-xyz"}]}}),
        );
        assert!(
            matches!(ok.conference(), Conference::Ready(l) if l == "https://meet.google.com/abc-mnop-xyz")
        );
        let failed = event(
            json!({"id":"e1","conferenceData":{"createRequest":{"status":{"statusCode":"failure"}}}}),
        );
        assert!(matches!(failed.conference(), Conference::Failed(_)));
        let ignored =
            event(json!({"id":"e1","htmlLink":"https://www.google.com/calendar/event?eid=x"}));
        assert!(matches!(ignored.conference(), Conference::Failed(_)));
    }

    #[test]
    fn only_meet_links_are_taken() {
        assert!(checked_link("https://meet.google.com/abc-mnop-xyz".into()).is_ok());
        assert!(checked_link("https://meet.google.com.evil.com/abc-mnop-xyz".into()).is_err());
        assert!(checked_link("javascript:alert(1)".into()).is_err());
    }
}
