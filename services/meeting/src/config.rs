//! The meeting service's settings: compiled-in defaults, overridden by environment
//! variables, checked once at start (a provider named in `MEETING_PROVIDERS` must have its
//! credentials).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use switchboard_common::config::{self, ConfigError};
use url::Url;

use crate::domain::{Person, ProviderKind};

#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `MEETING_DB_MAX_CONNECTIONS`.
    pub db_max_connections: u32,
    /// `MEETING_GRPC_ADDR`: MeetingService, health and reflection.
    pub grpc_addr: SocketAddr,
    /// `MEETING_HTTP_ADDR`: `/healthz`, `/readyz`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `MEETING_RUN_MIGRATIONS`: apply pending migrations at start.
    pub run_migrations: bool,
    /// `SHUTDOWN_DRAIN_MS`: how long in-flight calls may take to finish on shutdown.
    pub drain_timeout: Duration,
    /// `MEETING_PROVIDERS`: the providers tried, in order (comma list).
    pub providers: Vec<ProviderKind>,
    /// `MAIL_FROM`: the organizer of every invitation (`Name <mailbox>` or a bare address).
    pub organizer: Person,
    /// `ICS_UID_DOMAIN`: the right-hand side of every ICS `UID`; defaults to `MAIL_FROM`'s domain.
    pub uid_domain: String,
    /// `APP_URL`: linked from meeting descriptions when set.
    pub app_url: Option<String>,
    pub http: HttpPolicy,
    pub jitsi: JitsiSettings,
    /// Present when a service-account key is configured.
    pub google: Option<GoogleSettings>,
    /// Present when Server-to-Server OAuth credentials are configured.
    pub zoom: Option<ZoomSettings>,
}

/// How every provider request is made: timeouts and retries.
#[derive(Clone, Debug)]
pub struct HttpPolicy {
    /// `PROVIDER_TIMEOUT_MS`: one request, connect to last byte.
    pub timeout: Duration,
    /// `PROVIDER_CONNECT_TIMEOUT_MS`.
    pub connect_timeout: Duration,
    /// `PROVIDER_MAX_ATTEMPTS`: tries of one request on 429/5xx/network errors.
    pub max_attempts: u32,
    /// `PROVIDER_BACKOFF_MS`: the first retry's delay; doubled each time, with jitter.
    pub base_backoff: Duration,
    /// `PROVIDER_MAX_BACKOFF_MS`: the longest delay between tries.
    pub max_backoff: Duration,
    /// `PROVIDER_MAX_RETRY_AFTER_MS`: a `Retry-After` longer than this fails over instead
    /// of waiting.
    pub max_retry_after: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_attempts: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub struct JitsiSettings {
    /// `JITSI_BASE_URL`: `https://meet.jit.si`, `https://8x8.vc` or a self-hosted
    /// instance, optionally with a tenant path.
    pub base_url: Url,
    /// `JITSI_ROOM_PREFIX`: readable start of every room name.
    pub room_prefix: String,
    pub jwt: JitsiJwt,
    /// `JITSI_DOMAINS`: the hosts whose links `ValidateMeetingLink` accepts as Jitsi, on top
    /// of `JITSI_BASE_URL`'s host, `meet.jit.si` and `8x8.vc`.
    pub domains: Vec<String>,
    /// `JITSI_TOKEN_GRACE_MINUTES`: how long after the meeting's end a token still works.
    pub token_grace: Duration,
}

/// Tokens in Jitsi links (`JITSI_JWT`).
#[derive(Clone, Debug)]
pub enum JitsiJwt {
    /// `none`: plain links (meet.jit.si, open self-hosted instances).
    None,
    /// `hs256`: a self-hosted instance with Prosody token auth (`jitsi-meet-tokens`).
    SelfHosted {
        /// `JITSI_APP_ID`: the `iss`.
        app_id: String,
        /// `JITSI_APP_SECRET`: Prosody's `app_secret`.
        secret: SecretString,
        /// `JITSI_JWT_AUDIENCE` (default `jitsi`).
        audience: String,
        /// `JITSI_JWT_SUBJECT`: the tenant or domain (default: the base URL's host, or its
        /// tenant when it has one).
        subject: String,
    },
    /// `jaas`: 8x8 Jitsi as a Service.
    Jaas {
        /// `JITSI_JAAS_APP_ID`: `vpaas-magic-cookie-…`, the `sub` and the URL's tenant.
        app_id: String,
        /// `JITSI_JAAS_KEY_ID`: the `kid`, `vpaas-magic-cookie-…/<key id>`.
        key_id: String,
        /// `JITSI_JAAS_PRIVATE_KEY_FILE`: the uploaded key's private half (PEM).
        private_key: SecretString,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoogleMode {
    /// Calendar API `events.insert` with a `hangoutsMeet` conference: a scheduled event
    /// on the organizer's calendar with the attendees.
    Calendar,
    /// Meet REST API `spaces.create`: a meeting space without a calendar event.
    Spaces,
}

#[derive(Clone, Debug)]
pub struct GoogleSettings {
    /// `GOOGLE_SERVICE_ACCOUNT_FILE` or `GOOGLE_SERVICE_ACCOUNT_JSON`.
    pub key: ServiceAccountKey,
    /// `GOOGLE_TOKEN_URI`, else the key's `token_uri`, else Google's.
    pub token_uri: String,
    /// `GOOGLE_CALENDAR_BASE`.
    pub calendar_base: String,
    /// `GOOGLE_MEET_BASE`.
    pub meet_base: String,
    /// `GOOGLE_CALENDAR_ID`: `primary` is the impersonated user's own calendar.
    pub calendar_id: String,
    /// `GOOGLE_SUBJECT`: the Workspace user impersonated through domain-wide delegation;
    /// defaults to `MAIL_FROM`'s address. Without one Google refuses Meet conferences.
    pub subject: Option<String>,
    /// `GOOGLE_MEET_MODE`: `calendar` (default) or `spaces`.
    pub mode: GoogleMode,
    /// `GOOGLE_CONFERENCE_POLL_ATTEMPTS`: reads of a `pending` conference before giving up.
    pub poll_attempts: u32,
    /// `GOOGLE_CONFERENCE_POLL_MS`: the first wait between reads; doubled up to 2 s.
    pub poll_interval: Duration,
    /// `GOOGLE_MEET_ACCESS_TYPE`: `OPEN`, `TRUSTED` or `RESTRICTED` for spaces; unset
    /// leaves the domain's default.
    pub space_access_type: Option<String>,
}

/// The fields of a service-account key file that the JWT bearer grant uses.
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: SecretString,
    pub private_key_id: Option<String>,
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    pub fn from_json(raw: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "type")]
            kind: Option<String>,
            client_email: Option<String>,
            private_key: Option<String>,
            private_key_id: Option<String>,
            token_uri: Option<String>,
        }
        let file: File = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
        if let Some(kind) = file.kind.filter(|k| k != "service_account") {
            return Err(format!("type is {kind:?}, not \"service_account\""));
        }
        match (file.client_email, file.private_key) {
            (Some(client_email), Some(private_key)) => Ok(Self {
                client_email,
                private_key: SecretString::from(private_key),
                private_key_id: file.private_key_id,
                token_uri: file.token_uri,
            }),
            _ => Err("a service-account key needs client_email and private_key".into()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ZoomSettings {
    /// `ZOOM_ACCOUNT_ID`.
    pub account_id: String,
    /// `ZOOM_CLIENT_ID`.
    pub client_id: String,
    /// `ZOOM_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// `ZOOM_OAUTH_BASE`: where `/oauth/token` lives.
    pub oauth_base: String,
    /// `ZOOM_API_BASE`.
    pub api_base: String,
    /// `ZOOM_USER_ID`: the host (user id or e-mail); `me` is the account owner.
    pub user_id: String,
    /// `ZOOM_WAITING_ROOM`.
    pub waiting_room: bool,
}

pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_CALENDAR_BASE: &str = "https://www.googleapis.com/calendar/v3";
pub const GOOGLE_MEET_BASE: &str = "https://meet.googleapis.com";
pub const ZOOM_OAUTH_BASE: &str = "https://zoom.us";
pub const ZOOM_API_BASE: &str = "https://api.zoom.us/v2";
pub const JITSI_BASE_URL: &str = "https://meet.jit.si";

impl Default for Settings {
    fn default() -> Self {
        let organizer = Person::parse("switchboard@localhost", Some("Switchboard"))
            .expect("valid default organizer");
        Self {
            database_url: config::DEFAULT_DATABASE_URL.into(),
            db_max_connections: 8,
            grpc_addr: "127.0.0.1:50053".parse().expect("valid address"),
            http_addr: "127.0.0.1:9103".parse().expect("valid address"),
            run_migrations: true,
            drain_timeout: Duration::from_secs(10),
            providers: vec![ProviderKind::Jitsi],
            uid_domain: "localhost".into(),
            organizer,
            app_url: None,
            http: HttpPolicy::default(),
            jitsi: JitsiSettings::default(),
            google: None,
            zoom: None,
        }
    }
}

impl Default for JitsiSettings {
    fn default() -> Self {
        Self {
            base_url: Url::parse(JITSI_BASE_URL).expect("valid URL"),
            room_prefix: "switchboard-".into(),
            jwt: JitsiJwt::None,
            domains: Vec::new(),
            token_grace: Duration::from_secs(2 * 3600),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        let organizer = match config::var("MAIL_FROM") {
            None => d.organizer,
            Some(raw) => {
                Person::parse_mailbox(&raw).map_err(|e| ConfigError::new("MAIL_FROM", e))?
            }
        };
        let uid_domain = config::var("ICS_UID_DOMAIN").unwrap_or_else(|| {
            organizer
                .email
                .rsplit_once('@')
                .map(|(_, domain)| domain.to_owned())
                .unwrap_or(d.uid_domain)
        });
        let providers = parse_providers(&config::list("MEETING_PROVIDERS"))?.unwrap_or(d.providers);
        let http = HttpPolicy {
            timeout: config::millis_or("PROVIDER_TIMEOUT_MS", d.http.timeout)?,
            connect_timeout: config::millis_or(
                "PROVIDER_CONNECT_TIMEOUT_MS",
                d.http.connect_timeout,
            )?,
            max_attempts: config::parse_or("PROVIDER_MAX_ATTEMPTS", d.http.max_attempts)?,
            base_backoff: config::millis_or("PROVIDER_BACKOFF_MS", d.http.base_backoff)?,
            max_backoff: config::millis_or("PROVIDER_MAX_BACKOFF_MS", d.http.max_backoff)?,
            max_retry_after: config::millis_or(
                "PROVIDER_MAX_RETRY_AFTER_MS",
                d.http.max_retry_after,
            )?,
        };
        if http.max_attempts == 0 {
            return Err(ConfigError::new(
                "PROVIDER_MAX_ATTEMPTS",
                "must be at least 1",
            ));
        }
        let s = Self {
            database_url: config::var("DATABASE_URL").unwrap_or(d.database_url),
            db_max_connections: config::parse_or(
                "MEETING_DB_MAX_CONNECTIONS",
                d.db_max_connections,
            )?,
            grpc_addr: config::parse_or("MEETING_GRPC_ADDR", d.grpc_addr)?,
            http_addr: config::parse_or("MEETING_HTTP_ADDR", d.http_addr)?,
            run_migrations: config::parse_or("MEETING_RUN_MIGRATIONS", d.run_migrations)?,
            drain_timeout: config::millis_or("SHUTDOWN_DRAIN_MS", d.drain_timeout)?,
            jitsi: jitsi_from_env()?,
            google: google_from_env(&organizer)?,
            zoom: zoom_from_env()?,
            providers,
            organizer,
            uid_domain,
            app_url: config::var("APP_URL").map(|u| u.trim_end_matches('/').to_owned()),
            http,
        };
        s.validate()?;
        Ok(s)
    }

    /// Every provider in the order has what it needs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.providers.is_empty() {
            return Err(ConfigError::new("MEETING_PROVIDERS", "names no provider"));
        }
        for p in &self.providers {
            match p {
                ProviderKind::GoogleMeet if self.google.is_none() => {
                    return Err(ConfigError::new(
                        "MEETING_PROVIDERS",
                        "google_meet needs GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON",
                    ));
                }
                ProviderKind::Zoom if self.zoom.is_none() => {
                    return Err(ConfigError::new(
                        "MEETING_PROVIDERS",
                        "zoom needs ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse_providers(names: &[String]) -> Result<Option<Vec<ProviderKind>>, ConfigError> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut order = Vec::new();
    for name in names {
        let p = ProviderKind::parse(name).ok_or_else(|| {
            ConfigError::new(
                "MEETING_PROVIDERS",
                format!("unknown provider {name:?} (jitsi, google_meet, zoom)"),
            )
        })?;
        if !order.contains(&p) {
            order.push(p);
        }
    }
    Ok(Some(order))
}

/// A base URL without its trailing slash, checked to be http(s).
fn base_url(name: &str, default: &str) -> Result<String, ConfigError> {
    let raw = config::var(name).unwrap_or_else(|| default.to_owned());
    let url =
        Url::parse(raw.trim()).map_err(|e| ConfigError::new(name, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(name, "must be an http(s) URL"));
    }
    Ok(raw.trim().trim_end_matches('/').to_owned())
}

fn required(name: &str) -> Result<String, ConfigError> {
    config::var(name).ok_or_else(|| ConfigError::new(name, "is required"))
}

fn jitsi_from_env() -> Result<JitsiSettings, ConfigError> {
    let d = JitsiSettings::default();
    let base_url = Url::parse(&base_url("JITSI_BASE_URL", JITSI_BASE_URL)?)
        .map_err(|e| ConfigError::new("JITSI_BASE_URL", e.to_string()))?;
    let host = base_url.host_str().unwrap_or_default().to_owned();
    let tenant = base_url
        .path_segments()
        .and_then(|mut s| s.next().map(str::to_owned))
        .filter(|s| !s.is_empty());
    let jwt = match config::var("JITSI_JWT")
        .unwrap_or_else(|| "none".into())
        .to_ascii_lowercase()
        .as_str()
    {
        "none" => JitsiJwt::None,
        "hs256" => JitsiJwt::SelfHosted {
            app_id: required("JITSI_APP_ID")?,
            secret: SecretString::from(required("JITSI_APP_SECRET")?),
            audience: config::var("JITSI_JWT_AUDIENCE").unwrap_or_else(|| "jitsi".into()),
            subject: config::var("JITSI_JWT_SUBJECT")
                .unwrap_or_else(|| tenant.clone().unwrap_or_else(|| host.clone())),
        },
        "jaas" => {
            let path = required("JITSI_JAAS_PRIVATE_KEY_FILE")?;
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new("JITSI_JAAS_PRIVATE_KEY_FILE", format!("{path}: {e}"))
            })?;
            jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                ConfigError::new(
                    "JITSI_JAAS_PRIVATE_KEY_FILE",
                    format!("not an RSA key: {e}"),
                )
            })?;
            JitsiJwt::Jaas {
                app_id: required("JITSI_JAAS_APP_ID")?,
                key_id: required("JITSI_JAAS_KEY_ID")?,
                private_key: SecretString::from(pem),
            }
        }
        other => {
            return Err(ConfigError::new(
                "JITSI_JWT",
                format!("unknown mode {other:?} (none, hs256, jaas)"),
            ));
        }
    };
    let room_prefix = config::var("JITSI_ROOM_PREFIX").unwrap_or(d.room_prefix);
    if !room_prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || room_prefix.len() > 24
    {
        return Err(ConfigError::new(
            "JITSI_ROOM_PREFIX",
            "at most 24 characters of a-z, 0-9 and '-'",
        ));
    }
    Ok(JitsiSettings {
        base_url,
        room_prefix,
        jwt,
        domains: config::list("JITSI_DOMAINS")
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect(),
        token_grace: Duration::from_secs(
            60 * config::parse_or::<u64>(
                "JITSI_TOKEN_GRACE_MINUTES",
                d.token_grace.as_secs() / 60,
            )?,
        ),
    })
}

fn google_from_env(organizer: &Person) -> Result<Option<GoogleSettings>, ConfigError> {
    let (name, raw) = match (
        config::var("GOOGLE_SERVICE_ACCOUNT_JSON"),
        config::var("GOOGLE_SERVICE_ACCOUNT_FILE"),
    ) {
        (Some(json), _) => ("GOOGLE_SERVICE_ACCOUNT_JSON", json),
        (None, Some(path)) => (
            "GOOGLE_SERVICE_ACCOUNT_FILE",
            std::fs::read_to_string(Path::new(&path)).map_err(|e| {
                ConfigError::new("GOOGLE_SERVICE_ACCOUNT_FILE", format!("{path}: {e}"))
            })?,
        ),
        (None, None) => return Ok(None),
    };
    let key = ServiceAccountKey::from_json(&raw).map_err(|e| ConfigError::new(name, e))?;
    {
        use secrecy::ExposeSecret as _;
        jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|e| ConfigError::new(name, format!("private_key is not an RSA key: {e}")))?;
    }
    let token_uri = match config::var("GOOGLE_TOKEN_URI") {
        Some(_) => base_url("GOOGLE_TOKEN_URI", GOOGLE_TOKEN_URI)?,
        None => key
            .token_uri
            .clone()
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
    };
    let mode = match config::var("GOOGLE_MEET_MODE")
        .unwrap_or_else(|| "calendar".into())
        .to_ascii_lowercase()
        .as_str()
    {
        "calendar" => GoogleMode::Calendar,
        "spaces" => GoogleMode::Spaces,
        other => {
            return Err(ConfigError::new(
                "GOOGLE_MEET_MODE",
                format!("unknown mode {other:?} (calendar, spaces)"),
            ));
        }
    };
    let space_access_type = config::var("GOOGLE_MEET_ACCESS_TYPE").map(|a| a.to_ascii_uppercase());
    if let Some(a) = &space_access_type
        && !matches!(a.as_str(), "OPEN" | "TRUSTED" | "RESTRICTED")
    {
        return Err(ConfigError::new(
            "GOOGLE_MEET_ACCESS_TYPE",
            "OPEN, TRUSTED or RESTRICTED",
        ));
    }
    Ok(Some(GoogleSettings {
        key,
        token_uri,
        calendar_base: base_url("GOOGLE_CALENDAR_BASE", GOOGLE_CALENDAR_BASE)?,
        meet_base: base_url("GOOGLE_MEET_BASE", GOOGLE_MEET_BASE)?,
        calendar_id: config::var("GOOGLE_CALENDAR_ID").unwrap_or_else(|| "primary".into()),
        subject: Some(config::var("GOOGLE_SUBJECT").unwrap_or_else(|| organizer.email.clone())),
        mode,
        poll_attempts: config::parse_or("GOOGLE_CONFERENCE_POLL_ATTEMPTS", 8)?,
        poll_interval: config::millis_or("GOOGLE_CONFERENCE_POLL_MS", Duration::from_millis(250))?,
        space_access_type,
    }))
}

fn zoom_from_env() -> Result<Option<ZoomSettings>, ConfigError> {
    let (account, client, secret) = (
        config::var("ZOOM_ACCOUNT_ID"),
        config::var("ZOOM_CLIENT_ID"),
        config::var("ZOOM_CLIENT_SECRET"),
    );
    let (account_id, client_id, client_secret) = match (account, client, secret) {
        (None, None, None) => return Ok(None),
        (Some(a), Some(c), Some(s)) => (a, c, SecretString::from(s)),
        _ => {
            return Err(ConfigError::new(
                "ZOOM_ACCOUNT_ID",
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET go together",
            ));
        }
    };
    Ok(Some(ZoomSettings {
        account_id,
        client_id,
        client_secret,
        oauth_base: base_url("ZOOM_OAUTH_BASE", ZOOM_OAUTH_BASE)?,
        api_base: base_url("ZOOM_API_BASE", ZOOM_API_BASE)?,
        user_id: config::var("ZOOM_USER_ID").unwrap_or_else(|| "me".into()),
        waiting_room: config::parse_or("ZOOM_WAITING_ROOM", true)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_order_is_deduplicated_and_checked() {
        let order = parse_providers(&["zoom".into(), "google".into(), "zoom".into()])
            .unwrap()
            .unwrap();
        assert_eq!(order, vec![ProviderKind::Zoom, ProviderKind::GoogleMeet]);
        assert!(parse_providers(&["teams".into()]).is_err());
        assert!(parse_providers(&[]).unwrap().is_none());
    }

    #[test]
    fn a_provider_without_credentials_is_a_config_error() {
        let s = Settings {
            providers: vec![ProviderKind::Zoom, ProviderKind::Jitsi],
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().reason.contains("ZOOM_ACCOUNT_ID"));
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn service_account_keys_are_recognised() {
        let key = ServiceAccountKey::from_json(
            r#"{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com",
                "private_key":"-----BEGIN PRIVATE KEY-----\n...","private_key_id":"k1",
                "token_uri":"https://oauth2.googleapis.com/token"}"#,
        )
        .unwrap();
        assert_eq!(key.client_email, "sa@p.iam.gserviceaccount.com");
        assert!(!format!("{key:?}").contains("BEGIN"));
        assert!(ServiceAccountKey::from_json(r#"{"type":"authorized_user"}"#).is_err());
        assert!(ServiceAccountKey::from_json("nope").is_err());
    }
}
