//! The `update-client` Lambda function: wiring only. The handler is [`update_client::handle`].

use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = shared::App::from_env()
        .await
        .map_err(|error| format!("configuration: {error}"))?;
    app.warm_up().await;
    run(service_fn(|request| async {
        Ok::<_, std::convert::Infallible>(update_client::handle(&app, request).await)
    }))
    .await
}
