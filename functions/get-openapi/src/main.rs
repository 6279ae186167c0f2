//! The `get-openapi` Lambda function: wiring only. The handler is [`get_openapi::handle`].
//!
//! It has no configuration and no DynamoDB client: the description is
//! compiled in, and converted here, before the first event, so a broken
//! `openapi.yaml` is an init error rather than a failing request.

fn main() -> Result<(), lambda_http::Error> {
    get_openapi::description().map_err(|error| format!("openapi.yaml: {error}"))?;
    shared::function::run_without_table(get_openapi::handle)
}
