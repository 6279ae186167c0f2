//! Checks `template.yaml`, `events/` and the code against each other:
//! what cfn-lint and `sam validate --lint` cannot know (the table the code
//! expects, the routes the local server serves, the binaries the workspace
//! builds, the DynamoDB calls each function makes) or do not check (Runtime,
//! Architectures, Handler, BuildMethod values).
//!
//! Needs no DynamoDB Local and no AWS: `cargo test -p integration-tests --test template`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use integration_tests::{repo_root, PLACEHOLDER_ID, PLACEHOLDER_KEY};
use lambda_harness::FUNCTIONS;
use lambda_http::http::Method;
use lambda_http::{Body, RequestExt};
use local_api::{Function, ROUTES};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------- helpers

/// `template.yaml` as JSON, CloudFormation short tags written out in their
/// long form: `!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`,
/// `!Sub s` → `{"Fn::Sub": "s"}`, `!If [...]` → `{"Fn::If": [...]}`.
fn template() -> Value {
    let path = repo_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    yaml_to_json(yaml)
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
                 and local_api::ROUTES"
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

/// Every statement of every function's `Policies`; panics on anything that
/// is not an inline policy document (SAM policy templates, managed policy
/// names), which the checks below could not see into.
fn statements(template: &Value) -> Vec<Statement> {
    let mut all = Vec::new();
    for (id, function) in functions(template) {
        let properties = effective_properties(template, &function);
        let policies = match &properties["Policies"] {
            Value::Array(policies) => policies.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
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

fn table_arn() -> Value {
    json!({"Fn::GetAtt": ["ClientsTable", "Arn"]})
}

fn table_indexes_arn() -> Value {
    json!({"Fn::Sub": "${ClientsTable.Arn}/index/*"})
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
    let expected = shared::store::schema::cloudformation_properties();
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
            "ClientsTable.{property} differs from shared::store::schema (`cargo run -q -p admin -- table-definition`)"
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
        .map(|(method, path, function)| {
            (
                method.to_string(),
                path.to_string(),
                logical_id(*function).to_owned(),
            )
        })
        .collect();

    assert_eq!(
        declared, expected,
        "template routes (method, path, function) differ from local_api::ROUTES"
    );
    assert!(
        ROUTES
            .iter()
            .all(|(method, _, _)| method.parse::<Method>().is_ok()),
        "a route method is not an HTTP method"
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
    let url = template["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
        .as_str()
        .expect("ApiUrl is a !Sub string");
    assert!(url.contains("${HttpApi}"), "{url}");
    assert!(
        url.ends_with(local_api::BASE_PATH),
        "{url} must end with {}",
        local_api::BASE_PATH
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
    for (method, _, _) in ROUTES {
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
    assert_eq!(
        binaries.len(),
        ROUTES.len(),
        "one function (and binary) per route"
    );
}

#[test]
fn functions_run_bootstrap_on_provided_al2023_arm64_built_by_cargo_lambda() {
    let template = template();
    let workspace = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    for (id, function) in functions(&template) {
        let properties = effective_properties(&template, &function);

        assert_eq!(properties["Runtime"], "provided.al2023", "{id}");
        assert_eq!(properties["Architectures"], json!(["arm64"]), "{id}");
        assert_eq!(properties["Handler"], "bootstrap", "{id}");
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        // cargo lambda builds the binary inside the workspace, so CodeUri is its root.
        let code_uri = properties["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: CodeUri"));
        assert!(
            matches!(code_uri, "." | "./"),
            "{id}: CodeUri {code_uri} is not the workspace root"
        );
        assert!(workspace.contains("[workspace]"));
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

        assert_eq!(
            variables["TABLE_NAME"],
            json!({"Ref": "ClientsTable"}),
            "{id}"
        );
        assert_eq!(
            variables["KEY_CACHE_TTL_SECONDS"],
            json!({"Ref": "KeyCacheTtlSeconds"}),
            "{id}"
        );
        assert_eq!(
            variables["AWS_ENDPOINT_URL_DYNAMODB"],
            json!({"Fn::If": ["UseDynamoDbEndpoint", {"Ref": "DynamoDbEndpoint"}, {"Ref": "AWS::NoValue"}]}),
            "{id}: the DynamoDB endpoint is overridden only for local invocation"
        );
        assert_eq!(
            template["Parameters"]["DynamoDbEndpoint"]["Default"], "",
            "deployed stacks use AWS's endpoint"
        );
        assert_eq!(properties["LoggingConfig"]["LogFormat"], "JSON", "{id}");
        // RUST_LOG would override the ApplicationLogLevel in lambda_http's subscriber.
        assert!(
            variables.get("RUST_LOG").is_none(),
            "{id}: RUST_LOG overrides ApplicationLogLevel"
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
/// client route looks up the API key (GetItem); writes go through
/// TransactWriteItems, which IAM authorises per item action. `get-openapi`
/// serves a description compiled into it and may call nothing.
const EXPECTED_ACTIONS: [(Function, &[&str]); 6] = [
    (
        Function::ListClients,
        &[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
    ),
    (Function::GetClient, &["dynamodb:GetItem"]),
    (
        Function::CreateClient,
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        Function::UpdateClient,
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    ),
    (
        Function::DeleteClient,
        &[
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
fn the_openapi_function_has_no_policy_at_all() {
    let template = template();
    let function = &functions(&template)[logical_id(Function::GetOpenApi)];
    let properties = effective_properties(&template, function);

    // SAM then gives its role only AWSLambdaBasicExecutionRole (its logs).
    for property in ["Policies", "Role", "RolePath", "PermissionsBoundary"] {
        assert!(
            properties.get(property).is_none(),
            "GetOpenApiFunction.{property}: it serves a compiled-in document and needs no permission"
        );
    }
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
        for action in granted(&template, function) {
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
            ROUTES
                .iter()
                .any(|(m, p, f)| *m == request.method().as_str()
                    && *f == route.function
                    && route.route_key == format!("{m} {p}")),
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
