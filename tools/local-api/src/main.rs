//! `local-api`: serves the Clients API on 127.0.0.1 through the Lambda handlers.
//!
//! Configuration is the functions' own (`TABLE_NAME`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! …) plus `PORT` (default 3000), `LOCAL_API_CONTAINERS` and
//! `LOCAL_API_WAIT_MS` (see [`local_api::containers`]). Ctrl-C stops it.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::Error;
use local_api::containers::{Containers, DEFAULT_CONTAINERS, DEFAULT_WAIT};
use shared::function::Config;
use tokio::net::TcpListener;

/// A whole-number setting from the environment, or `default`.
fn setting(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => value
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {value:?}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let port = u16::try_from(setting("PORT", 3000)?).map_err(|_| "PORT must be a port number")?;
    let count = setting("LOCAL_API_CONTAINERS", DEFAULT_CONTAINERS as u64)? as usize;
    let wait = Duration::from_millis(setting(
        "LOCAL_API_WAIT_MS",
        DEFAULT_WAIT.as_millis() as u64,
    )?);
    let config = Config::from_env()?;
    let dynamodb = shared::store::connect().await;
    let containers = Arc::new(Containers::new(count, wait, || {
        shared::App::new(dynamodb.clone(), &config)
    }));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    println!(
        "Clients API listening on http://{address}{}",
        local_api::BASE_PATH
    );
    tokio::select! {
        served = local_api::serve(listener, containers) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
