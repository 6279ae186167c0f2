//! DynamoDB goes away in the middle of a stream of writes and comes back.
//!
//! A DynamoDB Local of this test's own, with its data on disk, is stopped
//! while clients are being created, updated and deleted, then restarted on
//! the same port and data. Every answer must be a success or a 503 JSON
//! `unavailable` with `Retry-After`, within a bounded time; afterwards every
//! write that was answered with success must be there, and the counts must
//! equal a recount.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dynamodb_proxy::Proxy;
use integration_tests::{repo_root, TestApi, TestRequest, TestResponse, PROXY_VARIABLE};
use lambda_http::http::Method;
use serde_json::json;
use shared::function::Config;

/// A DynamoDB Local process started through `scripts/lib/dynamodb-local.sh`.
struct DynamoDbLocal {
    port: u16,
    data: PathBuf,
    pid: Option<u32>,
}

impl DynamoDbLocal {
    fn start(port: u16, data: PathBuf) -> Self {
        let mut local = Self {
            port,
            data,
            pid: None,
        };
        local.restart();
        local
    }

    fn restart(&mut self) {
        let script = format!(
            "source scripts/lib/dynamodb-local.sh && ddb_start {} -dbPath '{}' && echo $DDB_PID",
            self.port,
            self.data.display()
        );
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "start DynamoDB Local: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.pid = Some(
            String::from_utf8(output.stdout)
                .unwrap()
                .trim()
                .parse()
                .expect("a pid"),
        );
    }

    /// Stops the process (SIGTERM). Not SIGKILL: DynamoDB Local acknowledges
    /// writes before its SQLite file has them, so a killed emulator loses its
    /// last writes, which the real service never does once it has answered.
    fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
            while Path::new(&format!("/proc/{pid}")).exists() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a 503 says the write may have been applied.
fn may_have_been_applied(response: &TestResponse) -> bool {
    response.status == 503
        && response.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("may or may not have been applied"))
}

/// A response is acceptable during an outage if it is a success or a clean 503.
fn assert_success_or_unavailable(response: &TestResponse, elapsed: Duration) -> bool {
    assert!(
        elapsed < Duration::from_secs(12),
        "a request took {elapsed:?}: Lambda would time out"
    );
    match response.status {
        200 | 201 => true,
        503 => {
            assert_eq!(response.error_code(), "unavailable", "{}", response.body);
            assert!(response.header("retry-after").is_some());
            false
        }
        other => panic!("answer {other} during an outage: {}", response.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_in_the_middle_of_writes_loses_nothing_that_was_acknowledged() {
    let data = std::env::temp_dir().join(format!("ddb-outage-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&data).unwrap();
    let mut dynamodb = DynamoDbLocal::start(free_port(), data);
    // Through a faithful proxy of this test's own when the run asks for it
    // (scripts/test's second pass), else straight to this DynamoDB Local.
    let proxy = match std::env::var(PROXY_VARIABLE) {
        Ok(_) => Some(
            Proxy::start(
                dynamodb_proxy::cli::faithful_from_env(&dynamodb.endpoint())
                    .expect("the proxy's DYNAMODB_PROXY_* variables"),
            )
            .await
            .expect("start the proxy"),
        ),
        Err(_) => None,
    };
    let endpoint = proxy
        .as_ref()
        .map_or_else(|| dynamodb.endpoint(), Proxy::endpoint);
    let client = shared::store::connect_to(Some(&endpoint)).await;
    let api = TestApi::with_dynamodb(client, &Config::for_table("clients-outage")).await;
    let tenant = api.tenant().await;

    let mut acknowledged_ids = Vec::new();
    let mut deleted_ids = Vec::new();
    // Writes answered 503: "nothing was changed" must have changed nothing;
    // "may or may not have been applied" (after an attempt whose answer was
    // a server error or was lost) may have.
    let mut refused_names = Vec::new();
    let mut maybe_created_names = Vec::new();
    let mut maybe_deleted_ids = Vec::new();
    let (mut successes, mut unavailable) = (0, 0);
    for step in 0..90 {
        if step == 30 {
            dynamodb.stop();
        }
        if step == 55 {
            dynamodb.restart();
        }
        let started = Instant::now();
        let response = if step % 5 == 4 && !acknowledged_ids.is_empty() {
            let id: String = acknowledged_ids.remove(0);
            let response = api
                .send(
                    TestRequest::new(Method::DELETE, &format!("/api/v1/clients/{id}"))
                        .key(&tenant.key),
                )
                .await;
            if response.status == 200 {
                deleted_ids.push(id);
            } else if may_have_been_applied(&response) {
                maybe_deleted_ids.push(id);
            } else {
                acknowledged_ids.insert(0, id);
            }
            response
        } else {
            let name = format!("Client {step}");
            let body =
                json!({"name": name, "status": if step % 2 == 0 { "active" } else { "inactive" }});
            let response = api.post(&tenant, "/api/v1/clients", &body).await;
            if response.status == 201 {
                acknowledged_ids.push(response.body["data"]["id"].as_str().unwrap().to_owned());
            } else if may_have_been_applied(&response) {
                maybe_created_names.push(name);
            } else {
                refused_names.push(name);
            }
            response
        };
        if assert_success_or_unavailable(&response, started.elapsed()) {
            successes += 1;
        } else {
            unavailable += 1;
        }
    }

    println!("outage: {successes} writes succeeded, {unavailable} answered 503, {} clients kept, {} deleted", acknowledged_ids.len(), deleted_ids.len());
    assert!(
        unavailable >= 20,
        "the outage was seen: {unavailable} answers were 503"
    );
    assert!(successes >= 50);
    for id in &acknowledged_ids {
        assert_eq!(
            api.get(&tenant, &format!("/api/v1/clients/{id}"))
                .await
                .status,
            200,
            "acknowledged create {id} was lost"
        );
    }
    for id in &deleted_ids {
        assert_eq!(
            api.get(&tenant, &format!("/api/v1/clients/{id}"))
                .await
                .status,
            404,
            "acknowledged delete {id} was lost"
        );
    }
    if let Some(proxy) = &proxy {
        proxy.index_settled().await;
    }
    let listed = api.list(&tenant, "limit=100").await;
    let stored_names: BTreeSet<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|client| client["name"].as_str().unwrap())
        .collect();
    for name in &refused_names {
        assert!(
            !stored_names.contains(name.as_str()),
            "a create answered 'nothing was changed' left {name} behind"
        );
    }
    let mut maybe_still_there = maybe_created_names
        .iter()
        .filter(|name| stored_names.contains(name.as_str()))
        .count() as u64;
    for id in &maybe_deleted_ids {
        let status = api
            .get(&tenant, &format!("/api/v1/clients/{id}"))
            .await
            .status;
        maybe_still_there += u64::from(status == 200);
    }
    let (active, inactive) = api.recount(&tenant.org).await;
    let stored = active + inactive;
    let counts = api.app.clients.counts(&tenant.org).await.unwrap();
    assert_eq!(
        stored,
        acknowledged_ids.len() as u64 + maybe_still_there,
        "no write that answered 'nothing was changed' left a client behind or took one away"
    );
    assert_eq!(counts.total(), stored, "counts equal a recount");
}
