//! `dynamodb-proxy`: runs the proxy until Ctrl-C, printing its address
//! first and what it did last. `dynamodb-proxy --help` lists the flags
//! ([`dynamodb_proxy::cli::Args`]); each has an environment form
//! (`DYNAMODB_PROXY_UPSTREAM`, `DYNAMODB_PROXY_LISTEN`,
//! `DYNAMODB_PROXY_FAITHFUL=1`, `DYNAMODB_PROXY_CONFLICTS_HOLD_MS`,
//! `DYNAMODB_PROXY_THROUGHPUT=1`, `DYNAMODB_PROXY_WRITE_UNITS`,
//! `DYNAMODB_PROXY_READ_UNITS`, `DYNAMODB_PROXY_BURST_SECONDS`,
//! `DYNAMODB_PROXY_INDEX_LAG_MS`, `DYNAMODB_PROXY_SERVER_ERROR_RATE`,
//! `DYNAMODB_PROXY_SEED`, `DYNAMODB_PROXY_LATENCY_MS`); flags win.
//!
//! ```text
//! dynamodb-proxy --upstream http://127.0.0.1:8000 [--listen 127.0.0.1:0] [--faithful]
//!                [--conflicts-hold-ms 10] [--throughput] [--write-units 1000]
//!                [--read-units 3000] [--burst-seconds 1] [--index-lag-ms 1000]
//!                [--server-error-rate 0.01] [--seed 0] [--latency-ms 3]
//! ```

use clap::Parser;
use dynamodb_proxy::cli::Args;
use dynamodb_proxy::Proxy;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = match Args::parse().config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("dynamodb-proxy: {message}");
            std::process::exit(2);
        }
    };
    let proxy = Proxy::start(config.clone()).await?;
    println!("{}", proxy.endpoint());
    eprintln!(
        "dynamodb-proxy: {} -> {} ({config:?})",
        proxy.endpoint(),
        config.upstream
    );
    tokio::signal::ctrl_c().await?;
    eprintln!("dynamodb-proxy: {:?}", proxy.summary());
    Ok(())
}
