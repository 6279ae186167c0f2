//! Checks `template.yaml`, `events/` and the code against each other:
//! what cfn-lint and `sam validate --lint` cannot know (the table the code
//! expects, the routes the local server serves, the binaries the workspace
//! builds, the DynamoDB calls each function makes) or do not check (Runtime,
//! Architectures, Handler, BuildMethod values).
//!
//! The template is read as CloudFormation's `AWS::LanguageExtensions`
//! transform hands it to SAM: its `Fn::ForEach` loops expanded (the same
//! expansion `scripts/lint-template` checks SAM CLI's against).
//!
//! Needs no DynamoDB Local and no AWS: `cargo test -p integration-tests --test template`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use integration_tests::{repo_root, PLACEHOLDER_ID, PLACEHOLDER_KEY};
use lambda_harness::FUNCTIONS;
use lambda_http::http::Method;
use lambda_http::{Body, RequestExt};
use serde_json::{json, Map, Value};
use shared::http::routes::{Function, Route, BASE_PATH, ROUTES};

// ---------------------------------------------------------------- helpers

/// `template.yaml` as the AWS::Serverless transform gets it: its loops
/// expanded ([`expand_language_extensions`]).
fn template() -> Value {
    expand_language_extensions(raw_template())
}

/// `template.yaml` as JSON, CloudFormation short tags written out in their
/// long form: `!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`,
/// `!Sub s` → `{"Fn::Sub": "s"}`, `!If [...]` → `{"Fn::If": [...]}`.
fn raw_template() -> Value {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    yaml_to_json(yaml)
}

const FOR_EACH: &str = "Fn::ForEach::";

/// What `AWS::LanguageExtensions` does to this template before SAM sees
/// it: every `Fn::ForEach` of Resources and Outputs expanded (its body once
/// per item of its literal collection, `${Identifier}` and `&{Identifier}`
/// replaced in keys and strings, `{"Ref": "Identifier"}` by the item), then
/// the functions it resolves once the items are in: `Fn::FindInMap` with
/// literal keys, and `Ref` / `Fn::GetAtt` of a `Fn::Sub` without variables.
fn expand_language_extensions(mut template: Value) -> Value {
    let mappings = template["Mappings"].clone();
    for section in ["Resources", "Outputs"] {
        if let Some(value) = template.get_mut(section) {
            *value = resolve_intrinsics(expand_loops(value.take()), &mappings);
        }
    }
    template
}

fn expand_loops(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                if !key.starts_with(FOR_EACH) {
                    out.insert(key, expand_loops(value));
                    continue;
                }
                let parts = value
                    .as_array()
                    .filter(|parts| parts.len() == 3)
                    .unwrap_or_else(|| panic!("{key}: [identifier, collection, body] expected"));
                let identifier = parts[0].as_str().expect("a loop identifier is a string");
                let items = parts[1]
                    .as_array()
                    .unwrap_or_else(|| panic!("{key}: the collection is a literal list"));
                for item in items {
                    let item = item.as_str().expect("a loop item is a string");
                    let body = substitute(parts[2].clone(), identifier, item);
                    let Value::Object(fragment) = expand_loops(body) else {
                        panic!("{key}: the body is a mapping");
                    };
                    for (output, value) in fragment {
                        assert!(
                            !out.contains_key(&output),
                            "{key} makes {output}, which exists already"
                        );
                        out.insert(output, value);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(expand_loops).collect()),
        other => other,
    }
}

fn substitute(value: Value, identifier: &str, item: &str) -> Value {
    let text = |s: &str| {
        let alphanumeric: String = item.chars().filter(char::is_ascii_alphanumeric).collect();
        s.replace(&format!("${{{identifier}}}"), item)
            .replace(&format!("&{{{identifier}}}"), &alphanumeric)
    };
    match value {
        Value::String(s) => Value::String(text(&s)),
        Value::Object(map) if map.len() == 1 && map.get("Ref") == Some(&json!(identifier)) => {
            json!(item)
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (text(&key), substitute(value, identifier, item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|value| substitute(value, identifier, item))
                .collect(),
        ),
        other => other,
    }
}

fn resolve_intrinsics(value: Value, mappings: &Value) -> Value {
    let literal_sub = |value: &Value| -> Option<String> {
        value["Fn::Sub"]
            .as_str()
            .filter(|s| value.as_object().is_some_and(|o| o.len() == 1) && !s.contains("${"))
            .map(str::to_owned)
    };
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|value| resolve_intrinsics(value, mappings))
                .collect(),
        ),
        Value::Object(map) => {
            let map: Map<String, Value> = map
                .into_iter()
                .map(|(key, value)| (key, resolve_intrinsics(value, mappings)))
                .collect();
            if map.len() == 1 {
                if let Some(keys) = map.get("Fn::FindInMap").and_then(Value::as_array) {
                    if let [Value::String(name), Value::String(top), Value::String(second)] =
                        keys.as_slice()
                    {
                        let value = &mappings[name][top][second];
                        assert!(!value.is_null(), "no Mappings.{name}.{top}.{second}");
                        return value.clone();
                    }
                }
                if let Some(target) = map.get("Ref").and_then(literal_sub) {
                    return json!({ "Ref": target });
                }
                if let Some(get_att) = map.get("Fn::GetAtt") {
                    if let Some(target) = get_att.get(0).and_then(literal_sub) {
                        return json!({ "Fn::GetAtt": [target, get_att[1]] });
                    }
                }
            }
            Value::Object(map)
        }
        other => other,
    }
}

/// The text of a `!Sub`, its variables given literally
/// (`!Sub [text, {Var: "value"}]`) replaced; `${AWS::…}` and the others stay.
fn sub_text(value: &Value) -> Option<String> {
    match &value["Fn::Sub"] {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let mut text = parts.first()?.as_str()?.to_owned();
            for (name, value) in parts.get(1)?.as_object()? {
                if let Some(value) = value.as_str() {
                    text = text.replace(&format!("${{{name}}}"), value);
                }
            }
            Some(text)
        }
        _ => None,
    }
}

fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64().expect("a YAML number is i64, u64 or f64"))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap().trim().to_owned(),
                    };
                    (key, yaml_to_json(value))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = yaml_to_json(tagged.value);
            match (tag, inner) {
                ("Ref", inner) => json!({ "Ref": inner }),
                ("GetAtt", Value::String(dotted)) => {
                    let (resource, attribute) = dotted
                        .split_once('.')
                        .unwrap_or_else(|| panic!("!GetAtt {dotted} has no attribute"));
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                (name, inner) => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

fn resources(template: &Value) -> &Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("Resources is a mapping")
}

/// The `AWS::Serverless::Function` resources by logical id.
fn functions(template: &Value) -> BTreeMap<String, Value> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, resource)| (id.clone(), resource.clone()))
        .collect()
}

/// A function's properties with `Globals.Function` applied the way SAM does
/// (mappings merged, the function's own values winning).
fn effective_properties(template: &Value, function: &Value) -> Value {
    let mut merged = template["Globals"]["Function"].clone();
    if merged.is_null() {
        merged = json!({});
    }
    merge(&mut merged, &function["Properties"]);
    merged
}

fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// The logical id of the function that serves a route, e.g. `ListClientsFunction`.
fn logical_id(function: Function) -> &'static str {
    lambda_harness::function(function).logical_id
}

/// The package directory under `functions/` of a function's logical id.
fn package_dir(logical_id: &str) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|function| function.logical_id == logical_id)
        .map(|function| function.binary)
        .unwrap_or_else(|| {
            panic!(
                "{logical_id}: a function the tests do not know; add it to lambda_harness::FUNCTIONS \
                 and shared::http::routes::ROUTES"
            )
        })
}

/// The `name`s of the `[[bin]]` tables of a Cargo.toml (no TOML parser in
/// this package: `[[bin]]` tables here are plain `key = "value"` lines).
fn bin_names(cargo_toml: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if in_bin {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "name" {
                    names.push(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    names
}

/// One IAM statement of a function's inline policies.
#[derive(Debug)]
struct Statement {
    function: String,
    effect: String,
    actions: Vec<String>,
    resources: Vec<Value>,
}

/// The inline policies of a function: those of the role it names
/// (`Role: !GetAtt <X>Role.Arn`), without the `logs` policy (its own log
/// group, checked by `each_role_writes_only_its_own_log_group`), or SAM's
/// `Policies` when it names no role.
fn function_policies(template: &Value, id: &str, properties: &Value) -> Vec<Value> {
    if let Some(role) = properties["Role"]["Fn::GetAtt"][0].as_str() {
        let role = &resources(template)[role];
        assert_eq!(role["Type"], "AWS::IAM::Role", "{id}");
        return role["Properties"]["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|policy| policy["PolicyName"] != "logs")
            .map(|policy| policy["PolicyDocument"].clone())
            .collect();
    }
    match &properties["Policies"] {
        Value::Array(policies) => policies.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Every statement of every function's policies; panics on anything that
/// is not an inline policy document (SAM policy templates, managed policy
/// names), which the checks below could not see into.
fn statements(template: &Value) -> Vec<Statement> {
    let mut all = Vec::new();
    for (id, function) in functions(template) {
        let properties = effective_properties(template, &function);
        let policies = function_policies(template, &id, &properties);
        for policy in policies {
            let statement_list = policy["Statement"].as_array().unwrap_or_else(|| {
                panic!("{id}: policy {policy} is not an inline document with a Statement list")
            });
            for statement in statement_list {
                let list = |value: &Value| -> Vec<Value> {
                    match value {
                        Value::Array(items) => items.clone(),
                        Value::Null => Vec::new(),
                        single => vec![single.clone()],
                    }
                };
                assert!(
                    statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                    "{id}: NotAction / NotResource grant more than they name"
                );
                all.push(Statement {
                    function: id.clone(),
                    effect: statement["Effect"].as_str().unwrap_or_default().to_owned(),
                    actions: list(&statement["Action"])
                        .iter()
                        .map(|a| {
                            a.as_str()
                                .unwrap_or_else(|| panic!("{id}: action {a} is not a string"))
                                .to_owned()
                        })
                        .collect(),
                    resources: list(&statement["Resource"]),
                });
            }
        }
    }
    all
}

/// The actions granted to one function.
fn granted(template: &Value, function: &str) -> BTreeSet<String> {
    statements(template)
        .into_iter()
        .filter(|s| s.function == function && s.effect == "Allow")
        .flat_map(|s| s.actions)
        .collect()
}

/// The table the functions use: the stack's, or `ExistingTableName` (restore).
fn table_name_in_use() -> Value {
    json!({"Fn::If": ["UseExistingTable", {"Ref": "ExistingTableName"}, {"Ref": "ClientsTable"}]})
}

fn table_arn() -> Value {
    json!({"Fn::Sub": [
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}",
        {"Table": table_name_in_use()}
    ]})
}

fn table_indexes_arn() -> Value {
    json!({"Fn::Sub": [
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}/index/*",
        {"Table": table_name_in_use()}
    ]})
}

fn event_files() -> Vec<PathBuf> {
    let dir = repo_root().join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "events/ holds no event");
    files
}

// ------------------------------------------------------------------ table

#[test]
fn clients_table_keys_indexes_and_ttl_equal_the_schema_in_code() {
    let template = template();
    let table = &resources(&template)["ClientsTable"];
    let expected = shared::store::admin::table::cloudformation_properties();
    let expected = expected.as_object().expect("an object of table properties");

    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    for property in [
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
    ] {
        assert!(expected.contains_key(property), "{property}");
    }
    // Every property the code defines, and the ones it would have to define
    // for the template to differ (a TTL or LSIs the code does not know).
    let properties = expected
        .keys()
        .map(String::as_str)
        .chain(["TimeToLiveSpecification", "LocalSecondaryIndexes"]);
    for property in properties {
        assert_eq!(
            table["Properties"].get(property),
            expected.get(property),
            "ClientsTable.{property} differs from shared::store::admin::table (`cargo run -q -p admin -- table-definition`)"
        );
    }
}

#[test]
fn clients_table_is_on_demand_recoverable_encrypted_and_retained() {
    let template = template();
    let table = &resources(&template)["ClientsTable"];
    let properties = &table["Properties"];

    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(properties["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    assert!(
        properties.get("TableName").is_none(),
        "a fixed TableName blocks replacement and a second stack in the account"
    );
    let protection = properties["DeletionProtectionEnabled"].to_string();
    assert!(
        protection.contains("TableDeletionProtection") || protection.contains("ProtectTable"),
        "{protection}"
    );
}

// ----------------------------------------------------------------- routes

#[test]
fn http_api_events_are_exactly_the_local_api_routes() {
    let template = template();
    let mut declared = BTreeSet::new();
    for (id, function) in functions(&template) {
        let events = function["Properties"]["Events"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, event) in events {
            assert_eq!(
                event["Type"], "HttpApi",
                "{id}.Events.{name}: only HttpApi events are expected"
            );
            let properties = &event["Properties"];
            assert_eq!(
                properties["ApiId"],
                json!({"Ref": "HttpApi"}),
                "{id}.Events.{name} is not on HttpApi"
            );
            let method = properties["Method"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}.Events.{name}: no Method"));
            let path = properties["Path"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}.Events.{name}: no Path"));
            assert!(
                declared.insert((method.to_owned(), path.to_owned(), id.clone())),
                "{id}: {method} {path} is declared twice"
            );
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|route| {
            (
                route.method.to_string(),
                route.path.to_string(),
                logical_id(route.function).to_owned(),
            )
        })
        .collect();

    assert_eq!(
        declared, expected,
        "template routes (method, path, function) differ from shared::http::routes::ROUTES"
    );
    assert!(
        ROUTES
            .iter()
            .all(|route| route.method.parse::<Method>().is_ok()),
        "a route method is not an HTTP method"
    );
}

#[test]
fn the_functions_mapping_and_loops_describe_each_function_once() {
    let raw = raw_template();
    let rows = raw["Mappings"]["Functions"]
        .as_object()
        .expect("Mappings.Functions");
    let stems: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| stem(f.logical_id).to_owned())
        .collect();

    assert_eq!(
        rows.keys().cloned().collect::<BTreeSet<_>>(),
        stems,
        "one Functions row per lambda_harness::FUNCTIONS entry"
    );
    for function in FUNCTIONS {
        let row = &rows[stem(function.logical_id)];
        assert_eq!(row["Binary"], function.binary, "{}", function.logical_id);
        // A row with a route is the route of a client function.
        if let Some(method) = row["Method"].as_str() {
            let mut routes = shared::http::routes::of(function.route);
            let route = routes.next().unwrap();
            assert!(
                routes.next().is_none(),
                "{}: one route",
                function.logical_id
            );
            assert_eq!(
                (method, row["Path"].as_str()),
                (route.method, Some(route.path))
            );
        }
    }
    // Every loop runs over rows of the mapping; the per-function one and the
    // outputs' over all of them; written out or looped, each function once.
    let mut looped_functions = Vec::new();
    for section in ["Resources", "Outputs"] {
        for (key, value) in raw[section].as_object().unwrap() {
            let Some(name) = key.strip_prefix(FOR_EACH) else {
                continue;
            };
            let items: BTreeSet<String> = value[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item.as_str().unwrap().to_owned())
                .collect();
            assert!(items.is_subset(&stems), "{key}: {items:?}");
            let body = value[2].as_object().unwrap();
            if body.keys().any(|k| k == "${Function}Function") {
                looped_functions.extend(items);
            } else {
                assert_eq!(items, stems, "{section}.{name} covers every function");
            }
        }
    }
    let written: Vec<String> = resources(&raw)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| stem(id).to_owned())
        .collect();
    let mut all = looped_functions.clone();
    all.extend(written);
    all.sort();
    assert_eq!(all, stems.into_iter().collect::<Vec<_>>());
    assert!(
        !looped_functions.is_empty(),
        "the client functions are looped"
    );
}

#[test]
fn the_api_uses_the_default_stage_and_the_url_output_ends_with_the_base_path() {
    let template = template();
    let api = &resources(&template)["HttpApi"];

    assert_eq!(api["Type"], "AWS::Serverless::HttpApi");
    // Any other stage would put its name in every path (see template.yaml).
    assert!(matches!(
        api["Properties"]["StageName"].as_str(),
        None | Some("$default")
    ));
    // With a custom domain (HasCustomDomain) ApiUrl is the domain's URL.
    let value = &template["Outputs"]["ApiUrl"]["Value"];
    let value = value.get("Fn::If").map_or(value, |branches| &branches[2]);
    let url = value["Fn::Sub"].as_str().expect("ApiUrl is a !Sub string");
    assert!(url.contains("${HttpApi}"), "{url}");
    assert!(
        url.ends_with(BASE_PATH),
        "{url} must end with {}",
        BASE_PATH
    );
}

#[test]
fn cors_allows_the_contracts_request_headers_and_exposes_its_response_headers() {
    let template = template();
    let cors = &resources(&template)["HttpApi"]["Properties"]["CorsConfiguration"];
    let lower = |value: &Value| -> BTreeSet<String> {
        value
            .as_array()
            .unwrap_or_else(|| panic!("{value} is not a list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_ascii_lowercase())
            .collect()
    };

    let allowed = lower(&cors["AllowHeaders"]);
    for header in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
    ] {
        assert!(allowed.contains(header), "CORS does not allow {header}");
    }
    let exposed = lower(&cors["ExposeHeaders"]);
    for header in ["etag", "location", "x-request-id", "retry-after"] {
        assert!(exposed.contains(header), "CORS does not expose {header}");
    }
    let methods = lower(&cors["AllowMethods"]);
    for &Route { method, .. } in ROUTES {
        assert!(
            methods.contains(&method.to_ascii_lowercase()),
            "CORS does not allow {method}"
        );
    }
}

// -------------------------------------------------------------- functions

#[test]
fn each_function_builds_a_binary_of_its_own_package_and_binaries_are_unique() {
    let template = template();
    let mut binaries = BTreeSet::new();
    for (id, function) in functions(&template) {
        let metadata = &function["Metadata"];
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary is missing"));
        let manifest = repo_root()
            .join("functions")
            .join(package_dir(&id))
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let bins = bin_names(&text);

        assert!(
            bins.iter().any(|b| b == binary),
            "{id}: {binary} is not a [[bin]] of {} ({bins:?})",
            manifest.display()
        );
        assert_eq!(
            binary,
            package_dir(&id),
            "{id}: SAM builds another binary than lambda_harness::FUNCTIONS runs"
        );
        assert!(
            binaries.insert(binary.to_owned()),
            "{id}: binary {binary} is built for two functions"
        );
    }
    let listed: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.binary.to_owned()).collect();
    assert_eq!(
        binaries, listed,
        "the template's functions are lambda_harness::FUNCTIONS"
    );
    let routed: BTreeSet<Function> = ROUTES.iter().map(|route| route.function).collect();
    assert_eq!(
        binaries.len(),
        routed.len(),
        "one function (and binary) per local_api::Function (get-openapi serves openapi.json and docs)"
    );
}

#[test]
fn functions_run_bootstrap_on_provided_al2023_arm64_built_by_cargo_lambda() {
    let template = template();
    let workspace = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let architecture = &template["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"], "arm64");
    assert_eq!(architecture["AllowedValues"], json!(["arm64", "x86_64"]));
    let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap();
    assert!(
        !samconfig.contains("Architecture="),
        "a deployed environment overrides the architecture"
    );
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);

        assert_eq!(properties["Runtime"], "provided.al2023", "{id}");
        // arm64 as deployed: the parameter's default, which no environment
        // of samconfig.toml overrides (x86_64 is for `sam local` only).
        assert_eq!(
            properties["Architectures"],
            json!([{"Ref": "Architecture"}]),
            "{id}"
        );
        assert_eq!(properties["Handler"], "bootstrap", "{id}");
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        // cargo lambda builds the binary inside the workspace, from the
        // function's own package (a workspace member): each function has its
        // own CodeUri, which SAM CLI needs to keep the looped functions'
        // artifacts apart (template.yaml).
        let code_uri = properties["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: CodeUri"));
        let package = format!("functions/{}", package_dir(&id));
        assert_eq!(
            code_uri, package,
            "{id}: CodeUri is not its package in the workspace"
        );
        assert!(workspace.contains("[workspace]"));
        assert!(
            workspace.contains("\"functions/*\"") || workspace.contains(&format!("\"{package}\"")),
            "{package} is not a workspace member"
        );
        let timeout = properties["Timeout"].as_u64().unwrap_or(3);
        assert!(
            timeout > shared::store::table::SDK_OPERATION_TIMEOUT.as_secs(),
            "{id}: Timeout {timeout}s leaves no room for one bounded DynamoDB call"
        );
    }
}

#[test]
fn functions_get_the_table_name_and_a_key_cache_ttl_the_code_accepts() {
    let template = template();
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);
        let variables = &properties["Environment"]["Variables"];

        assert_eq!(variables["TABLE_NAME"], table_name_in_use(), "{id}");
        assert_eq!(
            variables["KEY_CACHE_TTL_SECONDS"],
            json!({"Ref": "KeyCacheTtlSeconds"}),
            "{id}"
        );
        assert_eq!(variables["RATE_LIMITS"], "on", "{id}");
        assert_eq!(
            variables["DEFAULT_PLAN"],
            json!({"Ref": "DefaultPlan"}),
            "{id}"
        );
        assert_eq!(
            variables[shared::store::table::ENDPOINT_VARIABLE],
            json!({"Fn::If": ["UseDynamoDbEndpoint", {"Ref": "DynamoDbEndpoint"}, {"Ref": "AWS::NoValue"}]}),
            "{id}: the DynamoDB endpoint is overridden only for local invocation"
        );
        assert_eq!(
            template["Parameters"]["DynamoDbEndpoint"]["Default"], "",
            "deployed stacks use AWS's endpoint"
        );
        let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap();
        assert!(
            !samconfig.contains("DynamoDbEndpoint"),
            "no deployed environment overrides the endpoint"
        );
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON", "{id}");
        // RUST_LOG would override the ApplicationLogLevel in lambda_http's subscriber.
        assert!(
            variables.get("RUST_LOG").is_none(),
            "{id}: RUST_LOG overrides ApplicationLogLevel"
        );
    }
    for plan in template["Parameters"]["DefaultPlan"]["AllowedValues"]
        .as_array()
        .expect("DefaultPlan's AllowedValues")
    {
        let plan = plan.as_str().unwrap();
        assert!(
            plan.parse::<shared::domain::plan::PlanName>().is_ok(),
            "DefaultPlan {plan} is no plan the code knows"
        );
    }
    let parameter = &template["Parameters"]["KeyCacheTtlSeconds"];
    let max = shared::function::config::MAX_KEY_CACHE_TTL.as_secs();
    assert!(
        parameter["MaxValue"].as_u64().is_some_and(|m| m <= max),
        "KeyCacheTtlSeconds may exceed {max}"
    );
    assert!(parameter["Default"].as_u64().is_some_and(|d| d <= max));
    assert_eq!(parameter["MinValue"], 0);
}

#[test]
fn each_function_logs_to_its_own_log_group_with_retention() {
    let template = template();
    let resources = resources(&template);
    let mut groups = BTreeSet::new();
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);
        let group = properties["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: LoggingConfig.LogGroup is not a !Ref to a log group"));
        let resource = &resources[group];

        assert_eq!(resource["Type"], "AWS::Logs::LogGroup", "{id}: {group}");
        assert_eq!(
            resource["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{group}"
        );
        assert!(
            groups.insert(group.to_owned()),
            "{group} is shared by two functions"
        );
    }
}

// -------------------------------------------------------------------- IAM

/// What each function's code calls (shared/src/store): every function of a
/// client route looks up the API key (GetItem) and leases its rate limit
/// slice (UpdateItem of the LIMIT# item, shared/src/store/limits.rs); writes go through
/// TransactWriteItems, which IAM authorises per item action, and search index
/// entries through BatchWriteItem (and DeleteItem on a rename). `get-openapi`
/// serves a description compiled into it and may call nothing.
const EXPECTED_ACTIONS: [(Function, &[&str]); 6] = [
    (
        Function::ListClients,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        Function::GetClient,
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    ),
    (
        Function::CreateClient,
        &[
            "dynamodb:BatchWriteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        Function::UpdateClient,
        &[
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        Function::DeleteClient,
        &[
            "dynamodb:BatchWriteItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (Function::GetOpenApi, &[]),
];

#[test]
fn each_function_is_granted_exactly_the_dynamodb_calls_its_code_makes() {
    let template = template();
    assert_eq!(functions(&template).len(), EXPECTED_ACTIONS.len());
    for (function, actions) in EXPECTED_ACTIONS {
        let id = logical_id(function);
        let expected: BTreeSet<String> = actions.iter().map(|a| a.to_string()).collect();
        assert_eq!(granted(&template, id), expected, "{id}");
    }
}

#[test]
fn the_list_function_may_query_the_table_itself_for_the_counts_shards() {
    let template = template();
    let id = logical_id(Function::ListClients);

    let queries_the_table = statements(&template).iter().any(|statement| {
        statement.function == id
            && statement.actions.iter().any(|a| a == "dynamodb:Query")
            && statement.resources.contains(&table_arn())
    });

    assert!(
        queries_the_table,
        "{id}: `total` is a Query of the counts shards (shared::store::counts::read)"
    );
}

#[test]
fn the_openapi_function_has_no_policy_at_all() {
    let template = template();
    let function = &functions(&template)[logical_id(Function::GetOpenApi)];
    let properties = effective_properties(&template, function);

    // Its role allows only its own log group (the `logs` policy).
    for property in ["Policies", "RolePath", "PermissionsBoundary"] {
        assert!(
            properties.get(property).is_none(),
            "GetOpenApiFunction.{property}: it serves a compiled-in document and needs no permission"
        );
    }
    assert!(
        function_policies(&template, "GetOpenApiFunction", &properties).is_empty(),
        "GetOpenApiFunction's role has a policy besides its logs"
    );
}

#[test]
fn read_functions_hold_no_write_action() {
    let template = template();
    let writes = [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "PartiQLInsert",
        "PartiQLUpdate",
        "PartiQLDelete",
        "CreateTable",
        "UpdateTable",
        "DeleteTable",
        "UpdateTimeToLive",
        "RestoreTableFromBackup",
        "ImportTable",
    ];
    for function in [
        Function::ListClients,
        Function::GetClient,
        Function::GetOpenApi,
    ]
    .map(logical_id)
    {
        // Their one write is the rate limiter's lease, of LIMIT# items only.
        let limiter_only: Vec<Value> = role_statements(&template)
            .into_iter()
            .filter(|(id, statement)| id == function && statement["Condition"] == limit_items())
            .map(|(_, statement)| statement["Action"].clone())
            .collect();
        assert!(
            limiter_only
                .iter()
                .all(|actions| *actions == json!(["dynamodb:UpdateItem"])),
            "{function}: {limiter_only:?}"
        );
        let others: BTreeSet<String> = role_statements(&template)
            .into_iter()
            .filter(|(id, statement)| id == function && statement["Condition"] != limit_items())
            .flat_map(|(_, statement)| match &statement["Action"] {
                Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
                single => vec![single.as_str().unwrap().to_owned()],
            })
            .filter(|action| action.starts_with("dynamodb:"))
            .collect();
        for action in others {
            let name = action.strip_prefix("dynamodb:").unwrap_or(&action);
            assert!(!writes.contains(&name), "{function} may {action}");
            assert!(
                !name.starts_with("Put")
                    && !name.starts_with("Update")
                    && !name.starts_with("Delete"),
                "{function} may {action}"
            );
        }
    }
}

#[test]
fn every_policy_resource_is_the_table_or_its_indexes() {
    let template = template();
    let statements = statements(&template);
    assert!(!statements.is_empty());
    for statement in &statements {
        assert_eq!(statement.effect, "Allow", "{statement:?}");
        assert!(
            !statement.resources.is_empty(),
            "{statement:?} names no resource"
        );
        for resource in &statement.resources {
            assert!(
                *resource == table_arn() || *resource == table_indexes_arn(),
                "{}: resource {resource} is neither the table nor its indexes",
                statement.function
            );
            if *resource == table_indexes_arn() {
                assert_eq!(
                    statement.actions,
                    ["dynamodb:Query"],
                    "{}: only Query reads an index",
                    statement.function
                );
            }
        }
    }
}

#[test]
fn no_policy_action_uses_a_wildcard() {
    let template = template();
    for statement in statements(&template) {
        for action in &statement.actions {
            assert!(
                !action.contains('*') && !action.contains('?'),
                "{}: {action}",
                statement.function
            );
            assert!(
                action.starts_with("dynamodb:"),
                "{}: {action}",
                statement.function
            );
        }
    }
}

// ----------------------------------------------------------------- events

#[test]
fn every_event_file_parses_with_lambda_http_and_matches_a_route() {
    for path in event_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| {
            panic!("{name} is not an API Gateway HTTP API (2.0) event lambda_http accepts: {e}")
        });

        assert_eq!(raw["version"], "2.0", "{name}");
        assert_eq!(raw["isBase64Encoded"], false, "{name}");
        assert_eq!(raw["requestContext"]["stage"], "$default", "{name}");
        let route = local_api::route(request.method(), request.uri().path()).unwrap_or_else(|| {
            panic!(
                "{name}: {} {} is no route of the API",
                request.method(),
                request.uri().path()
            )
        });
        assert!(
            ROUTES.iter().any(|r| r.method == request.method().as_str()
                && r.function == route.function
                && route.route_key == format!("{} {}", r.method, r.path)),
            "{name}"
        );
        assert_eq!(raw["routeKey"], route.route_key, "{name}");
        assert_eq!(raw["requestContext"]["routeKey"], route.route_key, "{name}");
        assert_eq!(
            raw["rawPath"],
            request.uri().path(),
            "{name}: lambda_http changed the path"
        );
        assert_eq!(
            request.path_parameters_ref().and_then(|p| p.first("id")),
            route.id.as_deref(),
            "{name}: pathParameters.id must be the path's {{id}}"
        );
        if let Some(id) = &route.id {
            assert!(
                shared::domain::model::ClientId::parse(id).is_some(),
                "{name}: {id} is not a client id (UUID v7)"
            );
        }
        if let Some(query) = raw["rawQueryString"].as_str().filter(|q| !q.is_empty()) {
            let parameters = request
                .query_string_parameters_ref()
                .expect("query parameters");
            for pair in query.split('&') {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                assert_eq!(parameters.first(key), Some(value), "{name}: {key}");
            }
        }
        let authorization = shared::http::authorization(&request);
        if let Some(authorization) = authorization {
            assert_eq!(
                authorization,
                format!("Bearer {PLACEHOLDER_KEY}"),
                "{name}: use the placeholder key"
            );
            assert_eq!(
                shared::http::auth::bearer_key(Some(authorization)).ok(),
                Some(PLACEHOLDER_KEY)
            );
        }
        let public = route.function == Function::GetOpenApi;
        assert_eq!(
            authorization.is_none(),
            name == "unauthorized.json" || public,
            "{name}: only unauthorized.json and the public route's event go without Authorization"
        );
        let has_body =
            !matches!(request.body(), Body::Empty) && !request.body().as_ref().is_empty();
        if matches!(
            route.function,
            Function::CreateClient | Function::UpdateClient
        ) {
            assert!(has_body, "{name}: a write needs a body");
            let body: Value = serde_json::from_slice(request.body().as_ref())
                .unwrap_or_else(|e| panic!("{name}: body: {e}"));
            assert!(body.is_object(), "{name}: body is not a JSON object");
            assert!(
                request.headers().get("content-type").is_some(),
                "{name}: no content-type"
            );
        } else {
            assert!(!has_body, "{name}: {} takes no body", route.route_key);
        }
    }
}

#[test]
fn there_is_an_event_file_for_every_function() {
    // `<binary>.json` for each function, and the two error cases.
    let expected = FUNCTIONS
        .iter()
        .map(|function| (format!("{}.json", function.binary), function.route))
        .chain([
            ("unauthorized.json".to_owned(), Function::ListClients),
            ("not-found.json".to_owned(), Function::GetClient),
        ]);
    let dir = repo_root().join("events");
    for (file, function) in expected {
        let text = std::fs::read_to_string(dir.join(&file))
            .unwrap_or_else(|e| panic!("events/{file}: {e}"));
        let request = lambda_http::request::from_str(&text).unwrap();
        let route = local_api::route(request.method(), request.uri().path()).unwrap();
        assert_eq!(route.function, function, "events/{file}");
    }
    let covered: BTreeSet<String> = event_files()
        .iter()
        .map(|path| {
            let request =
                lambda_http::request::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            local_api::route(request.method(), request.uri().path())
                .unwrap()
                .route_key
                .to_owned()
        })
        .collect();
    assert_eq!(
        covered.len(),
        ROUTES.len(),
        "every route has an event: {covered:?}"
    );
}

#[test]
fn the_example_events_carry_the_documented_placeholders_and_payloads() {
    let dir = repo_root().join("events");
    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
    };

    assert_eq!(
        read("list-clients.json")["rawQueryString"],
        "limit=10&sortOrder=desc"
    );
    for file in [
        "get-client.json",
        "update-client.json",
        "delete-client.json",
    ] {
        assert_eq!(read(file)["pathParameters"]["id"], PLACEHOLDER_ID, "{file}");
    }
    let not_found = read("not-found.json");
    assert_ne!(
        not_found["pathParameters"]["id"], PLACEHOLDER_ID,
        "not-found.json must name a client that does not exist"
    );
    let body = |file: &str| -> Value {
        serde_json::from_str(read(file)["body"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        body("create-client.json"),
        json!({"name": "John Doe", "phone": "+1 555-1234"})
    );
    assert_eq!(
        body("update-client.json"),
        json!({"status": "inactive", "notes": "No longer active"})
    );
    assert!(read("unauthorized.json")["headers"]
        .get("authorization")
        .is_none());
}

// ------------------------------------------------------------- operations
// Issue #12: alarms, per-tenant metrics, safe deploys, tighter IAM
// (docs/operations.md). scripts/lint-template checks the transformed
// template (aliases, CodeDeploy groups, routes invoking the alias).

/// The logical ids of the functions, as `functions()` lists them.
fn function_ids(template: &Value) -> Vec<String> {
    functions(template).keys().cloned().collect()
}

/// `ListClientsFunction` → `ListClients`.
fn stem(function: &str) -> &str {
    function
        .strip_suffix("Function")
        .unwrap_or_else(|| panic!("{function}: a function id ends with Function"))
}

fn metrics_namespace() -> Value {
    json!({"Fn::Sub": "ClientsApi/${AWS::StackName}"})
}

fn alarm_topic() -> Value {
    json!([{"Ref": "AlarmTopic"}])
}

/// The EMF `Route` dimension values: the contract's routes without the base path.
fn emf_routes() -> Vec<String> {
    ROUTES
        .iter()
        .map(|route| {
            let path = route
                .path
                .strip_prefix(BASE_PATH)
                .unwrap_or_else(|| panic!("{} is under {BASE_PATH}", route.path));
            format!("{} {path}", route.method)
        })
        .collect()
}

/// A service-wide or per-function alarm as the runbook describes it.
struct ExpectedAlarm {
    id: String,
    metric: &'static str,
    threshold: f64,
    comparison: &'static str,
    evaluation_periods: u64,
    datapoints: u64,
}

fn expected_alarms(template: &Value) -> Vec<ExpectedAlarm> {
    let alarm =
        |id: &str, metric, threshold, comparison, evaluation_periods, datapoints| ExpectedAlarm {
            id: id.to_owned(),
            metric,
            threshold,
            comparison,
            evaluation_periods,
            datapoints,
        };
    let ge = "GreaterThanOrEqualToThreshold";
    let gt = "GreaterThanThreshold";
    let mut alarms = vec![
        alarm("ApiServerErrorRateAlarm", "5xx", 1.0, gt, 3, 2),
        alarm("ApiLatencyP99Alarm", "Latency", 1000.0, gt, 5, 3),
        alarm("FunctionServerErrorsAlarm", "ServerErrors", 5.0, ge, 3, 2),
        alarm(
            "TableThrottledRequestsAlarm",
            "ThrottledRequests",
            10.0,
            ge,
            5,
            3,
        ),
        alarm("TableSystemErrorsAlarm", "SystemErrors", 1.0, ge, 5, 3),
        alarm(
            "TableTransactionConflictsAlarm",
            "TransactionConflict",
            50.0,
            ge,
            3,
            2,
        ),
        alarm(
            "OrganizationRateLimitedAlarm",
            "MaxContributorValue",
            60.0,
            ge,
            15,
            15,
        ),
    ];
    for function in function_ids(template) {
        let stem = stem(&function);
        alarms.push(alarm(
            &format!("{stem}ErrorsAlarm"),
            "Errors",
            1.0,
            ge,
            5,
            2,
        ));
        alarms.push(alarm(
            &format!("{stem}ThrottlesAlarm"),
            "Throttles",
            1.0,
            ge,
            5,
            2,
        ));
        alarms.push(alarm(
            &format!("{stem}DurationAlarm"),
            "Duration",
            8000.0,
            gt,
            5,
            3,
        ));
    }
    alarms
}

/// The metric names an alarm reads (its own, or those of its metric math).
fn alarm_metric_names(alarm: &Value) -> BTreeSet<String> {
    let properties = &alarm["Properties"];
    let mut names: BTreeSet<String> = properties["MetricName"]
        .as_str()
        .map(|n| n.to_owned())
        .into_iter()
        .collect();
    for query in properties["Metrics"].as_array().into_iter().flatten() {
        if let Some(name) = query["MetricStat"]["Metric"]["MetricName"].as_str() {
            names.insert(name.to_owned());
        }
        // A Contributor Insights rule's metric: INSIGHT_RULE_METRIC(rule, metric).
        let expression = sub_text(&query["Expression"]).unwrap_or_default();
        if let Some(rest) = expression.strip_prefix("INSIGHT_RULE_METRIC(") {
            if let Some(metric) = rest.split('\'').nth(3) {
                names.insert(metric.to_owned());
            }
        }
    }
    names
}

#[test]
fn every_alarm_has_its_metric_threshold_missing_data_policy_and_notifies_the_topic() {
    let template = template();
    let resources = resources(&template);
    let expected = expected_alarms(&template);
    let declared: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        declared,
        expected.iter().map(|a| a.id.as_str()).collect(),
        "alarms differ from the runbook's (docs/operations.md)"
    );
    for alarm in &expected {
        let resource = &resources[&alarm.id];
        let properties = &resource["Properties"];
        let id = &alarm.id;
        assert!(
            alarm_metric_names(resource).contains(alarm.metric),
            "{id} does not read {}",
            alarm.metric
        );
        assert_eq!(
            properties["Threshold"].as_f64(),
            Some(alarm.threshold),
            "{id}"
        );
        assert_eq!(properties["ComparisonOperator"], alarm.comparison, "{id}");
        assert_eq!(
            properties["EvaluationPeriods"], alarm.evaluation_periods,
            "{id}"
        );
        assert_eq!(properties["DatapointsToAlarm"], alarm.datapoints, "{id}");
        // Chosen on purpose (docs/operations.md): no data is "nothing happened".
        assert_eq!(properties["TreatMissingData"], "notBreaching", "{id}");
        assert_eq!(properties["AlarmActions"], alarm_topic(), "{id}");
        assert_eq!(properties["OKActions"], alarm_topic(), "{id}");
        if properties.get("ExtendedStatistic").is_some() {
            assert_eq!(
                properties["EvaluateLowSampleCountPercentile"], "ignore",
                "{id}"
            );
        }
        let runbook = std::fs::read_to_string(repo_root().join("docs/operations.md")).unwrap();
        let name = sub_text(&properties["AlarmName"])
            .unwrap_or_else(|| panic!("{id}: AlarmName is not a !Sub"));
        let description = &properties["AlarmDescription"];
        let description = description
            .as_str()
            .map(str::to_owned)
            .or_else(|| sub_text(description));
        let anchor = description
            .as_deref()
            .and_then(|d| d.split("docs/operations.md#").nth(1))
            .and_then(|rest| rest.split(['.', ' ']).next())
            .unwrap_or_else(|| panic!("{id}: AlarmDescription names no runbook section"));
        assert!(
            runbook.contains(&format!("### {anchor}\n")),
            "{id}: docs/operations.md has no section {anchor}"
        );
        assert!(name.starts_with("${AWS::StackName}-"), "{id}: {name}");
    }
}

#[test]
fn the_api_alarms_read_the_http_apis_metrics() {
    let template = template();
    let resources = resources(&template);
    let api = json!([{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]);

    let rate = &resources["ApiServerErrorRateAlarm"]["Properties"];
    let metrics = rate["Metrics"].as_array().unwrap();
    let stat = |id: &str| -> &Value {
        &metrics
            .iter()
            .find(|m| m["Id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))["MetricStat"]
    };
    for (id, name) in [("errors", "5xx"), ("requests", "Count")] {
        assert_eq!(stat(id)["Metric"]["Namespace"], "AWS/ApiGateway");
        assert_eq!(stat(id)["Metric"]["MetricName"], name);
        assert_eq!(stat(id)["Metric"]["Dimensions"], api);
        assert_eq!(stat(id)["Stat"], "Sum");
    }
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1, "one expression is the alarm's value");
    let expression = returned[0]["Expression"].as_str().unwrap();
    assert!(
        expression.contains("100 * FILL(errors, 0) / requests"),
        "{expression}: 5xx as a percentage of requests"
    );

    let latency = &resources["ApiLatencyP99Alarm"]["Properties"];
    assert_eq!(latency["Namespace"], "AWS/ApiGateway");
    assert_eq!(latency["Dimensions"], api);
    assert_eq!(latency["ExtendedStatistic"], "p99");
}

#[test]
fn the_server_errors_alarm_reads_the_functions_emf_namespace_service_wide() {
    let template = template();
    let alarm = &resources(&template)["FunctionServerErrorsAlarm"]["Properties"];
    assert_eq!(alarm["Namespace"], metrics_namespace());
    assert_eq!(alarm["MetricName"], "ServerErrors");
    assert_eq!(alarm["Statistic"], "Sum");
    // The empty dimension set: all routes together.
    assert!(alarm.get("Dimensions").is_none(), "{}", alarm["Dimensions"]);
    assert_eq!(
        template["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"],
        metrics_namespace()
    );
}

#[test]
fn the_lambda_alarms_watch_their_own_function_and_duration_follows_the_timeout() {
    let template = template();
    let resources = resources(&template);
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);
        let timeout_ms = properties["Timeout"].as_f64().unwrap_or(3.0) * 1000.0;
        for (suffix, metric) in [
            ("Errors", "Errors"),
            ("Throttles", "Throttles"),
            ("Duration", "Duration"),
        ] {
            let alarm = &resources[&format!("{}{suffix}Alarm", stem(&id))]["Properties"];
            assert_eq!(alarm["Namespace"], "AWS/Lambda", "{id}");
            assert_eq!(alarm["MetricName"], metric, "{id}");
            assert_eq!(
                alarm["Dimensions"],
                json!([{"Name": "FunctionName", "Value": {"Ref": id}}]),
                "{id}"
            );
        }
        let duration = &resources[&format!("{}DurationAlarm", stem(&id))]["Properties"];
        assert_eq!(duration["ExtendedStatistic"], "p99", "{id}");
        assert_eq!(
            duration["Threshold"].as_f64(),
            Some(0.8 * timeout_ms),
            "{id}: the Duration alarm is at 80 % of the function's Timeout"
        );
    }
}

#[test]
fn the_dynamodb_alarms_watch_the_table_in_use_for_every_operation_the_code_makes() {
    let template = template();
    let resources = resources(&template);
    let operations: BTreeSet<&str> =
        ["GetItem", "BatchGetItem", "Query", "TransactWriteItems"].into();
    for id in ["TableThrottledRequestsAlarm", "TableSystemErrorsAlarm"] {
        let metrics = resources[id]["Properties"]["Metrics"].as_array().unwrap();
        let mut covered = BTreeSet::new();
        for query in metrics.iter().filter(|m| m.get("MetricStat").is_some()) {
            let metric = &query["MetricStat"]["Metric"];
            assert_eq!(metric["Namespace"], "AWS/DynamoDB", "{id}");
            let dimensions = metric["Dimensions"].as_array().unwrap();
            assert_eq!(
                dimensions[0],
                json!({"Name": "TableName", "Value": table_name_in_use()}),
                "{id}"
            );
            assert_eq!(dimensions[1]["Name"], "Operation", "{id}");
            covered.insert(dimensions[1]["Value"].as_str().unwrap().to_owned());
            let query_id = query["Id"].as_str().unwrap();
            let expression = metrics
                .iter()
                .find(|m| m["ReturnData"] == true)
                .and_then(|m| m["Expression"].as_str())
                .unwrap_or_else(|| panic!("{id}: no expression"));
            assert!(
                expression.contains(&format!("FILL({query_id}, 0)")),
                "{id}: {query_id} not summed"
            );
        }
        for operation in &operations {
            assert!(
                covered.contains(*operation),
                "{id}: {operation} not watched"
            );
        }
    }
    let conflicts = &resources["TableTransactionConflictsAlarm"]["Properties"];
    assert_eq!(conflicts["Namespace"], "AWS/DynamoDB");
    assert_eq!(
        conflicts["Dimensions"],
        json!([{"Name": "TableName", "Value": table_name_in_use()}])
    );
}

#[test]
fn the_alarm_topic_has_an_optional_email_subscription() {
    let template = template();
    let resources = resources(&template);
    assert_eq!(resources["AlarmTopic"]["Type"], "AWS::SNS::Topic");
    let subscription = &resources["AlarmEmailSubscription"];
    assert_eq!(subscription["Type"], "AWS::SNS::Subscription");
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(subscription["Properties"]["Protocol"], "email");
    assert_eq!(
        subscription["Properties"]["Endpoint"],
        json!({"Ref": "AlarmEmail"})
    );
    assert_eq!(
        template["Conditions"]["HasAlarmEmail"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]})
    );
    assert_eq!(
        template["Outputs"]["AlarmTopicArn"]["Value"],
        json!({"Ref": "AlarmTopic"})
    );
}

#[test]
fn every_function_publishes_a_live_alias_shifted_by_codedeploy_with_rollback_alarms() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["AutoPublishAlias"], "live");
    let preference = &globals["DeploymentPreference"];
    assert_eq!(preference["Type"], json!({"Ref": "DeploymentType"}));
    let service_wide = [
        "ApiServerErrorRateAlarm",
        "ApiLatencyP99Alarm",
        "FunctionServerErrorsAlarm",
    ];
    let alarms_of = |value: &Value| -> Vec<String> {
        value["Alarms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["Ref"].as_str().expect("an alarm !Ref").to_owned())
            .collect()
    };
    assert_eq!(alarms_of(preference), service_wide);
    for (id, function) in functions(&template) {
        let own = &function["Properties"];
        assert_eq!(own["AutoPublishAliasAllProperties"], true, "{id}");
        assert!(
            own.get("AutoPublishAlias").is_none(),
            "{id}: the alias is Globals' `live`"
        );
        // SAM appends a function's list to Globals' list.
        let mut rollback = alarms_of(preference);
        rollback.extend(alarms_of(&own["DeploymentPreference"]));
        let stem = stem(&id);
        for alarm in service_wide
            .iter()
            .map(|a| a.to_string())
            .chain(["Errors", "Throttles", "Duration"].map(|k| format!("{stem}{k}Alarm")))
        {
            assert!(
                rollback.contains(&alarm),
                "{id}: {alarm} is not a rollback alarm"
            );
            assert_eq!(
                resources(&template)[&alarm]["Type"],
                "AWS::CloudWatch::Alarm",
                "{alarm}"
            );
        }
        assert!(
            rollback.len() <= 10,
            "{id}: CodeDeploy takes at most 10 alarms"
        );
    }

    let parameter = &template["Parameters"]["DeploymentType"];
    let allowed = parameter["AllowedValues"].as_array().unwrap();
    for value in ["AllAtOnce", "Canary10Percent5Minutes"] {
        assert!(allowed.contains(&json!(value)), "{value}");
    }
    let samconfig = std::fs::read_to_string(repo_root().join("samconfig.toml")).unwrap();
    let section = |name: &str| -> String {
        let start = samconfig
            .find(&format!("[{name}.deploy.parameters]"))
            .unwrap();
        let rest = &samconfig[start..];
        rest[..rest.find("tags").unwrap()].to_owned()
    };
    assert!(section("default").contains("\"DeploymentType=AllAtOnce\""));
    assert!(section("prod").contains("\"DeploymentType=Canary10Percent5Minutes\""));
}

/// The Condition of the rate limiter's statement: LIMIT# items only.
fn limit_items() -> Value {
    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LIMIT#*"]}})
}

/// Every statement of the functions' roles, with its Condition.
fn role_statements(template: &Value) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for (id, function) in functions(template) {
        let role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Role is not a !GetAtt of a role in the template"));
        for policy in resources(template)[role]["Properties"]["Policies"]
            .as_array()
            .unwrap()
        {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                all.push((id.clone(), statement.clone()));
            }
        }
    }
    all
}

#[test]
fn writes_are_limited_to_organization_items_and_api_key_items_are_only_read() {
    let template = template();
    // Item writes, each authorised against the item's partition key
    // (BatchWriteItem too: the search index entries, ORG#<org>#NAME#…).
    let writes = [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
    ];
    let mut conditioned = 0;
    let mut leases = 0;
    for (id, statement) in role_statements(&template) {
        let actions: Vec<&str> = match &statement["Action"] {
            Value::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
            single => vec![single.as_str().unwrap()],
        };
        let writing = actions
            .iter()
            .any(|a| writes.contains(a) || a.contains("Write"));
        if writing {
            assert!(
                actions.iter().all(|a| writes.contains(a)),
                "{id}: {actions:?}: a write statement holds only item writes"
            );
            if statement["Condition"] == limit_items() {
                assert_eq!(
                    actions,
                    ["dynamodb:UpdateItem"],
                    "{id}: only the rate limiter's lease writes LIMIT# items"
                );
                leases += 1;
            } else {
                assert_eq!(
                    statement["Condition"],
                    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ORG#*"]}}),
                    "{id}: {actions:?} must be limited to ORG# partition keys"
                );
                conditioned += 1;
            }
        }
        let text = statement.to_string();
        assert!(
            !(writing && text.contains("APIKEY")),
            "{id}: a write statement names APIKEY items"
        );
    }
    assert_eq!(conditioned, 3, "create, update and delete-client write");
    assert_eq!(
        leases, 5,
        "every client function leases its rate limit slice"
    );
    // Key look-ups (APIKEY#<hash>) stay readable by every client function.
    for function in [
        "ListClientsFunction",
        "GetClientFunction",
        "CreateClientFunction",
        "UpdateClientFunction",
        "DeleteClientFunction",
    ] {
        let reads_unconditioned = role_statements(&template).iter().any(|(id, s)| {
            id == function
                && s["Action"].to_string().contains("dynamodb:GetItem")
                && s.get("Condition").is_none()
        });
        assert!(reads_unconditioned, "{function}: GetItem of APIKEY# items");
    }
}

#[test]
fn each_role_writes_only_its_own_log_group_and_nothing_creates_log_groups() {
    let template = template();
    let text = template.to_string();
    assert!(
        !text.contains("logs:CreateLogGroup"),
        "logs:CreateLogGroup is granted"
    );
    assert!(!text.contains("AWSLambdaBasicExecutionRole"));
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);
        let group = properties["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap();
        let role = properties["Role"]["Fn::GetAtt"][0].as_str().unwrap();
        let role = &resources(&template)[role];
        assert_eq!(
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
            json!({"Service": "lambda.amazonaws.com"}),
            "{id}"
        );
        assert!(
            role["Properties"].get("ManagedPolicyArns").is_none(),
            "{id}"
        );
        let logs: Vec<&Value> = role["Properties"]["Policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["PolicyName"] == "logs")
            .collect();
        assert_eq!(logs.len(), 1, "{id}");
        assert_eq!(
            logs[0]["PolicyDocument"]["Statement"],
            json!([{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": {"Fn::GetAtt": [group, "Arn"]}
            }]),
            "{id}"
        );
    }
}

#[test]
fn log_groups_are_kept_in_prod_only_through_the_language_extensions() {
    let template = template();
    let transforms = template["Transform"]
        .as_array()
        .expect("a list of transforms");
    assert_eq!(
        transforms,
        &[
            json!("AWS::LanguageExtensions"),
            json!("AWS::Serverless-2016-10-31")
        ],
        "LanguageExtensions must run before SAM"
    );
    let policy = json!({"Fn::If": ["IsProd", "Retain", "Delete"]});
    let groups: Vec<(&String, &Value)> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup")
        .collect();
    assert_eq!(groups.len(), 7, "six functions and the access log");
    for (id, group) in groups {
        assert_eq!(group["DeletionPolicy"], policy, "{id}");
        assert_eq!(group["UpdateReplacePolicy"], policy, "{id}");
    }
    assert_eq!(
        template["Conditions"]["IsProd"],
        json!({"Fn::Equals": [{"Ref": "Stage"}, "prod"]})
    );
}

#[test]
fn optional_parameters_default_to_off() {
    let template = template();
    let parameters = &template["Parameters"];
    for name in [
        "ReservedConcurrency",
        "DomainName",
        "CertificateArn",
        "AlarmEmail",
        "ExistingTableName",
    ] {
        assert_eq!(parameters[name]["Type"], "String", "{name}");
        assert_eq!(parameters[name]["Default"], "", "{name}: empty = off");
    }
    assert_eq!(parameters["DeploymentType"]["Default"], "AllAtOnce");
    let conditions = &template["Conditions"];
    let set = |name: &str| json!({"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]});
    assert_eq!(
        conditions["HasReservedConcurrency"],
        set("ReservedConcurrency")
    );
    assert_eq!(conditions["UseExistingTable"], set("ExistingTableName"));
    assert_eq!(
        conditions["HasCustomDomain"],
        json!({"Fn::And": [set("DomainName"), set("CertificateArn")]})
    );
    assert_eq!(
        template["Globals"]["Function"]["ReservedConcurrentExecutions"],
        json!({"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]})
    );
    assert!(
        template["Rules"]["CustomDomainNeedsBoth"].is_object(),
        "a rule refuses DomainName without CertificateArn and the reverse"
    );
}

#[test]
fn a_custom_domain_maps_to_the_api_and_disables_the_execute_api_endpoint() {
    let template = template();
    let resources = resources(&template);
    let domain = &resources["ApiDomain"];
    assert_eq!(domain["Type"], "AWS::ApiGatewayV2::DomainName");
    assert_eq!(domain["Condition"], "HasCustomDomain");
    assert_eq!(
        domain["Properties"]["DomainName"],
        json!({"Ref": "DomainName"})
    );
    let configuration = &domain["Properties"]["DomainNameConfigurations"][0];
    assert_eq!(
        configuration["CertificateArn"],
        json!({"Ref": "CertificateArn"})
    );
    assert_eq!(configuration["EndpointType"], "REGIONAL");
    assert_eq!(configuration["SecurityPolicy"], "TLS_1_2");

    let mapping = &resources["ApiDomainMapping"];
    assert_eq!(mapping["Type"], "AWS::ApiGatewayV2::ApiMapping");
    assert_eq!(mapping["Condition"], "HasCustomDomain");
    assert_eq!(mapping["Properties"]["ApiId"], json!({"Ref": "HttpApi"}));
    assert_eq!(
        mapping["Properties"]["DomainName"],
        json!({"Ref": "ApiDomain"})
    );
    assert_eq!(mapping["Properties"]["Stage"], "$default");

    assert_eq!(
        resources["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"],
        json!({"Fn::If": ["HasCustomDomain", true, false]})
    );
    let target = &template["Outputs"]["CustomDomainTarget"];
    assert_eq!(target["Condition"], "HasCustomDomain");
    assert_eq!(
        target["Value"],
        json!({"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]})
    );
    assert_eq!(
        template["Outputs"]["ApiUrl"]["Value"]["Fn::If"][0],
        "HasCustomDomain"
    );
}

#[test]
fn an_existing_table_replaces_the_stacks_own_everywhere() {
    let template = template();
    // Nothing but the table's own outputs names the stack's table directly:
    // the functions, their permissions, the alarms and the dashboard all
    // follow ExistingTableName.
    let mut direct = Vec::new();
    for (id, resource) in resources(&template) {
        if id == "ClientsTable" {
            continue;
        }
        let text = resource
            .to_string()
            .replace(&table_name_in_use().to_string(), "");
        if text.contains("\"ClientsTable\"") || text.contains("ClientsTable.") {
            direct.push(id.clone());
        }
    }
    assert!(
        direct.is_empty(),
        "{direct:?} name ClientsTable, not the table in use"
    );
    assert_eq!(
        template["Outputs"]["TableName"]["Value"],
        table_name_in_use()
    );
    assert_eq!(template["Parameters"]["ExistingTableName"]["Default"], "");
}

#[test]
fn the_access_log_tells_gateway_answers_from_function_answers() {
    let template = template();
    let format = resources(&template)["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .expect("a format string");
    let line: Map<String, Value> = serde_json::from_str(format)
        .unwrap_or_else(|e| panic!("the access log format is not JSON: {e}"));
    let values: BTreeSet<&str> = line.values().map(|v| v.as_str().unwrap()).collect();
    for variable in [
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.error.message",
        "$context.integrationErrorMessage",
        "$context.integration.status",
        "$context.integration.requestId",
    ] {
        assert!(values.contains(variable), "the access log lacks {variable}");
    }
    for value in &values {
        for secret in ["header", "body", "querystring", "authorizer"] {
            assert!(
                !value.to_ascii_lowercase().contains(secret),
                "{value}: keys and client data stay out of logs"
            );
        }
    }
}

#[test]
fn cors_exposes_the_contracts_response_headers() {
    let template = template();
    let exposed: BTreeSet<String> = resources(&template)["HttpApi"]["Properties"]
        ["CorsConfiguration"]["ExposeHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_ascii_lowercase())
        .collect();
    for header in [
        "etag",
        "location",
        "x-request-id",
        "idempotent-replayed",
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
    ] {
        assert!(exposed.contains(header), "CORS does not expose {header}");
    }
}

#[test]
fn the_dashboard_shows_the_alarms_routes_functions_and_table() {
    let template = template();
    let resources = resources(&template);
    let dashboard = &resources["Dashboard"];
    assert_eq!(dashboard["Type"], "AWS::CloudWatch::Dashboard");
    let sub = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_array()
        .expect("!Sub [body, vars]");
    assert_eq!(sub[1], json!({"Table": table_name_in_use()}));
    let raw = sub[0].as_str().unwrap();
    // Every ${...} names a parameter-free value the template defines.
    let mut names = BTreeSet::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let end = rest[start..].find('}').unwrap() + start;
        names.insert(rest[start + 2..end].to_owned());
        rest = &rest[end + 1..];
    }
    for name in &names {
        let resource = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::") || name == "Table" || resources.contains_key(resource),
            "${{{name}}} in the dashboard names nothing"
        );
    }
    let mut body = raw.to_owned();
    for name in &names {
        body = body.replace(&format!("${{{name}}}"), &format!("<{name}>"));
    }
    let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("dashboard body: {e}"));
    let text = body.to_string();
    let namespace = "ClientsApi/<AWS::StackName>";
    for metric in [
        "Requests",
        "ClientErrors",
        "ServerErrors",
        "Latency",
        "DynamoDbCalls",
        "ItemsRead",
    ] {
        for route in emf_routes() {
            let series = json!([namespace, metric, "Route", route]).to_string();
            assert!(
                text.contains(&series[..series.len() - 1]),
                "the dashboard lacks {metric} of {route}"
            );
        }
    }
    for rule in [
        "OrganizationRequestsRule",
        "OrganizationRateLimitedRule",
        "OrganizationReadUnitsRule",
        "OrganizationWriteUnitsRule",
    ] {
        assert!(
            text.contains(&format!("<{rule}.RuleName>")),
            "the dashboard lacks the top organizations of {rule}"
        );
    }
    for id in function_ids(&template) {
        assert!(
            text.contains(&format!("\"FunctionName\",\"<{id}>\"")),
            "{id}"
        );
    }
    for metric in [
        "ThrottledRequests",
        "SystemErrors",
        "TransactionConflict",
        "ConsumedReadCapacityUnits",
    ] {
        assert!(
            text.contains(&format!("\"{metric}\",\"TableName\",\"<Table>\"")),
            "{metric}"
        );
    }
    for (id, resource) in resources {
        if resource["Type"] == "AWS::CloudWatch::Alarm" {
            assert!(
                text.contains(&format!("<{id}.Arn>")),
                "the alarm widget lacks {id}"
            );
        }
    }
}
