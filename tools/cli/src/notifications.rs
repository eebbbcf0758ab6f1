//! `notifications`: the dead-letter tools, over the notification service's gRPC API.

use std::time::Duration;

use anyhow::Context as _;
use switchboard_proto::notification::v1::{
    ListDeadLettersRequest, ReplayDeadLetterRequest,
    notification_service_client::NotificationServiceClient,
};

async fn client(url: &str) -> anyhow::Result<NotificationServiceClient<tonic::transport::Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .connect()
        .await
        .with_context(|| format!("connecting to the notification service at {url}"))?;
    Ok(NotificationServiceClient::new(channel))
}

/// One line per dead letter: id, when, attempts, what, last error.
pub(crate) async fn list(url: &str, limit: u32) -> anyhow::Result<()> {
    let dead = client(url)
        .await?
        .list_dead_letters(ListDeadLettersRequest { limit: Some(limit) })
        .await
        .map_err(|s| anyhow::anyhow!("{}: {}", s.code(), s.message()))?
        .into_inner()
        .dead_letters;
    if dead.is_empty() {
        println!("no dead letters");
        return Ok(());
    }
    println!("id\tdead at\tattempts\tkind\tdedupe key\tlast error");
    for d in dead {
        let when = d
            .dead_at
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let (kind, key) = match &d.event {
            Some(e) => (
                e.kind
                    .as_ref()
                    .map(switchboard_common::notifications::kind_name)
                    .unwrap_or("?"),
                e.dedupe_key.as_str(),
            ),
            None => ("?", ""),
        };
        println!(
            "{}\t{when}\t{}\t{kind}\t{key}\t{}",
            d.id,
            d.attempts,
            d.last_error.replace(['\n', '\t'], " ")
        );
    }
    Ok(())
}

pub(crate) async fn replay(url: &str, id: &str) -> anyhow::Result<()> {
    client(url)
        .await?
        .replay_dead_letter(ReplayDeadLetterRequest { id: id.to_owned() })
        .await
        .map_err(|s| anyhow::anyhow!("{}: {}", s.code(), s.message()))?;
    println!("{id} is queued again");
    Ok(())
}
