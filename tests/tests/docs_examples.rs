//! The docs page's own examples (curl, JavaScript `fetch`, Python `requests`,
//! [`integration_tests::docs_examples`]) run against the local server
//! (`local-api`) over real HTTP; `tests/tests/sam_local.rs` runs the same
//! against `sam local start-api`.

use integration_tests::docs_examples::{
    check_curl_examples, check_javascript_example, check_python_example, curl_examples, docs_page,
    run, section,
};
use integration_tests::TestApi;
use serde_json::Value;

#[tokio::test]
async fn curl_examples_work_as_written() {
    let api = TestApi::start().await;
    let server = api.serve_http().await;

    check_curl_examples(&api, &server.base_url).await;
}

#[tokio::test]
async fn javascript_fetch_example_works_as_written() {
    let api = TestApi::start().await;
    let server = api.serve_http().await;

    check_javascript_example(&api, &server.base_url).await;
}

#[tokio::test]
async fn python_requests_example_works_as_written() {
    let api = TestApi::start().await;
    let server = api.serve_http().await;

    check_python_example(&api, &server.base_url).await;
}

#[tokio::test]
async fn the_local_server_answers_unknown_routes_with_a_json_404() {
    let api = TestApi::start().await;
    let server = api.serve_http().await;

    let output = run(
        "curl",
        &[
            "-sS",
            "-X",
            "PUT",
            "-w",
            "\n%{http_code}",
            &format!("{}/clients/x", server.base_url),
        ],
    )
    .await;

    let (body, status) = output.rsplit_once('\n').unwrap();
    assert_eq!(status, "404");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["error"]["code"],
        "not_found"
    );
}

#[test]
fn the_docs_page_examples_are_all_found() {
    let page = docs_page();

    assert_eq!(curl_examples(&page).len(), 6);
    assert!(section(&page, "JavaScript / TypeScript", "Python").contains("fetch("));
    assert!(section(&page, "Python", "On this page").contains("requests.post("));
}
