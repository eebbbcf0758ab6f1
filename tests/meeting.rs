//! The meeting-link service as a real binary over gRPC: Jitsi by default, Google Meet and
//! Zoom through their local fakes, failover, idempotency, reschedule, cancel, link
//! validation, health and ops endpoints.

#[path = "meeting_stack.rs"]
mod meeting_stack;

use meeting_stack::{MeetingStack, Options, hours_from_now, ics_value};
use switchboard_proto::meeting::v1::{self as pb};
use tonic_health::pb::health_client::HealthClient;
use uuid::Uuid;

fn request(key: &str) -> pb::CreateMeetingRequest {
    pb::CreateMeetingRequest {
        title: "Intro call, tenancy; deposit".into(),
        description: Some("Agenda: deposit\nBring the lease".into()),
        start: Some(hours_from_now(48)),
        duration_minutes: 30,
        time_zone: None,
        organizer: None,
        attendees: vec![
            pb::Attendee {
                email: "lawyer@example.test".into(),
                display_name: Some("Doe, Jane".into()),
            },
            pb::Attendee {
                email: "applicant@example.test".into(),
                display_name: None,
            },
        ],
        preferred_provider: pb::Provider::Unspecified as i32,
        consultation_id: None,
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn jitsi_meetings_are_stored_moved_and_cancelled_with_their_invitations() {
    let stack = MeetingStack::start(Options::default()).await;
    let mut client = stack.meetings().await;

    let created = client
        .create_meeting(request("k-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.provider, pb::Provider::Jitsi as i32);
    assert!(
        created
            .join_url
            .starts_with("https://meet.jit.si/switchboard-"),
        "{}",
        created.join_url
    );
    assert_eq!(created.attempts.len(), 1);
    assert!(created.attempts[0].succeeded);
    assert_eq!(created.ics_sequence, 0);
    assert_eq!(
        ics_value(&created.ics, "METHOD").as_deref(),
        Some("REQUEST")
    );
    assert_eq!(ics_value(&created.ics, "SEQUENCE").as_deref(), Some("0"));
    assert_eq!(ics_value(&created.ics, "UID").unwrap(), created.ics_uid);
    assert_eq!(
        ics_value(&created.ics, "ORGANIZER").as_deref(),
        Some("mailto:invites@switchboard.test")
    );
    assert!(
        created
            .google_calendar_url
            .starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE")
    );
    assert!(
        created
            .outlook_calendar_url
            .starts_with("https://outlook.office.com/calendar/deeplink/compose?")
    );

    // Stored, and a retry with the same key is the same meeting.
    let stored: String = sqlx::query_scalar("SELECT join_url FROM meetings WHERE id = $1")
        .bind(Uuid::parse_str(&created.id).unwrap())
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, created.join_url);
    let again = client
        .create_meeting(request("k-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, created.id);
    assert_eq!(again.join_url, created.join_url);
    assert_eq!(stack.count("SELECT count(*) FROM meetings").await, 1);
    let other = client
        .create_meeting(request("k-2"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.join_url, created.join_url, "every room name is new");

    let read = client
        .get_meeting(pb::GetMeetingRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.ics, created.ics);

    // Reschedule: sequence 1, new times everywhere.
    let moved = client
        .update_meeting(pb::UpdateMeetingRequest {
            id: created.id.clone(),
            start: Some(hours_from_now(72)),
            duration_minutes: 45,
            title: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.ics_sequence, 1);
    assert_eq!(moved.duration_minutes, 45);
    assert_eq!(ics_value(&moved.ics, "SEQUENCE").as_deref(), Some("1"));
    assert_eq!(ics_value(&moved.ics, "UID"), ics_value(&created.ics, "UID"));
    assert_ne!(
        ics_value(&moved.ics, "DTSTART"),
        ics_value(&created.ics, "DTSTART")
    );
    assert_ne!(moved.google_calendar_url, created.google_calendar_url);

    // Cancel: METHOD:CANCEL, STATUS:CANCELLED, sequence bumped again; twice is once.
    let cancelled = client
        .cancel_meeting(pb::CancelMeetingRequest {
            id: created.id.clone(),
            reason: Some("client asked".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, pb::MeetingStatus::Cancelled as i32);
    assert_eq!(cancelled.ics_sequence, 2);
    assert_eq!(
        ics_value(&cancelled.ics, "METHOD").as_deref(),
        Some("CANCEL")
    );
    assert_eq!(
        ics_value(&cancelled.ics, "STATUS").as_deref(),
        Some("CANCELLED")
    );
    assert_eq!(
        ics_value(&cancelled.ics, "UID"),
        ics_value(&created.ics, "UID")
    );
    let twice = client
        .cancel_meeting(pb::CancelMeetingRequest {
            id: created.id.clone(),
            reason: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(twice.ics_sequence, 2);
    let late = client
        .update_meeting(pb::UpdateMeetingRequest {
            id: created.id.clone(),
            start: Some(hours_from_now(96)),
            duration_minutes: 30,
            title: None,
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    let missing = client
        .get_meeting(pb::GetMeetingRequest {
            id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn bad_requests_are_refused_and_links_are_validated() {
    let stack = MeetingStack::start(Options::default()).await;
    let mut client = stack.meetings().await;
    for (mut req, needle) in [
        (
            pb::CreateMeetingRequest {
                title: " \n ".into(),
                ..request("")
            },
            "title",
        ),
        (
            pb::CreateMeetingRequest {
                start: None,
                ..request("")
            },
            "start",
        ),
        (
            pb::CreateMeetingRequest {
                start: Some(hours_from_now(-2)),
                ..request("")
            },
            "past",
        ),
        (
            pb::CreateMeetingRequest {
                duration_minutes: 0,
                ..request("")
            },
            "duration",
        ),
        (
            pb::CreateMeetingRequest {
                preferred_provider: 42,
                ..request("")
            },
            "preferred_provider",
        ),
    ] {
        req.idempotency_key.clear();
        let e = client.create_meeting(req).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains(needle), "{}", e.message());
    }
    let mut bad_attendee = request("");
    bad_attendee.attendees[0].email = "jane@example.test\r\nATTENDEE:mailto:x@evil.test".into();
    let e = client.create_meeting(bad_attendee).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(stack.count("SELECT count(*) FROM meetings").await, 0);

    let created = client
        .create_meeting(request("v"))
        .await
        .unwrap()
        .into_inner();
    for (url, provider) in [
        (created.join_url.as_str(), pb::Provider::Jitsi),
        (
            "https://meet.google.com/abc-mnop-xyz?authuser=0",
            pb::Provider::GoogleMeet,
        ),
        (
            "https://us02web.zoom.us/j/85123456789?pwd=abc.1",
            pb::Provider::Zoom,
        ),
    ] {
        let v = client
            .validate_meeting_link(pb::ValidateMeetingLinkRequest { url: url.into() })
            .await
            .unwrap()
            .into_inner();
        assert!(v.valid, "{url}: {:?}", v.reason);
        assert_eq!(v.provider, provider as i32);
    }
    for url in [
        "https://meet.google.com.evil.com/abc-mnop-xyz",
        "javascript:alert(document.cookie)",
        "https://evilzoom.us/j/85123456789",
        "https://jitsi.evil.test/room",
    ] {
        let v = client
            .validate_meeting_link(pb::ValidateMeetingLinkRequest { url: url.into() })
            .await
            .unwrap()
            .into_inner();
        assert!(!v.valid, "{url} accepted");
        assert!(v.reason.is_some());
        assert!(v.normalized.is_none());
    }

    // gRPC health, reflection and the ops endpoints.
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", stack.meeting.addr("grpc")))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let health = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "switchboard.meeting.v1.MeetingService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let http = reqwest::Client::new();
    let ops = format!("http://{}", stack.meeting.addr("http"));
    assert_eq!(
        http.get(format!("{ops}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
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
        metrics.contains("switchboard_meeting_meetings_created_total{provider=\"jitsi\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn google_and_zoom_through_their_fakes_with_failover() {
    let stack = MeetingStack::start(Options {
        providers: Some("google_meet,zoom,jitsi"),
        google: true,
        zoom: true,
        ..Options::default()
    })
    .await;
    let mut client = stack.meetings().await;

    // Google first: a real (fake) Calendar event with a Meet conference.
    let google = client
        .create_meeting(request("g"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(google.provider, pb::Provider::GoogleMeet as i32);
    let event = stack.google().event(&google.external_id).unwrap();
    assert_eq!(google.join_url, event["hangoutLink"].as_str().unwrap());
    // One event in the organizer's calendar and the invitation: the same UID.
    assert_eq!(google.ics_uid, event["iCalUID"].as_str().unwrap());
    assert_eq!(ics_value(&google.ics, "UID").unwrap(), google.ics_uid);
    let attendees: Vec<&str> = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(attendees, ["lawyer@example.test", "applicant@example.test"]);
    let insert = stack
        .google()
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/events"))
        .unwrap();
    assert_eq!(insert.query["conferenceDataVersion"], "1");

    // Google down: Zoom serves, and the answer says why Google did not.
    stack.google().set_api_down(true);
    let zoom = client
        .create_meeting(request("z"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(zoom.provider, pb::Provider::Zoom as i32);
    assert_eq!(zoom.attempts.len(), 2);
    assert_eq!(zoom.attempts[0].provider, pb::Provider::GoogleMeet as i32);
    assert!(!zoom.attempts[0].succeeded);
    assert!(
        zoom.attempts[0].error.as_deref().unwrap().contains("503"),
        "{:?}",
        zoom.attempts
    );
    let at_zoom = stack.zoom().meeting(&zoom.external_id).unwrap();
    assert_eq!(zoom.join_url, at_zoom["join_url"].as_str().unwrap());
    assert_eq!(zoom.host_url.as_deref(), at_zoom["start_url"].as_str());
    assert_eq!(at_zoom["settings"]["waiting_room"], true);

    // Both down: Jitsi, which needs no network.
    stack.zoom().set_api_down(true);
    let jitsi = client
        .create_meeting(request("j"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jitsi.provider, pb::Provider::Jitsi as i32);
    assert_eq!(jitsi.attempts.len(), 3);

    // The caller's preference goes first.
    stack.zoom().set_api_down(false);
    let preferred = client
        .create_meeting(pb::CreateMeetingRequest {
            preferred_provider: pb::Provider::Zoom as i32,
            ..request("p")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(preferred.provider, pb::Provider::Zoom as i32);
    assert_eq!(preferred.attempts.len(), 1);

    // Moving and cancelling reach the provider that holds the meeting.
    stack.google().set_api_down(false);
    let moved = client
        .update_meeting(pb::UpdateMeetingRequest {
            id: google.id.clone(),
            start: Some(hours_from_now(100)),
            duration_minutes: 60,
            title: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.ics_sequence, 1);
    let event = stack.google().event(&google.external_id).unwrap();
    assert_eq!(event["sequence"], 1);
    client
        .cancel_meeting(pb::CancelMeetingRequest {
            id: google.id.clone(),
            reason: None,
        })
        .await
        .unwrap();
    assert!(stack.google().event(&google.external_id).is_none());
    client
        .cancel_meeting(pb::CancelMeetingRequest {
            id: zoom.id.clone(),
            reason: None,
        })
        .await
        .unwrap();
    assert!(stack.zoom().meeting(&zoom.external_id).is_none());

    // A provider that cannot cancel leaves the meeting scheduled, and says so.
    stack.zoom().set_api_down(true);
    let e = client
        .cancel_meeting(pb::CancelMeetingRequest {
            id: preferred.id.clone(),
            reason: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    assert!(e.message().contains("zoom"), "{}", e.message());
    let still = client
        .get_meeting(pb::GetMeetingRequest {
            id: preferred.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.status, pb::MeetingStatus::Scheduled as i32);
}

#[tokio::test]
async fn no_provider_no_meeting() {
    let stack = MeetingStack::start(Options {
        providers: Some("google_meet"),
        google: true,
        ..Options::default()
    })
    .await;
    stack.google().set_api_down(true);
    let mut client = stack.meetings().await;
    let e = client.create_meeting(request("x")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unavailable);
    assert!(e.message().contains("google_meet"), "{}", e.message());
    assert_eq!(stack.count("SELECT count(*) FROM meetings").await, 0);
}
