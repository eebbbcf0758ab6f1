//! The one way providers talk HTTP: a `reqwest` client with connect and request timeouts,
//! retries with capped exponential backoff and jitter on 429, 5xx and network errors,
//! honouring `Retry-After` (seconds or an HTTP date) up to a limit, and error bodies turned
//! into messages that say what the provider answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::HttpPolicy;
use crate::providers::ProviderError;

#[derive(Clone)]
pub struct ApiClient {
    client: reqwest::Client,
    policy: HttpPolicy,
}

impl ApiClient {
    pub fn new(policy: HttpPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("switchboard-meeting/", env!("CARGO_PKG_VERSION")))
            // Provider APIs never redirect a mutation; following one would resend the body.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client, policy })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `make` builds, again on 429/5xx/network errors, until it gets
    /// another answer or runs out of attempts. Any non-retryable answer (2xx, 4xx) is
    /// returned for the caller to judge.
    pub async fn send(
        &self,
        op: &str,
        make: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let attempts = self.policy.max_attempts.max(1);
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            let delay = match make(&self.client).send().await {
                Ok(resp) if resp.status() == StatusCode::FORBIDDEN => {
                    // Google reports quota exhaustion as 403 `rateLimitExceeded`: a reason
                    // to back off, unlike a real 403.
                    let (parts, body) = http_parts(resp).await;
                    if !is_rate_limit_403(&body) {
                        return Ok(reqwest::Response::from(::http::Response::from_parts(
                            parts, body,
                        )));
                    }
                    last_error = format!("{op}: HTTP 403{}", error_message(&body));
                    self.backoff(attempt)
                }
                Ok(resp) if !retryable(resp.status()) => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let body = error_message(&resp.text().await.unwrap_or_default());
                    last_error = format!("{op}: HTTP {status}{body}");
                    match retry_after {
                        Some(wait) if wait > self.policy.max_retry_after => {
                            return Err(ProviderError::Unavailable(format!(
                                "{last_error}; the provider asks to wait {}s",
                                wait.as_secs()
                            )));
                        }
                        Some(wait) => wait,
                        None => self.backoff(attempt),
                    }
                }
                Err(e) => {
                    last_error = format!("{op}: {}", describe(e));
                    self.backoff(attempt)
                }
            };
            if attempt < attempts {
                tracing::warn!(op, attempt, error = %last_error, delay_ms = delay.as_millis() as u64, "provider request failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
        Err(ProviderError::Unavailable(format!(
            "{last_error} (after {attempts} attempts)"
        )))
    }

    /// `base · 2^(attempt-1)`, capped, then between half and all of it at random so that
    /// replicas retrying together spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base_backoff
            .saturating_mul(1u32 << (attempt - 1).min(16));
        let capped = exp.min(self.policy.max_backoff);
        let half = capped / 2;
        half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis().max(1) as u64))
    }
}

/// The head and body of a response, so it can be looked into and handed on.
async fn http_parts(resp: Response) -> (::http::response::Parts, String) {
    let mut builder = ::http::Response::builder()
        .status(resp.status())
        .version(resp.version());
    if let Some(h) = builder.headers_mut() {
        *h = resp.headers().clone();
    }
    let body = resp.text().await.unwrap_or_default();
    let (parts, ()) = builder.body(()).expect("valid parts").into_parts();
    (parts, body)
}

/// Google's usage-limit reasons (Calendar API errors guide).
fn is_rate_limit_403(body: &str) -> bool {
    [
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "quotaExceeded",
    ]
    .iter()
    .any(|r| body.contains(&format!("\"{r}\"")))
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`.
fn retry_after(resp: &Response) -> Option<Duration> {
    let raw = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    parse_retry_after(raw, Utc::now())
}

pub(crate) fn parse_retry_after(raw: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        // Without the URL: it may carry a token in its query.
        e.without_url().to_string()
    }
}

/// `: <what the provider said>` from the error shapes of Google (`error.message`,
/// `error_description`), Zoom (`message`, `reason`), or the start of a text body.
pub fn error_message(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let pick = [
            v.pointer("/error/message"),
            v.get("error_description"),
            v.get("message"),
            v.get("reason"),
            v.get("error"),
        ]
        .into_iter()
        .flatten()
        .find_map(|m| m.as_str().map(str::to_owned));
        if let Some(m) = pick {
            return format!(": {m}");
        }
    }
    let snippet: String = body.chars().take(200).collect();
    format!(": {snippet}")
}

/// A 2xx body as `T`; any other status as `Rejected` with the provider's message. A 2xx
/// body that is not the documented shape is `Malformed`.
pub async fn json<T: DeserializeOwned>(op: &str, resp: Response) -> Result<T, ProviderError> {
    let status = resp.status();
    let body = resp.text().await.map_err(|e| {
        ProviderError::Unavailable(format!("{op}: reading the answer: {}", describe(e)))
    })?;
    if !status.is_success() {
        return Err(rejected(op, status, &body));
    }
    serde_json::from_str(&body)
        .map_err(|e| ProviderError::Malformed(format!("{op}: unexpected answer: {e}")))
}

/// A 2xx with any body is fine; anything else is `Rejected`.
pub async fn success(op: &str, resp: Response) -> Result<(), ProviderError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    Err(rejected(op, status, &body))
}

pub fn rejected(op: &str, status: StatusCode, body: &str) -> ProviderError {
    let message = format!("{op}: HTTP {status}{}", error_message(body));
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        ProviderError::Auth(message)
    } else {
        ProviderError::Rejected(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0).unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn provider_error_bodies_become_messages() {
        assert_eq!(
            error_message(r#"{"error":{"code":400,"message":"Invalid conference type value."}}"#),
            ": Invalid conference type value."
        );
        assert_eq!(
            error_message(
                r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            ),
            ": Invalid JWT Signature."
        );
        assert_eq!(
            error_message(r#"{"code":1001,"message":"User does not exist: x."}"#),
            ": User does not exist: x."
        );
        assert_eq!(
            error_message(
                r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#
            ),
            ": Invalid client_id or client_secret"
        );
        assert_eq!(
            error_message("<html>Bad gateway</html>"),
            ": <html>Bad gateway</html>"
        );
        assert_eq!(error_message(""), "");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let api = ApiClient::new(HttpPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..HttpPolicy::default()
        })
        .unwrap();
        for _ in 0..20 {
            let d1 = api.backoff(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = api.backoff(3);
            assert!(d3 >= Duration::from_millis(175) && d3 <= Duration::from_millis(350));
            assert!(api.backoff(30) <= Duration::from_millis(350));
        }
    }
}
