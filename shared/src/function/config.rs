//! Configuration read once from the environment at start-up.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TABLE_NAME` | the DynamoDB table | required |
//! | `KEY_CACHE_TTL_SECONDS` | how long a key look-up is cached, 0–60 | 60 |
//! | `METRICS_NAMESPACE` | CloudWatch namespace of the EMF metrics | none: no metrics |
//! | `COUNT_SHARDS` | counts shards each write spreads over, 1–1000 | 128 |
//! | `RATE_LIMITS` | `on` or `off`: the per-organization rate limiter | `on` |
//! | `DEFAULT_PLAN` | the plan of organizations that have none: `free`, `standard`, `enterprise`, `local` | `standard` |
//!
//! The AWS SDK reads its own variables (`AWS_REGION`, credentials, and
//! `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local; blank there means AWS's
//! endpoint, `store::table::ENDPOINT_VARIABLE`).

use std::time::Duration;

use crate::domain::plan::PlanName;
use crate::store::counts::{DEFAULT_SHARDS, MAX_SHARDS};

/// The longest (and default) key look-up cache lifetime.
pub const MAX_KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// A function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TABLE_NAME`.
    pub table_name: String,
    /// `KEY_CACHE_TTL_SECONDS`.
    pub key_cache_ttl: Duration,
    /// `METRICS_NAMESPACE`: where the per-request EMF metrics go; unset or
    /// blank, no metrics are written (local runs).
    pub metrics_namespace: Option<String>,
    /// `COUNT_SHARDS`: how many counts shards writes spread over.
    pub count_shards: u16,
    /// `RATE_LIMITS`: whether each organization is held to its plan.
    pub rate_limits: bool,
    /// `DEFAULT_PLAN`: the plan of an organization that has none.
    pub default_plan: PlanName,
}

/// A setting that is missing or out of its range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `TABLE_NAME` is missing or blank.
    #[error("TABLE_NAME is not set: name the DynamoDB table of the clients")]
    MissingTableName,
    /// `COUNT_SHARDS` is not 1–1000.
    #[error("COUNT_SHARDS must be a whole number from 1 to 1000, got {0:?}")]
    InvalidCountShards(String),
    /// `KEY_CACHE_TTL_SECONDS` is not 0–60.
    #[error("KEY_CACHE_TTL_SECONDS must be a whole number of seconds from 0 to 60, got {0:?}")]
    InvalidKeyCacheTtl(String),
    /// `RATE_LIMITS` is neither `on` nor `off`.
    #[error("RATE_LIMITS must be on or off, got {0:?}")]
    InvalidRateLimits(String),
    /// `DEFAULT_PLAN` names no plan.
    #[error("DEFAULT_PLAN: {0}")]
    InvalidDefaultPlan(String),
}

impl Config {
    /// The defaults, for the table `name` (tests and tools), with the
    /// generous `local` plan as the default plan, so that nothing a test
    /// suite sends is refused unless its organization is given a limit.
    pub fn for_table(name: &str) -> Self {
        Self {
            table_name: name.to_owned(),
            key_cache_ttl: MAX_KEY_CACHE_TTL,
            metrics_namespace: None,
            count_shards: DEFAULT_SHARDS,
            rate_limits: true,
            default_plan: PlanName::Local,
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .filter(|name| !name.trim().is_empty())
            .ok_or(ConfigError::MissingTableName)?;
        let key_cache_ttl = match lookup("KEY_CACHE_TTL_SECONDS") {
            None => MAX_KEY_CACHE_TTL,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|ttl| *ttl <= MAX_KEY_CACHE_TTL)
                .ok_or(ConfigError::InvalidKeyCacheTtl(text))?,
        };
        let count_shards = match lookup("COUNT_SHARDS") {
            None => DEFAULT_SHARDS,
            Some(text) => text
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|shards| (1..=MAX_SHARDS).contains(shards))
                .ok_or(ConfigError::InvalidCountShards(text))?,
        };
        let rate_limits = match lookup("RATE_LIMITS").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(ConfigError::InvalidRateLimits(other.to_owned())),
        };
        let default_plan = match lookup("DEFAULT_PLAN") {
            None => PlanName::default(),
            Some(text) => text.parse().map_err(ConfigError::InvalidDefaultPlan)?,
        };
        Ok(Self {
            table_name,
            key_cache_ttl,
            metrics_namespace: metrics_namespace(&lookup),
            count_shards,
            rate_limits,
            default_plan,
        })
    }
}

/// `METRICS_NAMESPACE`, unless unset or blank.
pub fn metrics_namespace(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup("METRICS_NAMESPACE")
        .map(|namespace| namespace.trim().to_owned())
        .filter(|namespace| !namespace.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn table_name_is_required() {
        assert_eq!(config(&[]), Err(ConfigError::MissingTableName));
    }

    #[test]
    fn key_cache_ttl_defaults_to_sixty_seconds_and_cannot_exceed_it() {
        assert_eq!(
            config(&[("TABLE_NAME", "t")]).unwrap().key_cache_ttl,
            MAX_KEY_CACHE_TTL
        );
        assert_eq!(
            config(&[("TABLE_NAME", "t"), ("KEY_CACHE_TTL_SECONDS", "0")])
                .unwrap()
                .key_cache_ttl,
            Duration::ZERO
        );
        assert!(config(&[("TABLE_NAME", "t"), ("KEY_CACHE_TTL_SECONDS", "61")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("KEY_CACHE_TTL_SECONDS", "x")]).is_err());
    }

    #[test]
    fn count_shards_default_to_the_store_figure_and_are_bounded() {
        let shards = |text: &str| config(&[("TABLE_NAME", "t"), ("COUNT_SHARDS", text)]);

        assert_eq!(
            config(&[("TABLE_NAME", "t")]).unwrap().count_shards,
            DEFAULT_SHARDS
        );
        assert_eq!(shards("1").unwrap().count_shards, 1);
        assert_eq!(shards("1000").unwrap().count_shards, 1000);
        for bad in ["0", "1001", "-1", "x", ""] {
            assert!(shards(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rate_limits_are_on_with_the_standard_plan_unless_configured() {
        let default = config(&[("TABLE_NAME", "t")]).unwrap();
        let local = config(&[
            ("TABLE_NAME", "t"),
            ("RATE_LIMITS", "off"),
            ("DEFAULT_PLAN", "local"),
        ])
        .unwrap();

        assert!(default.rate_limits);
        assert_eq!(default.default_plan, PlanName::Standard);
        assert!(!local.rate_limits);
        assert_eq!(local.default_plan, PlanName::Local);
        assert!(config(&[("TABLE_NAME", "t"), ("RATE_LIMITS", "yes")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("DEFAULT_PLAN", "gold")]).is_err());
    }

    #[test]
    fn metrics_are_written_only_with_a_namespace() {
        let with = config(&[
            ("TABLE_NAME", "t"),
            ("METRICS_NAMESPACE", " ClientsApi/dev "),
        ]);
        let blank = config(&[("TABLE_NAME", "t"), ("METRICS_NAMESPACE", " ")]);

        assert_eq!(
            with.unwrap().metrics_namespace.as_deref(),
            Some("ClientsApi/dev")
        );
        assert_eq!(blank.unwrap().metrics_namespace, None);
        assert_eq!(
            config(&[("TABLE_NAME", "t")]).unwrap().metrics_namespace,
            None
        );
    }
}
