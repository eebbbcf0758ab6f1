//! A private `nats-server` (JetStream on) for tests that stop and start NATS: the shared
//! one on 127.0.0.1:4222 serves every other test running in parallel and must stay up.
//!
//! The server keeps its port and its JetStream store directory across restarts, so the
//! services reconnect to the same address and durable streams survive, as they would with
//! a real server restarted in place.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The binary: `NATS_SERVER_BIN`, else Debian's.
fn binary() -> PathBuf {
    std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub struct NatsServer {
    port: u16,
    /// The JetStream store (`-sd`), kept across restarts, removed on drop.
    store_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server on a free port with JetStream and a fresh store directory.
    pub async fn start() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let store_dir = std::env::temp_dir().join(format!("sb-nats-{id}"));
        std::fs::create_dir_all(&store_dir).expect("JetStream store directory");
        let mut server = Self {
            port: free_port(),
            store_dir,
            log: crate::process::log_dir().join(format!("nats-server-{id}.log")),
            child: None,
        };
        server.start_again().await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the stopped server again on the same port with the same store.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "nats-server is running already");
        let path = binary();
        assert!(
            path.exists(),
            "{} is missing (apt-get install nats-server, or set NATS_SERVER_BIN)",
            path.display()
        );
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(&path)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone().expect("log file")))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nats-server");
        self.child = Some(child);
        // Ready once it greets a client with INFO (JetStream has loaded its store by then).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                let mut buf = [0u8; 5];
                let greeted = tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if greeted && &buf == b"INFO " {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not start; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (the server closes its clients and flushes its store), then waits.
    pub async fn stop(&mut self) {
        crate::process::terminate(&mut self.child).await;
    }

    /// SIGKILL.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}
