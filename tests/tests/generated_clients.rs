//! Clients generated from the served description work against the local
//! server: `openapi-python-client` (PyPI) and `openapi-typescript` +
//! `openapi-fetch` (npm, run with Node 20), all pinned and installed by
//! `scripts/test` (scripts/lib/client-generators.sh).
//!
//! Each generator reads `<base>/openapi.json` and must print no warning (a
//! warning is how they say they dropped a schema or a response); each client
//! then makes one round trip, create → get → patch → list → delete → get
//! (404), reading the `RateLimit` fields of every answer, and then meets a
//! 429 `rate_limited` (an organization held to 1 request/s), read with its
//! `Retry-After`, through `tests/clients/roundtrip.py` and
//! `tests/clients/roundtrip.ts` (type-checked with `tsc --strict` against
//! the generated types first).
//!
//! `PYTHON` is the virtual environment's interpreter and `TS_CLIENTS` the
//! directory holding the npm packages (both set by `scripts/test`).

use std::path::{Path, PathBuf};
use std::process::Output;

use integration_tests::limits::{requests_per_second, set_plan};
use integration_tests::{python, repo_root, Tenant, TestApi};
use shared::domain::plan::PlanName;

/// A second organization, held to 1 request/s.
async fn limited_tenant(api: &TestApi) -> Tenant {
    let tenant = api.tenant().await;
    set_plan(api, &tenant.org, PlanName::Free, requests_per_second(1)).await;
    tenant
}

fn ts_clients() -> PathBuf {
    std::env::var_os("TS_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/ts-clients"))
}

/// A fresh directory under `dir` for one run.
fn scratch(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&path).unwrap();
    path
}

async fn run(program: &Path, args: &[&str], cwd: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = tokio::process::Command::new(program);
    command.args(args).current_dir(cwd);
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

/// Standard output and error together, failing the test on a non-zero exit.
fn succeeded(what: &str, output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

#[tokio::test]
async fn the_python_client_generated_by_openapi_python_client_makes_a_round_trip() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let limited = limited_tenant(&api).await;
    let server = api.serve_http().await;
    let dir = scratch(&std::env::temp_dir(), "python-client");
    let bin = python().parent().unwrap().to_path_buf();
    let config = repo_root().join("tests/clients/openapi-python-client.yaml");

    let generated = run(
        &bin.join("openapi-python-client"),
        &[
            "generate",
            "--url",
            &format!("{}/openapi.json", server.base_url),
            "--meta",
            "none",
            "--output-path",
            "clients_api_client",
            "--config",
            config.to_str().unwrap(),
        ],
        &dir,
        &[],
    )
    .await;
    let log = succeeded("openapi-python-client generate", &generated);
    assert!(
        !log.to_lowercase().contains("warning") && !log.contains("Unable to parse"),
        "openapi-python-client warned:\n{log}"
    );
    let list = std::fs::read_to_string(dir.join("clients_api_client/api/clients/list_clients.py"))
        .expect("the generated list operation");
    assert!(list.contains("429"), "the 429 response was generated");

    let round_trip = run(
        &python(),
        &[
            repo_root()
                .join("tests/clients/roundtrip.py")
                .to_str()
                .unwrap(),
            &server.base_url,
            &tenant.key,
            &limited.key,
        ],
        &dir,
        &[("PYTHONPATH", &dir)],
    )
    .await;
    let out = succeeded("the Python client's round trip", &round_trip);
    assert!(
        out.contains("create, get, patch, list, delete, 404: ok; 429 rate_limited, Retry-After"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_typescript_client_from_openapi_typescript_and_openapi_fetch_makes_a_round_trip() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let limited = limited_tenant(&api).await;
    let server = api.serve_http().await;
    let packages = ts_clients();
    let bin = packages.join("node_modules/.bin");
    // Inside the packages' directory, so that `openapi-fetch` resolves from node_modules.
    let dir = scratch(&packages, "run");
    for file in ["roundtrip.ts", "tsconfig.json"] {
        std::fs::copy(repo_root().join("tests/clients").join(file), dir.join(file)).unwrap();
    }

    let generated = run(
        &bin.join("openapi-typescript"),
        &[
            &format!("{}/openapi.json", server.base_url),
            "--output",
            "schema.d.ts",
        ],
        &dir,
        &[],
    )
    .await;
    let log = succeeded("openapi-typescript", &generated);
    assert!(
        !log.contains('⚠')
            && !log.to_lowercase().contains("warn")
            && !log.to_lowercase().contains("error"),
        "openapi-typescript warned:\n{log}"
    );
    let schema = std::fs::read_to_string(dir.join("schema.d.ts")).unwrap();
    assert!(
        schema.contains("ThrottledError") && schema.contains("429"),
        "the 429 response was generated"
    );

    let compiled = run(&bin.join("tsc"), &["--project", "tsconfig.json"], &dir, &[]).await;
    succeeded(
        "tsc --strict over roundtrip.ts and the generated types",
        &compiled,
    );
    let node = Path::new("node");
    let version = run(node, &["--version"], &dir, &[]).await;
    let version = succeeded("node --version", &version);
    let round_trip = run(
        node,
        &["roundtrip.js", &server.base_url, &tenant.key, &limited.key],
        &dir,
        &[],
    )
    .await;
    let out = succeeded("the TypeScript client's round trip", &round_trip);
    assert!(
        out.contains("create, get, patch, list, delete, 404: ok; 429 rate_limited, Retry-After"),
        "{out}"
    );
    eprintln!("typescript client on node {}", version.trim());
    std::fs::remove_dir_all(&dir).ok();
}
