//! One `send_message` is one trace across processes: the services export OTLP/HTTP to a
//! receiver inside this test, and the spans' parent links are followed from the sending
//! gateway through chat (and its commit) to the delivery on the other gateway replica,
//! and from the consultation service to the meeting service over gRPC.

#[path = "meeting_stack.rs"]
mod meeting_stack;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use serde_json::json;
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::token;
use switchboard_test_support::ws::WsClient;

use meeting_stack::{MeetingStack, Options};

#[derive(Clone, Debug)]
struct Span {
    service: String,
    pid: i64,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Receiver {
    /// Serves `POST /v1/traces` (OTLP/HTTP protobuf) on a free port; returns the endpoint.
    async fn start(&self) -> String {
        let app = axum::Router::new()
            .route("/v1/traces", post(export))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until `found` finds what it looks for in the spans received so far.
    async fn wait<T>(&self, what: &str, found: impl Fn(&[Span]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(t) = found(&self.spans()) {
                return t;
            }
            if tokio::time::Instant::now() > deadline {
                let names: Vec<_> = self
                    .spans()
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {} pid={} id={:?} parent={:?}",
                            s.service,
                            s.name,
                            s.pid,
                            &s.span_id[..2],
                            s.parent_span_id.get(..2)
                        )
                    })
                    .collect();
                panic!("{what} never arrived; spans: {names:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn export(State(receiver): State<Receiver>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut spans = receiver.spans.lock().unwrap();
    for rs in request.resource_spans {
        let attributes: HashMap<String, AnyValue> = rs
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| Some((kv.key, kv.value?.value?)))
            .collect();
        let service = match attributes.get("service.name") {
            Some(AnyValue::StringValue(s)) => s.clone(),
            _ => String::new(),
        };
        let pid = match attributes.get("process.pid") {
            Some(AnyValue::IntValue(p)) => *p,
            _ => 0,
        };
        for ss in rs.scope_spans {
            for s in ss.spans {
                spans.push(Span {
                    service: service.clone(),
                    pid,
                    name: s.name,
                    trace_id: s.trace_id,
                    span_id: s.span_id,
                    parent_span_id: s.parent_span_id,
                });
            }
        }
    }
    ExportTraceServiceResponse::default().encode_to_vec()
}

fn otel_env(endpoint: &str) -> Vec<(String, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.into()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
    ]
}

#[tokio::test]
async fn one_message_is_one_trace_from_gateway_through_chat_to_the_other_replica() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        gateway_replicas: 2,
        gateway_env: otel_env(&endpoint),
        chat_env: otel_env(&endpoint),
        ..StackOptions::default()
    })
    .await;
    let alice = stack.create_user("applicant").await;
    let bob = stack.create_user("lawyer").await;
    let mut a = WsClient::connect(&stack.ws_url(0), &token(alice)).await;
    let mut b = WsClient::connect(&stack.ws_url(1), &token(bob)).await;
    a.ok(
        "send_message",
        json!({"recipientId": bob, "content": "traced", "clientMsgId": "t-1"}),
    )
    .await;
    b.expect_event("message_received").await;
    let sender_pid = i64::from(stack.gateways[0].pid().unwrap());
    let receiver_pid = i64::from(stack.gateways[1].pid().unwrap());

    let (command, chat, persist, deliver) = receiver
        .wait(
            "gateway → chat → persist → delivery on the other replica",
            |spans| {
                let child = |parent: &Span, name: &str, pid: Option<i64>| {
                    spans
                        .iter()
                        .find(|s| {
                            s.name == name
                                && s.parent_span_id == parent.span_id
                                && pid.is_none_or(|p| s.pid == p)
                        })
                        .cloned()
                };
                spans
                    .iter()
                    .filter(|s| s.name == "chat.command")
                    .find_map(|chat| {
                        let command = spans.iter().find(|s| {
                            s.name == "gateway.chat_command"
                                && s.pid == sender_pid
                                && s.span_id == chat.parent_span_id
                        })?;
                        let persist = child(chat, "chat.persist", None)?;
                        let deliver = child(chat, "gateway.deliver", Some(receiver_pid))?;
                        Some((command.clone(), chat.clone(), persist, deliver))
                    })
            },
        )
        .await;
    assert_eq!(command.service, "switchboard-gateway");
    assert_eq!(chat.service, "switchboard-chat");
    assert_eq!(deliver.service, "switchboard-gateway");
    for s in [&chat, &persist, &deliver] {
        assert_eq!(
            s.trace_id, command.trace_id,
            "{} is in another trace",
            s.name
        );
    }
    assert_ne!(
        command.pid, deliver.pid,
        "the delivery ran on the other replica"
    );
}

#[tokio::test]
async fn a_booking_is_one_trace_from_the_consultation_service_into_the_meeting_service() {
    let receiver = Receiver::default();
    let endpoint = receiver.start().await;
    let stack = MeetingStack::start(Options {
        consultation: true,
        env: otel_env(&endpoint),
        ..Options::default()
    })
    .await;
    let lawyer = stack.create_user("lawyer").await;
    let applicant = stack.create_user("applicant").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/consultations", stack.api()))
        .bearer_auth(token(applicant))
        .json(&json!({"lawyerId": lawyer, "scheduledAt": at, "durationMinutes": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (call, create) = receiver
        .wait("consultation → meeting over gRPC", |spans| {
            spans
                .iter()
                .filter(|s| s.name == "meeting.create")
                .find_map(|create| {
                    let call = spans.iter().find(|s| {
                        s.name == "consultation.create_meeting"
                            && s.span_id == create.parent_span_id
                    })?;
                    Some((call.clone(), create.clone()))
                })
        })
        .await;
    assert_eq!(call.service, "switchboard-consultation");
    assert_eq!(create.service, "switchboard-meeting");
    assert_eq!(call.trace_id, create.trace_id);
}
