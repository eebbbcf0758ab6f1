//! Answers to this replica's chat commands.
//!
//! Every command goes out with a reply subject of this replica's own (`<inbox>.<n>`), all
//! served by one wildcard subscription. A `send_message` from a WebSocket connection is
//! usually not replied to at all: its `message_sent` delivery, which reaches the sender's
//! gateway anyway, carries the reply subject as its ack token (`Sb-Ack`), and the delivery
//! reader hands it here — one NATS message per chat message fewer. Errors are replied.
//!
//! An entry lives exactly as long as its waiter ([`Pending`]): a command that timed out
//! leaves nothing behind, and a late answer finds no one and is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::oneshot;

/// What came back for a command.
#[derive(Debug)]
pub enum Answer {
    /// The chat service's `CommandReply`, encoded.
    Reply(Bytes),
    /// A `message_sent` delivery carrying the command's token: the message object of a
    /// stored send.
    Delivered(Bytes),
    /// NATS found no chat replica listening.
    NoResponders,
}

pub struct Replies {
    /// `<inbox>`: the reply subjects are `<inbox>.<n>`.
    inbox: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
}

impl Replies {
    /// `inbox` must be unique to this replica (a NATS inbox name).
    fn new(inbox: String) -> Arc<Self> {
        Arc::new(Self {
            inbox,
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        })
    }

    /// Subscribes to this replica's reply subjects and hands each reply to its waiter, for
    /// as long as the NATS client lives. Done before the gateway says it is ready, so no
    /// answer can be missed.
    pub async fn subscribe(
        nats: &async_nats::Client,
    ) -> Result<Arc<Self>, async_nats::SubscribeError> {
        let replies = Self::new(nats.new_inbox());
        let mut incoming = nats.subscribe(replies.subscription()).await?;
        let answering = replies.clone();
        tokio::spawn(async move {
            while let Some(msg) = incoming.next().await {
                let answer = if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    Answer::NoResponders
                } else {
                    Answer::Reply(msg.payload)
                };
                answering.answer(msg.subject.as_str(), answer);
            }
        });
        Ok(replies)
    }

    /// The subject of the subscription that receives every reply.
    fn subscription(&self) -> String {
        format!("{}.*", self.inbox)
    }

    /// A new entry to wait on.
    pub fn expect(self: &Arc<Self>) -> Pending {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, answer) = oneshot::channel();
        self.waiting
            .lock()
            .expect("replies lock")
            .insert(id, sender);
        Pending {
            replies: self.clone(),
            id,
            subject: format!("{}.{id}", self.inbox),
            answer,
        }
    }

    /// Hands `answer` to whoever waits on `subject` (a reply subject or an ack token).
    /// Answers for another replica, or for nobody any more, are dropped.
    pub fn answer(&self, subject: &str, answer: Answer) {
        let id = subject
            .strip_prefix(self.inbox.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|n| n.parse::<u64>().ok());
        let Some(id) = id else {
            return;
        };
        let waiter = self.waiting.lock().expect("replies lock").remove(&id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.lock().expect("replies lock").len()
    }
}

/// One command's wait; dropping it forgets the entry.
pub struct Pending {
    replies: Arc<Replies>,
    id: u64,
    subject: String,
    answer: oneshot::Receiver<Answer>,
}

impl Pending {
    /// The reply subject, which is also the ack token.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The answer; `None` only if the entry was dropped without one (not while waiting).
    pub async fn answer(&mut self) -> Option<Answer> {
        (&mut self.answer).await.ok()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.replies
            .waiting
            .lock()
            .expect("replies lock")
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_reaches_its_waiter_only() {
        let replies = Replies::new("_INBOX.abc".into());
        let mut first = replies.expect();
        let second = replies.expect();
        assert_ne!(first.subject(), second.subject());
        assert_eq!(replies.subscription(), "_INBOX.abc.*");

        replies.answer(
            first.subject(),
            Answer::Delivered(Bytes::from_static(b"{}")),
        );
        match first.answer().await {
            Some(Answer::Delivered(b)) => assert_eq!(&b[..], b"{}"),
            other => panic!("unexpected {other:?}"),
        }
        // Another replica's token, garbage, and a second answer for the same entry.
        replies.answer("_INBOX.other.2", Answer::NoResponders);
        replies.answer("_INBOX.abc.x", Answer::NoResponders);
        replies.answer(first.subject(), Answer::NoResponders);
        assert_eq!(replies.waiting(), 1);
    }

    #[test]
    fn a_dropped_wait_leaves_nothing_behind() {
        let replies = Replies::new("_INBOX.abc".into());
        let pending = replies.expect();
        let subject = pending.subject().to_owned();
        assert_eq!(replies.waiting(), 1);
        drop(pending);
        assert_eq!(replies.waiting(), 0);
        // A late answer finds no one.
        replies.answer(&subject, Answer::NoResponders);
        assert_eq!(replies.waiting(), 0);
    }
}
