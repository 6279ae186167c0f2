//! The docs page's own examples (curl, JavaScript `fetch`, Python
//! `requests`), taken verbatim from `docs/reference/clients-api-docs-page.txt`
//! and run over real HTTP against an API at a base URL: the local server
//! (`tests/tests/docs_examples.rs`) or `sam local start-api`
//! (`tests/tests/sam_local.rs`). Only the base URL, the placeholder key and
//! `UUID_HERE` are substituted. Each `check_*` sets up its own organization
//! through `api` (the same table the served API uses) and asserts what the
//! examples answered.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::{index_settled, repo_root, Tenant, TestApi};

const DOCS_BASE_URL: &str = "https://your-app.com/api/v1";
const DOCS_KEY: &str = "ba_a1b2c3d4e5f6...";

pub fn docs_page() -> String {
    let path = repo_root().join("docs/reference/clients-api-docs-page.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The lines of the docs page between two section headings.
pub fn section(page: &str, start: &str, end: &str) -> String {
    let lines: Vec<&str> = page.lines().collect();
    let from = lines
        .iter()
        .position(|l| l.trim() == start)
        .expect("start heading")
        + 1;
    let to = from
        + lines[from..]
            .iter()
            .position(|l| l.trim() == end)
            .expect("end heading");
    lines[from..to].join("\n")
}

/// The curl commands of the docs page, each with the comment above it.
pub fn curl_examples(page: &str) -> Vec<(String, String)> {
    let text = section(page, "cURL", "JavaScript / TypeScript").replace("\\\n", " ");
    let mut examples = Vec::new();
    let mut comment = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(c) = line.strip_prefix('#') {
            comment = c.trim().to_owned();
        } else {
            examples.push((comment.clone(), line.to_owned()));
        }
    }
    examples
}

fn substitute(code: &str, base_url: &str, tenant: &Tenant, id: &str) -> String {
    code.replace(DOCS_BASE_URL, base_url)
        .replace("https://your-app.com", base_url.trim_end_matches("/api/v1"))
        .replace(DOCS_KEY, &tenant.key)
        .replace("UUID_HERE", id)
}

/// Runs a program and returns its standard output, failing the test on a non-zero exit.
pub async fn run(program: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

fn script_file(name: &str, code: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}-{name}", uuid::Uuid::now_v7().simple()));
    std::fs::write(&path, code).unwrap();
    path
}

/// The six curl commands: each answers as its comment says.
pub async fn check_curl_examples(api: &TestApi, base_url: &str) {
    let tenant = api.tenant().await;
    let existing = api
        .create(&tenant, json!({"name": "Existing", "status": "active"}))
        .await;
    let id = existing["id"].as_str().unwrap();
    let examples = curl_examples(&docs_page());
    assert_eq!(examples.len(), 6, "{examples:?}");

    let mut answers = Vec::new();
    for (comment, command) in &examples {
        let command = substitute(command, base_url, &tenant, id);
        let output = run(
            "bash",
            &["-c", &format!("{command} -sS -w '\\n%{{http_code}}'")],
        )
        .await;
        let (body, status) = output.rsplit_once('\n').expect("body and status");
        let body: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{comment}: {e}: {body}"));
        answers.push((comment.clone(), status.to_owned(), body));
    }

    let answer = |name: &str| {
        answers
            .iter()
            .find(|(c, _, _)| c == name)
            .unwrap_or_else(|| panic!("no example {name}"))
    };
    let (_, status, list) = answer("List clients");
    assert_eq!((status.as_str(), list["total"].clone()), ("200", json!(1)));
    let (_, status, filtered) = answer("List with filters");
    assert_eq!(
        (status.as_str(), filtered["limit"].clone()),
        ("200", json!(10)),
        "{filtered}"
    );
    let (_, status, got) = answer("Get a single client");
    assert_eq!(
        (status.as_str(), got["data"].clone()),
        ("200", existing.clone())
    );
    let (_, status, created) = answer("Create a client");
    assert_eq!(
        (
            status.as_str(),
            created["data"]["name"].clone(),
            created["data"]["phone"].clone()
        ),
        ("201", json!("John Doe"), json!("+1 555-1234"))
    );
    let (_, status, updated) = answer("Update a client");
    assert_eq!(
        (
            status.as_str(),
            updated["data"]["status"].clone(),
            updated["data"]["notes"].clone()
        ),
        ("200", json!("inactive"), json!("No longer active"))
    );
    let (_, status, deleted) = answer("Delete a client");
    assert_eq!(
        (status.as_str(), deleted.clone()),
        ("200", json!({"success": true}))
    );
    assert_eq!(
        api.get(&tenant, &format!("/api/v1/clients/{id}"))
            .await
            .status,
        404
    );
}

/// The JavaScript `fetch` example, run by Node: a list and a create.
pub async fn check_javascript_example(api: &TestApi, base_url: &str) {
    let tenant = api.tenant().await;
    api.create(&tenant, json!({"name": "Existing"})).await;
    // The example lists first: the client must be in the list's index by then.
    index_settled().await;
    let example = section(&docs_page(), "JavaScript / TypeScript", "Python");
    let code = format!(
        "{}\nconsole.log(JSON.stringify({{ status: response.status, createStatus: createRes.status, data, total, newClient }}));\n",
        substitute(&example, base_url, &tenant, "")
    );
    let path = script_file("example.mjs", &code);

    let output = run("node", &[path.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&path);

    let result: Value = serde_json::from_str(output.trim()).expect("the script's JSON line");
    assert_eq!(
        (result["status"].clone(), result["createStatus"].clone()),
        (json!(200), json!(201))
    );
    assert_eq!(result["total"], 1);
    assert_eq!(result["data"][0]["name"], "Existing");
    assert_eq!(result["newClient"]["name"], "John Doe");
    assert_eq!(result["newClient"]["phone"], "+1 555-1234");
}

/// The Python `requests` example: a list and a create.
pub async fn check_python_example(api: &TestApi, base_url: &str) {
    let tenant = api.tenant().await;
    api.create(&tenant, json!({"name": "Existing"})).await;
    let example = section(&docs_page(), "Python", "On this page");
    let code = format!(
        "{}\nimport json\nprint(json.dumps({{'list': data, 'created': new_client, 'status': response.status_code}}))\n",
        substitute(&example, base_url, &tenant, "")
    );
    let path = script_file("example.py", &code);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());

    let output = run(&python, &[path.to_str().unwrap()]).await;
    let _ = std::fs::remove_file(&path);

    let result: Value = serde_json::from_str(output.trim()).expect("the script's JSON line");
    assert_eq!(result["status"], 201);
    assert_eq!(result["list"]["total"], 1);
    assert_eq!(result["list"]["limit"], 10);
    assert_eq!(result["created"]["data"]["name"], "John Doe");
}
