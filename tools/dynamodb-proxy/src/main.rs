//! `dynamodb-proxy`: runs the proxy until Ctrl-C and prints its address.
//!
//! ```text
//! dynamodb-proxy --upstream http://127.0.0.1:8000 [--listen 127.0.0.1:0]
//!                [--conflicts-hold-ms 10] [--throughput] [--write-units 1000]
//!                [--read-units 3000] [--burst-seconds 1] [--latency-ms 3] [--faithful]
//! ```
//!
//! Every flag has an environment form (`DYNAMODB_PROXY_UPSTREAM`,
//! `DYNAMODB_PROXY_LISTEN`, `DYNAMODB_PROXY_CONFLICTS_HOLD_MS`,
//! `DYNAMODB_PROXY_THROUGHPUT=1`, `DYNAMODB_PROXY_WRITE_UNITS`,
//! `DYNAMODB_PROXY_READ_UNITS`, `DYNAMODB_PROXY_BURST_SECONDS`,
//! `DYNAMODB_PROXY_LATENCY_MS`, `DYNAMODB_PROXY_FAITHFUL=1`); flags win.

use std::collections::HashMap;
use std::time::Duration;

use dynamodb_proxy::{Limits, Proxy, ProxyConfig};

const FLAGS: [&str; 9] = [
    "upstream",
    "listen",
    "conflicts-hold-ms",
    "throughput",
    "write-units",
    "read-units",
    "burst-seconds",
    "latency-ms",
    "faithful",
];
/// Flags that take no value.
const SWITCHES: [&str; 2] = ["throughput", "faithful"];

/// The settings from the environment, then the command line.
fn settings() -> Result<HashMap<String, String>, String> {
    let mut settings = HashMap::new();
    for flag in FLAGS {
        let name = format!("DYNAMODB_PROXY_{}", flag.replace('-', "_").to_uppercase());
        if let Ok(value) = std::env::var(name) {
            settings.insert(flag.to_owned(), value);
        }
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let flag = arg
            .strip_prefix("--")
            .filter(|f| FLAGS.contains(f))
            .ok_or(format!("unknown argument {arg}"))?;
        let value = if SWITCHES.contains(&flag) {
            "1".to_owned()
        } else {
            args.next().ok_or(format!("--{flag} needs a value"))?
        };
        settings.insert(flag.to_owned(), value);
    }
    Ok(settings)
}

fn number(settings: &HashMap<String, String>, flag: &str) -> Result<Option<f64>, String> {
    settings
        .get(flag)
        .map(|v| {
            v.parse::<f64>()
                .map_err(|_| format!("--{flag}: not a number: {v}"))
        })
        .transpose()
}

fn config() -> Result<ProxyConfig, String> {
    let settings = settings()?;
    let upstream = settings
        .get("upstream")
        .ok_or("--upstream is required")?
        .clone();
    let on = |flag: &str| settings.get(flag).is_some_and(|v| v != "0" && v != "false");
    let mut config = if on("faithful") {
        ProxyConfig::faithful(upstream)
    } else {
        ProxyConfig::transparent(upstream)
    };
    if let Some(listen) = settings.get("listen") {
        config.listen = listen
            .parse()
            .map_err(|_| format!("--listen: not an address: {listen}"))?;
    }
    if let Some(hold) = number(&settings, "conflicts-hold-ms")? {
        config.conflicts = Some(Duration::from_secs_f64(hold / 1000.0));
    }
    let mut limits = config.throughput.unwrap_or_default();
    let mut limited = on("throughput") || config.throughput.is_some();
    for (flag, field) in [
        ("write-units", &mut limits.write_units_per_second),
        ("read-units", &mut limits.read_units_per_second),
        ("burst-seconds", &mut limits.burst_seconds),
    ] {
        if let Some(value) = number(&settings, flag)? {
            *field = value;
            limited = true;
        }
    }
    config.throughput = limited.then_some(limits as Limits);
    if let Some(ms) = number(&settings, "latency-ms")? {
        config.latency = Duration::from_secs_f64(ms / 1000.0);
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = match config() {
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
