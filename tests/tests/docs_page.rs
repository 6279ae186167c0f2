//! The docs page (`GET /api/v1/docs`) in a real browser.
//!
//! The local server is started on a free 127.0.0.1 port against DynamoDB
//! Local, with one organization and its key, and `tests/browser/docs_page.py`
//! loads the page in Debian's headless Chromium (`/usr/bin/chromium`,
//! installed by `scripts/test`) through Playwright for Python: every
//! operation is rendered with its curl, JavaScript and Python examples, the
//! console shows no error, no request leaves 127.0.0.1, and the list example
//! as the page shows it (the key substituted) answers 200. The screenshot is
//! kept as `target/docs-page.png`.
//!
//! `PYTHON` is the virtual environment's interpreter (set by `scripts/test`).

use std::path::PathBuf;

use integration_tests::{python, repo_root, TestApi};
use serde_json::{json, Value};

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    target.join("docs-page.png")
}

#[tokio::test]
async fn the_docs_page_renders_every_operation_with_its_examples_in_chromium_from_loopback_only() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    api.create(&tenant, json!({"name": "John Doe", "phone": "+1 555-1234"}))
        .await;
    let server = api.serve_http().await;
    let screenshot = screenshot_path();
    let _ = std::fs::remove_file(&screenshot);

    let output = tokio::process::Command::new(python())
        .arg(repo_root().join("tests/browser/docs_page.py"))
        .arg(&server.base_url)
        .arg(&tenant.key)
        .arg(&screenshot)
        .output()
        .await
        .expect("run tests/browser/docs_page.py");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the docs page check failed:\n{stderr}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    eprintln!("docs page: {summary}");
    assert_eq!(summary["operations"], 7, "{summary}");
    assert_eq!(summary["examples_checked"], 21, "{summary}");
    assert_eq!(summary["list_example_status"], "200");
    let requests = summary["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .any(|url| url.as_str() == Some(&format!("{}/docs", server.base_url))),
        "{summary}"
    );
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}

#[tokio::test]
async fn the_docs_page_is_revalidated_with_its_etag_over_http() {
    let api = TestApi::start().await;
    let server = api.serve_http().await;
    let url = format!("{}/docs", server.base_url);

    let first = tokio::process::Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", &url])
        .output()
        .await
        .unwrap();
    let headers = String::from_utf8_lossy(&first.stdout).to_lowercase();
    let etag = headers
        .lines()
        .find_map(|line| line.strip_prefix("etag: "))
        .expect("an ETag")
        .trim()
        .to_owned();
    let second = tokio::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("If-None-Match: {etag}"))
        .arg(&url)
        .output()
        .await
        .unwrap();

    assert!(headers.starts_with("http/1.1 200"), "{headers}");
    assert!(
        headers.contains("content-type: text/html; charset=utf-8"),
        "{headers}"
    );
    assert!(
        headers.contains("cache-control: public, max-age=300"),
        "{headers}"
    );
    assert!(
        headers.contains("content-security-policy: default-src 'none'"),
        "{headers}"
    );
    assert_eq!(String::from_utf8_lossy(&second.stdout), "304");
}
