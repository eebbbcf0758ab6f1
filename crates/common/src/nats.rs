//! Connecting to NATS with bounded timeouts and endless reconnection.

use std::time::Duration;

/// Connects to `url`; the client keeps reconnecting on its own after a lost connection.
pub async fn connect(
    url: &str,
    name: &str,
    request_timeout: Duration,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(request_timeout))
        .ping_interval(Duration::from_secs(10))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("nats connected"),
                async_nats::Event::Disconnected => tracing::warn!("nats disconnected"),
                other => tracing::debug!(event = %other, "nats event"),
            }
        })
        .connect(url)
        .await
}

/// Whether the client currently holds a live connection.
pub fn is_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}
