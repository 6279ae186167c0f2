//! What a proxy does ([`ProxyConfig`]) and the service's figures it
//! defaults to ([`DEFAULT_HOLD`], [`IN_REGION_LATENCY`], and the other
//! parts' own defaults).

use std::net::SocketAddr;
use std::time::Duration;

use crate::server_errors::ServerErrors;
use crate::throughput::Limits;

/// The lag `--faithful` turns on: one second, the upper end of "typically
/// within one second" (AWS knowledge center; see `index_view`), so that code meets the
/// longest lag it must expect in normal operation.
pub const DEFAULT_INDEX_LAG: Duration = Duration::from_secs(1);

/// The default hold of a transaction's items after the upstream answers it.
///
/// The service keeps a transaction's items prepared from its prepare phase
/// until its commit phase ends (Idziorek et al., "Distributed Transactions
/// at Scale in Amazon DynamoDB", USENIX ATC 2023). The paper plots
/// `TransactWriteItems` latency without absolute values; what AWS publishes
/// is DynamoDB's "single-digit millisecond" latency per request (developer
/// guide, "What is Amazon DynamoDB?"), and a transaction takes two such
/// rounds (prepare, then commit). DynamoDB Local's own time in flight is
/// held too, so 10 ms after its answer models a transaction of two
/// single-digit-millisecond phases. The answer is sent when the hold ends
/// (the service answers a transaction after its commit phase), so the hold
/// also lengthens a transaction's latency, as on the service.
pub const DEFAULT_HOLD: Duration = Duration::from_millis(10);

/// A few milliseconds, like a call within a region.
pub const IN_REGION_LATENCY: Duration = Duration::from_millis(3);

/// What the proxy does; every part can be changed while it runs ([`Proxy::set_config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// The upstream's base URL, e.g. `http://127.0.0.1:8000`.
    pub upstream: String,
    /// Where to listen (127.0.0.1, port 0 for a free one); read at start only.
    pub listen: SocketAddr,
    /// Transaction conflicts: the hold after a transaction's answer; `None` turns them off.
    pub conflicts: Option<Duration>,
    /// Per-partition throughput limits; `None` turns throttling off.
    pub throughput: Option<Limits>,
    /// Index propagation lag: how old a table the reads of its global
    /// secondary indexes see; `None` turns it off (indexes read-your-writes,
    /// as DynamoDB Local's).
    pub index_lag: Option<Duration>,
    /// The rate of `InternalServerError`s; `None` turns them off.
    pub server_errors: Option<ServerErrors>,
    /// Delay before each forwarded call (`Duration::ZERO`: none).
    pub latency: Duration,
}

impl ProxyConfig {
    /// Every part off: a pass-through to `upstream`, on a free 127.0.0.1 port.
    pub fn transparent(upstream: impl Into<String>) -> Self {
        Self {
            upstream: upstream.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            conflicts: None,
            throughput: None,
            index_lag: None,
            server_errors: None,
            latency: Duration::ZERO,
        }
    }

    /// Every part on with the service's figures: [`DEFAULT_HOLD`], the
    /// default [`Limits`], [`DEFAULT_INDEX_LAG`], the default
    /// [`ServerErrors`] ([`crate::server_errors::FAITHFUL_RATE`], seed
    /// [`crate::server_errors::DEFAULT_SEED`]) and [`IN_REGION_LATENCY`].
    pub fn faithful(upstream: impl Into<String>) -> Self {
        Self {
            conflicts: Some(DEFAULT_HOLD),
            throughput: Some(Limits::default()),
            index_lag: Some(DEFAULT_INDEX_LAG),
            server_errors: Some(ServerErrors::default()),
            latency: IN_REGION_LATENCY,
            ..Self::transparent(upstream)
        }
    }
}
