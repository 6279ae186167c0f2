//! The `list-clients` Lambda function: wiring only. The handler is [`list_clients::handle`].

use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = shared::App::from_env()
        .await
        .map_err(|error| format!("configuration: {error}"))?;
    app.warm_up().await;
    run(service_fn(|request| async {
        Ok::<_, std::convert::Infallible>(list_clients::handle(&app, request).await)
    }))
    .await
}
