//! The API under AWS SAM's own local emulation, as its users test it:
//! `sam local invoke` of every function with its `events/` payload, and
//! `sam local start-api` answering the docs page's curl, JavaScript and
//! Python examples and a create → get → patch (`If-Match`) → list → search
//! → delete round trip. Each request runs the function binary in a Lambda
//! container of SAM's (its image, AWS's emulator), against DynamoDB Local,
//! through scripts/lib/sam-launcher.py (the containers on the host's
//! network, on loopback only).
//!
//! The Docker-backed tests are `#[ignore]`d in the plain `cargo test` pass:
//! they need Docker, SAM's base image and the staged binaries, which
//! `scripts/sam-local --test` sets up (`scripts/test` runs it after the
//! other tests; scripts/lib/sam-local.sh). The launcher's self-check needs
//! only the SAM CLI and runs in every pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::docs_examples::{
    check_curl_examples, check_javascript_example, check_python_example, run,
};
use integration_tests::{repo_root, TestApi, PLACEHOLDER_ID, PLACEHOLDER_KEY, TEST_TABLE};
use lambda_harness::FUNCTIONS;
use serde_json::{json, Value};

const SETUP: &str =
    "run through `scripts/sam-local --test` (or `scripts/test`), which sets up SAM and Docker";

/// What scripts/lib/sam-local.sh prepared.
struct Sam {
    python: String,
    launcher: String,
    template: String,
    architecture: String,
    skip_pull: String,
}

impl Sam {
    fn prepared() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {SETUP}"))
        };
        Self {
            python: var("SAM_LOCAL_PYTHON"),
            launcher: var("SAM_LOCAL_LAUNCHER"),
            template: var("SAM_LOCAL_TEMPLATE"),
            architecture: var("SAM_LOCAL_ARCH"),
            skip_pull: std::env::var("SAM_LOCAL_SKIP_PULL").unwrap_or_default(),
        }
    }

    /// `sam local <command> …` with the template, the local parameters and
    /// the offline flags.
    fn command(&self, local: &[&str]) -> Command {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .unwrap_or_else(|_| panic!("AWS_ENDPOINT_URL_DYNAMODB is not set: {SETUP}"));
        let mut command = Command::new(&self.python);
        command
            .arg(&self.launcher)
            .arg("local")
            .args(local)
            .args(["--template-file", &self.template, "--language-extensions"])
            .args(self.skip_pull.split_whitespace())
            .arg("--parameter-overrides")
            .arg(format!("Architecture={}", self.architecture))
            .arg(format!("DynamoDbEndpoint={endpoint}"))
            .arg(format!("ExistingTableName={TEST_TABLE}"))
            // Revocations show at once, as in the other tests.
            .arg("KeyCacheTtlSeconds=0");
        command
    }
}

/// `events/<file>` with the placeholders replaced by a real key and client id,
/// written to a file of its own.
fn event_file(file: &str, key: &str, id: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("events").join(file)).unwrap();
    let path = std::env::temp_dir().join(format!("{}-{file}", uuid::Uuid::now_v7().simple()));
    std::fs::write(
        &path,
        text.replace(PLACEHOLDER_KEY, key)
            .replace(PLACEHOLDER_ID, id),
    )
    .unwrap();
    path
}

/// `sam local invoke <function> -e <event>`: the function's answer (API
/// Gateway's payload 2.0 response) and SAM's log.
fn invoke(sam: &Sam, logical_id: &str, event: &Path) -> (Value, String) {
    let output = sam
        .command(&["invoke", logical_id, "--event", event.to_str().unwrap()])
        .output()
        .expect("run the SAM launcher");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "sam local invoke {logical_id} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let answer = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| panic!("{logical_id}: no JSON answer on stdout:\n{stdout}\n{stderr}"));
    (answer, stderr)
}

fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[test]
fn the_launchers_host_network_patch_still_applies_to_the_pinned_sam_cli() {
    let venv = std::env::var("SAM_VENV")
        .unwrap_or_else(|_| panic!("SAM_VENV is not set: run through scripts/test"));
    let launcher = repo_root().join("scripts/lib/sam-launcher.py");

    let output = Command::new(format!("{venv}/bin/python"))
        .arg(&launcher)
        .arg("--self-check")
        .output()
        .expect("run the launcher's self-check");

    assert!(
        output.status.success(),
        "the SAM CLI no longer creates its containers as scripts/lib/sam-launcher.py expects:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("the self-check's JSON");
    let create = &report["create"];
    assert_eq!(create["network_mode"], "host");
    assert!(create.get("ports").is_none(), "{create}");
    let entrypoint: Vec<&str> = create["entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for flag in [
        "--runtime-interface-emulator-address",
        "--runtime-api-address",
    ] {
        let at = entrypoint
            .iter()
            .position(|a| *a == flag)
            .unwrap_or_else(|| panic!("{flag}: {entrypoint:?}"));
        assert!(
            entrypoint[at + 1].starts_with("127.0.0.1:"),
            "{entrypoint:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs Docker and SAM: scripts/sam-local --test (run by scripts/test)"]
async fn every_function_answers_its_event_through_sam_local_invoke() {
    let sam = Sam::prepared();
    let api = TestApi::as_deployed().await;
    let tenant = api.tenant().await;
    let client = api
        .create(&tenant, json!({"name": "John Doe", "phone": "+1 555-1234"}))
        .await;
    let id = client["id"].as_str().unwrap().to_owned();
    // Each function's own event, then the two error cases; delete last but one.
    let mut cases: Vec<(&str, &str, u64)> = FUNCTIONS
        .iter()
        .map(|f| {
            let status = match f.binary {
                "create-client" => 201,
                _ => 200,
            };
            (f.logical_id, f.binary, status)
        })
        .collect();
    cases.sort_by_key(|(_, binary, _)| *binary == "delete-client");
    cases.insert(0, ("GetClientFunction", "not-found", 404));
    cases.insert(0, ("ListClientsFunction", "unauthorized", 401));

    for (logical_id, file, status) in cases {
        let event = event_file(&format!("{file}.json"), &tenant.key, &id);
        let started = Instant::now();
        let (answer, log) = invoke(&sam, logical_id, &event);
        let _ = std::fs::remove_file(&event);

        assert_eq!(answer["statusCode"], status, "{file}: {answer}\n{log}");
        assert!(
            log.contains("REPORT RequestId"),
            "{file}: no REPORT line:\n{log}"
        );
        assert!(
            answer["headers"]["content-type"]
                .as_str()
                .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html")),
            "{file}: {answer}"
        );
        let body = body(&answer);
        match file {
            "list-clients" => assert_eq!(body["data"][0]["id"], id.as_str(), "{body}"),
            "get-client" => assert_eq!(body["data"], client, "{body}"),
            "create-client" => assert_eq!(body["data"]["name"], "John Doe", "{body}"),
            "update-client" => assert_eq!(body["data"]["status"], "inactive", "{body}"),
            "delete-client" => assert_eq!(body, json!({"success": true})),
            "get-openapi" => assert_eq!(body["openapi"], "3.1.0"),
            "not-found" => assert_eq!(body["error"]["code"], "not_found", "{body}"),
            "unauthorized" => assert_eq!(body["error"]["code"], "unauthorized", "{body}"),
            other => panic!("no check for {other}"),
        }
        eprintln!(
            "sam local invoke {logical_id} ({file}): {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    assert_eq!(
        api.get(&tenant, &format!("/api/v1/clients/{id}"))
            .await
            .status,
        404,
        "delete-client under SAM deleted the client in DynamoDB Local"
    );
}

/// `sam local start-api` on a free loopback port, stopped (SIGTERM, as
/// `kill` does) when dropped.
struct StartApi {
    child: Child,
    base_url: String,
    /// SAM's log (its standard error).
    log: PathBuf,
}

impl StartApi {
    /// SAM serving on a free port, once it answers there itself. The port
    /// is free when picked, not reserved: if SAM exits before it answers
    /// (its port was taken in between) or the port answers with something
    /// else than the API's description, SAM is stopped and started again
    /// on another port, up to 3 times.
    fn start(sam: &Sam) -> Self {
        let mut refused = Vec::new();
        for _ in 0..3 {
            let mut api = Self::spawn(sam);
            match api.wait_until_serving() {
                Ok(()) => return api,
                Err(why) => refused.push(why),
            }
        }
        panic!("sam local start-api did not serve: {refused:#?}");
    }

    fn spawn(sam: &Sam) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("sam-start-api-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = sam
            .command(&[
                "start-api",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--warm-containers",
                "EAGER",
            ])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start sam local start-api");
        Self {
            child,
            base_url: format!("http://127.0.0.1:{port}/api/v1"),
            log,
        }
    }

    /// Waits (at most 120 s) until `GET /openapi.json` answers 200 with the
    /// API's description, the function's own answer through SAM.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = format!("{}/openapi.json", self.base_url);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("SAM exited ({status}), log {}", self.log.display()));
            }
            let answer = Command::new("curl")
                .args(["-s", "-m", "10", "-w", "\n%{http_code}", &url])
                .output()
                .expect("run curl");
            let answer = String::from_utf8_lossy(&answer.stdout).into_owned();
            match answer.rsplit_once('\n') {
                Some((body, "200")) if body.contains("\"openapi\"") => return Ok(()),
                // curl's 000: nothing listens yet, or SAM is still starting.
                Some((_, "000")) | None => {}
                Some((body, status)) if !self.log_says_serving() => {
                    return Err(format!(
                        "{url} answered {status} before SAM served it (another process on the port?): {body:?}"
                    ));
                }
                // SAM's own answer while the function's container starts.
                Some(_) => {}
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{url} not served within 120 s, log {}",
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Whether SAM's log says its server runs (Flask's `Running on` line).
    fn log_says_serving(&self) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains("Running on")
    }

    /// The containers SAM says it created (`SAM_CONTAINER_ID: <id>` lines).
    fn containers(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split("SAM_CONTAINER_ID: ").nth(1))
            .map(|id| id.trim().to_owned())
            .collect()
    }

    /// Stops SAM as `kill <pid>` does; true if it exited within 30 s.
    fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for StartApi {
    fn drop(&mut self) {
        if !self.stop() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP exchange through curl: status, headers (lower-case names), body.
struct Exchange {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn http(
    method: &str,
    url: &str,
    key: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Exchange {
    let mut args = vec![
        "-sS".to_owned(),
        "-i".to_owned(),
        "-X".to_owned(),
        method.to_owned(),
        url.to_owned(),
    ];
    args.extend(["-H".to_owned(), format!("Authorization: Bearer {key}")]);
    for (name, value) in headers {
        args.extend(["-H".to_owned(), format!("{name}: {value}")]);
    }
    if let Some(body) = body {
        args.extend([
            "-H".to_owned(),
            "Content-Type: application/json".to_owned(),
            "--data".to_owned(),
            body.to_string(),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run("curl", &args).await;
    let (head, body) = output.split_once("\r\n\r\n").unwrap_or((&output, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {output}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
    Exchange {
        status,
        headers,
        body,
    }
}

#[tokio::test]
#[ignore = "needs Docker and SAM: scripts/sam-local --test (run by scripts/test)"]
async fn sam_local_start_api_serves_the_docs_examples_and_a_full_round_trip() {
    let sam = Sam::prepared();
    let api = TestApi::as_deployed().await;
    let mut served = StartApi::start(&sam);
    let base = served.base_url.clone();
    let tenant = api.tenant().await;
    let key = tenant.key.as_str();

    // create → get → patch (If-Match) → list → search → delete → 404
    let created = http(
        "POST",
        &format!("{base}/clients"),
        key,
        Some(&json!({"name": "Ada Lovelace", "phone": "+44 20 7946 0000"})),
        &[],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let location = created.header("location").expect("Location");
    assert!(
        location.ends_with(&format!("/api/v1/clients/{id}")),
        "{location}"
    );
    let url = format!("{base}/clients/{id}");

    let got = http("GET", &url, key, None, &[]).await;
    assert_eq!(
        (got.status, &got.body["data"]),
        (200, &created.body["data"])
    );
    let etag = got.header("etag").expect("ETag").to_owned();

    let stale = http(
        "PATCH",
        &url,
        key,
        Some(&json!({"notes": "late"})),
        &[("If-Match", "\"999\"")],
    )
    .await;
    assert_eq!(
        (stale.status, stale.body["error"]["code"].as_str()),
        (412, Some("precondition_failed")),
        "{}",
        stale.body
    );
    let patched = http(
        "PATCH",
        &url,
        key,
        Some(&json!({"status": "inactive", "notes": "Met at the conference"})),
        &[("If-Match", &etag)],
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["status"], "inactive");
    assert_ne!(patched.header("etag"), Some(etag.as_str()));

    let list = http(
        "GET",
        &format!("{base}/clients?status=inactive"),
        key,
        None,
        &[],
    )
    .await;
    assert_eq!(
        (list.status, list.body["total"].clone()),
        (200, json!(1)),
        "{}",
        list.body
    );
    assert_eq!(list.body["data"][0]["id"], id.as_str());
    for query in ["lovelace", "7946"] {
        let found = http(
            "GET",
            &format!("{base}/clients?query={query}"),
            key,
            None,
            &[],
        )
        .await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(
            found.body["data"][0]["id"],
            id.as_str(),
            "search {query}: {}",
            found.body
        );
    }

    let deleted = http("DELETE", &url, key, None, &[]).await;
    assert_eq!(
        (deleted.status, deleted.body.clone()),
        (200, json!({"success": true}))
    );
    assert_eq!(http("GET", &url, key, None, &[]).await.status, 404);

    // The docs page's examples, as written.
    check_curl_examples(&api, &base).await;
    check_javascript_example(&api, &base).await;
    check_python_example(&api, &base).await;

    // SAM's own answer to an unknown route (API Gateway's is a 404), as the
    // README says.
    let unknown = http("PUT", &format!("{base}/clients/{id}"), key, None, &[]).await;
    assert_eq!(
        (unknown.status, unknown.body.clone()),
        (403, json!({"message": "Missing Authentication Token"}))
    );

    // `kill` stops SAM, and no container it created is left (the invoke
    // test's may be running beside it).
    assert!(
        served.stop(),
        "sam local start-api did not stop on SIGTERM within 30 s"
    );
    let created = served.containers();
    assert!(!created.is_empty(), "SAM logged no container it created");
    let filters: Vec<String> = created.iter().map(|id| format!("id={id}")).collect();
    let mut args: Vec<&str> = vec!["ps", "-aq", "--no-trunc"];
    for filter in &filters {
        args.extend(["--filter", filter.as_str()]);
    }
    let left = run("docker", &args).await;
    assert_eq!(
        left.trim(),
        "",
        "containers SAM created and left behind ({} created)",
        created.len()
    );
}
