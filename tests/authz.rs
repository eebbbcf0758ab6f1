//! The authorization matrix: every WebSocket event and every REST endpoint (the gateway's
//! `/v1/...` and the consultation service's `/v1/consultations`), each tried by the owner
//! of what it touches, by another user, without a token and with an expired one. One row
//! per case; a failure names its row.
//!
//! The people: Alice sent messages to Bob (so they are contacts); Eve is another user who
//! shares nothing with them. For consultations: Ann booked Lena (a lawyer); Eve and Marc
//! (another lawyer) have nothing to do with it.

#[path = "meeting_stack.rs"]
mod meeting_stack;

use std::time::Duration;

use meeting_stack::{MeetingStack, Options};
use serde_json::{Value, json};
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::ws::WsClient;
use switchboard_test_support::{token, token_with};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use uuid::Uuid;

/// How long a row waits to be sure something did not arrive.
const QUIET: Duration = Duration::from_millis(400);

/// A token for `user` that expired an hour ago (well past the 30 s leeway).
fn expired(user: Uuid) -> String {
    let now = chrono::Utc::now().timestamp();
    token_with(user, 0, json!({ "exp": now - 3600 }))
}

/// Who tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Alice,
    Bob,
    Eve,
}

/// What a row expects back.
enum Expect {
    /// Success, and the data passes the check.
    Ok(Check),
    /// An error with this code.
    Code(&'static str),
}

type Check = Box<dyn Fn(&Value) -> Result<(), String>>;

fn ok(check: impl Fn(&Value) -> Result<(), String> + 'static) -> Expect {
    Expect::Ok(Box::new(check))
}

fn ok_any() -> Expect {
    ok(|_| Ok(()))
}

/// Passes when `list` (a JSON array of messages) holds message `id`, or lacks it.
fn lists(field: &'static str, id: &str, present: bool) -> Expect {
    let id = id.to_owned();
    ok(move |data| {
        let found = data[field]
            .as_array()
            .ok_or_else(|| format!("no {field} array in {data}"))?
            .iter()
            .any(|m| m["id"] == id.as_str() || m["userId"] == id.as_str());
        if found == present {
            Ok(())
        } else {
            Err(format!(
                "{field} should {}contain {id}: {data}",
                if present { "" } else { "not " }
            ))
        }
    })
}

fn empty(field: &'static str) -> Expect {
    ok(move |data| match data[field].as_array() {
        Some(a) if a.is_empty() => Ok(()),
        _ => Err(format!("{field} should be empty: {data}")),
    })
}

/// Passes when the RFC 3339 time at `field` is the instant `want` names.
fn time_is(field: &'static str, want: &str) -> Expect {
    let want = chrono::DateTime::parse_from_rfc3339(want).expect("an RFC 3339 time");
    ok(move |data| {
        let got = data
            .pointer(field)
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        if got == Some(want) {
            Ok(())
        } else {
            Err(format!("{field} should be {want}: {data}"))
        }
    })
}

/// Passes when `field` is there at all.
fn has(field: &'static str) -> Expect {
    ok(move |data| match data.pointer(field) {
        Some(v) if !v.is_null() => Ok(()),
        _ => Err(format!("no {field}: {data}")),
    })
}

fn field_is(field: &'static str, want: Value) -> Expect {
    ok(move |data| {
        let got = data.pointer(field).cloned().unwrap_or(Value::Null);
        if got == want {
            Ok(())
        } else {
            Err(format!("{field} is {got}, not {want}: {data}"))
        }
    })
}

/// After a row: does `to` get `event` from `from` (or nothing, when `from` is `None`)?
struct Delivery {
    to: Who,
    event: &'static str,
    from: Option<Uuid>,
}

/// One case of the WebSocket matrix.
struct WsRow {
    event: &'static str,
    who: Who,
    case: &'static str,
    data: Value,
    expect: Expect,
    then: Option<Delivery>,
}

impl WsRow {
    fn name(&self) -> String {
        format!("{} by {:?} ({})", self.event, self.who, self.case)
    }

    /// Also check what `to` receives after the row.
    fn then(mut self, to: Who, event: &'static str, from: Option<Uuid>) -> Self {
        self.then = Some(Delivery { to, event, from });
        self
    }
}

fn row(event: &'static str, who: Who, case: &'static str, data: Value, expect: Expect) -> WsRow {
    WsRow {
        event,
        who,
        case,
        data,
        expect,
        then: None,
    }
}

/// Every event a client may send, with data that would be valid for its owner.
fn every_event(bob: Uuid, message: &str, bob_token: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "send_message",
            json!({"recipientId": bob, "content": "let me in"}),
        ),
        ("mark_message_read", json!({"messageId": message})),
        (
            "mark_conversation_read",
            json!({"peerId": bob, "upToMessageId": message}),
        ),
        ("user_typing", json!({"recipientId": bob})),
        ("user_stop_typing", json!({"recipientId": bob})),
        ("sync", json!({})),
        ("history", json!({"peerId": bob})),
        ("get_presence", json!({"userIds": [bob]})),
        ("refresh_token", json!({"token": bob_token})),
    ]
}

async fn message_state(stack: &Stack) -> Vec<(Uuid, Option<chrono::DateTime<chrono::Utc>>)> {
    sqlx::query_as("SELECT id, read_at FROM messages ORDER BY id")
        .fetch_all(&stack.db.pool)
        .await
        .expect("messages")
}

#[tokio::test]
async fn every_websocket_event_by_owner_other_user_no_token_and_expired_token() {
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await;
    let url = stack.ws_url(0);
    let (alice, bob, eve) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let dave = stack.create_user("lawyer").await;
    let mut a = WsClient::connect(&url, &token(alice)).await;
    let mut b = WsClient::connect(&url, &token(bob)).await;
    let mut e = WsClient::connect(&url, &token(eve)).await;
    let mut sent = Vec::new();
    for text in ["first", "second", "third"] {
        let m = a
            .ok("send_message", json!({"recipientId": bob, "content": text}))
            .await["message"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        b.expect_event("message_received").await;
        sent.push(m);
    }
    let (m1, m2) = (sent[0].clone(), sent[1].clone());

    // Without a token, or with an expired one, no event does anything: the upgrade is
    // refused with 401, and a socket that authenticates in its first frame is closed 4001.
    let before = message_state(&stack).await;
    for (event, data) in every_event(bob, &m1, &token(bob)) {
        let frame = json!({"event": event, "data": data, "ack": 1}).to_string();
        let row = format!("{event} with no token");
        let mut c = WsClient::open(&url).await.expect(&row);
        c.send_text(frame.clone()).await;
        let (code, reason) = c.expect_close().await;
        assert_eq!(code, 4001, "{row}: {reason}");

        let row = format!("{event} with an expired token (upgrade)");
        let request = format!("{url}?token={}", expired(bob))
            .into_client_request()
            .unwrap();
        match WsClient::open_request(request).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 401, "{row}"),
            Err(other) => panic!("{row}: {other}"),
            Ok(_) => panic!("{row}: the upgrade was accepted"),
        }

        let row = format!("{event} with an expired token (first frame)");
        let mut c = WsClient::open(&url).await.expect(&row);
        c.send_text(json!({"event": "auth", "data": {"token": expired(bob)}}).to_string())
            .await;
        let (code, reason) = c.expect_close().await;
        assert_eq!(code, 4001, "{row}: {reason}");
        assert!(reason.contains("expired"), "{row}: {reason}");
    }
    assert_eq!(
        message_state(&stack).await,
        before,
        "no token or an expired one must store or mark nothing"
    );
    b.expect_no_event("message_received", QUIET).await;
    b.expect_no_event("user_typing", QUIET).await;

    use Who::{Alice, Bob, Eve};
    // One row per case: event, who, the case, the data, what comes back.
    #[rustfmt::skip]
    let rows = vec![
        // send_message: anyone may write to anyone (a first message makes a contact); the
        // sender is always the token's user.
        row("send_message", Alice, "sender", json!({"recipientId": bob, "content": "hi"}), field_is("/message/senderId", json!(alice))),
        row("send_message", Alice, "a senderId in the payload is ignored", json!({"recipientId": bob, "content": "spoof", "senderId": eve}), field_is("/message/senderId", json!(alice))),
        row("send_message", Eve, "another user writes to a stranger", json!({"recipientId": dave, "content": "hello dave"}), field_is("/message/senderId", json!(eve))),
        row("send_message", Eve, "posing as Alice by senderId", json!({"recipientId": dave, "content": "I am alice", "senderId": alice}), field_is("/message/senderId", json!(eve))),
        // mark_message_read: the recipient only; the sender is told no, anyone else is told
        // the message does not exist.
        row("mark_message_read", Eve, "another user", json!({"messageId": m1}), Expect::Code("not_found")),
        row("mark_message_read", Eve, "a readerId in the payload is ignored", json!({"messageId": m1, "readerId": bob}), Expect::Code("not_found")),
        row("mark_message_read", Alice, "the sender", json!({"messageId": m1}), Expect::Code("forbidden")),
        row("mark_message_read", Bob, "the recipient", json!({"messageId": m1}), field_is("/messageId", json!(m1))),
        // mark_conversation_read marks only messages to the reader.
        row("mark_conversation_read", Eve, "another user names the pair's peer", json!({"peerId": alice, "upToMessageId": m2}), field_is("/count", json!(0))),
        row("mark_conversation_read", Eve, "a readerId in the payload is ignored", json!({"peerId": alice, "upToMessageId": m2, "readerId": bob}), field_is("/count", json!(0))),
        row("mark_conversation_read", Alice, "the sender marks her own messages", json!({"peerId": bob, "upToMessageId": m2}), field_is("/count", json!(0))),
        row("mark_conversation_read", Bob, "the recipient", json!({"peerId": alice, "upToMessageId": m2}), field_is("/count", json!(1))),
        // Typing goes to contacts only; the row also watches what Bob receives.
        row("user_typing", Alice, "to a contact", json!({"recipientId": bob}), ok_any()).then(Bob, "user_typing", Some(alice)),
        row("user_typing", Eve, "to a non-contact", json!({"recipientId": bob}), Expect::Code("forbidden")).then(Bob, "user_typing", None),
        row("user_stop_typing", Alice, "to a contact", json!({"recipientId": bob}), ok_any()).then(Bob, "user_stop_typing", Some(alice)),
        row("user_stop_typing", Eve, "to a non-contact", json!({"recipientId": bob}), Expect::Code("forbidden")).then(Bob, "user_stop_typing", None),
        // sync: only messages to or from the user.
        row("sync", Alice, "the sender", json!({}), lists("messages", &m1, true)),
        row("sync", Bob, "the recipient", json!({}), lists("messages", &m1, true)),
        row("sync", Eve, "another user", json!({}), lists("messages", &m1, false)),
        row("sync", Eve, "a userId in the payload is ignored", json!({"userId": alice}), lists("messages", &m1, false)),
        // history: only one's own conversations.
        row("history", Alice, "the sender", json!({"peerId": bob}), lists("messages", &m1, true)),
        row("history", Bob, "the recipient", json!({"peerId": alice}), lists("messages", &m1, true)),
        row("history", Eve, "another user, one side", json!({"peerId": alice}), empty("messages")),
        row("history", Eve, "another user, other side", json!({"peerId": bob}), empty("messages")),
        row("history", Eve, "a userId in the payload is ignored", json!({"peerId": bob, "userId": alice}), empty("messages")),
        // get_presence: contacts only; others are left out, not refused.
        row("get_presence", Bob, "of a contact", json!({"userIds": [alice]}), lists("presence", &alice.to_string(), true)),
        row("get_presence", Alice, "of a contact", json!({"userIds": [bob]}), lists("presence", &bob.to_string(), true)),
        row("get_presence", Eve, "of non-contacts", json!({"userIds": [alice, bob]}), empty("presence")),
        // refresh_token: only a good token for the same user.
        row("refresh_token", Alice, "her own new token", json!({"token": token(alice)}), has("/expiresAt")),
        row("refresh_token", Alice, "another user's token", json!({"token": token(eve)}), Expect::Code("forbidden")),
        row("refresh_token", Eve, "another user's token", json!({"token": token(bob)}), Expect::Code("forbidden")),
        row("refresh_token", Alice, "her own expired token", json!({"token": expired(alice)}), Expect::Code("unauthorized")),
    ];
    // Every event has rows for its owner and for another user.
    for (event, _) in every_event(bob, &m1, "") {
        assert!(
            rows.iter().any(|r| r.event == event && r.who == Eve),
            "no other-user row for {event}"
        );
        assert!(
            rows.iter().any(|r| r.event == event && r.who != Eve),
            "no owner row for {event}"
        );
    }

    for r in &rows {
        let name = r.name();
        let client = match r.who {
            Alice => &mut a,
            Bob => &mut b,
            Eve => &mut e,
        };
        let reply = client.request(r.event, r.data.clone()).await;
        match (&r.expect, reply.get("error")) {
            (Expect::Ok(check), None) => {
                if let Err(why) = check(&reply["data"]) {
                    panic!("{name}: {why}");
                }
            }
            (Expect::Ok(_), Some(err)) => panic!("{name}: should succeed, got {err}"),
            (Expect::Code(code), Some(err)) => assert_eq!(err["code"], *code, "{name}: {err}"),
            (Expect::Code(code), None) => panic!("{name}: should fail with {code}, got {reply}"),
        }
        if let Some(d) = &r.then {
            let to = match d.to {
                Alice => &mut a,
                Bob => &mut b,
                Eve => &mut e,
            };
            match d.from {
                Some(from) => {
                    let got = to.try_event(d.event, Duration::from_secs(5)).await;
                    assert_eq!(
                        got,
                        Some(json!({"userId": from})),
                        "{name}: {:?} should get {}",
                        d.to,
                        d.event
                    );
                }
                None => {
                    if let Some(got) = to.try_event(d.event, QUIET).await {
                        panic!("{name}: {:?} got {} {got}", d.to, d.event);
                    }
                }
            }
        }
    }

    // What the refused rows left alone is as it was: the other user and the sender marked
    // nothing read; the recipient's reads are the only ones.
    let read: Vec<String> = message_state(&stack)
        .await
        .into_iter()
        .filter(|(_, read_at)| read_at.is_some())
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(
        read,
        vec![m1.clone(), m2.clone()],
        "only Bob's two reads took effect"
    );
    // Eve never saw a message between Alice and Bob.
    e.expect_no_event("message_received", QUIET).await;
}

/// One case of an HTTP matrix.
struct HttpRow {
    case: String,
    method: reqwest::Method,
    url: String,
    auth: Auth,
    body: Option<Value>,
    status: u16,
    check: Option<Check>,
}

#[derive(Clone)]
enum Auth {
    Bearer(String),
    None,
}

fn http_row(
    case: impl Into<String>,
    method: reqwest::Method,
    url: impl Into<String>,
    auth: Auth,
    body: Option<Value>,
    status: u16,
) -> HttpRow {
    HttpRow {
        case: case.into(),
        method,
        url: url.into(),
        auth,
        body,
        status,
        check: None,
    }
}

impl HttpRow {
    fn checked(mut self, expect: Expect) -> Self {
        match expect {
            Expect::Ok(check) => self.check = Some(check),
            Expect::Code(_) => unreachable!("statuses carry the codes"),
        }
        self
    }
}

/// Runs every row in order; an error status must come with SPEC §3's body and code.
async fn run_http(rows: Vec<HttpRow>) {
    let http = reqwest::Client::new();
    for r in rows {
        let name = format!("{} {} ({})", r.method, r.url, r.case);
        let mut request = http.request(r.method.clone(), &r.url);
        if let Auth::Bearer(t) = &r.auth {
            request = request.bearer_auth(t);
        }
        if let Some(body) = &r.body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = response.status().as_u16();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
        assert_eq!(status, r.status, "{name}: {body}");
        let code = match status {
            400 => Some("invalid_request"),
            401 => Some("unauthorized"),
            403 => Some("forbidden"),
            404 => Some("not_found"),
            _ => None,
        };
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code, "{name}: {body}");
        }
        if let Some(check) = &r.check
            && let Err(why) = check(&body)
        {
            panic!("{name}: {why}");
        }
    }
}

/// The same request without a token, and with an expired one: both 401.
fn refused(
    case: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
    user: Uuid,
) -> [HttpRow; 2] {
    [
        http_row(
            format!("{case}, no token"),
            method.clone(),
            url,
            Auth::None,
            body.clone(),
            401,
        ),
        http_row(
            format!("{case}, expired token"),
            method,
            url,
            Auth::Bearer(expired(user)),
            body,
            401,
        ),
    ]
}

#[tokio::test]
async fn every_gateway_rest_endpoint_by_owner_other_user_no_token_and_expired_token() {
    use reqwest::Method;
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 1,
        ..StackOptions::default()
    })
    .await;
    let base = stack.http_url(0);
    let (alice, bob, eve) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let dave = stack.create_user("lawyer").await;
    let _b = WsClient::connect(&stack.ws_url(0), &token(bob)).await;
    let mut a = WsClient::connect(&stack.ws_url(0), &token(alice)).await;
    let m = a
        .ok(
            "send_message",
            json!({"recipientId": bob, "content": "to bob"}),
        )
        .await["message"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (t_alice, t_bob, t_eve) = (
        Auth::Bearer(token(alice)),
        Auth::Bearer(token(bob)),
        Auth::Bearer(token(eve)),
    );
    let send = json!({"recipientId": bob, "content": "over http"});
    let messages = format!("{base}/v1/messages");
    let with_bob = format!("{base}/v1/conversations/{bob}/messages");
    let with_alice = format!("{base}/v1/conversations/{alice}/messages");
    let read = format!("{base}/v1/messages/{m}/read");
    let presence_of_alice = format!("{base}/v1/presence?userIds={alice}");
    let presence_of_both = format!("{base}/v1/presence?userIds={alice},{bob}");

    let before = message_state(&stack).await;
    let mut rows = Vec::new();
    rows.extend(refused(
        "send",
        Method::POST,
        &messages,
        Some(send.clone()),
        alice,
    ));
    rows.extend(refused("history", Method::GET, &with_bob, None, alice));
    rows.extend(refused("mark read", Method::POST, &read, None, bob));
    rows.extend(refused(
        "presence",
        Method::GET,
        &presence_of_alice,
        None,
        bob,
    ));
    run_http(rows).await;
    assert_eq!(
        message_state(&stack).await,
        before,
        "refused requests store or mark nothing"
    );

    // One row per case: the case, method, URL, token, body, status, and what comes back.
    #[rustfmt::skip]
    let rows = vec![
        http_row("sender", Method::POST, &messages, t_alice.clone(), Some(json!({"recipientId": bob, "content": "hi", "senderId": eve})), 201).checked(field_is("/message/senderId", json!(alice))),
        http_row("another user writes to a stranger, posing by senderId", Method::POST, &messages, t_eve.clone(), Some(json!({"recipientId": dave, "content": "hi", "senderId": alice})), 201).checked(field_is("/message/senderId", json!(eve))),
        http_row("the sender", Method::GET, &with_bob, t_alice.clone(), None, 200).checked(lists("messages", &m, true)),
        http_row("the recipient", Method::GET, &with_alice, t_bob.clone(), None, 200).checked(lists("messages", &m, true)),
        http_row("another user, one side", Method::GET, &with_bob, t_eve.clone(), None, 200).checked(empty("messages")),
        http_row("another user, other side", Method::GET, &with_alice, t_eve.clone(), None, 200).checked(empty("messages")),
        http_row("another user", Method::POST, &read, t_eve.clone(), None, 404),
        http_row("the sender", Method::POST, &read, t_alice.clone(), None, 403),
        http_row("the recipient", Method::POST, &read, t_bob.clone(), None, 200).checked(field_is("/messageId", json!(m))),
        http_row("a contact", Method::GET, &presence_of_alice, t_bob.clone(), None, 200).checked(lists("presence", &alice.to_string(), true)),
        http_row("another user", Method::GET, &presence_of_alice, t_eve.clone(), None, 200).checked(empty("presence")),
        http_row("another user, both of them", Method::GET, &presence_of_both, t_eve.clone(), None, 200).checked(empty("presence")),
    ];
    run_http(rows).await;
}

#[tokio::test]
async fn every_consultation_endpoint_by_participant_other_user_no_token_and_expired_token() {
    use reqwest::Method;
    let stack = MeetingStack::start(Options {
        consultation: true,
        ..Options::default()
    })
    .await;
    let base = format!("{}/v1/consultations", stack.api());
    let lena = stack.create_user("lawyer").await;
    let marc = stack.create_user("lawyer").await;
    let (ann, eve) = (Uuid::now_v7(), Uuid::now_v7());
    let applicant = |u: Uuid| Auth::Bearer(token_with(u, 3600, json!({"role": "applicant"})));
    let (t_ann, t_eve, t_lena, t_marc) = (
        applicant(ann),
        applicant(eve),
        Auth::Bearer(token(lena)),
        Auth::Bearer(token(marc)),
    );
    let at = |hours: i64| {
        (chrono::Utc::now() + chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let booking = json!({"lawyerId": lena, "scheduledAt": at(24), "durationMinutes": 30});

    run_http(refused("book", Method::POST, &base, Some(booking.clone()), ann).into()).await;
    assert_eq!(
        stack.count("SELECT count(*) FROM consultations").await,
        0,
        "refused bookings store nothing"
    );

    // Ann books; the applicant is always the token's user, whatever the body says.
    let http = reqwest::Client::new();
    let created: Value = http
        .post(&base)
        .bearer_auth(token_with(ann, 3600, json!({"role": "applicant"})))
        .json(&booking)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["consultation"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("booking: {created}"))
        .to_owned();
    assert_eq!(
        created["consultation"]["applicantId"],
        ann.to_string(),
        "book by the applicant"
    );
    let one = format!("{base}/{id}");
    let move_to = |t: &str| Some(json!({"scheduledAt": t}));
    let (later, later_still, elsewhen) = (at(26), at(27), at(30));
    let nobody = format!("{base}/{}", Uuid::now_v7());

    // One row per case, in order: refusals first, then what changes the consultation.
    let unchanged = {
        let booked = created["consultation"].clone();
        ok(move |d| {
            let c = &d["consultation"];
            if c["status"] == "scheduled" && c["scheduledAt"] == booked["scheduledAt"] {
                Ok(())
            } else {
                Err(format!("changed by a refused request: {c}"))
            }
        })
    };
    let [read_none, read_expired] = refused("read", Method::GET, &one, None, ann);
    let [move_none, move_expired] =
        refused("reschedule", Method::PATCH, &one, move_to(&elsewhen), ann);
    let [cancel_none, cancel_expired] = refused("cancel", Method::DELETE, &one, None, ann);
    #[rustfmt::skip]
    let rows = vec![
        http_row("another user books in Ann's name", Method::POST, &base, t_eve.clone(), Some(json!({"lawyerId": lena, "scheduledAt": at(48), "durationMinutes": 30, "applicantId": ann})), 201).checked(field_is("/consultation/applicantId", json!(eve))),
        http_row("a booking with someone who is not a lawyer", Method::POST, &base, t_eve.clone(), Some(json!({"lawyerId": ann, "scheduledAt": at(72), "durationMinutes": 30})), 400),
        http_row("the applicant", Method::GET, &one, t_ann.clone(), None, 200).checked(field_is("/consultation/id", json!(id))),
        http_row("the lawyer", Method::GET, &one, t_lena.clone(), None, 200).checked(field_is("/consultation/id", json!(id))),
        http_row("another applicant", Method::GET, &one, t_eve.clone(), None, 403),
        http_row("another lawyer", Method::GET, &one, t_marc.clone(), None, 403),
        read_none,
        read_expired,
        http_row("a consultation that does not exist", Method::GET, &nobody, t_ann.clone(), None, 404),
        http_row("an id that is not UTF-8", Method::GET, format!("{base}/%FF"), t_ann.clone(), None, 400),
        http_row("another applicant", Method::PATCH, &one, t_eve.clone(), move_to(&elsewhen), 403),
        http_row("another lawyer", Method::PATCH, &one, t_marc.clone(), move_to(&elsewhen), 403),
        move_none,
        move_expired,
        http_row("another applicant", Method::DELETE, &one, t_eve.clone(), None, 403),
        http_row("another lawyer", Method::DELETE, &one, t_marc.clone(), None, 403),
        cancel_none,
        cancel_expired,
        http_row("the applicant, after the refusals", Method::GET, &one, t_ann.clone(), None, 200).checked(unchanged),
        http_row("the applicant", Method::PATCH, &one, t_ann.clone(), move_to(&later), 200).checked(time_is("/consultation/scheduledAt", &later)),
        http_row("the lawyer", Method::PATCH, &one, t_lena.clone(), move_to(&later_still), 200).checked(time_is("/consultation/scheduledAt", &later_still)),
        http_row("the lawyer", Method::DELETE, &one, t_lena.clone(), None, 200).checked(field_is("/consultation/status", json!("cancelled"))),
        http_row("the applicant, once cancelled", Method::DELETE, &one, t_ann.clone(), None, 200).checked(field_is("/consultation/status", json!("cancelled"))),
    ];
    run_http(rows).await;
}
