//! Schemathesis (property-based API testing) against the local server, over
//! real HTTP, with the description the API serves.
//!
//! The local server (`local-api`, the same handlers as the Lambda functions)
//! is started in-process on a free port against DynamoDB Local, with two
//! organizations, `org-a` and `org-b`, each with a key. Schemathesis loads
//! `<base>/openapi.json` and runs every phase (examples, coverage, fuzzing,
//! stateful: create → get/patch/delete through the description's links)
//! with every check except `unsupported_method` (the contract answers an
//! unknown method with 404, as API Gateway does, not 405):
//! `not_a_server_error`, `status_code_conformance`,
//! `content_type_conformance`, `response_headers_conformance`,
//! `response_schema_conformance`, `negative_data_rejection`,
//! `positive_data_acceptance`, `missing_required_header`, `use_after_free`,
//! `ensure_resource_availability`, `ignored_auth` and
//! `object_level_authorization`.
//!
//! Tenancy: every request is sent as `org-a`; `object_level_authorization`
//! replays each of `org-a`'s successful reads of its own clients (and the
//! lists they came from) with `org-b`'s key and fails if `org-b` gets them
//! (`tests/schemathesis/schemathesis.toml`, a Web Fuzzing Commons auth file
//! written here). `tests/schemathesis/hooks.py` leaves out made-up cursors
//! and drops one contract-conforming report (see there).
//!
//! Schemathesis skips the operation its description was loaded from, so
//! `GET /openapi.json` is run separately, from the served description saved
//! to a file.
//!
//! Settings (environment): `SCHEMATHESIS_MAX_EXAMPLES` (cases per operation
//! and phase, default 200; the run must generate at least 1,000 cases),
//! `SCHEMATHESIS_SEED` (default: random, printed; set it to reproduce a run),
//! `PYTHON` (the virtual environment's interpreter, set by `scripts/test`).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use integration_tests::{python, repo_root, Tenant, TestApi};
use serde_json::{json, Value};

/// Cases per operation (and phase) unless `SCHEMATHESIS_MAX_EXAMPLES` says otherwise.
const DEFAULT_MAX_EXAMPLES: u32 = 200;
/// The fewest generated cases a run may count.
const MIN_CASES: u64 = 1_000;
/// The API operations schemathesis tests from the served description (all
/// but the description's own): the five client operations and the docs page.
const CLIENT_OPERATIONS: u64 = 6;

fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish()
}

/// The Web Fuzzing Commons auth file naming the two organizations' keys.
fn auth_file(dir: &Path, a: &Tenant, b: &Tenant) -> PathBuf {
    let auth = json!({"auth": [
        {"name": "org-a", "fixedHeaders": [{"name": "Authorization", "value": format!("Bearer {}", a.key)}]},
        {"name": "org-b", "fixedHeaders": [{"name": "Authorization", "value": format!("Bearer {}", b.key)}]},
    ]});
    let path = dir.join("auth.json");
    std::fs::write(&path, auth.to_string()).unwrap();
    path
}

/// What one schemathesis run reported.
struct Run {
    report: Value,
    output: String,
    seconds: f64,
}

impl Run {
    fn generated(&self) -> u64 {
        self.report["test_cases"]["generated"].as_u64().unwrap_or(0)
    }

    fn tested_operations(&self) -> u64 {
        self.report["operations"]["tested"].as_u64().unwrap_or(0)
    }

    /// Every way the run can have gone wrong, with its output to read.
    fn assert_clean(&self, what: &str, seed: u64) {
        let report = &self.report;
        let clean = report["exit_code"] == 0
            && report["complete"] == true
            && report["failures"].as_array().is_some_and(Vec::is_empty)
            && report["errors"].as_array().is_some_and(Vec::is_empty)
            && report["test_cases"]["with_failures"] == 0
            && report["test_cases"]["errored"] == 0;
        assert!(
            clean,
            "schemathesis ({what}) found problems; reproduce with SCHEMATHESIS_SEED={seed}\n\
             failures: {}\nerrors: {}\n\n{}",
            report["failures"], report["errors"], self.output
        );
    }
}

/// Runs `st run <location> --url <base> ...` with the project's config and
/// hooks, in `dir`, and reads its JSON report.
async fn schemathesis(
    dir: &Path,
    location: &str,
    base_url: &str,
    auth: &Path,
    extra: &[String],
) -> Run {
    let report = dir.join(format!("report-{}.json", uuid::Uuid::now_v7().simple()));
    let config = repo_root().join("tests/schemathesis/schemathesis.toml");
    let hooks = repo_root().join("tests/schemathesis/hooks.py");
    let mut args: Vec<String> = vec![
        "-c".into(),
        "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; sys.exit(schemathesis())".into(),
        "--config-file".into(),
        config.to_string_lossy().into_owned(),
        "run".into(),
        location.into(),
        "--url".into(),
        base_url.into(),
        "--checks".into(),
        "all".into(),
        // The contract answers an unknown method with 404 (as API Gateway does), not 405.
        "--exclude-checks".into(),
        "unsupported_method".into(),
        "--continue-on-failure".into(),
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
        "--report".into(),
        "json".into(),
        "--report-json-path".into(),
        report.to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().cloned());
    let started = Instant::now();
    let output = tokio::process::Command::new(python())
        .args(&args)
        .current_dir(dir)
        .env("CLIENTS_API_AUTH_FILE", auth)
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {} (PYTHON): {e}", python().display()));
    let seconds = started.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "schemathesis wrote no report ({e}): is it installed in {} (scripts/test installs it)? exit {:?}\n{text}",
            python().display(),
            output.status.code()
        )
    });
    Run {
        report: serde_json::from_str(&report).expect("the JSON report"),
        output: text,
        seconds,
    }
}

/// The summary lines of a run's output (from the `SUMMARY` banner on), for the log.
fn summary(output: &str) -> &str {
    output
        .find("SUMMARY")
        .and_then(|at| output[..at].rfind('\n'))
        .map_or(output, |at| &output[at + 1..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_in_a_thousand_cases_and_more() {
    let api = TestApi::start().await;
    let (org_a, org_b) = (api.tenant().await, api.tenant().await);
    // Something for org-b to hide from org-a, and for org-a to list from the start.
    api.create(
        &org_b,
        json!({"name": "Peer Client", "phone": "+1 555-0000"}),
    )
    .await;
    api.create(&org_a, json!({"name": "John Doe", "phone": "+1 555-1234"}))
        .await;
    let server = api.serve_http().await;
    let dir = std::env::temp_dir().join(format!("schemathesis-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let auth = auth_file(&dir, &org_a, &org_b);
    let max_examples: u32 = setting("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or(DEFAULT_MAX_EXAMPLES);
    let seed: u64 = setting("SCHEMATHESIS_SEED").unwrap_or_else(random_seed);
    let common = [
        "--max-examples".to_owned(),
        max_examples.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
    ];
    eprintln!("schemathesis: seed {seed} (SCHEMATHESIS_SEED={seed} reproduces this run), {max_examples} examples per operation");

    // Every client operation, from the description the API serves.
    let served = format!("{}/openapi.json", server.base_url);
    let run = schemathesis(&dir, &served, &server.base_url, &auth, &common).await;
    eprintln!(
        "schemathesis: {served}: {:.1} s\n{}",
        run.seconds,
        summary(&run.output)
    );
    run.assert_clean("client operations", seed);
    assert_eq!(
        run.tested_operations(),
        CLIENT_OPERATIONS,
        "every client operation was tested\n{}",
        run.output
    );

    // The description's own operation, which a run loaded from it skips.
    let description = fetch_json(&served).await;
    let file = dir.join("openapi.json");
    std::fs::write(&file, description.to_string()).unwrap();
    let mut extra = common.to_vec();
    // No links lead to or from it: nothing for the stateful phase.
    extra.extend(
        [
            "--include-path",
            "/openapi.json",
            "--phases",
            "examples,coverage,fuzzing",
        ]
        .map(String::from),
    );
    let own = schemathesis(
        &dir,
        &file.to_string_lossy(),
        &server.base_url,
        &auth,
        &extra,
    )
    .await;
    eprintln!(
        "schemathesis: GET /openapi.json: {:.1} s, {} cases",
        own.seconds,
        own.generated()
    );
    own.assert_clean("GET /openapi.json", seed);
    assert_eq!(own.tested_operations(), 1, "{}", own.output);

    let total = run.generated() + own.generated();
    eprintln!(
        "schemathesis: {total} cases over {} operations in {:.1} s (seed {seed})",
        run.tested_operations() + own.tested_operations(),
        run.seconds + own.seconds
    );
    assert!(
        total >= MIN_CASES,
        "schemathesis generated only {total} cases (at least {MIN_CASES} wanted): raise SCHEMATHESIS_MAX_EXAMPLES\n{}",
        run.output
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET url` with curl, as the docs examples are run.
async fn fetch_json(url: &str) -> Value {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--fail", url])
        .output()
        .await
        .expect("run curl");
    assert!(
        output.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the served description is JSON")
}
