//! The consultation service as a real binary: REST with tokens → gRPC → the meeting
//! service (Jitsi by default, Google and Zoom through their fakes), the stored row with its
//! link, contacts, the notification events on NATS, reschedule, cancel, validation, and
//! what happens when the meeting service is down.

#[path = "meeting_stack.rs"]
mod meeting_stack;

use std::time::Duration;

use futures_util::StreamExt as _;
use meeting_stack::{MAIL_FROM, MeetingStack, Options, ics_lines, ics_value};
use prost::Message as _;
use serde_json::{Value, json};
use switchboard_proto::consultation::v1::{
    self as cpb, consultation_service_client::ConsultationServiceClient,
};
use switchboard_proto::notification::v1::{NotificationEvent, notification_event::Kind};
use switchboard_test_support::stack::nats_url;
use switchboard_test_support::{token, token_with};
use uuid::Uuid;

fn at(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn notifications(stack: &MeetingStack) -> async_nats::Subscriber {
    let nats = async_nats::connect(nats_url()).await.unwrap();
    let sub = nats
        .subscribe(format!("{}.notification.>", stack.prefix))
        .await
        .unwrap();
    nats.flush().await.unwrap();
    sub
}

async fn next_event(sub: &mut async_nats::Subscriber) -> (String, NotificationEvent) {
    let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a notification within 10 s")
        .expect("subscription open");
    (
        msg.subject.to_string(),
        NotificationEvent::decode(msg.payload).expect("a NotificationEvent"),
    )
}

async fn book(
    http: &reqwest::Client,
    stack: &MeetingStack,
    applicant: Uuid,
    body: Value,
) -> (u16, Value) {
    let r = http
        .post(format!("{}/v1/consultations", stack.api()))
        .bearer_auth(token(applicant))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn a_booking_has_its_meeting_contacts_and_invitations_and_can_be_moved_and_cancelled() {
    let stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let mut events = notifications(&stack).await;
    let http = reqwest::Client::new();
    let lawyer = stack.create_user("lawyer").await;
    // The applicant never connected: the token's claims record them.
    let applicant = Uuid::now_v7();
    let applicant_token = token_with(
        applicant,
        3600,
        json!({"email": "ann@example.test", "name": "Ann Applicant", "role": "applicant"}),
    );
    let response = http
        .post(format!("{}/v1/consultations", stack.api()))
        .bearer_auth(&applicant_token)
        .json(&json!({"lawyerId": lawyer, "scheduledAt": at(24), "durationMinutes": 30, "notes": "Tenancy deposit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let c = &body["consultation"];
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["applicantId"], applicant.to_string());
    assert_eq!(c["lawyerId"], lawyer.to_string());
    assert_eq!(c["status"], "scheduled");
    assert_eq!(c["provider"], "jitsi");
    assert_eq!(c["durationMinutes"], 30);
    assert_eq!(c["notes"], "Tenancy deposit");
    let link = c["meetingLink"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with("https://meet.jit.si/switchboard-"),
        "{link}"
    );
    assert!(
        c["googleCalendarUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://calendar.google.com/")
    );
    assert!(
        c["outlookCalendarUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://outlook.office.com/")
    );
    let ics = c["ics"].as_str().unwrap();
    assert_eq!(ics_value(ics, "METHOD").as_deref(), Some("REQUEST"));
    assert_eq!(ics_value(ics, "URL").as_deref(), Some(link.as_str()));
    let attendees: Vec<String> = ics_lines(ics)
        .into_iter()
        .filter(|l| l.starts_with("ATTENDEE"))
        .collect();
    assert_eq!(attendees.len(), 2);
    assert!(
        attendees
            .iter()
            .any(|a| a.ends_with(&format!("mailto:{}@example.test", lawyer.simple())))
    );
    assert!(
        attendees
            .iter()
            .any(|a| a.ends_with("mailto:ann@example.test") && a.contains("RSVP=TRUE"))
    );
    assert!(
        ics_value(ics, "ORGANIZER")
            .unwrap()
            .ends_with("invites@switchboard.test"),
        "{MAIL_FROM}"
    );
    assert!(
        ics_value(ics, "DESCRIPTION")
            .unwrap()
            .contains(&format!("https://app.switchboard.test/consultations/{id}"))
    );

    // The row has the link and the meeting id; the meeting knows its consultation.
    let cid = Uuid::parse_str(&id).unwrap();
    let (row_link, meeting_id): (String, Uuid) =
        sqlx::query_as("SELECT meeting_link, meeting_id FROM consultations WHERE id = $1")
            .bind(cid)
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert_eq!(row_link, link);
    assert_eq!(c["meetingId"], meeting_id.to_string());
    let meeting_consultation: Option<Uuid> =
        sqlx::query_scalar("SELECT consultation_id FROM meetings WHERE id = $1")
            .bind(meeting_id)
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert_eq!(meeting_consultation, Some(cid));
    // Contacts both ways, so presence flows between them.
    let contacts = stack
        .count(&format!(
            "SELECT count(*) FROM contacts WHERE (user_id, contact_id) IN (('{applicant}', '{lawyer}'), ('{lawyer}', '{applicant}'))"
        ))
        .await;
    assert_eq!(contacts, 2);
    let (name, email): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT display_name, email FROM users WHERE id = $1")
            .bind(applicant)
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (name.as_deref(), email.as_deref()),
        (Some("Ann Applicant"), Some("ann@example.test"))
    );

    // The invitation event for both.
    let (subject, event) = next_event(&mut events).await;
    assert_eq!(
        subject,
        format!("{}.notification.consultation_scheduled", stack.prefix)
    );
    assert_eq!(event.dedupe_key, format!("consultation:{id}:scheduled:0"));
    let Some(Kind::ConsultationScheduled(s)) = event.kind else {
        panic!("not a scheduled event");
    };
    assert_eq!(s.consultation_id, id);
    assert_eq!(s.meeting_link, link);
    assert_eq!(
        s.lawyer.unwrap().email,
        format!("{}@example.test", lawyer.simple())
    );
    assert_eq!(s.applicant.unwrap().email, "ann@example.test");
    assert_eq!(s.ics, ics);
    assert!(
        s.google_calendar_url
            .starts_with("https://calendar.google.com/")
    );
    assert_eq!(s.duration_minutes, 30);

    // Participants read it; nobody else does.
    for who in [applicant, lawyer] {
        let r = http
            .get(format!("{}/v1/consultations/{id}", stack.api()))
            .bearer_auth(token(who))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let read: Value = r.json().await.unwrap();
        assert_eq!(read["consultation"]["meetingLink"], link);
    }
    let stranger = http
        .get(format!("{}/v1/consultations/{id}", stack.api()))
        .bearer_auth(token(Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 403);
    let body: Value = stranger.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let anonymous = http
        .get(format!("{}/v1/consultations/{id}", stack.api()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    let missing = http
        .get(format!(
            "{}/v1/consultations/{}",
            stack.api(),
            Uuid::now_v7()
        ))
        .bearer_auth(token(applicant))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Reschedule: the meeting moves, the sequence goes up, a new invitation goes out.
    let moved = http
        .patch(format!("{}/v1/consultations/{id}", stack.api()))
        .bearer_auth(token(lawyer))
        .json(&json!({"scheduledAt": at(30), "durationMinutes": 45}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["consultation"]["icsSequence"], 1);
    assert_eq!(moved["consultation"]["durationMinutes"], 45);
    assert_eq!(moved["consultation"]["meetingLink"], link);
    let (_, event) = next_event(&mut events).await;
    assert_eq!(event.dedupe_key, format!("consultation:{id}:scheduled:1"));
    let meeting_seq: i32 = sqlx::query_scalar("SELECT ics_sequence FROM meetings WHERE id = $1")
        .bind(meeting_id)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(meeting_seq, 1);

    // Cancel: the meeting is cancelled and the CANCEL invitation goes out once.
    let cancelled = http
        .delete(format!(
            "{}/v1/consultations/{id}?reason=client%20withdrew",
            stack.api()
        ))
        .bearer_auth(token(applicant))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    let cc = &cancelled["consultation"];
    assert_eq!(cc["status"], "cancelled");
    assert_eq!(cc["cancelReason"], "client withdrew");
    assert!(cc["cancelledAt"].is_string());
    let cancel_ics = cc["ics"].as_str().unwrap();
    assert_eq!(ics_value(cancel_ics, "METHOD").as_deref(), Some("CANCEL"));
    assert_eq!(
        ics_value(cancel_ics, "STATUS").as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(ics_value(cancel_ics, "SEQUENCE").as_deref(), Some("2"));
    assert_eq!(ics_value(cancel_ics, "UID"), ics_value(ics, "UID"));
    let meeting_status: String = sqlx::query_scalar("SELECT status FROM meetings WHERE id = $1")
        .bind(meeting_id)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(meeting_status, "cancelled");
    let (subject, event) = next_event(&mut events).await;
    assert_eq!(
        subject,
        format!("{}.notification.consultation_cancelled", stack.prefix)
    );
    assert_eq!(event.dedupe_key, format!("consultation:{id}:cancelled:2"));
    let Some(Kind::ConsultationCancelled(c)) = event.kind else {
        panic!("not a cancellation");
    };
    assert_eq!(c.ics, cancel_ics);
    assert_eq!(c.reason.as_deref(), Some("client withdrew"));
    let again = http
        .delete(format!("{}/v1/consultations/{id}", stack.api()))
        .bearer_auth(token(lawyer))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert!(
        tokio::time::timeout(Duration::from_millis(800), events.next())
            .await
            .is_err(),
        "a second cancel sends nothing"
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM consultation_outbox")
            .await,
        0
    );
}

#[tokio::test]
async fn bookings_that_break_the_rules_get_clear_errors() {
    let stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let http = reqwest::Client::new();
    let lawyer = stack.create_user("lawyer").await;
    let other_applicant = stack.create_user("applicant").await;
    let applicant = stack.create_user("applicant").await;

    let (status, first) = book(
        &http,
        &stack,
        applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(10), "durationMinutes": 60}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let start = first["consultation"]["scheduledAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = first["consultation"]["endsAt"].as_str().unwrap().to_owned();

    let cases = [
        (
            json!({"lawyerId": applicant, "scheduledAt": at(20), "durationMinutes": 30}),
            400,
            "is not a lawyer",
        ),
        (
            json!({"lawyerId": Uuid::now_v7(), "scheduledAt": at(20), "durationMinutes": 30}),
            404,
            "does not exist",
        ),
        (
            json!({"lawyerId": "not-a-uuid", "scheduledAt": at(20), "durationMinutes": 30}),
            400,
            "lawyerId must be a UUID",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(-1), "durationMinutes": 30}),
            400,
            "in the future",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": "tomorrow at noon", "durationMinutes": 30}),
            400,
            "RFC 3339",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(20), "durationMinutes": 10}),
            400,
            "between 15 and 240",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(20), "durationMinutes": 300}),
            400,
            "between 15 and 240",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(20), "durationMinutes": 30, "provider": "teams"}),
            400,
            "provider must be one of",
        ),
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(20)}),
            400,
            "durationMinutes",
        ),
        (
            json!({"lawyerId": other_applicant, "scheduledAt": at(20), "durationMinutes": 30}),
            400,
            "two people",
        ),
        // Overlaps the first booking by half an hour.
        (
            json!({"lawyerId": lawyer, "scheduledAt": at(10), "durationMinutes": 30}),
            400,
            "already has a consultation",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = book(&http, &stack, other_applicant, body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let overlap = book(
        &http,
        &stack,
        other_applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(10), "durationMinutes": 30}),
    )
    .await
    .1;
    let message = overlap["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&start) && message.contains(&end),
        "{message}"
    );
    // Back to back is fine: the next one starts where the first ends.
    let (status, _) = book(
        &http,
        &stack,
        other_applicant,
        json!({"lawyerId": lawyer, "scheduledAt": end, "durationMinutes": 15}),
    )
    .await;
    assert_eq!(status, 201);
    let malformed = http
        .post(format!("{}/v1/consultations", stack.api()))
        .bearer_auth(token(applicant))
        .header("content-type", "application/json")
        .body("{\"lawyerId\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(stack.count("SELECT count(*) FROM consultations").await, 2);
    assert_eq!(
        stack.count("SELECT count(*) FROM meetings").await,
        2,
        "no meeting for a refused booking"
    );
}

#[tokio::test]
async fn with_the_meeting_service_down_nothing_is_booked_and_retries_are_idempotent() {
    let mut stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let mut events = notifications(&stack).await;
    let http = reqwest::Client::new();
    let lawyer = stack.create_user("lawyer").await;
    let applicant = stack.create_user("applicant").await;

    stack.meeting.kill().await;
    let (status, body) = book(
        &http,
        &stack,
        applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(5), "durationMinutes": 30}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meeting"),
        "{body}"
    );
    assert_eq!(stack.count("SELECT count(*) FROM consultations").await, 0);
    assert_eq!(stack.count("SELECT count(*) FROM contacts").await, 0);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM consultation_outbox")
            .await,
        0
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.next())
            .await
            .is_err()
    );

    // Back up: a client retrying with its Idempotency-Key books exactly once.
    stack.meeting.restart().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = http
            .post(format!("{}/v1/consultations", stack.api()))
            .bearer_auth(token(applicant))
            .header("Idempotency-Key", "booking-42")
            .json(&json!({"lawyerId": lawyer, "scheduledAt": at(5), "durationMinutes": 30}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        ids.push(body["consultation"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(stack.count("SELECT count(*) FROM consultations").await, 1);
    assert_eq!(stack.count("SELECT count(*) FROM meetings").await, 1);
    let (_, event) = next_event(&mut events).await;
    assert_eq!(
        event.dedupe_key,
        format!("consultation:{}:scheduled:0", ids[0])
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.next())
            .await
            .is_err()
    );

    // Cancelling while the meeting service is down changes nothing either.
    stack.meeting.kill().await;
    let r = http
        .delete(format!("{}/v1/consultations/{}", stack.api(), ids[0]))
        .bearer_auth(token(lawyer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let status: String = sqlx::query_scalar("SELECT status FROM consultations")
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "scheduled");
    // Reads do not need the meeting service.
    let r = http
        .get(format!("{}/v1/consultations/{}", stack.api(), ids[0]))
        .bearer_auth(token(applicant))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn google_and_zoom_consultations_and_failover_between_them() {
    let stack = MeetingStack::start(Options {
        providers: Some("google_meet,zoom"),
        google: true,
        zoom: true,
        consultation: true,
        ..Options::default()
    })
    .await;
    let http = reqwest::Client::new();
    let lawyer = stack.create_user("lawyer").await;
    let applicant = stack.create_user("applicant").await;

    let (status, google) = book(
        &http,
        &stack,
        applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(10), "durationMinutes": 30}),
    )
    .await;
    assert_eq!(status, 201, "{google}");
    let g = &google["consultation"];
    assert_eq!(g["provider"], "google_meet");
    let meeting_id = Uuid::parse_str(g["meetingId"].as_str().unwrap()).unwrap();
    let event_id: String = sqlx::query_scalar("SELECT external_id FROM meetings WHERE id = $1")
        .bind(meeting_id)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    let event = stack.google().event(&event_id).unwrap();
    assert_eq!(g["meetingLink"], event["hangoutLink"]);
    let mut guests: Vec<String> = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap().to_owned())
        .collect();
    guests.sort();
    let mut expected = vec![
        format!("{}@example.test", lawyer.simple()),
        format!("{}@example.test", applicant.simple()),
    ];
    expected.sort();
    assert_eq!(guests, expected);

    let (status, zoom) = book(&http, &stack, applicant, json!({"lawyerId": lawyer, "scheduledAt": at(20), "durationMinutes": 30, "provider": "zoom"})).await;
    assert_eq!(status, 201, "{zoom}");
    assert_eq!(zoom["consultation"]["provider"], "zoom");
    assert!(
        zoom["consultation"]["meetingLink"]
            .as_str()
            .unwrap()
            .contains("zoom.us/j/")
    );

    // Google failing: Zoom serves the booking, and the row holds Zoom's link.
    stack.google().set_api_down(true);
    let (status, failover) = book(
        &http,
        &stack,
        applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(30), "durationMinutes": 30}),
    )
    .await;
    assert_eq!(status, 201, "{failover}");
    let f = &failover["consultation"];
    assert_eq!(f["provider"], "zoom");
    let row_link: String =
        sqlx::query_scalar("SELECT meeting_link FROM consultations WHERE id = $1")
            .bind(Uuid::parse_str(f["id"].as_str().unwrap()).unwrap())
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();
    assert_eq!(row_link, f["meetingLink"].as_str().unwrap());
    let zoom_id: String = sqlx::query_scalar("SELECT external_id FROM meetings WHERE id = $1")
        .bind(Uuid::parse_str(f["meetingId"].as_str().unwrap()).unwrap())
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(
        stack.zoom().meeting(&zoom_id).unwrap()["join_url"],
        f["meetingLink"]
    );

    // Both failing: 503, and nothing stored.
    stack.zoom().set_api_down(true);
    let (status, none) = book(
        &http,
        &stack,
        applicant,
        json!({"lawyerId": lawyer, "scheduledAt": at(40), "durationMinutes": 30}),
    )
    .await;
    assert_eq!(status, 503, "{none}");
    let message = none["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("google_meet") && message.contains("zoom"),
        "{message}"
    );
    assert_eq!(stack.count("SELECT count(*) FROM consultations").await, 3);

    // Cancelling the Google one deletes its calendar event.
    stack.google().set_api_down(false);
    let r = http
        .delete(format!(
            "{}/v1/consultations/{}",
            stack.api(),
            g["id"].as_str().unwrap()
        ))
        .bearer_auth(token(applicant))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(stack.google().event(&event_id).is_none());
}

#[tokio::test]
async fn internal_callers_use_grpc() {
    let stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let lawyer = stack.create_user("lawyer").await;
    let applicant = stack.create_user("applicant").await;
    let addr = stack.consultation.as_ref().unwrap().addr("grpc");
    let mut client = ConsultationServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let created = client
        .create_consultation(cpb::CreateConsultationRequest {
            applicant_id: applicant.to_string(),
            lawyer_id: lawyer.to_string(),
            scheduled_at: Some(prost_types::Timestamp {
                seconds: start.timestamp(),
                nanos: 0,
            }),
            duration_minutes: 60,
            notes: None,
            provider: 0,
            idempotency_key: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.status, cpb::ConsultationStatus::Scheduled as i32);
    assert!(created.meeting_link.starts_with("https://meet.jit.si/"));
    let denied = client
        .get_consultation(cpb::GetConsultationRequest {
            id: created.id.clone(),
            viewer_id: Some(Uuid::now_v7().to_string()),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let read = client
        .get_consultation(cpb::GetConsultationRequest {
            id: created.id.clone(),
            viewer_id: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.meeting_link, created.meeting_link);
    let short = client
        .reschedule_consultation(cpb::RescheduleConsultationRequest {
            id: created.id.clone(),
            viewer_id: Some(lawyer.to_string()),
            scheduled_at: Some(prost_types::Timestamp {
                seconds: start.timestamp() + 3600,
                nanos: 0,
            }),
            duration_minutes: 5,
        })
        .await
        .unwrap_err();
    assert_eq!(short.code(), tonic::Code::InvalidArgument);
    let cancelled = client
        .cancel_consultation(cpb::CancelConsultationRequest {
            id: created.id.clone(),
            viewer_id: Some(applicant.to_string()),
            reason: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, cpb::ConsultationStatus::Cancelled as i32);
    assert!(cancelled.ics.contains("METHOD:CANCEL"));

    let ops = format!(
        "http://{}",
        stack.consultation.as_ref().unwrap().addr("http")
    );
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{ops}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = http
        .get(format!("{ops}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_consultation_consultations_created_total 1"),
        "{metrics}"
    );
}
