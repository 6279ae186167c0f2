//! The `get-openapi` Lambda function: wiring only. The handler is [`get_openapi::handle`].
//!
//! It has no configuration and no DynamoDB client: the description is
//! compiled in, and converted here, before the first event, so a broken
//! `openapi.yaml` is an init error rather than a failing request.

use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    get_openapi::description().map_err(|error| format!("openapi.yaml: {error}"))?;
    run(service_fn(|request| async {
        Ok::<_, std::convert::Infallible>(get_openapi::handle(request))
    }))
    .await
}
