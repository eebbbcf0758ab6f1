//! Shared by `meeting.rs` and `consultation.rs`: the meeting service (and optionally the
//! consultation service) on a fresh database and NATS prefix, with the Google and Zoom
//! fakes running in the test and the providers pointed at them.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use switchboard_proto::meeting::v1::meeting_service_client::MeetingServiceClient;
use switchboard_test_support::TEST_JWT_SECRET;
use switchboard_test_support::db::TestDatabase;
use switchboard_test_support::fakes::{self, GoogleFake, GoogleFakeOptions, ZoomFake};
use switchboard_test_support::notification::{self, NotificationStream};
use switchboard_test_support::process::ServiceProcess;
use switchboard_test_support::smtp::SmtpSink;
use switchboard_test_support::stack::nats_url;
use tonic::transport::Channel;
use uuid::Uuid;

pub const MAIL_FROM: &str = "Switchboard <invites@switchboard.test>";

pub struct Options {
    /// `MEETING_PROVIDERS`; unset means the default (Jitsi).
    pub providers: Option<&'static str>,
    pub google: bool,
    pub zoom: bool,
    pub consultation: bool,
    pub google_options: GoogleFakeOptions,
    /// Extra environment for the meeting and consultation services.
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            providers: None,
            google: false,
            zoom: false,
            consultation: false,
            google_options: GoogleFakeOptions {
                pending_reads: 1,
                ..GoogleFakeOptions::default()
            },
            env: Vec::new(),
        }
    }
}

// Fields drop in order: the processes stop before their fakes and their database go.
pub struct MeetingStack {
    /// With the consultation service: the notification service (it owns the stream the
    /// consultation events go to) and the SMTP sink it mails to.
    pub notification: Option<ServiceProcess>,
    pub smtp: Option<SmtpSink>,
    pub consultation: Option<ServiceProcess>,
    /// Deleted once the services that use it have stopped.
    _stream: NotificationStream,
    pub meeting: ServiceProcess,
    pub google: Option<GoogleFake>,
    pub zoom: Option<ZoomFake>,
    pub prefix: String,
    pub db: TestDatabase,
}

impl MeetingStack {
    pub async fn start(options: Options) -> Self {
        let db = TestDatabase::create().await;
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let google = match options.google {
            true => Some(GoogleFake::start_with(options.google_options.clone()).await),
            false => None,
        };
        let zoom = match options.zoom {
            true => Some(ZoomFake::start().await),
            false => None,
        };
        let mut env = vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
            ("MEETING_GRPC_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("MEETING_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("MEETING_DB_MAX_CONNECTIONS".to_owned(), "4".to_owned()),
            ("MEETING_RUN_MIGRATIONS".to_owned(), "false".to_owned()),
            ("MAIL_FROM".to_owned(), MAIL_FROM.to_owned()),
            (
                "APP_URL".to_owned(),
                "https://app.switchboard.test".to_owned(),
            ),
            ("PROVIDER_BACKOFF_MS".to_owned(), "20".to_owned()),
            ("PROVIDER_MAX_BACKOFF_MS".to_owned(), "100".to_owned()),
            ("GOOGLE_CONFERENCE_POLL_MS".to_owned(), "20".to_owned()),
        ];
        if let Some(p) = options.providers {
            env.push(("MEETING_PROVIDERS".to_owned(), p.to_owned()));
        }
        if let Some(g) = &google {
            env.extend([
                (
                    "GOOGLE_SERVICE_ACCOUNT_JSON".to_owned(),
                    g.service_account_json(),
                ),
                ("GOOGLE_TOKEN_URI".to_owned(), g.token_uri()),
                ("GOOGLE_CALENDAR_BASE".to_owned(), g.calendar_base()),
                ("GOOGLE_MEET_BASE".to_owned(), g.meet_base()),
                (
                    "GOOGLE_SUBJECT".to_owned(),
                    "invites@switchboard.test".to_owned(),
                ),
            ]);
        }
        if let Some(z) = &zoom {
            env.extend([
                (
                    "ZOOM_ACCOUNT_ID".to_owned(),
                    fakes::ZOOM_ACCOUNT_ID.to_owned(),
                ),
                (
                    "ZOOM_CLIENT_ID".to_owned(),
                    fakes::ZOOM_CLIENT_ID.to_owned(),
                ),
                (
                    "ZOOM_CLIENT_SECRET".to_owned(),
                    fakes::ZOOM_CLIENT_SECRET.to_owned(),
                ),
                ("ZOOM_OAUTH_BASE".to_owned(), z.oauth_base()),
                ("ZOOM_API_BASE".to_owned(), z.api_base()),
            ]);
        }
        env.extend(options.env.iter().cloned());
        let meeting = ServiceProcess::start("switchboard-meeting", "meeting0", env).await;
        let consultation = match options.consultation {
            false => None,
            true => Some(
                ServiceProcess::start(
                    "switchboard-consultation",
                    "consultation0",
                    vec![
                        ("DATABASE_URL".to_owned(), db.url.clone()),
                        ("NATS_URL".to_owned(), nats_url()),
                        ("NATS_SUBJECT_PREFIX".to_owned(), prefix.clone()),
                        ("RUST_LOG".to_owned(), "info".to_owned()),
                        ("JWT_SECRET".to_owned(), TEST_JWT_SECRET.to_owned()),
                        (
                            "CONSULTATION_HTTP_ADDR".to_owned(),
                            "127.0.0.1:0".to_owned(),
                        ),
                        (
                            "CONSULTATION_GRPC_ADDR".to_owned(),
                            "127.0.0.1:0".to_owned(),
                        ),
                        ("CONSULTATION_DB_MAX_CONNECTIONS".to_owned(), "4".to_owned()),
                        ("CONSULTATION_RUN_MIGRATIONS".to_owned(), "false".to_owned()),
                        (
                            "CONSULTATION_OUTBOX_INTERVAL_MS".to_owned(),
                            "200".to_owned(),
                        ),
                        (
                            "MEETING_SERVICE_URL".to_owned(),
                            format!("http://{}", meeting.addr("grpc")),
                        ),
                        ("MEETING_TIMEOUT_MS".to_owned(), "10000".to_owned()),
                    ]
                    .into_iter()
                    .chain(options.env.iter().cloned())
                    .collect(),
                )
                .await,
            ),
        };
        let (notification, smtp) = match options.consultation {
            false => (None, None),
            true => {
                let smtp = SmtpSink::start().await;
                let notification = notification::start(
                    "notification0",
                    &db.url,
                    &prefix,
                    &smtp.url(),
                    &[("MAIL_FROM", MAIL_FROM)],
                )
                .await;
                (Some(notification), Some(smtp))
            }
        };
        Self {
            db,
            _stream: NotificationStream::of_prefix(&prefix),
            prefix,
            google,
            zoom,
            meeting,
            consultation,
            notification,
            smtp,
        }
    }

    pub async fn meetings(&self) -> MeetingServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.meeting.addr("grpc")))
            .unwrap()
            .timeout(Duration::from_secs(20))
            .connect()
            .await
            .unwrap();
        MeetingServiceClient::new(channel)
    }

    pub fn google(&self) -> &GoogleFake {
        self.google.as_ref().expect("Google fake started")
    }

    pub fn zoom(&self) -> &ZoomFake {
        self.zoom.as_ref().expect("Zoom fake started")
    }

    /// `http://…` of the consultation service's REST API.
    pub fn api(&self) -> String {
        let c = self
            .consultation
            .as_ref()
            .expect("consultation service started");
        format!("http://{}", c.addr("http"))
    }

    /// A user with an e-mail address and a name, as if imported.
    pub async fn create_user(&self, role: &str) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO users (id, email, display_name, role) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(format!("{}@example.test", id.simple()))
            .bind(format!("{role} {}", &id.simple().to_string()[24..]))
            .bind(role)
            .execute(&self.db.pool)
            .await
            .expect("insert user");
        id
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }
}

/// A `Timestamp` `hours` from now, on a whole second.
pub fn hours_from_now(hours: i64) -> prost_types::Timestamp {
    let t = chrono::Utc::now() + chrono::Duration::hours(hours);
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

/// Unfolds an ICS and returns its content lines.
pub fn ics_lines(ics: &str) -> Vec<String> {
    icalendar::parser::unfold(ics)
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The value of the first `NAME:` line (parameters ignored) of an ICS.
pub fn ics_value(ics: &str, name: &str) -> Option<String> {
    ics_lines(ics).into_iter().find_map(|l| {
        let (head, value) = l.split_once(':')?;
        let prop = head.split(';').next()?;
        (prop == name).then(|| value.to_owned())
    })
}
