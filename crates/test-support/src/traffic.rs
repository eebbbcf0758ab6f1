//! Traffic for fault tests: senders that keep a message until it is acked (reconnecting
//! and retrying with the same `clientMsgId`, as a real client behind a load balancer
//! does) and record what every attempt came to, and the final count of acked vs stored
//! vs delivered after `sync`.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use crate::token;
use crate::ws::{Reply, WsClient};

/// What one attempt at sending came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Acked,
    /// An error ack, with its code.
    Refused(String),
    /// The connection closed with this code before the ack.
    Closed(u16),
    /// No answer within the sender's wait while the connection stayed open.
    Silent,
}

/// A close the server sent (or a dropped connection, 1006).
#[derive(Clone, Debug)]
pub struct Close {
    pub at: Instant,
    /// The same moment by the wall clock, to compare with message `createdAt`s.
    pub wall: SystemTime,
    pub code: u16,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct Attempt {
    pub key: String,
    pub sent_at: Instant,
    pub answered_at: Instant,
    pub outcome: Outcome,
}

/// One user's connection that sends until acked.
pub struct Sender {
    pub user: Uuid,
    /// `None` while disconnected.
    pub client: Option<WsClient>,
    urls: Vec<String>,
    next_url: usize,
    /// How long an answer may take before the attempt counts as [`Outcome::Silent`]; more
    /// than the gateway's request deadline, so silence means a lost answer.
    pub wait: Duration,
    pub attempts: Vec<Attempt>,
    /// Every close seen.
    pub closes: Vec<Close>,
}

impl Sender {
    /// Connects to `urls[0]`; reconnects go round the list.
    pub async fn connect(urls: &[String], user: Uuid) -> Self {
        let client = WsClient::connect(&urls[0], &token(user)).await;
        Self {
            user,
            client: Some(client),
            urls: urls.to_vec(),
            next_url: 1,
            wait: Duration::from_secs(10),
            attempts: Vec::new(),
            closes: Vec::new(),
        }
    }

    /// Sends `items` (clientMsgId, content) pipelined on one connection and waits for
    /// every answer. Returns the acked messages by position (`None`: not acked).
    pub async fn send_window(
        &mut self,
        to: Uuid,
        items: &[(String, String)],
    ) -> Vec<Option<Value>> {
        let mut results = vec![None; items.len()];
        let Some(client) = self.client.as_mut() else {
            return results;
        };
        let sent_at = Instant::now();
        // (position, ack id) of what went out; once a frame cannot be written, the rest
        // stays unsent.
        let mut acks = Vec::new();
        let mut unsent = Vec::new();
        for (i, (key, content)) in items.iter().enumerate() {
            if !unsent.is_empty() {
                unsent.push(i);
                continue;
            }
            let data = json!({"recipientId": to, "content": content, "clientMsgId": key});
            match client.send_request("send_message", data).await {
                Ok(ack) => acks.push((i, ack)),
                Err(_) => unsent.push(i),
            }
        }
        let mut closed: Option<u16> = None;
        for (i, ack) in acks {
            // After a close, only answers that arrived before it count.
            let reply = match closed {
                Some(code) => match client.received_reply(ack) {
                    Some(v) => Reply::Ack(v),
                    None => Reply::Closed {
                        code,
                        reason: String::new(),
                    },
                },
                None => client.await_reply(ack, self.wait).await,
            };
            let outcome = match reply {
                Reply::Ack(v) => match v.get("error") {
                    None => {
                        results[i] = Some(v["data"]["message"].clone());
                        Outcome::Acked
                    }
                    Some(e) => Outcome::Refused(e["code"].as_str().unwrap_or("?").to_owned()),
                },
                Reply::Closed { code, .. } if closed.is_some() => Outcome::Closed(code),
                Reply::Closed { code, reason } => {
                    self.closes.push(Close {
                        at: Instant::now(),
                        wall: SystemTime::now(),
                        code,
                        reason,
                    });
                    closed = Some(code);
                    Outcome::Closed(code)
                }
                Reply::Silent => Outcome::Silent,
            };
            self.attempts.push(Attempt {
                key: items[i].0.clone(),
                sent_at,
                answered_at: Instant::now(),
                outcome,
            });
        }
        if !unsent.is_empty() {
            // The socket refused a frame: it is closed; learn how from what is left to read.
            let code = match closed {
                Some(code) => code,
                None => {
                    let (code, reason) = client
                        .try_close(Duration::from_secs(2))
                        .await
                        .unwrap_or((1006, "the socket refused a frame".into()));
                    self.closes.push(Close {
                        at: Instant::now(),
                        wall: SystemTime::now(),
                        code,
                        reason,
                    });
                    closed = Some(code);
                    code
                }
            };
            for i in unsent {
                self.attempts.push(Attempt {
                    key: items[i].0.clone(),
                    sent_at,
                    answered_at: Instant::now(),
                    outcome: Outcome::Closed(code),
                });
            }
        }
        if closed.is_some() {
            self.client = None;
        }
        results
    }

    /// Sends every item until each is acked, `window` at a time, reconnecting when the
    /// connection is lost and retrying the unacked with the same clientMsgId. Panics if
    /// `give_up` passes first.
    pub async fn send_all(
        &mut self,
        to: Uuid,
        items: &[(String, String)],
        window: usize,
        give_up: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + give_up;
        let mut acked: Vec<Option<Value>> = vec![None; items.len()];
        let mut next = 0;
        loop {
            // The oldest unacked first, then new ones, up to `window`.
            let todo: Vec<usize> = (0..items.len())
                .filter(|&i| acked[i].is_none() && i < next)
                .chain(next..items.len())
                .take(window)
                .collect();
            if todo.is_empty() {
                return acked.into_iter().map(|m| m.expect("acked")).collect();
            }
            assert!(
                Instant::now() < deadline,
                "{} of {} messages still unacked after {give_up:?}; attempts: {:?}",
                acked.iter().filter(|m| m.is_none()).count(),
                items.len(),
                &self.attempts[self.attempts.len().saturating_sub(10)..]
            );
            if self.client.is_none() {
                self.reconnect(deadline).await;
                continue;
            }
            let batch: Vec<(String, String)> = todo.iter().map(|&i| items[i].clone()).collect();
            let results = self.send_window(to, &batch).await;
            let mut refused = false;
            for (&i, r) in todo.iter().zip(results) {
                next = next.max(i + 1);
                match r {
                    Some(m) => acked[i] = Some(m),
                    None => refused = true,
                }
            }
            if refused {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// One message until acked (see [`Sender::send_all`]).
    pub async fn send_until_acked(
        &mut self,
        to: Uuid,
        key: &str,
        content: &str,
        give_up: Duration,
    ) -> Value {
        let items = [(key.to_owned(), content.to_owned())];
        self.send_all(to, &items, 1, give_up).await.remove(0)
    }

    /// Connects to the next URL that accepts, until `deadline`.
    pub async fn reconnect(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            let url = self.urls[self.next_url % self.urls.len()].clone();
            self.next_url += 1;
            if let Ok(c) =
                WsClient::try_connect(&url, &token(self.user), Duration::from_secs(5)).await
            {
                self.client = Some(c);
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The attempts that came to `outcome`.
    pub fn count(&self, outcome: &Outcome) -> usize {
        self.attempts
            .iter()
            .filter(|a| &a.outcome == outcome)
            .count()
    }
}

/// `n` items `(prefix-i, "<prefix> message i")`.
pub fn numbered(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("{prefix}-{i}"), format!("{prefix} message {i}")))
        .collect()
}

/// Every message to or from the client's user, by `sync` from the beginning, oldest first.
pub async fn synced(client: &mut WsClient) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = json!({"limit": 500});
        if let Some(a) = &after {
            q["after"] = json!(a);
        }
        let page = client.ok("sync", q).await;
        let got = page["messages"].as_array().expect("messages").clone();
        if let Some(last) = got.last() {
            after = Some(last["id"].as_str().expect("id").to_owned());
        }
        all.extend(got);
        if page["hasMore"] == false {
            return all;
        }
    }
}

/// The ids of [`synced`].
pub async fn synced_ids(client: &mut WsClient) -> BTreeSet<String> {
    synced(client).await.iter().map(id_of).collect()
}

pub fn id_of(message: &Value) -> String {
    message["id"].as_str().expect("message id").to_owned()
}

/// The end of every fault test: each of `expected` messages acked exactly once, stored
/// exactly once, and in the recipient's `sync`. Prints the count.
pub fn assert_nothing_lost(
    test: &str,
    expected: usize,
    acked: &[Value],
    stored: i64,
    synced: &BTreeSet<String>,
) {
    let acked_ids: BTreeSet<String> = acked.iter().map(id_of).collect();
    let delivered = acked_ids.intersection(synced).count();
    eprintln!(
        "{test}: sent {expected}, acked {} ({} distinct), stored {stored}, delivered after sync {delivered}",
        acked.len(),
        acked_ids.len()
    );
    assert_eq!(acked.len(), expected, "every message acked");
    assert_eq!(acked_ids.len(), expected, "one id per clientMsgId");
    assert_eq!(stored, expected as i64, "each clientMsgId stored once");
    assert_eq!(
        delivered, expected,
        "every acked message in the recipient's sync"
    );
}
