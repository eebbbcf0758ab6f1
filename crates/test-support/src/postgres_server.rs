//! A private PostgreSQL cluster for tests that stop and restart the database: the shared
//! one on 127.0.0.1:5432 serves every other test running in parallel and must stay up.
//!
//! `initdb` into a temporary directory, a free port on 127.0.0.1, trust authentication,
//! the unix socket in the same directory. PostgreSQL refuses to run as root, so when the
//! tests run as root the cluster belongs to the `postgres` OS user and every `initdb` and
//! `pg_ctl` runs through `runuser -u postgres --`. `fsync` is off: the tests restart and
//! crash the server process, never the machine, and the page cache survives those.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

/// `PG_BIN_DIR`, else Debian's PostgreSQL 15.
fn bin_dir() -> PathBuf {
    std::env::var_os("PG_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

pub struct PostgresServer {
    port: u16,
    /// Holds `data/` and the unix socket; removed on drop.
    base: PathBuf,
    data: PathBuf,
    pub log: PathBuf,
    /// Run the server tools as `postgres` (we are root).
    as_postgres: bool,
    running: bool,
}

impl PostgresServer {
    /// A fresh cluster, started.
    pub async fn start() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let base = std::env::temp_dir().join(format!("sb-pg-{id}"));
        let data = base.join("data");
        std::fs::create_dir_all(&base).expect("cluster directory");
        let log = crate::process::log_dir().join(format!("postgres-{id}.log"));
        std::fs::write(&log, b"").expect("log file");
        let as_postgres = is_root().await;
        if as_postgres {
            for path in [&base, &log] {
                run(
                    "chown",
                    &[
                        "-R".as_ref(),
                        "postgres:postgres".as_ref(),
                        path.as_os_str(),
                    ],
                )
                .await;
            }
        }
        let mut server = Self {
            port: crate::nats_server::free_port(),
            base,
            data,
            log,
            as_postgres,
            running: false,
        };
        server
            .pg(
                "initdb",
                &[
                    "-D".as_ref(),
                    server.data.as_os_str(),
                    "-U".as_ref(),
                    "postgres".as_ref(),
                    "-A".as_ref(),
                    "trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--no-sync".as_ref(),
                ],
            )
            .await;
        let conf = format!(
            "\n# switchboard tests\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nfull_page_writes = off\nmax_connections = 100\nshared_buffers = 32MB\n",
            server.port,
            server.base.display()
        );
        let conf_path = server.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("postgresql.conf");
        server.start_again().await;
        server
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`: where test databases are created.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Starts the stopped server and waits until it accepts connections.
    pub async fn start_again(&mut self) {
        assert!(!self.running, "PostgreSQL is running already");
        self.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-l".as_ref(),
                self.log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
        .await;
        self.running = true;
    }

    /// A clean stop (`-m fast`: sessions are ended, the server checkpoints and exits).
    pub async fn stop(&mut self) {
        self.pg_ctl_stop("fast").await;
    }

    /// A crash (`-m immediate`: no checkpoint; the next start recovers from the WAL).
    pub async fn crash(&mut self) {
        self.pg_ctl_stop("immediate").await;
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn pg_ctl_stop(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        self.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                mode.as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
        .await;
        self.running = false;
    }

    /// Runs a PostgreSQL tool (as `postgres` when we are root); panics with its output if
    /// it fails.
    async fn pg(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let tool = bin_dir().join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&tool);
            c
        } else {
            Command::new(&tool)
        };
        // The tools must not inherit a working directory `postgres` cannot read.
        cmd.args(args).current_dir(&self.base);
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{} timed out", tool.display()))
            .unwrap_or_else(|e| panic!("{} did not run: {e}", tool.display()));
        assert!(
            out.status.success(),
            "{} {:?} failed: {}{}\nserver log:\n{}",
            tool.display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let tool = bin_dir().join("pg_ctl");
            let mut cmd = if self.as_postgres {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(&tool);
                c
            } else {
                std::process::Command::new(&tool)
            };
            let _ = cmd
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .current_dir(&self.base)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

async fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

async fn run(program: &str, args: &[&std::ffi::OsStr]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .await
        .unwrap_or_else(|e| panic!("{program} did not run: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}
