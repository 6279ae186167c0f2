//! A `local-api` process (the release binary) for the flood section: started
//! on a free 127.0.0.1 port (`PORT`) with the bench table (`TABLE_NAME`) and
//! DynamoDB at the endpoint given (`AWS_ENDPOINT_URL_DYNAMODB`: the faithful
//! proxy), its output appended to a log file, killed when dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long the process may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `local-api`.
pub struct LocalApi {
    child: Child,
    pub address: SocketAddr,
}

impl LocalApi {
    /// Starts `binary` serving `table` through `dynamodb` (an endpoint URL),
    /// appending its output to `log`; waits until it accepts connections.
    pub async fn start(
        binary: &Path,
        table: &str,
        dynamodb: &str,
        log: &File,
    ) -> Result<Self, String> {
        if !binary.is_file() {
            return Err(format!(
                "{} does not exist (scripts/bench builds it: cargo build --release -p local-api)",
                binary.display()
            ));
        }
        let port = free_port()?;
        let clone = |f: &File| f.try_clone().map_err(|e| format!("the log file: {e}"));
        let mut child = Command::new(binary)
            .env("PORT", port.to_string())
            .env("TABLE_NAME", table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
            .stdin(Stdio::null())
            .stdout(clone(log)?)
            .stderr(clone(log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(Self { child, address });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "local-api exited ({status}) before serving on port {port}: see its log"
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "local-api did not accept connections on port {port} within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port no one listens on now (the OS's pick, released for the child).
fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}
