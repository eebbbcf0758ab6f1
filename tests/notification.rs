//! The notification service against a real SMTP server (aiosmtpd, `tests/smtp/sink.py`),
//! the real JetStream and PostgreSQL: consultation invitations with their ICS, exactly one
//! e-mail per notification whatever is redelivered or republished, retries while SMTP is
//! down, dead letters and their replay, a replica killed mid-batch, and the offline digest
//! from real chat traffic.

#[path = "meeting_stack.rs"]
mod meeting_stack;

use std::collections::HashMap;
use std::time::Duration;

use prost::Message as _;
use serde_json::{Value, json};
use switchboard_proto::notification::v1::notification_event::Kind;
use switchboard_proto::notification::v1::notification_service_client::NotificationServiceClient;
use switchboard_proto::notification::v1::{
    ConsultationCancelled, ConsultationParticipant, ConsultationScheduled, ListDeadLettersRequest,
    NotificationEvent, ReplayDeadLetterRequest,
};
use switchboard_test_support::db::TestDatabase;
use switchboard_test_support::notification::{self, NotificationStream};
use switchboard_test_support::process::{ServiceProcess, binaries_dir};
use switchboard_test_support::smtp::{SmtpSink, free_port, part, recipients};
use switchboard_test_support::stack::{Stack, StackOptions, nats_url};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;
use uuid::Uuid;

use meeting_stack::{MeetingStack, Options, ics_lines};

/// A database, a prefix and the JetStream context the tests publish with.
struct Queue {
    db: TestDatabase,
    prefix: String,
    js: async_nats::jetstream::Context,
    _stream: NotificationStream,
}

impl Queue {
    async fn new() -> Self {
        let db = TestDatabase::create().await;
        let nats = async_nats::connect(nats_url()).await.unwrap();
        let prefix = format!("t{}", Uuid::new_v4().simple());
        Self {
            db,
            _stream: NotificationStream::of_prefix(&prefix),
            prefix,
            js: async_nats::jetstream::new(nats),
        }
    }

    async fn notifier(&self, name: &str, smtp_url: &str, extra: &[(&str, &str)]) -> ServiceProcess {
        notification::start(name, &self.db.url, &self.prefix, smtp_url, extra).await
    }

    /// Publishes `event` (with `msg_id` as `Nats-Msg-Id`) once the stream exists.
    async fn publish(&self, event: &NotificationEvent, msg_id: &str) {
        let kind = match event.kind.as_ref().unwrap() {
            Kind::MessageUnread(_) => "message_unread",
            Kind::ConsultationScheduled(_) => "consultation_scheduled",
            Kind::ConsultationCancelled(_) => "consultation_cancelled",
        };
        let subject = format!("{}.notification.{kind}", self.prefix);
        for _ in 0..100 {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", msg_id);
            let sent = self
                .js
                .publish_with_headers(subject.clone(), headers, event.encode_to_vec().into())
                .await;
            if let Ok(ack) = sent
                && ack.await.is_ok()
            {
                return;
            }
            // The service creates the stream when it starts consuming.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the notification stream never took {msg_id}");
    }

    async fn status_counts(&self) -> HashMap<String, i64> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM notifications GROUP BY status")
                .fetch_all(&self.db.pool)
                .await
                .unwrap();
        rows.into_iter().collect()
    }
}

fn participant(role: &str) -> ConsultationParticipant {
    let id = Uuid::now_v7();
    ConsultationParticipant {
        user_id: id.to_string(),
        email: format!("{role}-{}@example.test", id.simple()),
        display_name: Some(format!("{role} {}", &id.simple().to_string()[26..])),
    }
}

const UID: &str = "consultation-test@switchboard.test";

fn ics(method: &str, sequence: u32) -> String {
    let status = if method == "CANCEL" {
        "CANCELLED"
    } else {
        "CONFIRMED"
    };
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Switchboard//Meetings//EN",
        &format!("METHOD:{method}"),
        "BEGIN:VEVENT",
        &format!("UID:{UID}"),
        &format!("SEQUENCE:{sequence}"),
        "DTSTAMP:20261201T120000Z",
        "DTSTART:20261208T140000Z",
        "DTEND:20261208T143000Z",
        "SUMMARY:Consultation",
        &format!("STATUS:{status}"),
        "ORGANIZER;CN=Switchboard:mailto:notify@switchboard.test",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}

fn scheduled(
    key: &str,
    lawyer: &ConsultationParticipant,
    applicant: &ConsultationParticipant,
) -> NotificationEvent {
    NotificationEvent {
        dedupe_key: key.to_owned(),
        occurred_at: None,
        kind: Some(Kind::ConsultationScheduled(ConsultationScheduled {
            consultation_id: Uuid::now_v7().to_string(),
            lawyer: Some(lawyer.clone()),
            applicant: Some(applicant.clone()),
            // 2026-12-08T14:00:00Z
            scheduled_at: Some(prost_types::Timestamp {
                seconds: 1_796_738_400,
                nanos: 0,
            }),
            duration_minutes: 30,
            meeting_link: "https://meet.jit.si/switchboard-abc".into(),
            google_calendar_url: "https://calendar.google.com/calendar/render?action=TEMPLATE"
                .into(),
            outlook_calendar_url: "https://outlook.office.com/calendar/0/deeplink/compose".into(),
            ics: ics("REQUEST", 0),
        })),
    }
}

async fn grpc(p: &ServiceProcess) -> NotificationServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", p.addr("grpc")))
        .unwrap()
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    NotificationServiceClient::new(channel)
}

fn header<'a>(m: &'a Value, name: &str) -> &'a str {
    m["headers"][name].as_str().unwrap_or_default()
}

fn body<'a>(m: &'a Value, content_type: &str) -> &'a str {
    part(m, content_type)
        .and_then(|p| p["body"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {m:#}"))
}

/// Waits `quiet` and checks no more than `n` e-mails arrived.
async fn settle(sink: &SmtpSink, n: usize, quiet: Duration) -> Vec<Value> {
    tokio::time::sleep(quiet).await;
    let all = sink.messages();
    assert_eq!(
        all.len(),
        n,
        "expected exactly {n} e-mails: {:#?}",
        all.iter().map(|m| header(m, "subject")).collect::<Vec<_>>()
    );
    all
}

#[tokio::test]
async fn a_booked_consultation_mails_both_parties_an_invitation_gmail_and_outlook_understand() {
    let q = Queue::new().await;
    let sink = SmtpSink::start().await;
    let _n = q.notifier("notification0", &sink.url(), &[]).await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    q.publish(
        &scheduled("consultation:1:scheduled:0", &lawyer, &applicant),
        "m1",
    )
    .await;

    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    let mut to: Vec<String> = mails.iter().flat_map(recipients).collect();
    to.sort();
    let mut expected = vec![lawyer.email.clone(), applicant.email.clone()];
    expected.sort();
    assert_eq!(to, expected);
    for m in &mails {
        let me_lawyer = recipients(m) == [lawyer.email.clone()];
        let other = if me_lawyer { &applicant } else { &lawyer };
        assert_eq!(header(m, "from"), "Switchboard <notify@switchboard.test>");
        assert_eq!(header(m, "reply-to"), "Support <support@switchboard.test>");
        assert!(header(m, "message-id").ends_with("@switchboard.test>"));
        let subject = header(m, "subject");
        assert!(
            subject.contains(other.display_name.as_deref().unwrap()),
            "{subject}"
        );
        assert!(
            subject.contains("Tuesday 8 December 2026, 14:00 UTC"),
            "{subject}"
        );
        // multipart/mixed: the alternative (text, HTML, the iMIP calendar part) and the file.
        assert_eq!(
            m["structure"],
            "multipart/mixed[multipart/alternative[text/plain,text/html,text/calendar],application/ics]"
        );
        let calendar = part(m, "text/calendar").unwrap();
        assert_eq!(calendar["params"]["method"], "REQUEST");
        let attachment = part(m, "application/ics").unwrap();
        assert_eq!(attachment["filename"], "invite.ics");
        assert_eq!(attachment["disposition"], "attachment");
        for text in [body(m, "text/plain"), body(m, "text/html")] {
            assert!(
                text.contains("https://meet.jit.si/switchboard-abc"),
                "{text}"
            );
            assert!(text.contains("https://calendar.google.com/calendar/render"));
            assert!(text.contains("https://outlook.office.com/calendar/0/deeplink/compose"));
            assert!(text.contains("https://app.switchboard.test/consultations/"));
            assert!(text.contains("30 minutes"));
        }
        // The ICS arrives intact and parses.
        let ics_text = body(m, "text/calendar");
        let lines = ics_lines(ics_text);
        assert!(lines.contains(&"METHOD:REQUEST".to_owned()));
        assert!(lines.contains(&format!("UID:{UID}")));
        let parsed: icalendar::Calendar = ics_text.parse().expect("the calendar part parses");
        assert_eq!(parsed.components.len(), 1);
    }
    settle(&sink, 2, Duration::from_secs(1)).await;
    assert_eq!(q.status_counts().await.get("sent"), Some(&2));
}

#[tokio::test]
async fn a_cancellation_sends_method_cancel_with_the_same_uid() {
    let q = Queue::new().await;
    let sink = SmtpSink::start().await;
    let _n = q.notifier("notification0", &sink.url(), &[]).await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    let event = NotificationEvent {
        dedupe_key: "consultation:2:cancelled:1".into(),
        occurred_at: None,
        kind: Some(Kind::ConsultationCancelled(ConsultationCancelled {
            consultation_id: Uuid::now_v7().to_string(),
            lawyer: Some(lawyer.clone()),
            applicant: Some(applicant.clone()),
            scheduled_at: Some(prost_types::Timestamp {
                seconds: 1_796_738_400,
                nanos: 0,
            }),
            ics: ics("CANCEL", 1),
            reason: Some("The lawyer is <ill> & away".into()),
        })),
    };
    q.publish(&event, "c1").await;
    let mails = sink.wait_for(2, Duration::from_secs(20)).await;
    for m in &mails {
        assert!(header(m, "subject").starts_with("Cancelled: consultation with "));
        assert_eq!(
            part(m, "text/calendar").unwrap()["params"]["method"],
            "CANCEL"
        );
        let lines = ics_lines(body(m, "text/calendar"));
        for l in [
            "METHOD:CANCEL",
            "STATUS:CANCELLED",
            "SEQUENCE:1",
            &format!("UID:{UID}"),
        ] {
            assert!(lines.contains(&l.to_owned()), "{l} missing in {lines:?}");
        }
        // User content is escaped in HTML and kept as is in text.
        assert!(body(m, "text/html").contains("The lawyer is &lt;ill&gt; &amp; away"));
        assert!(body(m, "text/plain").contains("The lawyer is <ill> & away"));
    }
}

#[tokio::test]
async fn the_same_event_twice_and_a_redelivery_send_one_mail_each() {
    let q = Queue::new().await;
    let sink = SmtpSink::start().await;
    let n = q.notifier("notification0", &sink.url(), &[]).await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    let event = scheduled("consultation:3:scheduled:0", &lawyer, &applicant);
    // Two publishes the stream cannot tell apart (different message ids), one through gRPC.
    q.publish(&event, "first").await;
    sink.wait_for(2, Duration::from_secs(20)).await;
    q.publish(&event, "second").await;
    grpc(&n).await.enqueue(event.clone()).await.unwrap();
    // Both later copies were looked at and recognised (two mails each), nothing went out.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = reqwest::get(format!("http://{}/metrics", n.addr("http")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("switchboard_notification_duplicates_total 4") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(&sink, 2, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_is_delivered_once_when_it_comes_up() {
    let q = Queue::new().await;
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let _n = q.notifier("notification0", &url, &[]).await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    q.publish(
        &scheduled("consultation:4:scheduled:0", &lawyer, &applicant),
        "d1",
    )
    .await;
    // A few failed tries with backoff, counted in PostgreSQL.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let attempts: i64 =
            sqlx::query_scalar("SELECT coalesce(sum(attempts), 0) FROM notifications")
                .fetch_one(&q.db.pool)
                .await
                .unwrap();
        if attempts >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retries recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sink = SmtpSink::start_on(port).await;
    sink.wait_for(2, Duration::from_secs(20)).await;
    settle(&sink, 2, Duration::from_secs(3)).await;
    assert_eq!(q.status_counts().await.get("sent"), Some(&2));
}

#[tokio::test]
async fn refused_mail_is_dead_lettered_listed_and_replayed_once() {
    let q = Queue::new().await;
    let sink = SmtpSink::start().await;
    sink.reject(true);
    let n = q
        .notifier(
            "notification0",
            &sink.url(),
            &[("NOTIFICATION_MAX_ATTEMPTS", "3")],
        )
        .await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    q.publish(
        &scheduled("consultation:5:scheduled:0", &lawyer, &applicant),
        "r1",
    )
    .await;
    let mut client = grpc(&n).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let list = client
            .list_dead_letters(ListDeadLettersRequest { limit: None })
            .await
            .unwrap()
            .into_inner()
            .dead_letters;
        if list.len() == 2 {
            break list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dead letters: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for d in &dead {
        // 550 is permanent: no point in trying again.
        assert_eq!(d.attempts, 1, "{d:?}");
        assert!(d.last_error.contains("550"), "{}", d.last_error);
        assert_eq!(
            d.event.as_ref().unwrap().dedupe_key,
            "consultation:5:scheduled:0"
        );
    }
    assert!(sink.messages().is_empty());

    // The operator's CLI lists them too.
    let out = std::process::Command::new(binaries_dir().join("switchboard"))
        .args([
            "notifications",
            "dead-letters",
            "--url",
            &format!("http://{}", n.addr("grpc")),
        ])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listing} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for d in &dead {
        assert!(listing.contains(&d.id), "{listing}");
    }

    // Fixed on the server's side: replay one with the CLI, the other over gRPC.
    sink.reject(false);
    let out = std::process::Command::new(binaries_dir().join("switchboard"))
        .args([
            "notifications",
            "replay",
            &dead[0].id,
            "--url",
            &format!("http://{}", n.addr("grpc")),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    client
        .replay_dead_letter(ReplayDeadLetterRequest {
            id: dead[1].id.clone(),
        })
        .await
        .unwrap();
    sink.wait_for(2, Duration::from_secs(20)).await;
    settle(&sink, 2, Duration::from_secs(2)).await;
    assert_eq!(q.status_counts().await.get("sent"), Some(&2));
    // Replaying what is not dead is a clear error.
    let err = client
        .replay_dead_letter(ReplayDeadLetterRequest {
            id: dead[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = client
        .replay_dead_letter(ReplayDeadLetterRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn mail_that_keeps_failing_is_dead_lettered_after_max_attempts() {
    let q = Queue::new().await;
    let url = format!("smtp://127.0.0.1:{}", free_port());
    let n = q
        .notifier("notification0", &url, &[("NOTIFICATION_MAX_ATTEMPTS", "3")])
        .await;
    let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
    q.publish(
        &scheduled("consultation:6:scheduled:0", &lawyer, &applicant),
        "x1",
    )
    .await;
    let mut client = grpc(&n).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = client
            .list_dead_letters(ListDeadLettersRequest { limit: Some(10) })
            .await
            .unwrap()
            .into_inner()
            .dead_letters;
        if list.len() == 2 {
            assert!(list.iter().all(|d| d.attempts == 3), "{list:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dead letters: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_replica_killed_mid_batch_loses_and_doubles_nothing() {
    let q = Queue::new().await;
    let sink = SmtpSink::start().await;
    let mut a = q.notifier("notification-a", &sink.url(), &[]).await;
    let _b = q.notifier("notification-b", &sink.url(), &[]).await;
    let mut pairs = Vec::new();
    for i in 0..12 {
        let (lawyer, applicant) = (participant("lawyer"), participant("applicant"));
        q.publish(
            &scheduled(
                &format!("consultation:k{i}:scheduled:0"),
                &lawyer,
                &applicant,
            ),
            &format!("k{i}"),
        )
        .await;
        pairs.push((lawyer, applicant));
    }
    // Some delivered, then the server holds every client mid-transaction, and one replica
    // dies while it holds e-mails of its own.
    sink.wait_for(4, Duration::from_secs(20)).await;
    sink.pause(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !sink.holding_a_client() {
        assert!(tokio::time::Instant::now() < deadline, "no client was held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.kill().await;
    sink.pause(false);
    a.restart().await;
    let mails = sink.wait_for(24, Duration::from_secs(40)).await;
    let all = settle(&sink, 24, Duration::from_secs(6)).await;
    let mut seen: Vec<String> = all.iter().flat_map(recipients).collect();
    seen.sort();
    let before = seen.len();
    seen.dedup();
    assert_eq!(before, seen.len(), "an address got two mails");
    let mut expected: Vec<String> = pairs
        .iter()
        .flat_map(|(l, a)| [l.email.clone(), a.email.clone()])
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(mails.len(), 24);
    assert_eq!(q.status_counts().await.get("sent"), Some(&24));
}

// Offline digests, from real chat traffic.

struct ChatAndMail {
    _notifier: ServiceProcess,
    _stream: NotificationStream,
    stack: Stack,
    sink: SmtpSink,
}

impl ChatAndMail {
    async fn start() -> Self {
        let stack = Stack::start_with(StackOptions {
            chat_replicas: 1,
            gateway_replicas: 1,
            ..StackOptions::default()
        })
        .await;
        let sink = SmtpSink::start().await;
        let notifier = notification::start(
            "notification0",
            &stack.db.url,
            &stack.prefix,
            &sink.url(),
            &[("NOTIFICATION_QUIET_PERIOD_SECS", "3")],
        )
        .await;
        Self {
            _notifier: notifier,
            _stream: NotificationStream::of_prefix(&stack.prefix),
            stack,
            sink,
        }
    }

    async fn email_of(&self, user: Uuid) -> String {
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&self.stack.db.pool)
            .await
            .unwrap()
    }
}

async fn send(ws: &mut WsClient, to: Uuid, content: &str) -> Value {
    ws.ok(
        "send_message",
        json!({"recipientId": to, "content": content, "clientMsgId": Uuid::new_v4().to_string()}),
    )
    .await
}

#[tokio::test]
async fn three_messages_while_offline_make_one_digest_naming_all_three() {
    let env = ChatAndMail::start().await;
    let sender = env.stack.create_user("lawyer").await;
    let other = env.stack.create_user("lawyer").await;
    let recipient = env.stack.create_user("applicant").await;
    let mut a = WsClient::connect(&env.stack.ws_url(0), &token(sender)).await;
    let mut b = WsClient::connect(&env.stack.ws_url(0), &token(other)).await;
    send(&mut a, recipient, "First: about your <deposit>").await;
    send(&mut b, recipient, "Second, from someone else").await;
    send(&mut a, recipient, "Third: please call").await;
    let mails = env.sink.wait_for(1, Duration::from_secs(20)).await;
    let mails_after = settle(&env.sink, 1, Duration::from_secs(4)).await;
    assert_eq!(mails.len(), 1);
    let m = &mails_after[0];
    assert_eq!(recipients(m), [env.email_of(recipient).await]);
    assert!(
        header(m, "subject").starts_with("3 new messages from "),
        "{}",
        header(m, "subject")
    );
    let text = body(m, "text/plain");
    for s in [
        "First: about your <deposit>",
        "Second, from someone else",
        "Third: please call",
    ] {
        assert!(text.contains(s), "{s} missing in {text}");
    }
    let html = body(m, "text/html");
    assert!(html.contains("First: about your &lt;deposit&gt;"), "{html}");
    assert!(html.contains(&format!("https://app.switchboard.test/?with={sender}")));

    // A later message is a new digest that mentions only what is new, one quiet period on.
    send(&mut a, recipient, "Fourth, later").await;
    let mails = env.sink.wait_for(2, Duration::from_secs(20)).await;
    let text = body(&mails[1], "text/plain");
    assert!(
        text.contains("Fourth, later") && !text.contains("Third: please call"),
        "{text}"
    );
    assert!(header(&mails[1], "subject").starts_with("New message from "));
}

#[tokio::test]
async fn messages_read_within_the_quiet_period_send_nothing() {
    let env = ChatAndMail::start().await;
    let sender = env.stack.create_user("lawyer").await;
    let recipient = env.stack.create_user("applicant").await;
    let mut a = WsClient::connect(&env.stack.ws_url(0), &token(sender)).await;
    let m1 = send(&mut a, recipient, "one").await;
    let m2 = send(&mut a, recipient, "two").await;
    // The recipient comes online and reads both, then leaves again.
    let mut r = WsClient::connect(&env.stack.ws_url(0), &token(recipient)).await;
    for m in [&m1, &m2] {
        r.ok(
            "mark_message_read",
            json!({"messageId": m["message"]["id"]}),
        )
        .await;
    }
    r.close().await;
    settle(&env.sink, 0, Duration::from_secs(6)).await;
}

#[tokio::test]
async fn an_online_recipient_gets_no_email() {
    let env = ChatAndMail::start().await;
    let sender = env.stack.create_user("lawyer").await;
    let recipient = env.stack.create_user("applicant").await;
    let mut r = WsClient::connect(&env.stack.ws_url(0), &token(recipient)).await;
    // Presence has recorded the connection once a contact would see it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut a = WsClient::connect(&env.stack.ws_url(0), &token(sender)).await;
    send(&mut a, recipient, "you are here").await;
    r.expect_event("message_received").await;
    settle(&env.sink, 0, Duration::from_secs(6)).await;
}

// The whole way: a booking through the consultation API to the two inboxes.

#[tokio::test]
async fn a_booking_through_the_api_reaches_both_inboxes_with_the_meeting_invitation() {
    let stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let sink = stack.smtp.as_ref().unwrap();
    let http = reqwest::Client::new();
    let lawyer = stack.create_user("lawyer").await;
    let applicant = stack.create_user("applicant").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    let r = http
        .post(format!("{}/v1/consultations", stack.api()))
        .bearer_auth(token(applicant))
        .json(&json!({"lawyerId": lawyer, "scheduledAt": at, "durationMinutes": 45}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    let link = c["consultation"]["meetingLink"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = c["consultation"]["id"].as_str().unwrap().to_owned();
    let mails = sink.wait_for(2, Duration::from_secs(30)).await;
    let uid = |m: &Value| {
        ics_lines(body(m, "text/calendar"))
            .into_iter()
            .find(|l| l.starts_with("UID:"))
            .unwrap()
    };
    for m in &mails {
        assert!(body(m, "text/plain").contains(&link));
        assert!(body(m, "text/html").contains(&link));
        assert!(body(m, "text/plain").contains("45 minutes"));
        assert_eq!(
            part(m, "text/calendar").unwrap()["params"]["method"],
            "REQUEST"
        );
    }
    let booked_uid = uid(&mails[0]);
    assert_eq!(booked_uid, uid(&mails[1]));

    let r = http
        .delete(format!("{}/v1/consultations/{id}", stack.api()))
        .bearer_auth(token(lawyer))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mails = sink.wait_for(4, Duration::from_secs(30)).await;
    for m in &mails[2..] {
        let lines = ics_lines(body(m, "text/calendar"));
        assert!(lines.contains(&"METHOD:CANCEL".to_owned()), "{lines:?}");
        assert_eq!(uid(m), booked_uid);
        assert_eq!(
            part(m, "text/calendar").unwrap()["params"]["method"],
            "CANCEL"
        );
    }
    settle(sink, 4, Duration::from_secs(2)).await;
}
