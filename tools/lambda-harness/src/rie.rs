//! A function binary under AWS's own Lambda Runtime Interface Emulator
//! (`aws-lambda-rie`): the emulator `sam local invoke` runs inside its
//! container, here run on the host, which is as close to `sam local invoke`
//! as a machine without Docker gets.
//!
//! The RIE comes with the SAM CLI's PyPI package (`samcli/local/rapid/`);
//! `scripts/test` installs it (`sam_cli_env` in `scripts/lib/python-env.sh`)
//! and exports its path as `AWS_LAMBDA_RIE`. [`RieFunction::start`] runs
//! `aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:<free port>
//! --runtime-api-address 127.0.0.1:<free port> <binary>` with the function's
//! environment (the RIE hands its own on to the function);
//! [`RieFunction::invoke`] posts an event to
//! `/2015-03-31/functions/function/invocations`. The RIE starts the function
//! at the first invocation and keeps it for the next ones, as a warm
//! container; it prints Lambda's `INIT START`, `INIT REPORT(durationMs: …)`
//! and, per invocation, `REPORT RequestId: … Duration: …` lines, which
//! [`RieFunction::reports`] and [`RieFunction::init_duration_ms`] read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::process::{function_env, function_name, spawn, Output};

/// The variable that holds the RIE binary's path (set by `scripts/test`).
pub const RIE_VARIABLE: &str = "AWS_LAMBDA_RIE";

/// How long the RIE may take to listen, or an invocation to be answered.
pub const RIE_TIMEOUT: Duration = Duration::from_secs(30);

const INVOCATIONS_PATH: &str = "/2015-03-31/functions/function/invocations";

/// The RIE binary named by `AWS_LAMBDA_RIE`; panics, saying how to get it,
/// if the variable is unset or names no file.
pub fn rie_binary() -> PathBuf {
    let how = "run the tests with scripts/test, which installs the SAM CLI into .tools/venv \
               and exports the path of its aws-lambda-rie as AWS_LAMBDA_RIE";
    let path = std::env::var_os(RIE_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{RIE_VARIABLE} is not set: {how}"));
    assert!(
        path.is_file(),
        "{RIE_VARIABLE}={} is no file: {how}",
        path.display()
    );
    path
}

/// The RIE's answer to one invocation.
#[derive(Debug)]
pub struct RieAnswer {
    /// The HTTP status of the invocation request (200, or 502 when the function failed).
    pub status: u16,
    /// What the function returned (or the RIE's error body), as text.
    pub body: String,
}

impl RieAnswer {
    /// The body as JSON; panics if it is not.
    pub fn payload(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the RIE's answer is not JSON ({error}): {self:?}"))
    }
}

/// A function binary running under the RIE. Dropping it kills the RIE and
/// the function.
pub struct RieFunction {
    name: String,
    child: Child,
    address: SocketAddr,
    output: Output,
}

impl RieFunction {
    /// Starts the RIE ([`rie_binary`]) for `binary`, with `env` added to the
    /// function's environment and the variables named in `removed` left out,
    /// and waits until it takes invocations. Call inside a Tokio runtime.
    pub async fn start(binary: impl AsRef<Path>, env: &[(&str, &str)], removed: &[&str]) -> Self {
        let binary = binary.as_ref();
        let name = function_name(binary);
        let address = free_address();
        let runtime_api = free_address().to_string();
        // What Lambda sets from template.yaml's MemorySize and Timeout.
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "10"),
        ];
        let mut command = Command::new(rie_binary());
        command
            .arg("--runtime-interface-emulator-address")
            .arg(address.to_string())
            .arg("--runtime-api-address")
            .arg(&runtime_api)
            .arg(binary);
        let (child, output) = spawn(command, function_env(&lambda, env, removed));
        let mut function = Self {
            name,
            child,
            address,
            output,
        };
        function.wait_until_listening().await;
        function
    }

    async fn wait_until_listening(&mut self) {
        let deadline = tokio::time::Instant::now() + RIE_TIMEOUT;
        while TcpStream::connect(self.address).await.is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the RIE for {} exited ({status})\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the RIE for {} does not listen on {} within {RIE_TIMEOUT:?}\n{}",
                self.name,
                self.address,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The function's name (its binary's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The RIE's and the function's output so far (the function's goes to
    /// the RIE's stdout, as to CloudWatch in Lambda; the RIE's own log to stderr).
    pub fn output(&self) -> String {
        self.output
            .report(&format!("the RIE running {}", self.name))
    }

    /// What the function wrote to standard output so far (its log lines, as
    /// Lambda sends them to CloudWatch Logs), the RIE's own lines among them.
    pub fn stdout(&self) -> String {
        self.output.stdout()
    }

    /// Posts `event` to the RIE's invocations endpoint and returns its answer.
    /// Panics, with the output, if there is none within [`RIE_TIMEOUT`].
    pub async fn invoke(&mut self, event: &Value) -> RieAnswer {
        let body = Bytes::from(event.to_string());
        match tokio::time::timeout(RIE_TIMEOUT, post(self.address, body)).await {
            Ok(Ok((status, body))) => RieAnswer {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            },
            Ok(Err(error)) => panic!(
                "invoke {} through the RIE: {error}\n{}",
                self.name,
                self.output()
            ),
            Err(_) => panic!(
                "{} did not answer through the RIE within {RIE_TIMEOUT:?}\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// The `REPORT RequestId: … Duration: … Billed Duration: …` lines so far,
    /// one per finished invocation, waiting a moment for the last one (the RIE
    /// prints it just after answering).
    pub async fn reports(&self, expected: usize) -> Vec<String> {
        let reports = || -> Vec<String> {
            self.output
                .stdout()
                .lines()
                .filter(|line| line.starts_with("REPORT RequestId: "))
                .map(str::to_owned)
                .collect()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while reports().len() < expected && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        reports()
    }

    /// How many times the RIE has started the function (`INIT START` lines):
    /// 1 while one warm process serves every invocation.
    pub fn inits(&self) -> usize {
        self.output
            .stderr()
            .lines()
            .filter(|line| line.contains("INIT START("))
            .count()
    }

    /// The RIE's first `INIT REPORT(durationMs: …)`: the function's init time
    /// as Lambda reports it, in milliseconds.
    pub fn init_duration_ms(&self) -> Option<f64> {
        self.output.stderr().lines().find_map(|line| {
            let (_, rest) = line.split_once("INIT REPORT(durationMs: ")?;
            rest.split(')').next()?.trim().parse().ok()
        })
    }
}

/// A free 127.0.0.1 address (the port of a listener just closed).
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free 127.0.0.1 port")
}

/// One HTTP/1.1 POST of a JSON body; the answer's status and body.
async fn post(address: SocketAddr, body: Bytes) -> Result<(StatusCode, Bytes), String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect to {address}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let request = Request::post(INVOCATIONS_PATH)
        .header("host", address.to_string())
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("POST {INVOCATIONS_PATH}: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("read the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}
