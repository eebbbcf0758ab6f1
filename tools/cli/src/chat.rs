//! A terminal chat client over the native protocol.

use std::collections::HashMap;

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::{DEMO_USERS, resolve_user};

const HELP: &str =
    "type a line to send it · /to <user> · /history · /sync · /read <messageId> · /quit";

pub(crate) async fn run(
    url: &str,
    token: &str,
    mut to: Option<Uuid>,
    auto_read: bool,
) -> anyhow::Result<()> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let (ws, _) = tokio_tungstenite::connect_async(format!("{url}{sep}token={token}"))
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let (mut sink, mut stream) = ws.split();
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut next_ack: u64 = 1;
    let mut pending: HashMap<u64, &'static str> = HashMap::new();
    eprintln!("{HELP}");
    loop {
        tokio::select! {
            line = stdin.next_line() => {
                let Some(line) = line? else { break };
                let line = line.trim_end().to_owned();
                if line.is_empty() { continue; }
                let (event, data): (&'static str, Value) = if let Some(rest) = line.strip_prefix("/to ") {
                    match resolve_user(rest.trim()) {
                        Ok(id) => { to = Some(id); eprintln!("now talking to {}", name(&id)); }
                        Err(e) => eprintln!("{e}"),
                    }
                    continue;
                } else if line == "/quit" {
                    break;
                } else if line == "/history" {
                    let Some(peer) = to else { eprintln!("use /to first"); continue };
                    ("history", json!({"peerId": peer, "limit": 20}))
                } else if line == "/sync" {
                    ("sync", json!({"limit": 50}))
                } else if let Some(id) = line.strip_prefix("/read ") {
                    ("mark_message_read", json!({"messageId": id.trim()}))
                } else if line.starts_with('/') {
                    eprintln!("{HELP}");
                    continue;
                } else {
                    let Some(peer) = to else { eprintln!("use /to <user> first"); continue };
                    ("send_message", json!({"recipientId": peer, "content": line, "clientMsgId": Uuid::new_v4().to_string()}))
                };
                let ack = next_ack;
                next_ack += 1;
                pending.insert(ack, event);
                sink.send(Message::Text(json!({"event": event, "data": data, "ack": ack}).to_string().into())).await?;
            }
            frame = stream.next() => {
                let Some(frame) = frame else { eprintln!("disconnected"); break };
                match frame? {
                    Message::Text(t) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                        if let Some(reply) = show(&v, &mut pending) && auto_read {
                            let ack = next_ack;
                            next_ack += 1;
                            pending.insert(ack, "mark_message_read");
                            sink.send(Message::Text(json!({"event": "mark_message_read", "data": {"messageId": reply}, "ack": ack}).to_string().into())).await?;
                        }
                    }
                    Message::Close(f) => {
                        eprintln!("closed by server: {}", f.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default());
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = sink.close().await;
    Ok(())
}

/// Prints a frame; returns the id of a newly received message.
fn show(v: &Value, pending: &mut HashMap<u64, &'static str>) -> Option<String> {
    if let Some(ack) = v["ack"].as_u64() {
        let what = pending.remove(&ack).unwrap_or("request");
        if let Some(err) = v.get("error") {
            eprintln!(
                "! {what} failed: {} ({})",
                err["message"].as_str().unwrap_or(""),
                err["code"].as_str().unwrap_or("")
            );
        } else if what == "history" || what == "sync" {
            let mut msgs: Vec<&Value> = v["data"]["messages"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            if what == "history" {
                msgs.reverse();
            }
            for m in msgs {
                print_message(m);
            }
        } else if what == "send_message" {
            eprintln!(
                "✓ sent {}",
                v["data"]["message"]["id"].as_str().unwrap_or("")
            );
        }
        return None;
    }
    let data = &v["data"];
    match v["event"].as_str().unwrap_or("") {
        "connected" => eprintln!(
            "connected as {} ({})",
            name_str(data["userId"].as_str().unwrap_or("")),
            data["connectionId"].as_str().unwrap_or("")
        ),
        "message_received" => {
            print_message(data);
            return data["id"].as_str().map(str::to_owned);
        }
        "message_sent" => {
            print!("(other device) ");
            print_message(data);
        }
        "message_read" => eprintln!(
            "✓✓ {} read by {}",
            data["messageId"].as_str().unwrap_or(""),
            name_str(data["readerId"].as_str().unwrap_or(""))
        ),
        "error" => eprintln!(
            "! {} ({})",
            data["message"].as_str().unwrap_or(""),
            data["code"].as_str().unwrap_or("")
        ),
        other => eprintln!("{other}: {data}"),
    }
    None
}

fn print_message(m: &Value) {
    println!(
        "[{}] {} → {}: {}   ({})",
        m["createdAt"].as_str().unwrap_or(""),
        name_str(m["senderId"].as_str().unwrap_or("")),
        name_str(m["recipientId"].as_str().unwrap_or("")),
        m["content"].as_str().unwrap_or(""),
        m["id"].as_str().unwrap_or(""),
    );
}

fn name(id: &Uuid) -> String {
    name_str(&id.to_string())
}

fn name_str(id: &str) -> String {
    DEMO_USERS
        .iter()
        .find(|(_, uid, ..)| *uid == id)
        .map(|(n, ..)| (*n).to_owned())
        .unwrap_or_else(|| id.to_owned())
}
