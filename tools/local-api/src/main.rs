//! `local-api`: serves the Clients API on 127.0.0.1 through the Lambda handlers.
//!
//! Configuration is the functions' own (`TABLE_NAME`, `AWS_ENDPOINT_URL_DYNAMODB`,
//! …) plus `PORT` (default 3000). Ctrl-C stops it.

use std::sync::Arc;

use lambda_http::Error;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let app = Arc::new(shared::App::from_env().await?);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    println!(
        "Clients API listening on http://{address}{}",
        local_api::BASE_PATH
    );
    tokio::select! {
        served = local_api::serve(listener, app) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
