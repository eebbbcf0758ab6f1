//! The REST fallback's request parsing: the `Authorization` header, the query strings of
//! `GET /v1/conversations/{peerId}/messages` and `GET /v1/presence`, and the body of
//! `POST /v1/messages`. Input: `<authorization>\n<query>\n<body>`. Never a panic; every
//! refusal has the code and HTTP status SPEC §3 gives it; what a query parses to,
//! spelled anew, parses to the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_common::domain::{ClientMsgId, MAX_CONTENT_CHARS, MessageContent};
use switchboard_common::wire::{ErrorCode, WireError};
use switchboard_fuzz::{client_msg_id_allowed, content_allowed};
use switchboard_gateway::rest::{error_response, history_query, presence_query, send_message_body};
use switchboard_gateway::ws::bearer;

fn refused(e: &WireError, code: ErrorCode) {
    assert_eq!(e.code, code, "{e}");
    assert!(!e.message.is_empty());
    let response = error_response(e);
    assert_eq!(response.status().as_u16(), code.http_status());
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let authorization = parts.next().unwrap_or_default();
    let query = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();

    // Authorization: a Bearer token or `unauthorized`, whatever the header's bytes.
    if let Ok(value) = http::HeaderValue::from_bytes(authorization) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value);
        match bearer(&headers) {
            Ok(Some(token)) => {
                assert!(!token.is_empty());
                assert_eq!(token, token.trim());
            }
            Ok(None) => panic!("a header that is there was not seen"),
            Err(e) => refused(&e, ErrorCode::Unauthorized),
        }
    }

    // The history query.
    match history_query(query.as_deref()) {
        Ok((before, limit)) => {
            let mut again = form_urlencoded::Serializer::new(String::new());
            if let Some(b) = &before {
                assert!(!b.is_empty());
                again.append_pair("before", b);
            }
            if let Some(l) = limit {
                again.append_pair("limit", &l.to_string());
            }
            let again = again.finish();
            assert_eq!(
                history_query(Some(&again)).expect("re-spelled"),
                (before, limit)
            );
        }
        Err(e) => refused(&e, ErrorCode::InvalidRequest),
    }

    // The presence query.
    match presence_query(query.as_deref()) {
        Ok(ids) => {
            assert!(!ids.is_empty());
            for id in &ids {
                assert!(!id.is_empty() && !id.contains(',') && id.trim() == id);
            }
            let again = form_urlencoded::Serializer::new(String::new())
                .append_pair("userIds", &ids.join(","))
                .finish();
            assert_eq!(presence_query(Some(&again)).expect("re-spelled"), ids);
        }
        Err(e) => refused(&e, ErrorCode::InvalidRequest),
    }

    // The send body, then the chat service's rules for what it carries.
    match send_message_body(body) {
        Ok(d) => {
            assert_eq!(
                MessageContent::parse(d.content.clone(), MAX_CONTENT_CHARS).is_ok(),
                content_allowed(&d.content, MAX_CONTENT_CHARS),
                "content {:?}",
                d.content
            );
            if let Some(id) = &d.client_msg_id {
                assert_eq!(
                    ClientMsgId::parse(id.clone()).is_ok(),
                    client_msg_id_allowed(id)
                );
            }
        }
        Err(e) => refused(&e, ErrorCode::InvalidRequest),
    }
});
