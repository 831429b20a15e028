//! Runs a service binary as a real process: learns its port from its JSON `listening` log line,
//! and stops it with SIGTERM the way an operator or container runtime would.

use std::{net::SocketAddr, process::Stdio, sync::Arc, time::Duration};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::Mutex,
};

/// A service process started by a test. Dropping it kills the process.
pub struct ServiceProcess {
    child: Child,
    /// The address the service reported in its `listening` log line.
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

/// Starts `binary` with JSON logs and the given environment, and waits (up to 60 s) until it logs
/// that it is listening. Panics with the captured output if it exits or never gets there.
pub async fn spawn(binary: &str, env: &[(&str, &str)]) -> ServiceProcess {
    let mut child = Command::new(binary)
        .envs(env.iter().copied())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, mut addr_rx) = tokio::sync::mpsc::channel(1);

    let stdout = child.stdout.take().expect("piped stdout");
    let stdout_logs = logs.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(addr) = listening_addr(&line) {
                let _ = addr_tx.send(addr).await;
            }
            stdout_logs.lock().await.push(line);
        }
    });
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_logs = logs.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            stderr_logs.lock().await.push(line);
        }
    });

    let addr = tokio::select! {
        addr = addr_rx.recv() => addr,
        status = child.wait() => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            panic!("{binary} exited with {status:?} before listening:\n{}", logs.lock().await.join("\n"))
        }
        () = tokio::time::sleep(Duration::from_secs(60)) => None,
    };
    match addr {
        Some(addr) => ServiceProcess { child, addr, logs },
        None => panic!(
            "{binary} did not report listening within 60 s:\n{}",
            logs.lock().await.join("\n")
        ),
    }
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = event.get("message")?.as_str()?;
    if !message.ends_with("listening") {
        return None;
    }
    event.get("addr")?.as_str()?.parse().ok()
}

impl ServiceProcess {
    /// Everything the process printed so far.
    pub async fn logs(&self) -> String {
        self.logs.lock().await.join("\n")
    }

    /// Sends SIGTERM and waits (up to 20 s) for the process to exit; returns its exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("process still running") as i32;
        nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM).expect("send SIGTERM");
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(status) => status.expect("wait for process"),
            Err(_) => panic!(
                "process did not stop within 20 s of SIGTERM:\n{}",
                self.logs().await
            ),
        }
    }
}

/// A raw HTTP/1.1 GET: the response as sent (status line, headers, body). Raw on purpose, so a
/// test exercises the real socket and nothing a client library would paper over.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    response
}

/// Asks a gRPC server's health service about the whole server ("").
pub async fn grpc_health(addr: SocketAddr) -> Result<tonic_health::ServingStatus, tonic::Status> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    Ok(match reply.status {
        1 => tonic_health::ServingStatus::Serving,
        2 => tonic_health::ServingStatus::NotServing,
        _ => tonic_health::ServingStatus::Unknown,
    })
}
