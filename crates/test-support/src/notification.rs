//! The notification service as the tests run it: short retries and ack wait, a quiet period
//! of a couple of seconds, mail to a test sink.

use std::time::Duration;

use switchboard_common::subjects::Subjects;

use crate::process::ServiceProcess;
use crate::stack::nats_url;

/// Deletes the notification stream of a test's subject prefix when dropped. The tests share
/// the machine's NATS server and each uses a prefix of its own, so every test run would
/// otherwise leave its streams there for good. Drop it after the notification services
/// (fields drop in declaration order): a running one would recreate nothing but would fail.
pub struct NotificationStream {
    name: String,
}

impl NotificationStream {
    pub fn of_prefix(prefix: &str) -> Self {
        Self {
            name: Subjects::new(prefix).notification_stream(),
        }
    }
}

impl Drop for NotificationStream {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Drop cannot await and may run inside a runtime: a thread with a runtime of its own.
        let deleting = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let timeout = Duration::from_secs(2);
                if let Ok(Ok(client)) =
                    tokio::time::timeout(timeout, async_nats::connect(nats_url())).await
                {
                    let js = async_nats::jetstream::new(client);
                    // Absent (the test never started a notifier) is fine too.
                    let _ = tokio::time::timeout(timeout, js.delete_stream(&name)).await;
                }
            });
        });
        let _ = deleting.join();
    }
}

/// Settings the tests use unless they say otherwise.
pub fn test_env(database_url: &str, prefix: &str, smtp_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url),
        ("NATS_URL", &nats_url()),
        ("NATS_SUBJECT_PREFIX", prefix),
        ("RUST_LOG", "info"),
        ("NOTIFICATION_GRPC_ADDR", "127.0.0.1:0"),
        ("NOTIFICATION_HTTP_ADDR", "127.0.0.1:0"),
        ("NOTIFICATION_DB_MAX_CONNECTIONS", "4"),
        ("NOTIFICATION_RUN_MIGRATIONS", "false"),
        ("SMTP_URL", smtp_url),
        ("SMTP_TIMEOUT_MS", "1000"),
        ("NOTIFICATION_ACK_WAIT_MS", "5000"),
        ("NOTIFICATION_RETRY_BASE_MS", "200"),
        ("NOTIFICATION_RETRY_MAX_MS", "1000"),
        ("NOTIFICATION_QUIET_PERIOD_SECS", "2"),
        ("MAIL_FROM", "Switchboard <notify@switchboard.test>"),
        ("MAIL_REPLY_TO", "Support <support@switchboard.test>"),
        ("APP_URL", "https://app.switchboard.test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Starts `switchboard-notification` with [`test_env`] plus `extra` (which wins).
pub async fn start(
    name: &str,
    database_url: &str,
    prefix: &str,
    smtp_url: &str,
    extra: &[(&str, &str)],
) -> ServiceProcess {
    let mut env = test_env(database_url, prefix, smtp_url);
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    ServiceProcess::start("switchboard-notification", name, env).await
}
