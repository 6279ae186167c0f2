//! The state every connection of a proxy shares ([`Shared`]): its
//! configuration, the upstream client, the tables' schemas, the held items,
//! the throughput buckets, the armed faults, the index views, the server
//! errors' draws and the counters. Requests are answered by its methods in
//! the crate root (forwarding), `rules` (the verdicts) and `index_view`;
//! they use this module, which uses none of them but `index_view`'s state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::ProxyConfig;
use crate::conflicts::Holds;
use crate::faults::Faults;
use crate::index_view::IndexViews;
use crate::schema::TableSchema;
use crate::server_errors::Draws;
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
    pub(crate) views: IndexViews,
    pub(crate) draws: Draws,
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
            views: IndexViews::default(),
            draws: Draws::default(),
            counters: Counters::default(),
        }
    }

    /// Changes the configuration (all but `listen`) for the next requests.
    /// Turning index lag on again makes the index views anew (they missed
    /// the writes made while it was off).
    pub(crate) fn set_config(&self, config: ProxyConfig) {
        let resumed = config.index_lag.is_some();
        let mut current = self.config.write().unwrap_or_else(|e| e.into_inner());
        if resumed && current.index_lag.is_none() {
            self.views.resume();
        }
        *current = config;
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
