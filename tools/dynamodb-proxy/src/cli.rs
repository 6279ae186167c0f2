//! The command line of `dynamodb-proxy` (and its environment forms), parsed
//! with `clap`, into a [`ProxyConfig`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

use crate::{Limits, ProxyConfig};

/// A DynamoDB-faithful proxy in front of DynamoDB Local: prints its address,
/// runs until Ctrl-C, then prints what it did. Every flag has an environment
/// form (`DYNAMODB_PROXY_<FLAG>`, e.g. `DYNAMODB_PROXY_INDEX_LAG_MS=500`,
/// `DYNAMODB_PROXY_FAITHFUL=1`); flags win.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "dynamodb-proxy", version)]
pub struct Args {
    /// The upstream's base URL (DynamoDB Local), e.g. http://127.0.0.1:8000.
    #[arg(long, env = "DYNAMODB_PROXY_UPSTREAM")]
    pub upstream: String,
    /// Where to listen (port 0: a free one).
    #[arg(long, env = "DYNAMODB_PROXY_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Every part on with the service's figures (conflicts, throughput,
    /// index lag, server errors, latency); the flags below change a part.
    #[arg(long, env = "DYNAMODB_PROXY_FAITHFUL", value_parser = clap::builder::FalseyValueParser::new())]
    pub faithful: bool,
    /// Transaction conflicts, holding a transaction's items this long after its answer.
    #[arg(long, env = "DYNAMODB_PROXY_CONFLICTS_HOLD_MS")]
    pub conflicts_hold_ms: Option<f64>,
    /// Per-partition throughput limits, with the defaults unless changed below.
    #[arg(long, env = "DYNAMODB_PROXY_THROUGHPUT", value_parser = clap::builder::FalseyValueParser::new())]
    pub throughput: bool,
    /// Write units per second per partition (turns throughput limits on).
    #[arg(long, env = "DYNAMODB_PROXY_WRITE_UNITS")]
    pub write_units: Option<f64>,
    /// Read units per second per partition (turns throughput limits on).
    #[arg(long, env = "DYNAMODB_PROXY_READ_UNITS")]
    pub read_units: Option<f64>,
    /// Seconds of unused rate a partition saves up (turns throughput limits on).
    #[arg(long, env = "DYNAMODB_PROXY_BURST_SECONDS")]
    pub burst_seconds: Option<f64>,
    /// Index propagation lag: reads of a global secondary index see the
    /// table as it was this long ago (0: off).
    #[arg(long, env = "DYNAMODB_PROXY_INDEX_LAG_MS")]
    pub index_lag_ms: Option<f64>,
    /// The chance per request of an HTTP 500 InternalServerError, 0 to 1 (0: off).
    #[arg(long, env = "DYNAMODB_PROXY_SERVER_ERROR_RATE")]
    pub server_error_rate: Option<f64>,
    /// The seed of the server errors' draws.
    #[arg(long, env = "DYNAMODB_PROXY_SEED")]
    pub seed: Option<u64>,
    /// Delay before each forwarded call.
    #[arg(long, env = "DYNAMODB_PROXY_LATENCY_MS")]
    pub latency_ms: Option<f64>,
}

/// Milliseconds as a duration, or why not.
fn millis(flag: &str, ms: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(ms / 1000.0)
        .map_err(|_| format!("--{flag}: not a duration in milliseconds: {ms}"))
}

impl Args {
    /// The configuration these arguments ask for.
    pub fn config(&self) -> Result<ProxyConfig, String> {
        let mut config = if self.faithful {
            ProxyConfig::faithful(&self.upstream)
        } else {
            ProxyConfig::transparent(&self.upstream)
        };
        config.listen = self.listen;
        if let Some(hold) = self.conflicts_hold_ms {
            config.conflicts = Some(millis("conflicts-hold-ms", hold)?);
        }
        let mut limits = config.throughput.unwrap_or_default();
        let mut limited = self.throughput || config.throughput.is_some();
        for (value, field) in [
            (self.write_units, &mut limits.write_units_per_second),
            (self.read_units, &mut limits.read_units_per_second),
            (self.burst_seconds, &mut limits.burst_seconds),
        ] {
            if let Some(value) = value {
                *field = value;
                limited = true;
            }
        }
        config.throughput = limited.then_some(limits as Limits);
        if let Some(ms) = self.index_lag_ms {
            config.index_lag = Some(millis("index-lag-ms", ms)?).filter(|lag| !lag.is_zero());
        }
        let mut errors = config.server_errors.unwrap_or_default();
        if let Some(rate) = self.server_error_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("--server-error-rate: not between 0 and 1: {rate}"));
            }
            errors.rate = rate;
        }
        if let Some(seed) = self.seed {
            errors.seed = seed;
        }
        let erring = self.server_error_rate.is_some() || config.server_errors.is_some();
        config.server_errors = Some(errors).filter(|e| erring && e.rate > 0.0);
        if let Some(ms) = self.latency_ms {
            config.latency = millis("latency-ms", ms)?;
        }
        Ok(config)
    }
}

/// The faithful configuration before `upstream`, changed by the
/// `DYNAMODB_PROXY_*` variables that are set, as the binary reads them
/// (e.g. `DYNAMODB_PROXY_INDEX_LAG_MS=0` turns the lag off).
pub fn faithful_from_env(upstream: &str) -> Result<ProxyConfig, String> {
    Args::try_parse_from(["dynamodb-proxy", "--upstream", upstream, "--faithful"])
        .map_err(|e| e.to_string())?
        .config()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerErrors;

    fn config(args: &[&str]) -> ProxyConfig {
        let args = ["dynamodb-proxy", "--upstream", "http://u"]
            .iter()
            .chain(args);
        Args::try_parse_from(args).unwrap().config().unwrap()
    }

    #[test]
    fn faithful_turns_every_part_on_and_a_flag_changes_or_stops_one() {
        let faithful = config(&["--faithful"]);
        let changed = config(&[
            "--faithful",
            "--index-lag-ms",
            "250",
            "--server-error-rate",
            "0",
        ]);

        assert_eq!(faithful, ProxyConfig::faithful("http://u"));
        assert_eq!(changed.index_lag, Some(Duration::from_millis(250)));
        assert_eq!(changed.server_errors, None);
        assert_eq!(changed.conflicts, faithful.conflicts);
    }

    #[test]
    fn without_flags_the_proxy_is_transparent_and_each_flag_turns_its_part_on() {
        let plain = config(&[]);
        let parts = config(&[
            "--write-units",
            "10",
            "--index-lag-ms",
            "1500",
            "--server-error-rate",
            "0.2",
            "--seed",
            "7",
            "--conflicts-hold-ms",
            "5",
            "--latency-ms",
            "2",
        ]);

        assert_eq!(plain, ProxyConfig::transparent("http://u"));
        assert_eq!(
            parts.throughput.map(|l| l.write_units_per_second),
            Some(10.0)
        );
        assert_eq!(parts.index_lag, Some(Duration::from_millis(1500)));
        assert_eq!(
            parts.server_errors,
            Some(ServerErrors { rate: 0.2, seed: 7 })
        );
        assert_eq!(parts.conflicts, Some(Duration::from_millis(5)));
        assert_eq!(parts.latency, Duration::from_millis(2));
    }

    #[test]
    fn a_bad_value_is_refused_with_its_flag_named() {
        let error = Args::try_parse_from([
            "dynamodb-proxy",
            "--upstream",
            "u",
            "--index-lag-ms",
            "soon",
        ])
        .unwrap_err()
        .to_string();
        let rate = Args::try_parse_from([
            "dynamodb-proxy",
            "--upstream",
            "u",
            "--server-error-rate",
            "2",
        ])
        .unwrap()
        .config()
        .unwrap_err();

        assert!(error.contains("--index-lag-ms"), "{error}");
        assert!(rate.contains("--server-error-rate"), "{rate}");
        assert!(
            Args::try_parse_from(["dynamodb-proxy"]).is_err(),
            "--upstream is required"
        );
    }
}
