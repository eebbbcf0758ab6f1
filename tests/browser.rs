//! The demo page in headless Chromium (Playwright) against the real stack behind haproxy:
//! the Node test in `tests/browser/` drives two browser windows; this test starts the
//! stack, serves the built page, puts haproxy in front of both and checks the verdict.
//!
//! The Node test asks for gateway kills and restarts by printing `CONTROL kill-gateway <i>`
//! or `CONTROL restart-gateway <i>` on its stdout; this test does it and answers `OK` on
//! its stdin.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use switchboard_test_support::process::binaries_dir;
use switchboard_test_support::stack::{Stack, StackOptions};
use switchboard_test_support::token;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const HAPROXY: &str = "/usr/sbin/haproxy";

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Answers one HTTP/1.1 GET from `root`, then closes.
async fn serve_file(mut socket: TcpStream, root: PathBuf) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let file = root.join(relative);
    let body = if relative.split('/').any(|part| part == "..") {
        None
    } else {
        tokio::fs::read(&file).await.ok()
    };
    let response = match body {
        Some(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                content_type(&file),
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = socket.write_all(&response).await;
    let _ = socket.shutdown().await;
}

/// A static file server on loopback for the demo page.
async fn static_server(root: PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind static");
    let addr = listener.local_addr().expect("static addr");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve_file(socket, root.clone()));
        }
    });
    addr
}

/// haproxy, stopped with SIGTERM (master and worker) when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            for _ in 0..40 {
                if matches!(self.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn haproxy_config(lb_port: u16, demo: SocketAddr, gateways: &[SocketAddr]) -> String {
    let servers: String = gateways
        .iter()
        .enumerate()
        .map(|(i, addr)| format!("    server gw{i} {addr} check inter 500ms fall 2 rise 1\n"))
        .collect();
    format!(
        "global
    maxconn 1000
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    retries 3
    option redispatch
frontend switchboard
    bind 127.0.0.1:{lb_port}
    acl api path_beg /ws /socket.io /v1/ /healthz /readyz
    use_backend gateways if api
    default_backend demo
backend demo
    server demo {demo}
backend gateways
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
{servers}"
    )
}

#[tokio::test]
async fn two_browsers_chat_through_the_load_balancer_and_survive_gateway_restarts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let node_dir = root.join("browser");
    let dist = root.join("../client/demo/dist");
    assert!(
        dist.join("index.html").exists(),
        "the demo page is not built: run npm run build in client/ (scripts/test.sh does)"
    );
    assert!(
        node_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: npm ci --prefix tests/browser (scripts/test.sh does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: apt-get install chromium (scripts/test.sh does)"
    );
    assert!(
        Path::new(HAPROXY).exists(),
        "{HAPROXY} is missing: apt-get install haproxy (scripts/test.sh installs it)"
    );

    let lb_port = free_port();
    let lb_url = format!("http://127.0.0.1:{lb_port}");
    let mut stack = Stack::start_with(StackOptions {
        chat_replicas: 1,
        presence_replicas: 1,
        gateway_replicas: 2,
        gateway_env: vec![("ALLOWED_ORIGINS".into(), lb_url.clone())],
        ..StackOptions::default()
    })
    .await;

    // The page and its demo-users.json, served on loopback.
    let site = std::env::temp_dir().join(format!("sb-browser-{}", uuid::Uuid::new_v4().simple()));
    copy_dir(&dist, &site);
    let alice = stack.create_user("applicant").await;
    let lena = stack.create_user("lawyer").await;
    let users = serde_json::json!([
        {"id": alice, "name": "Alice", "role": "applicant", "token": token(alice)},
        {"id": lena, "name": "Lena", "role": "lawyer", "token": token(lena)},
    ]);
    std::fs::write(site.join("demo-users.json"), users.to_string()).expect("demo-users.json");
    let demo = static_server(site.clone()).await;

    // haproxy in front, as in scripts/dev.sh.
    let logs = binaries_dir()
        .parent()
        .expect("target dir")
        .join("e2e-logs/browser");
    std::fs::create_dir_all(&logs).expect("screenshot dir");
    let gateways: Vec<SocketAddr> = stack.gateways.iter().map(|g| g.addr("http")).collect();
    let cfg = site.join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(lb_port, demo, &gateways)).expect("haproxy.cfg");
    let haproxy_log = std::fs::File::create(logs.join("haproxy.log")).expect("haproxy log");
    let _haproxy = Haproxy(
        Command::new(HAPROXY)
            .arg("-W")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::from(haproxy_log.try_clone().expect("log clone")))
            .stderr(Stdio::from(haproxy_log))
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy starts"),
    );
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        let page = http.get(format!("{lb_url}/demo-users.json")).send().await;
        let api = http.get(format!("{lb_url}/readyz")).send().await;
        if matches!((&page, &api), (Ok(p), Ok(a)) if p.status().is_success() && a.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "haproxy on {lb_url} did not come up; see {}",
        logs.join("haproxy.log").display()
    );

    // The Node test, run in-process (not `node --test`, whose isolated child gets no stdin).
    let mut child = Command::new("node")
        .arg("--test-reporter=spec")
        .arg("browser.test.mjs")
        .current_dir(&node_dir)
        .env("SB_URL", &lb_url)
        .env("SB_USER_A", "alice")
        .env("SB_USER_B", "lena")
        .env("SB_SCREENSHOTS", &logs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut report = String::new();
    let run = tokio::time::timeout(Duration::from_secs(150), async {
        while let Ok(Some(line)) = lines.next_line().await {
            report.push_str(&line);
            report.push('\n');
            let Some(command) = line.strip_prefix("CONTROL ") else {
                continue;
            };
            let mut words = command.split_whitespace();
            let (verb, index) = (
                words.next(),
                words.next().and_then(|i| i.parse::<usize>().ok()),
            );
            match (verb, index) {
                (Some("kill-gateway"), Some(i)) => stack.gateways[i].kill().await,
                (Some("restart-gateway"), Some(i)) => stack.gateways[i].restart().await,
                _ => panic!("unknown control line: {line}"),
            }
            stdin.write_all(b"OK\n").await.expect("answer node");
            stdin.flush().await.expect("flush");
        }
        child.wait().await.expect("node exits")
    })
    .await;
    let errors = stderr_task.await.unwrap_or_default();
    let _ = std::fs::remove_dir_all(&site);
    let status = match run {
        Ok(status) => status,
        Err(_) => panic!("the browser test did not finish within 150 s:\n{report}\n{errors}"),
    };
    let report = format!("{report}\n{errors}");
    assert!(status.success(), "browser tests failed:\n{report}");
    assert!(report.contains("ℹ pass 3"), "{report}");
    assert!(report.contains("ℹ fail 0"), "{report}");
}
