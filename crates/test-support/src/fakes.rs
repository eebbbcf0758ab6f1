//! Local fakes of Google (OAuth token endpoint, Calendar API v3, Meet REST v2) and Zoom
//! (Server-to-Server OAuth, meetings API), on 127.0.0.1 port 0, that check requests the
//! way the real services do and answer with their documented shapes:
//!
//! - Google `POST /token`: form-encoded, the JWT bearer `grant_type`, an RS256 assertion
//!   signed by the test key, `aud` = this token URI, `iss` = the service account,
//!   `exp - iat <= 3600`; Calendar and Meet calls need `Authorization: Bearer` with a live
//!   token of the right scope; `conferenceData` is ignored unless `conferenceDataVersion=1`;
//!   a conference without a delegated `sub` fails with "Invalid conference type value.";
//!   conferences stay `pending` for a configurable number of reads, then `success`.
//! - Zoom `POST /oauth/token`: `grant_type=account_credentials`, the account id, HTTP
//!   Basic client credentials; `POST /v2/users/{userId}/meetings` checks the scheduled
//!   meeting's fields; `PATCH`/`DELETE /v2/meetings/{id}`.
//!
//! Tests script failures (a status with an optional `Retry-After`, a malformed body, the
//! whole API down, every issued token expired) and read back every request received.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

/// Signs the service-account assertions and JaaS tokens in tests.
pub const PROVIDER_PRIVATE_KEY: &str = include_str!("../testdata/provider_rsa_private.pem");
/// Verifies what [`PROVIDER_PRIVATE_KEY`] signed.
pub const PROVIDER_PUBLIC_KEY: &str = include_str!("../testdata/provider_rsa_public.pem");

/// The service account the Google fake accepts assertions from.
pub const GOOGLE_CLIENT_EMAIL: &str = "switchboard@switchboard-test.iam.gserviceaccount.com";
pub const ZOOM_ACCOUNT_ID: &str = "acct-test-123";
pub const ZOOM_CLIENT_ID: &str = "zoom-client-id";
pub const ZOOM_CLIENT_SECRET: &str = "zoom-client-secret";

/// A canned answer given instead of the real one, once.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

impl Fault {
    /// An error status with a JSON error body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: json!({"error": {"code": status, "message": format!("fake failure {status}")}})
                .to_string(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After: <secs>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            status: 429,
            body: json!({"error": {"code": 429, "message": "Rate limit exceeded", "status": "RESOURCE_EXHAUSTED"}})
                .to_string(),
            retry_after: Some(retry_after_secs.to_string()),
        }
    }

    /// 200 with a body that is not JSON.
    pub fn malformed() -> Self {
        Self {
            status: 200,
            body: "{\"id\": \"truncated".into(),
            retry_after: None,
        }
    }

    fn response(&self) -> Response {
        let mut r = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
            self.body.clone(),
        )
            .into_response();
        if let Some(ra) = &self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, ra.parse().expect("header value"));
        }
        r
    }
}

/// One request a fake received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The background server; dropping it stops the server.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(router: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake");
    let addr = listener.local_addr().expect("fake address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server { addr, task }
}

fn record(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Recorded {
    Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Random lower-case letters from UUIDv4 bytes.
fn letters(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() < n {
                out.push((b'a' + b % 26) as char);
            }
        }
    }
    out
}

fn digits(n: usize) -> String {
    let mut out = String::from("8");
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() < n {
                out.push((b'0' + b % 10) as char);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Google

#[derive(Clone, Debug)]
pub struct GoogleFakeOptions {
    /// Reads of a new conference that still answer `pending` (0: `success` at once).
    pub pending_reads: u32,
    /// The conference ends in `failure` instead of `success`.
    pub conference_fails: bool,
    /// `expires_in` of issued tokens.
    pub token_lifetime_secs: u64,
}

impl Default for GoogleFakeOptions {
    fn default() -> Self {
        Self {
            pending_reads: 1,
            conference_fails: false,
            token_lifetime_secs: 3600,
        }
    }
}

struct GoogleToken {
    scopes: Vec<String>,
    delegated: bool,
    expired: bool,
}

struct Conference {
    code: String,
    request_id: String,
    reads_left: u32,
}

struct GoogleState {
    options: GoogleFakeOptions,
    token_uri: String,
    tokens: HashMap<String, GoogleToken>,
    /// Events by id (calendar id kept inside).
    events: HashMap<String, Value>,
    conferences: HashMap<String, Conference>,
    deleted: HashSet<String>,
    api_faults: VecDeque<Fault>,
    token_faults: VecDeque<Fault>,
    api_down: bool,
    requests: Vec<Recorded>,
    assertions: Vec<Value>,
    issued: u32,
}

pub struct GoogleFake {
    state: Arc<Mutex<GoogleState>>,
    server: Server,
}

impl GoogleFake {
    pub async fn start() -> Self {
        Self::start_with(GoogleFakeOptions::default()).await
    }

    pub async fn start_with(options: GoogleFakeOptions) -> Self {
        let state = Arc::new(Mutex::new(GoogleState {
            options,
            token_uri: String::new(),
            tokens: HashMap::new(),
            events: HashMap::new(),
            conferences: HashMap::new(),
            deleted: HashSet::new(),
            api_faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            api_down: false,
            requests: Vec::new(),
            assertions: Vec::new(),
            issued: 0,
        }));
        let router = Router::new()
            .fallback(google_handle)
            .with_state(state.clone());
        let server = serve(router).await;
        state.lock().expect("fake state").token_uri = format!("http://{}/token", server.addr);
        Self { state, server }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn token_uri(&self) -> String {
        format!("{}/token", self.base_url())
    }

    pub fn calendar_base(&self) -> String {
        format!("{}/calendar/v3", self.base_url())
    }

    pub fn meet_base(&self) -> String {
        self.base_url()
    }

    /// A service-account key file for the test key, with this fake as `token_uri`.
    pub fn service_account_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "switchboard-test",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": PROVIDER_PRIVATE_KEY,
            "client_email": GOOGLE_CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "token_uri": self.token_uri(),
        })
        .to_string()
    }

    fn with<T>(&self, f: impl FnOnce(&mut GoogleState) -> T) -> T {
        f(&mut self.state.lock().expect("fake state"))
    }

    /// The next Calendar/Meet call gets `fault` instead of its answer.
    pub fn push_api_fault(&self, fault: Fault) {
        self.with(|s| s.api_faults.push_back(fault));
    }

    /// The next token request gets `fault`.
    pub fn push_token_fault(&self, fault: Fault) {
        self.with(|s| s.token_faults.push_back(fault));
    }

    /// Every Calendar/Meet call answers 503 while `down`.
    pub fn set_api_down(&self, down: bool) {
        self.with(|s| s.api_down = down);
    }

    /// Every token issued so far is refused from now on (401).
    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.values_mut().for_each(|t| t.expired = true));
    }

    pub fn set_pending_reads(&self, reads: u32) {
        self.with(|s| s.options.pending_reads = reads);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// The claims of every assertion that reached the token endpoint, valid or not.
    pub fn assertions(&self) -> Vec<Value> {
        self.with(|s| s.assertions.clone())
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> u32 {
        self.with(|s| s.issued)
    }

    /// The event as the Calendar API would return it now (without counting as a read).
    pub fn event(&self, id: &str) -> Option<Value> {
        self.with(|s| {
            let event = s.events.get(id).cloned()?;
            Some(render_event(s, &event, false))
        })
    }

    pub fn event_count(&self) -> usize {
        self.with(|s| s.events.len())
    }
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {
            "errors": [{"domain": "global", "reason": reason, "message": message}],
            "code": status.as_u16(),
            "message": message,
        }}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

async fn google_handle(
    State(state): State<Arc<Mutex<GoogleState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().expect("fake state");
    s.requests.push(record(&method, &uri, &headers, &body));
    let path = uri.path().to_owned();
    let query: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if path == "/token" {
        if let Some(f) = s.token_faults.pop_front() {
            return f.response();
        }
        return google_token(&mut s, &method, &headers, &body);
    }
    if let Some(f) = s.api_faults.pop_front() {
        return f.response();
    }
    if s.api_down {
        return google_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "backendError",
            "The service is currently unavailable.",
        );
    }
    // Authorization first, as Google does.
    let Some(token) = bearer(&headers) else {
        return google_error(StatusCode::UNAUTHORIZED, "required", "Login Required.");
    };
    let (scopes, delegated) = match s.tokens.get(&token) {
        Some(t) if !t.expired => (t.scopes.clone(), t.delegated),
        _ => {
            return google_error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials");
        }
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["v2", "spaces"]) => {
            if !scopes
                .iter()
                .any(|x| x == "https://www.googleapis.com/auth/meetings.space.created")
            {
                return google_error(
                    StatusCode::FORBIDDEN,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                );
            }
            let req: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(_) => {
                    return google_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
                }
            };
            let code = format!("{}-{}-{}", letters(3), letters(4), letters(3));
            let access = req
                .pointer("/config/accessType")
                .cloned()
                .unwrap_or(json!("TRUSTED"));
            json_response(
                StatusCode::OK,
                json!({
                    "name": format!("spaces/{}", letters(12)),
                    "meetingUri": format!("https://meet.google.com/{code}"),
                    "meetingCode": code,
                    "config": {"accessType": access, "entryPointAccess": "ALL"},
                }),
            )
        }
        (m, ["calendar", "v3", "calendars", calendar, "events", rest @ ..]) => {
            if !scopes.iter().any(|x| {
                x == "https://www.googleapis.com/auth/calendar"
                    || x == "https://www.googleapis.com/auth/calendar.events"
            }) {
                return google_error(
                    StatusCode::FORBIDDEN,
                    "insufficientPermissions",
                    "Request had insufficient authentication scopes.",
                );
            }
            let calendar = percent_decode(calendar);
            match (m, rest) {
                (Method::POST, []) => google_insert(&mut s, &calendar, &query, &body, delegated),
                (Method::GET, [id]) => match s.events.get(*id).cloned() {
                    Some(e) => json_response(StatusCode::OK, render_event(&mut s, &e, true)),
                    None => google_missing(&s, id),
                },
                (Method::PATCH, [id]) => google_patch(&mut s, id, &body),
                (Method::DELETE, [id]) => {
                    if s.events.remove(*id).is_some() {
                        s.deleted.insert((*id).to_owned());
                        StatusCode::NO_CONTENT.into_response()
                    } else {
                        google_missing(&s, id)
                    }
                }
                _ => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
            }
        }
        _ => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn google_missing(s: &GoogleState, id: &str) -> Response {
    if s.deleted.contains(id) {
        google_error(StatusCode::GONE, "deleted", "Resource has been deleted")
    } else {
        google_error(StatusCode::NOT_FOUND, "notFound", "Not Found")
    }
}

fn google_token(
    s: &mut GoogleState,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if method != Method::POST {
        return oauth_error("invalid_request", "Method not allowed");
    }
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return oauth_error(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported_grant_type", "Invalid grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    // What was asked, recorded before any check.
    if let Some(payload) = assertion.split('.').nth(1)
        && let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)
        && let Ok(claims) = serde_json::from_slice::<Value>(&raw)
    {
        s.assertions.push(claims);
    }
    match jsonwebtoken::decode_header(assertion) {
        Ok(h) if h.alg == jsonwebtoken::Algorithm::RS256 => {}
        _ => return oauth_error("invalid_grant", "Invalid JWT Signature."),
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(std::slice::from_ref(&s.token_uri));
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    validation.leeway = 0;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PROVIDER_PUBLIC_KEY.as_bytes())
        .expect("test public key");
    let claims = match jsonwebtoken::decode::<Value>(assertion, &key, &validation) {
        Ok(d) => d.claims,
        Err(e) => {
            return match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    oauth_error("invalid_grant", "Invalid JWT Signature.")
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    oauth_error("invalid_grant", "Invalid JWT: Failed audience check.")
                }
                _ => oauth_error("invalid_grant", &format!("Invalid JWT: {e}")),
            };
        }
    };
    if claims["iss"] != GOOGLE_CLIENT_EMAIL {
        return oauth_error("invalid_grant", "Invalid JWT: unknown issuer.");
    }
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    match (iat, exp) {
        (Some(iat), Some(exp)) if exp > iat && exp - iat <= 3600 => {}
        _ => {
            return oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            );
        }
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    s.issued += 1;
    let token = format!("ya29.c.fake-{}-{}", s.issued, letters(16));
    s.tokens.insert(
        token.clone(),
        GoogleToken {
            scopes,
            delegated: claims
                .get("sub")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            expired: false,
        },
    );
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "expires_in": s.options.token_lifetime_secs, "token_type": "Bearer"}),
    )
}

fn google_insert(
    s: &mut GoogleState,
    calendar: &str,
    query: &HashMap<String, String>,
    body: &Bytes,
    delegated: bool,
) -> Response {
    let Ok(mut event) = serde_json::from_slice::<Value>(body) else {
        return google_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    for field in ["start", "end"] {
        if event
            .pointer(&format!("/{field}/dateTime"))
            .and_then(Value::as_str)
            .is_none()
            && event.pointer(&format!("/{field}/date")).is_none()
        {
            let message = if field == "start" {
                "Missing start time."
            } else {
                "Missing end time."
            };
            return google_error(StatusCode::BAD_REQUEST, "required", message);
        }
    }
    let id = match event.get("id").and_then(Value::as_str) {
        Some(id) => {
            let base32hex = id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b));
            if !(5..=1024).contains(&id.len()) || !base32hex {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "Invalid resource id value.",
                );
            }
            if s.events.contains_key(id) || s.deleted.contains(id) {
                return google_error(
                    StatusCode::CONFLICT,
                    "duplicate",
                    "The requested identifier already exists.",
                );
            }
            id.to_owned()
        }
        None => letters(26),
    };
    let wants_conference = query.get("conferenceDataVersion").map(String::as_str) == Some("1");
    let create_request = event.pointer("/conferenceData/createRequest").cloned();
    // Version 0 ignores conferenceData, as the real API does.
    event
        .as_object_mut()
        .expect("object")
        .remove("conferenceData");
    if let (true, Some(cr)) = (wants_conference, create_request) {
        if cr
            .pointer("/conferenceSolutionKey/type")
            .and_then(Value::as_str)
            != Some("hangoutsMeet")
            || !delegated
        {
            return google_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                "Invalid conference type value.",
            );
        }
        let Some(request_id) = cr.get("requestId").and_then(Value::as_str) else {
            return google_error(StatusCode::BAD_REQUEST, "required", "Missing requestId.");
        };
        s.conferences.insert(
            id.clone(),
            Conference {
                code: format!("{}-{}-{}", letters(3), letters(4), letters(3)),
                request_id: request_id.to_owned(),
                reads_left: s.options.pending_reads,
            },
        );
    }
    let obj = event.as_object_mut().expect("object");
    obj.insert("id".into(), json!(id));
    obj.insert("kind".into(), json!("calendar#event"));
    obj.insert("status".into(), json!("confirmed"));
    obj.insert("sequence".into(), json!(0));
    obj.insert(
        "htmlLink".into(),
        json!(format!("https://www.google.com/calendar/event?eid={id}")),
    );
    obj.insert("iCalUID".into(), json!(format!("{id}@google.com")));
    obj.insert("organizer".into(), json!({"email": calendar, "self": true}));
    obj.insert("calendarId".into(), json!(calendar));
    s.events.insert(id, event.clone());
    json_response(StatusCode::OK, render_event(s, &event, false))
}

fn google_patch(s: &mut GoogleState, id: &str, body: &Bytes) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return google_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    let Some(event) = s.events.get_mut(id) else {
        return google_missing(s, id);
    };
    if let (Some(obj), Some(p)) = (event.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            obj.insert(k.clone(), v.clone());
        }
        let seq = obj.get("sequence").and_then(Value::as_i64).unwrap_or(0) + 1;
        obj.insert("sequence".into(), json!(seq));
    }
    let event = event.clone();
    json_response(StatusCode::OK, render_event(s, &event, false))
}

/// The event with its conference in its current state; a read (`GET`) moves a pending
/// conference one step on.
fn render_event(s: &mut GoogleState, event: &Value, is_read: bool) -> Value {
    let mut e = event.clone();
    if let Some(obj) = e.as_object_mut() {
        obj.remove("calendarId");
    }
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let fails = s.options.conference_fails;
    let Some(conf) = s.conferences.get_mut(&id) else {
        return e;
    };
    if is_read && conf.reads_left > 0 {
        conf.reads_left -= 1;
    }
    let status = if conf.reads_left > 0 {
        "pending"
    } else if fails {
        "failure"
    } else {
        "success"
    };
    let mut data = json!({
        "createRequest": {
            "requestId": conf.request_id,
            "conferenceSolutionKey": {"type": "hangoutsMeet"},
            "status": {"statusCode": status},
        },
    });
    if status == "success" {
        let link = format!("https://meet.google.com/{}", conf.code);
        data["entryPoints"] = json!([
            {"entryPointType": "video", "uri": link, "label": format!("meet.google.com/{}", conf.code)},
            {"entryPointType": "more", "uri": format!("https://tel.meet/{}?pin=1701789652855", conf.code), "pin": "1701789652855"},
            {"entryPointType": "phone", "uri": "tel:+44-20-3873-7654", "label": "+44 20 3873 7654", "pin": "6054226"},
        ]);
        data["conferenceSolution"] =
            json!({"key": {"type": "hangoutsMeet"}, "name": "Google Meet"});
        data["conferenceId"] = json!(conf.code);
        data["signature"] = json!("ADwwud9tFAKE");
        e["hangoutLink"] = json!(link);
    }
    e["conferenceData"] = data;
    e
}

// ---------------------------------------------------------------------------------------
// Zoom

#[derive(Clone, Debug)]
pub struct ZoomFakeOptions {
    /// `expires_in` of issued tokens.
    pub token_lifetime_secs: u64,
    /// The host besides `me`.
    pub host_email: String,
}

impl Default for ZoomFakeOptions {
    fn default() -> Self {
        Self {
            token_lifetime_secs: 3599,
            host_email: "host@example.test".into(),
        }
    }
}

struct ZoomState {
    options: ZoomFakeOptions,
    base_url: String,
    tokens: HashMap<String, bool>,
    meetings: HashMap<String, Value>,
    api_faults: VecDeque<Fault>,
    token_faults: VecDeque<Fault>,
    api_down: bool,
    requests: Vec<Recorded>,
    issued: u32,
}

pub struct ZoomFake {
    state: Arc<Mutex<ZoomState>>,
    server: Server,
}

impl ZoomFake {
    pub async fn start() -> Self {
        Self::start_with(ZoomFakeOptions::default()).await
    }

    pub async fn start_with(options: ZoomFakeOptions) -> Self {
        let state = Arc::new(Mutex::new(ZoomState {
            options,
            base_url: String::new(),
            tokens: HashMap::new(),
            meetings: HashMap::new(),
            api_faults: VecDeque::new(),
            token_faults: VecDeque::new(),
            api_down: false,
            requests: Vec::new(),
            issued: 0,
        }));
        let router = Router::new()
            .fallback(zoom_handle)
            .with_state(state.clone());
        let server = serve(router).await;
        state.lock().expect("fake state").base_url = format!("http://{}", server.addr);
        Self { state, server }
    }

    /// `ZOOM_OAUTH_BASE`.
    pub fn oauth_base(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `ZOOM_API_BASE`.
    pub fn api_base(&self) -> String {
        format!("http://{}/v2", self.server.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&mut ZoomState) -> T) -> T {
        f(&mut self.state.lock().expect("fake state"))
    }

    pub fn push_api_fault(&self, fault: Fault) {
        self.with(|s| s.api_faults.push_back(fault));
    }

    pub fn push_token_fault(&self, fault: Fault) {
        self.with(|s| s.token_faults.push_back(fault));
    }

    pub fn set_api_down(&self, down: bool) {
        self.with(|s| s.api_down = down);
    }

    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.values_mut().for_each(|expired| *expired = true));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    pub fn tokens_issued(&self) -> u32 {
        self.with(|s| s.issued)
    }

    /// A meeting as `GET /meetings/{id}` would return it.
    pub fn meeting(&self, id: &str) -> Option<Value> {
        self.with(|s| s.meetings.get(id).cloned())
    }

    pub fn meeting_count(&self) -> usize {
        self.with(|s| s.meetings.len())
    }
}

fn zoom_error(status: StatusCode, code: u32, message: &str) -> Response {
    json_response(status, json!({"code": code, "message": message}))
}

fn zoom_validation(field: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"code": 300, "message": "Validation Failed.",
               "errors": [{"field": field, "message": "Invalid field."}]}),
    )
}

async fn zoom_handle(
    State(state): State<Arc<Mutex<ZoomState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().expect("fake state");
    s.requests.push(record(&method, &uri, &headers, &body));
    let path = uri.path().to_owned();
    if path == "/oauth/token" {
        if let Some(f) = s.token_faults.pop_front() {
            return f.response();
        }
        return zoom_token(&mut s, &method, &uri, &headers, &body);
    }
    if let Some(f) = s.api_faults.pop_front() {
        return f.response();
    }
    if s.api_down {
        return zoom_error(StatusCode::SERVICE_UNAVAILABLE, 503, "Service unavailable.");
    }
    match bearer(&headers).and_then(|t| s.tokens.get(&t).copied()) {
        Some(false) => {}
        Some(true) => return zoom_error(StatusCode::UNAUTHORIZED, 124, "Access token is expired."),
        None => return zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token."),
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["v2", "users", user, "meetings"]) => {
            let user = percent_decode(user);
            zoom_create(&mut s, &user, &body)
        }
        (Method::GET, ["v2", "meetings", id]) => match s.meetings.get(*id) {
            Some(m) => json_response(StatusCode::OK, m.clone()),
            None => zoom_error(
                StatusCode::NOT_FOUND,
                3001,
                &format!("Meeting does not exist: {id}."),
            ),
        },
        (Method::PATCH, ["v2", "meetings", id]) => {
            let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
                return zoom_validation("body");
            };
            if let Some(start) = patch.get("start_time")
                && !start.as_str().is_some_and(zoom_time)
            {
                return zoom_validation("start_time");
            }
            let Some(m) = s.meetings.get_mut(*id) else {
                return zoom_error(
                    StatusCode::NOT_FOUND,
                    3001,
                    &format!("Meeting does not exist: {id}."),
                );
            };
            if let (Some(obj), Some(p)) = (m.as_object_mut(), patch.as_object()) {
                for (k, v) in p {
                    obj.insert(k.clone(), v.clone());
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::DELETE, ["v2", "meetings", id]) => {
            if s.meetings.remove(*id).is_some() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                zoom_error(
                    StatusCode::NOT_FOUND,
                    3001,
                    &format!("Meeting does not exist: {id}."),
                )
            }
        }
        _ => zoom_error(StatusCode::NOT_FOUND, 404, "Not Found"),
    }
}

fn zoom_token(
    s: &mut ZoomState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let bad = |reason: &str, error: &str| {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"reason": reason, "error": error}),
        )
    };
    if method != Method::POST {
        return bad("Method not allowed", "invalid_request");
    }
    // Parameters may be in the query or the form body.
    let mut params: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    params.extend(form_urlencoded::parse(body).into_owned());
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{ZOOM_CLIENT_ID}:{ZOOM_CLIENT_SECRET}"));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if basic != Some(expected.as_str()) {
        return bad("Invalid client_id or client_secret", "invalid_client");
    }
    if params.get("grant_type").map(String::as_str) != Some("account_credentials") {
        return bad("unsupported grant type", "unsupported_grant_type");
    }
    if params.get("account_id").map(String::as_str) != Some(ZOOM_ACCOUNT_ID) {
        return bad("Account does not exist", "invalid_request");
    }
    s.issued += 1;
    let token = format!("eyJzdiI6IjAwMDAwMSIs.fake-{}-{}", s.issued, letters(16));
    s.tokens.insert(token.clone(), false);
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "expires_in": s.options.token_lifetime_secs,
               "scope": "meeting:write:meeting:admin meeting:update:meeting:admin meeting:delete:meeting:admin",
               "api_url": s.base_url}),
    )
}

/// `yyyy-MM-ddTHH:mm:ssZ` or without the `Z` (with a `timezone`).
fn zoom_time(s: &str) -> bool {
    let s = s.strip_suffix('Z').unwrap_or(s);
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
}

fn zoom_create(s: &mut ZoomState, user: &str, body: &Bytes) -> Response {
    if user != "me" && !user.eq_ignore_ascii_case(&s.options.host_email) {
        return zoom_error(
            StatusCode::NOT_FOUND,
            1001,
            &format!("User does not exist: {user}."),
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return zoom_validation("body");
    };
    let topic = req
        .get("topic")
        .and_then(Value::as_str)
        .unwrap_or("Zoom meeting");
    if topic.chars().count() > 200 {
        return zoom_validation("topic");
    }
    let kind = req.get("type").and_then(Value::as_i64).unwrap_or(2);
    if !matches!(kind, 1 | 2 | 3 | 8) {
        return zoom_validation("type");
    }
    if kind == 2 {
        if !req
            .get("start_time")
            .and_then(Value::as_str)
            .is_some_and(zoom_time)
        {
            return zoom_validation("start_time");
        }
        if req.get("duration").and_then(Value::as_u64).unwrap_or(0) == 0 {
            return zoom_validation("duration");
        }
    }
    if req.get("timezone").is_some_and(|t| !t.is_string()) {
        return zoom_validation("timezone");
    }
    if req
        .pointer("/settings/waiting_room")
        .is_some_and(|w| !w.is_boolean())
    {
        return zoom_validation("settings.waiting_room");
    }
    let id = digits(11);
    let pwd = format!("{}.1", letters(22));
    let meeting = json!({
        "uuid": format!("{}==", letters(22)),
        "id": id.parse::<i64>().expect("digits"),
        "host_id": "z8yAAAAA8bbbQ",
        "host_email": s.options.host_email,
        "topic": topic,
        "type": kind,
        "status": "waiting",
        "start_time": req.get("start_time").cloned().unwrap_or(Value::Null),
        "duration": req.get("duration").cloned().unwrap_or(json!(60)),
        "timezone": req.get("timezone").cloned().unwrap_or(json!("UTC")),
        "agenda": req.get("agenda").cloned().unwrap_or(json!("")),
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "start_url": format!("https://us05web.zoom.us/s/{id}?zak=eyJ0eXAiOiJKV1QiLCJzdiI6IjAwMDAwMSIsInptX3NrbSI6InptX28ybSIsImFsZyI6IkhTMjU2In0.{}", letters(40)),
        "join_url": format!("https://us05web.zoom.us/j/{id}?pwd={pwd}"),
        "password": letters(6),
        "h323_password": "123456",
        "pstn_password": "123456",
        "encrypted_password": pwd,
        "settings": req.get("settings").cloned().unwrap_or(json!({})),
        "pre_schedule": false,
    });
    s.meetings.insert(id, meeting.clone());
    json_response(StatusCode::CREATED, meeting)
}
