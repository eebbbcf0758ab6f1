//! The gateway's commands over NATS request/reply, answered by whichever chat replica the
//! queue group picks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use prost::Message as _;
use switchboard_common::subjects::{CHAT_QUEUE_GROUP, Subjects};
use switchboard_common::wire::{self, ErrorCode, WireError};
use switchboard_proto::chat::v1::{
    self as pb, command::Command as Cmd, command_reply::Result as Reply,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::error::ChatError;
use crate::grpc::upsert_from_proto;
use crate::message::page_json;
use crate::service::{ChatCore, SendInput};

/// Joins the replicas' queue group on the command subject. Done before the service says
/// it is ready, so the first command after a start finds a responder.
pub async fn subscribe(
    nats: &async_nats::Client,
    subjects: &Subjects,
) -> Result<async_nats::Subscriber, async_nats::SubscribeError> {
    nats.queue_subscribe(subjects.chat_command(), CHAT_QUEUE_GROUP.into())
        .await
}

/// Consumes commands until `shutdown`, then lets the in-flight ones finish (bounded).
///
/// The commands in flight are futures driven by this one task rather than a task each: a
/// command spends nearly all its life waiting (for the group commit), and a task per command
/// cost a spawn and a cross-thread wake-up per message for nothing.
pub async fn serve(
    core: Arc<ChatCore>,
    nats: async_nats::Client,
    mut commands: async_nats::Subscriber,
    max_concurrent: usize,
    drain_timeout: Duration,
    shutdown: CancellationToken,
) -> Result<(), async_nats::SubscribeError> {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            // Bounded concurrency: at the limit, commands wait in NATS.
            msg = commands.next(), if in_flight.len() < max_concurrent => match msg {
                Some(msg) => in_flight.push(answer(&core, &nats, msg)),
                None => break,
            },
        }
    }
    // Stop taking new commands so another replica answers them, then drain.
    let _ = commands.unsubscribe().await;
    let drained = async { while in_flight.next().await.is_some() {} };
    if tokio::time::timeout(drain_timeout, drained).await.is_err() {
        tracing::warn!("in-flight commands did not finish within the drain timeout");
    }
    Ok(())
}

/// Handles one command and publishes its reply, if it has one.
async fn answer(core: &ChatCore, nats: &async_nats::Client, msg: async_nats::Message) {
    let Some(reply_to) = msg.reply.clone() else {
        return;
    };
    let span = tracing::info_span!("chat.command");
    switchboard_common::telemetry::set_parent_from_nats(&span, msg.headers.as_ref());
    // `None`: the command's `message_sent` delivery was its ack.
    let Some(reply) = handle(core, &msg.payload).instrument(span).await else {
        return;
    };
    if let Err(e) = nats.publish(reply_to, reply.encode_to_vec().into()).await {
        tracing::warn!(error = %e, "command reply could not be published");
    }
}

/// The reply to a command, or `None` when a delivery carried the ack instead.
async fn handle(core: &ChatCore, payload: &[u8]) -> Option<pb::CommandReply> {
    let command = match pb::Command::decode(payload) {
        Ok(c) => c,
        Err(_) => {
            return Some(error_reply(WireError::new(
                ErrorCode::InvalidRequest,
                "undecodable command",
            )));
        }
    };
    let ack_token = (!command.ack_token.is_empty()).then_some(command.ack_token);
    let mut acked_by_delivery = false;
    let origin = (!command.connection_id.is_empty()).then_some(command.connection_id.as_str());
    let (kind, result) = match command.command {
        Some(Cmd::SendMessage(req)) => (
            "send_message",
            core.send(SendInput {
                sender_id: req.sender_id,
                recipient_id: req.recipient_id,
                content: req.content,
                client_msg_id: req.client_msg_id,
                origin_connection: origin.map(str::to_owned),
                ack_token,
            })
            .await
            .map(|sent| {
                acked_by_delivery = sent.acked_by_delivery;
                if acked_by_delivery {
                    return Vec::new();
                }
                wire::send_ack_json(&sent.json)
            }),
        ),
        Some(Cmd::MarkMessageRead(req)) => (
            "mark_message_read",
            core.mark_read(&req.reader_id, &req.message_id, origin)
                .await
                .map(|r| {
                    serde_json::to_vec(&serde_json::json!({
                        "messageId": r.message_id.to_string(),
                        "readAt": switchboard_common::wire::format_time(r.read_at),
                    }))
                    .expect("serialises")
                }),
        ),
        Some(Cmd::MarkConversationRead(req)) => (
            "mark_conversation_read",
            core.mark_conversation_read(
                &req.reader_id,
                &req.peer_id,
                &req.up_to_message_id,
                origin,
            )
            .await
            .map(|(count, read_at)| {
                serde_json::to_vec(&serde_json::json!({
                    "count": count,
                    "readAt": switchboard_common::wire::format_time(read_at),
                }))
                .expect("serialises")
            }),
        ),
        Some(Cmd::Sync(req)) => (
            "sync",
            core.sync(&req.user_id, req.after.as_deref(), req.limit)
                .await
                .map(|(messages, has_more)| page_json(&messages, has_more)),
        ),
        Some(Cmd::History(req)) => (
            "history",
            core.history(&req.user_id, &req.peer_id, req.before.as_deref(), req.limit)
                .await
                .map(|(messages, has_more)| page_json(&messages, has_more)),
        ),
        Some(Cmd::UpsertUser(req)) => (
            "upsert_user",
            async {
                let upsert = upsert_from_proto(&req)?;
                core.store.upsert_users(&[upsert]).await?;
                Ok::<_, ChatError>(b"{}".to_vec())
            }
            .await,
        ),
        None => (
            "unknown",
            Err(ChatError::Invalid("command is empty".into())),
        ),
    };
    let outcome = if result.is_ok() { "ok" } else { "error" };
    core.metrics()
        .commands
        .with_label_values(&[kind, outcome])
        .inc();
    match result {
        Ok(_) if acked_by_delivery => None,
        Ok(json) => Some(pb::CommandReply {
            result: Some(Reply::Json(json)),
        }),
        Err(e) => Some(error_reply(e.to_wire())),
    }
}

fn error_reply(e: WireError) -> pb::CommandReply {
    pb::CommandReply {
        result: Some(Reply::Error(e.to_proto())),
    }
}
