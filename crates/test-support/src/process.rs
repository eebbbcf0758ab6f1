//! A service binary running in the background, with its bound addresses read from its
//! ready line and its log kept in `target/e2e-logs/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ServiceProcess {
    pub name: String,
    child: Option<Child>,
    pub addrs: HashMap<String, SocketAddr>,
    pub log: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
}

/// `target/<profile>/`, where cargo put the service binaries.
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

pub(crate) fn log_dir() -> PathBuf {
    let dir = binaries_dir().join("e2e-logs");
    std::fs::create_dir_all(&dir).expect("log directory");
    dir
}

impl ServiceProcess {
    /// Starts `binary` (e.g. `switchboard-chat`) and waits for its ready line.
    pub async fn start(binary: &str, name: &str, env: Vec<(String, String)>) -> Self {
        let path = binaries_dir().join(binary);
        assert!(
            path.exists(),
            "{} is missing: build the services first (cargo build --workspace --bins)",
            path.display()
        );
        let log = log_dir().join(format!("{name}-{}.log", uuid::Uuid::new_v4().simple()));
        let mut p = Self {
            name: name.to_owned(),
            child: None,
            addrs: HashMap::new(),
            log,
            binary: path,
            env,
        };
        p.spawn().await;
        p
    }

    async fn spawn(&mut self) {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(&self.binary);
        cmd.envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn service");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with(switchboard_common::READY_MARKER) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let line = match ready {
            Ok(Some(line)) => line,
            _ => panic!(
                "{} did not become ready; log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            ),
        };
        self.addrs = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| v.parse().ok().map(|a| (k.to_owned(), a)))
            .collect();
        // Keep draining stdout so the service never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    /// Restarts with the same settings but port 0 replaced by the ports it had, so clients
    /// can reconnect to the same address.
    pub async fn restart(&mut self) {
        self.stop().await;
        let fixed: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| {
                let bound = self
                    .addrs
                    .iter()
                    .find(|(name, _)| k.to_ascii_lowercase().ends_with(&format!("{name}_addr")))
                    .or_else(|| {
                        (self.addrs.len() == 1)
                            .then(|| self.addrs.iter().next())
                            .flatten()
                    });
                match (v.ends_with(":0"), bound) {
                    (true, Some((_, addr))) => (k.clone(), addr.to_string()),
                    _ => (k.clone(), v.clone()),
                }
            })
            .collect();
        self.env = fixed;
        self.spawn().await;
    }

    /// SIGKILL: the process dies without a word.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Sends `signal` (`TERM`, `STOP`, `CONT`, ...) and returns at once.
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let _ = std::process::Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status();
        }
    }

    /// Waits at most `limit` for the process to exit by itself; its status if it did.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let status = tokio::time::timeout(limit, child.wait()).await.ok()?.ok()?;
        self.child = None;
        Some(status)
    }

    /// The resident memory of the running process, in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.pid().expect("the process runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// SIGTERM, then waits for the exit.
    pub async fn stop(&mut self) {
        terminate(&mut self.child).await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// SIGTERM to a child process, then waits up to 15 s for it to exit (killing it after).
pub(crate) async fn terminate(child: &mut Option<tokio::process::Child>) {
    if let Some(mut child) = child.take() {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}
