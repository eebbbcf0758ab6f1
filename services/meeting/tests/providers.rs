//! The provider clients against local fakes that check requests as Google and Zoom do:
//! token grants and assertion claims, Bearer headers, body fields,
//! `conferenceDataVersion=1`, pending conferences, expired tokens, 429 with Retry-After,
//! 5xx, malformed bodies, and the failover between providers.

use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use serde_json::Value;
use switchboard_meeting::config::{
    GoogleMode, GoogleSettings, HttpPolicy, JitsiSettings, ServiceAccountKey, ZoomSettings,
};
use switchboard_meeting::domain::{Person, ProviderKind};
use switchboard_meeting::providers::google::Google;
use switchboard_meeting::providers::http::ApiClient;
use switchboard_meeting::providers::jitsi::Jitsi;
use switchboard_meeting::providers::zoom::Zoom;
use switchboard_meeting::providers::{MeetingSpec, Provider, ProviderError, Providers};
use switchboard_test_support::fakes::{self, Fault, GoogleFake, GoogleFakeOptions, ZoomFake};
use uuid::Uuid;

fn policy() -> HttpPolicy {
    HttpPolicy {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_attempts: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

fn api() -> ApiClient {
    ApiClient::new(policy()).unwrap()
}

fn google_settings(fake: &GoogleFake) -> GoogleSettings {
    GoogleSettings {
        key: ServiceAccountKey::from_json(&fake.service_account_json()).unwrap(),
        token_uri: fake.token_uri(),
        calendar_base: fake.calendar_base(),
        meet_base: fake.meet_base(),
        calendar_id: "primary".into(),
        subject: Some("organizer@example.test".into()),
        mode: GoogleMode::Calendar,
        poll_attempts: 5,
        poll_interval: Duration::from_millis(10),
        space_access_type: None,
    }
}

fn zoom_settings(fake: &ZoomFake) -> ZoomSettings {
    ZoomSettings {
        account_id: fakes::ZOOM_ACCOUNT_ID.into(),
        client_id: fakes::ZOOM_CLIENT_ID.into(),
        client_secret: fakes::ZOOM_CLIENT_SECRET.to_owned().into(),
        oauth_base: fake.oauth_base(),
        api_base: fake.api_base(),
        user_id: "me".into(),
        waiting_room: true,
    }
}

struct People {
    organizer: Person,
    attendees: Vec<Person>,
}

fn people() -> People {
    People {
        organizer: Person::parse("organizer@example.test", Some("Switchboard")).unwrap(),
        attendees: vec![
            Person::parse("lawyer@example.test", Some("Lee Lawyer")).unwrap(),
            Person::parse("applicant@example.test", None).unwrap(),
        ],
    }
}

fn spec(p: &People) -> MeetingSpec<'_> {
    let start = (Utc::now() + chrono::Duration::days(2))
        .with_nanosecond(0)
        .unwrap();
    MeetingSpec {
        meeting_id: Uuid::now_v7(),
        title: "Consultation, tenancy",
        description: Some("Agenda: deposit"),
        start,
        duration_minutes: 45,
        time_zone: Some("Europe/Berlin"),
        organizer: &p.organizer,
        attendees: &p.attendees,
    }
}

fn calls(requests: &[fakes::Recorded], method: &str, path_part: &str) -> Vec<fakes::Recorded> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.contains(path_part))
        .cloned()
        .collect()
}

// ----------------------------------------------------------------------------- Google

#[tokio::test]
async fn google_creates_a_calendar_event_and_waits_out_the_pending_conference() {
    let fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 2,
        ..GoogleFakeOptions::default()
    })
    .await;
    let google = Google::new(google_settings(&fake), api());
    let p = people();
    let s = spec(&p);
    let created = google.create(&s).await.unwrap();

    // The link is exactly the one Google returned, once the conference succeeded.
    let event = fake.event(&created.external_id).unwrap();
    assert_eq!(
        event["conferenceData"]["createRequest"]["status"]["statusCode"],
        "success"
    );
    assert_eq!(created.join_url, event["hangoutLink"].as_str().unwrap());
    assert!(created.join_url.starts_with("https://meet.google.com/"));
    assert_eq!(created.external_id, s.meeting_id.simple().to_string());
    assert_eq!(created.ics_uid.as_deref(), event["iCalUID"].as_str());

    let requests = fake.requests();
    // The token grant: form-encoded JWT bearer with a signed assertion.
    let token = &calls(&requests, "POST", "/token")[0];
    assert!(
        token
            .content_type
            .as_deref()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(token.body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let claims = &fake.assertions()[0];
    assert_eq!(claims["iss"], fakes::GOOGLE_CLIENT_EMAIL);
    assert_eq!(claims["aud"], fake.token_uri());
    assert_eq!(claims["sub"], "organizer@example.test");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/calendar.events"
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime > 0 && lifetime <= 3600);

    // events.insert with the conference request, on the organizer's calendar.
    let insert = &calls(&requests, "POST", "/calendar/v3/calendars/primary/events")[0];
    assert_eq!(insert.query["conferenceDataVersion"], "1");
    assert_eq!(insert.query["sendUpdates"], "none");
    assert!(
        insert
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer ya29.")
    );
    let body = insert.json();
    assert_eq!(
        body["conferenceData"]["createRequest"]["conferenceSolutionKey"]["type"],
        "hangoutsMeet"
    );
    assert_eq!(
        body["conferenceData"]["createRequest"]["requestId"],
        s.meeting_id.to_string()
    );
    assert_eq!(body["summary"], "Consultation, tenancy");
    assert_eq!(
        body["start"]["dateTime"],
        s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(
        body["end"]["dateTime"],
        s.end().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(body["start"]["timeZone"], "Europe/Berlin");
    let emails: Vec<&str> = body["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["lawyer@example.test", "applicant@example.test"]);
    // Two reads while pending, then the success.
    assert_eq!(calls(&requests, "GET", "/events/").len(), 2);
}

#[tokio::test]
async fn google_reuses_its_token_and_reauthenticates_once_when_it_expires() {
    let fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 0,
        ..Default::default()
    })
    .await;
    let google = Google::new(google_settings(&fake), api());
    let p = people();
    google.create(&spec(&p)).await.unwrap();
    google.create(&spec(&p)).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1, "the cached token serves both");

    fake.expire_tokens();
    google.create(&spec(&p)).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2, "one new token after the 401");
    let refused = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .count();
    assert_eq!(refused, 4, "three inserts, one of them sent twice");

    // A 401 that persists after the new token is an auth error, not a loop.
    fake.push_api_fault(Fault::status(401));
    fake.push_api_fault(Fault::status(401));
    let err = google.create(&spec(&p)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert_eq!(fake.tokens_issued(), 3);
}

#[tokio::test]
async fn google_honours_retry_after_and_retries_5xx() {
    let fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 0,
        ..Default::default()
    })
    .await;
    let google = Google::new(google_settings(&fake), api());
    let p = people();

    fake.push_api_fault(Fault::rate_limited(1));
    let started = Instant::now();
    google.create(&spec(&p)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );

    fake.push_api_fault(Fault::status(503));
    fake.push_api_fault(Fault::status(500));
    google.create(&spec(&p)).await.unwrap();
    assert_eq!(calls(&fake.requests(), "POST", "/events").len(), 5);

    // Google's quota answer is a 403 with reason rateLimitExceeded: backed off, not final.
    fake.push_api_fault(Fault {
        status: 403,
        body: r#"{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}"#.into(),
        retry_after: None,
    });
    google.create(&spec(&p)).await.unwrap();
    assert_eq!(calls(&fake.requests(), "POST", "/events").len(), 7);
    // A real 403 is final.
    fake.push_api_fault(Fault {
        status: 403,
        body: r#"{"error":{"errors":[{"domain":"calendar","reason":"forbiddenForServiceAccounts","message":"Service accounts cannot invite attendees without Domain-Wide Delegation of Authority."}],"code":403,"message":"Service accounts cannot invite attendees without Domain-Wide Delegation of Authority."}}"#.into(),
        retry_after: None,
    });
    let err = google.create(&spec(&p)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth(ref m) if m.contains("Domain-Wide Delegation")),
        "{err:?}"
    );
    assert_eq!(calls(&fake.requests(), "POST", "/events").len(), 8);

    // A Retry-After longer than the limit fails over at once instead of waiting.
    fake.push_api_fault(Fault::rate_limited(3600));
    let started = Instant::now();
    let err = google.create(&spec(&p)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, ProviderError::Unavailable(ref m) if m.contains("3600")),
        "{err:?}"
    );

    // Down for good: unavailable after the configured attempts.
    fake.set_api_down(true);
    let before = calls(&fake.requests(), "POST", "/events").len();
    let err = google.create(&spec(&p)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Unavailable(ref m) if m.contains("503")),
        "{err:?}"
    );
    assert_eq!(calls(&fake.requests(), "POST", "/events").len() - before, 3);
}

#[tokio::test]
async fn google_malformed_bodies_and_refusals_are_errors_not_links() {
    let fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 0,
        ..Default::default()
    })
    .await;
    let p = people();
    let google = Google::new(google_settings(&fake), api());
    fake.push_api_fault(Fault::malformed());
    let err = google.create(&spec(&p)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");

    fake.push_token_fault(Fault {
        status: 200,
        body: r#"{"token_type":"Bearer"}"#.into(),
        retry_after: None,
    });
    let fresh = Google::new(google_settings(&fake), api());
    let err = fresh.create(&spec(&p)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");

    // Without domain-wide delegation Google refuses the Meet conference.
    let mut no_sub = google_settings(&fake);
    no_sub.subject = None;
    let err = Google::new(no_sub, api())
        .create(&spec(&p))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected(ref m) if m.contains("Invalid conference type value.")),
        "{err:?}"
    );

    // An assertion signed with another key is refused at the token endpoint.
    let mut wrong_key = google_settings(&fake);
    wrong_key.key.private_key = include_str!("../../../crates/common/testdata/rsa_private.pem")
        .to_owned()
        .into();
    let err = Google::new(wrong_key, api())
        .create(&spec(&p))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth(ref m) if m.contains("Invalid JWT Signature.")),
        "{err:?}"
    );
    assert_eq!(fake.event_count(), 0);
}

#[tokio::test]
async fn google_conference_failure_or_endless_pending_leaves_no_event() {
    let p = people();
    let failing = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 1,
        conference_fails: true,
        ..Default::default()
    })
    .await;
    let err = Google::new(google_settings(&failing), api())
        .create(&spec(&p))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Rejected(_)), "{err:?}");
    assert_eq!(failing.event_count(), 0, "the unusable event was deleted");

    let slow = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 100,
        ..Default::default()
    })
    .await;
    let mut settings = google_settings(&slow);
    settings.poll_attempts = 3;
    let err = Google::new(settings, api())
        .create(&spec(&p))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Unavailable(ref m) if m.contains("pending")),
        "{err:?}"
    );
    assert_eq!(calls(&slow.requests(), "GET", "/events/").len(), 3);
    assert_eq!(slow.event_count(), 0);
}

#[tokio::test]
async fn google_reschedules_cancels_and_survives_a_repeated_insert() {
    let fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 0,
        ..Default::default()
    })
    .await;
    let google = Google::new(google_settings(&fake), api());
    let p = people();
    let mut s = spec(&p);
    let created = google.create(&s).await.unwrap();

    // The same meeting inserted again (a retry whose first answer was lost): 409, then
    // the existing event is read instead of a second one made.
    let again = google.create(&s).await.unwrap();
    assert_eq!(again.join_url, created.join_url);
    assert_eq!(fake.event_count(), 1);

    s.start += chrono::Duration::days(1);
    google
        .reschedule(&created.external_id, &created.data, &s)
        .await
        .unwrap();
    let event = fake.event(&created.external_id).unwrap();
    assert_eq!(
        event["start"]["dateTime"],
        s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(event["sequence"], 1);
    let patch = &calls(&fake.requests(), "PATCH", "/events/")[0];
    assert_eq!(patch.query["conferenceDataVersion"], "1");

    google
        .cancel(&created.external_id, &created.data)
        .await
        .unwrap();
    assert!(fake.event(&created.external_id).is_none());
    // Cancelling again (410 Gone) is not an error.
    google
        .cancel(&created.external_id, &created.data)
        .await
        .unwrap();
}

#[tokio::test]
async fn google_meet_spaces_as_the_alternative() {
    let fake = GoogleFake::start().await;
    let mut settings = google_settings(&fake);
    settings.mode = GoogleMode::Spaces;
    settings.space_access_type = Some("OPEN".into());
    let p = people();
    let created = Google::new(settings, api())
        .create(&spec(&p))
        .await
        .unwrap();
    assert!(created.external_id.starts_with("spaces/"));
    assert!(created.join_url.starts_with("https://meet.google.com/"));
    assert_eq!(
        fake.assertions()[0]["scope"],
        "https://www.googleapis.com/auth/meetings.space.created"
    );
    let create = &calls(&fake.requests(), "POST", "/v2/spaces")[0];
    assert_eq!(create.json()["config"]["accessType"], "OPEN");
    assert!(
        create
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer ")
    );
}

// ----------------------------------------------------------------------------- Zoom

#[tokio::test]
async fn zoom_uses_server_to_server_oauth_and_schedules_the_meeting() {
    let fake = ZoomFake::start().await;
    let zoom = Zoom::new(zoom_settings(&fake), api());
    let p = people();
    let s = spec(&p);
    let created = zoom.create(&s).await.unwrap();
    let meeting = fake.meeting(&created.external_id).unwrap();
    assert_eq!(created.join_url, meeting["join_url"].as_str().unwrap());
    assert_eq!(created.host_url.as_deref(), meeting["start_url"].as_str());
    assert!(created.join_url.contains("?pwd="));

    let requests = fake.requests();
    let token = &calls(&requests, "POST", "/oauth/token")[0];
    assert_eq!(token.query["grant_type"], "account_credentials");
    assert_eq!(token.query["account_id"], fakes::ZOOM_ACCOUNT_ID);
    assert!(
        token
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );

    let create = &calls(&requests, "POST", "/v2/users/me/meetings")[0];
    assert!(
        create
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer ")
    );
    let body = create.json();
    assert_eq!(body["type"], 2);
    assert_eq!(body["topic"], "Consultation, tenancy");
    assert_eq!(
        body["start_time"],
        s.start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(body["duration"], 45);
    assert_eq!(body["timezone"], "Europe/Berlin");
    assert_eq!(body["agenda"], "Agenda: deposit");
    assert_eq!(body["settings"]["waiting_room"], true);
    assert_eq!(body["settings"]["join_before_host"], false);
}

#[tokio::test]
async fn zoom_token_cache_reauth_rate_limits_and_bad_answers() {
    let fake = ZoomFake::start().await;
    let zoom = Zoom::new(zoom_settings(&fake), api());
    let p = people();
    zoom.create(&spec(&p)).await.unwrap();
    zoom.create(&spec(&p)).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1);
    fake.expire_tokens();
    zoom.create(&spec(&p)).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);

    fake.push_api_fault(Fault::rate_limited(1));
    let started = Instant::now();
    zoom.create(&spec(&p)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));

    fake.push_api_fault(Fault::status(502));
    zoom.create(&spec(&p)).await.unwrap();

    fake.push_api_fault(Fault::malformed());
    assert!(matches!(
        zoom.create(&spec(&p)).await.unwrap_err(),
        ProviderError::Malformed(_)
    ));

    // A 201 whose join_url is not a Zoom link is not taken.
    fake.push_api_fault(Fault {
        status: 201,
        body: r#"{"id":85123456789,"join_url":"https://zoom.us.evil.com/j/85123456789"}"#.into(),
        retry_after: None,
    });
    assert!(matches!(
        zoom.create(&spec(&p)).await.unwrap_err(),
        ProviderError::Malformed(_)
    ));

    fake.set_api_down(true);
    assert!(matches!(
        zoom.create(&spec(&p)).await.unwrap_err(),
        ProviderError::Unavailable(_)
    ));
}

#[tokio::test]
async fn zoom_refuses_wrong_credentials_and_unknown_hosts() {
    let fake = ZoomFake::start().await;
    let p = people();
    let mut wrong = zoom_settings(&fake);
    wrong.client_secret = "not-the-secret".to_owned().into();
    let err = Zoom::new(wrong, api()).create(&spec(&p)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Auth(ref m) if m.contains("Invalid client_id or client_secret")),
        "{err:?}"
    );
    let mut unknown = zoom_settings(&fake);
    unknown.user_id = "nobody@example.test".into();
    let err = Zoom::new(unknown, api())
        .create(&spec(&p))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected(ref m) if m.contains("User does not exist")),
        "{err:?}"
    );
}

#[tokio::test]
async fn zoom_reschedules_and_cancels() {
    let fake = ZoomFake::start().await;
    let zoom = Zoom::new(zoom_settings(&fake), api());
    let p = people();
    let mut s = spec(&p);
    let created = zoom.create(&s).await.unwrap();
    s.start += chrono::Duration::hours(5);
    s.duration_minutes = 60;
    zoom.reschedule(&created.external_id, &s).await.unwrap();
    let meeting = fake.meeting(&created.external_id).unwrap();
    assert_eq!(
        meeting["start_time"],
        s.start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(meeting["duration"], 60);
    zoom.cancel(&created.external_id).await.unwrap();
    assert!(fake.meeting(&created.external_id).is_none());
    let delete = &calls(&fake.requests(), "DELETE", "/v2/meetings/")[0];
    assert!(
        delete
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer ")
    );
    // Already gone (404): done.
    zoom.cancel(&created.external_id).await.unwrap();
    // Moving a meeting that does not exist is an error.
    assert!(zoom.reschedule(&created.external_id, &s).await.is_err());
}

// ----------------------------------------------------------------------------- failover

#[tokio::test]
async fn the_next_provider_serves_when_one_fails_and_the_attempts_say_why() {
    let google_fake = GoogleFake::start_with(GoogleFakeOptions {
        pending_reads: 0,
        ..Default::default()
    })
    .await;
    let zoom_fake = ZoomFake::start().await;
    let providers = Providers::new(
        vec![
            ProviderKind::GoogleMeet,
            ProviderKind::Zoom,
            ProviderKind::Jitsi,
        ],
        [
            (
                ProviderKind::GoogleMeet,
                Provider::Google(Box::new(Google::new(google_settings(&google_fake), api()))),
            ),
            (
                ProviderKind::Zoom,
                Provider::Zoom(Box::new(Zoom::new(zoom_settings(&zoom_fake), api()))),
            ),
            (
                ProviderKind::Jitsi,
                Provider::Jitsi(Box::new(Jitsi::new(JitsiSettings::default()).unwrap())),
            ),
        ],
    );
    let p = people();

    let (served, attempts) = providers.create(None, &spec(&p)).await;
    assert_eq!(served.unwrap().0, ProviderKind::GoogleMeet);
    assert_eq!(attempts.len(), 1);

    google_fake.set_api_down(true);
    let (served, attempts) = providers.create(None, &spec(&p)).await;
    let (kind, created) = served.unwrap();
    assert_eq!(kind, ProviderKind::Zoom);
    assert!(created.join_url.contains("zoom.us/j/"));
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].provider, ProviderKind::GoogleMeet);
    assert!(!attempts[0].succeeded);
    assert!(
        attempts[0].error.as_deref().unwrap().contains("503"),
        "{attempts:?}"
    );
    assert!(attempts[1].succeeded);

    zoom_fake.set_api_down(true);
    let (served, attempts) = providers.create(None, &spec(&p)).await;
    assert_eq!(served.unwrap().0, ProviderKind::Jitsi);
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.provider, a.succeeded))
            .collect::<Vec<_>>(),
        [
            (ProviderKind::GoogleMeet, false),
            (ProviderKind::Zoom, false),
            (ProviderKind::Jitsi, true)
        ]
    );

    // A preferred provider goes first.
    zoom_fake.set_api_down(false);
    let (served, _) = providers.create(Some(ProviderKind::Zoom), &spec(&p)).await;
    assert_eq!(served.unwrap().0, ProviderKind::Zoom);

    // Nothing works: no meeting, and every reason is there.
    let only_google = Providers::new(
        vec![ProviderKind::GoogleMeet],
        [(
            ProviderKind::GoogleMeet,
            Provider::Google(Box::new(Google::new(google_settings(&google_fake), api()))),
        )],
    );
    let (served, attempts) = only_google
        .create(Some(ProviderKind::Zoom), &spec(&p))
        .await;
    assert!(served.is_none());
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("not enabled")
    );
    let errors: Vec<Value> = attempts
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    assert_eq!(errors[1]["provider"], "google_meet");
}
