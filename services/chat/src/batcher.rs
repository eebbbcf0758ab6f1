//! Group commit: concurrent sends share one transaction and one multi-row INSERT.
//!
//! Senders queue their message on a bounded channel and wait for its outcome. One task
//! takes whatever has queued up (at most `max_batch`) and writes it at once, so under load
//! each round trip to PostgreSQL carries many messages, and when idle a lone message is
//! written immediately rather than after a timer.

use tokio::sync::{mpsc, oneshot};

use crate::error::ChatError;
use crate::store::{NewMessage, SendOutcome, Store, WriterConnection};

struct Pending {
    message: NewMessage,
    reply: oneshot::Sender<Result<SendOutcome, ChatError>>,
}

#[derive(Clone)]
pub struct SendBatcher {
    queue: mpsc::Sender<Pending>,
}

impl SendBatcher {
    /// Starts the writer task; it ends when every `SendBatcher` clone is dropped.
    pub fn start(
        store: Store,
        writer: WriterConnection,
        max_batch: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(max_batch * 4);
        let task = tokio::spawn(write_batches(store, writer, rx, max_batch));
        (Self { queue }, task)
    }

    pub async fn send(&self, message: NewMessage) -> Result<SendOutcome, ChatError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Pending { message, reply })
            .await
            .map_err(|_| ChatError::Unavailable("the chat service is shutting down".into()))?;
        outcome
            .await
            .map_err(|_| ChatError::Unavailable("the message writer stopped".into()))?
    }
}

async fn write_batches(
    store: Store,
    mut writer: WriterConnection,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let messages: Vec<NewMessage> = batch.iter().map(|p| p.message.clone()).collect();
        match store.insert_batch(&mut writer, &messages).await {
            Ok(outcomes) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    // The waiter may have given up; the message is stored all the same.
                    let _ = pending.reply.send(outcome);
                }
            }
            Err(e) => {
                let wire = e.to_wire();
                tracing::warn!(error = %wire, size = batch.len(), "group commit failed");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(match &e {
                        ChatError::Unavailable(m) => ChatError::Unavailable(m.clone()),
                        // Nothing was committed: the client may retry safely.
                        _ => {
                            ChatError::Unavailable("the message could not be stored; retry".into())
                        }
                    }));
                }
            }
        }
    }
}
