//! A real SMTP server for the tests: `tests/smtp/sink.py` (aiosmtpd) writing each accepted
//! message as raw `.eml` plus a decoded `.json` summary into a folder the test reads.
//! It can be stopped and started again on the same port (SMTP down, then up), hold clients
//! in `MAIL FROM` (to kill a sender mid-transaction), and refuse recipients with 550.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp/sink.py")
}

/// A free local port (bound then released), for a sink that starts later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts a sink on `port`, with a fresh folder.
    pub async fn start_on(port: u16) -> Self {
        let dir = crate::process::log_dir().join(format!("smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("sink folder");
        let mut sink = Self {
            port,
            dir,
            child: None,
        };
        sink.spawn().await;
        sink
    }

    async fn spawn(&mut self) {
        let mut child = Command::new("python3")
            .arg(script())
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the SMTP sink (pip install aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.starts_with("ready") => {}
            other => panic!("the SMTP sink did not start: {other:?} (is aiosmtpd installed?)"),
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server (connections refused from now on); what it stored stays.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port and folder.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    fn flag(&self, name: &str, on: bool) {
        let path = self.dir.join(name);
        if on {
            std::fs::write(path, b"").expect("control file");
        } else {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Holds every client at `MAIL FROM` while on.
    pub fn pause(&self, on: bool) {
        self.flag("pause", on);
    }

    /// Whether a client is being held right now.
    pub fn holding_a_client(&self) -> bool {
        self.dir.join("waiting").exists()
    }

    /// Refuses every recipient with 550 while on.
    pub fn reject(&self, on: bool) {
        self.flag("reject", on);
    }

    /// Every accepted message's summary, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("summary readable"))
                    .expect("summary is JSON")
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived; all of them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "expected {n} e-mails within {limit:?}, got {}: {:#?}",
                    messages.len(),
                    messages
                        .iter()
                        .map(|m| m["headers"]["subject"].clone())
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The decoded body of the first MIME leaf of `content_type` in a message summary.
pub fn part<'a>(message: &'a Value, content_type: &str) -> Option<&'a Value> {
    message["parts"]
        .as_array()?
        .iter()
        .find(|p| p["content_type"] == content_type)
}

/// The To header's addresses' recipients from the envelope.
pub fn recipients(message: &Value) -> Vec<String> {
    message["rcpt_tos"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
