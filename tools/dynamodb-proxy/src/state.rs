//! The state every connection of a proxy shares ([`Shared`]): its
//! configuration, the upstream client, the tables' schemas, the held items,
//! the throughput buckets, the armed faults and the counters. Requests are
//! answered by its methods in the crate root (forwarding) and in `rules`
//! (the verdicts); both use this module, which uses neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::ProxyConfig;
use crate::conflicts::Holds;
use crate::faults::Faults;
use crate::schema::TableSchema;
use crate::summary::Counters;
use crate::throughput::Buckets;
use crate::upstream::Upstream;

/// The state every connection shares.
pub(crate) struct Shared {
    pub(crate) config: RwLock<ProxyConfig>,
    pub(crate) upstream: Upstream,
    pub(crate) schemas: Mutex<HashMap<String, Arc<TableSchema>>>,
    pub(crate) holds: Holds,
    pub(crate) buckets: Buckets,
    pub(crate) faults: Faults,
    pub(crate) counters: Counters,
}

impl Shared {
    /// Fresh state for a proxy configured by `config`.
    pub(crate) fn new(config: ProxyConfig) -> Self {
        Self {
            config: RwLock::new(config),
            upstream: Upstream::default(),
            schemas: Mutex::default(),
            holds: Holds::default(),
            buckets: Buckets::default(),
            faults: Faults::default(),
            counters: Counters::default(),
        }
    }

    /// Changes the configuration for the next requests.
    pub(crate) fn set_config(&self, config: ProxyConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> ProxyConfig {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The table's schema, from the cache or the upstream's `DescribeTable`.
    pub(crate) async fn schema(
        &self,
        table: &str,
        headers: &hyper::HeaderMap,
    ) -> Option<Arc<TableSchema>> {
        if let Some(schema) = self
            .schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(table)
        {
            return Some(Arc::clone(schema));
        }
        let upstream = self.config().upstream;
        let answer = self
            .upstream
            .call(
                &upstream,
                headers,
                "DescribeTable",
                &serde_json::json!({"TableName": table}),
            )
            .await?;
        let schema = Arc::new(TableSchema::from_describe(&answer)?);
        self.schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(table.to_owned(), Arc::clone(&schema));
        Some(schema)
    }
}
