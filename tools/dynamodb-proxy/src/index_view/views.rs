//! The index views' bookkeeping ([`IndexViews`]): which view each table
//! has, and the writes on their way to the views ([`Pending`], in due
//! order). The proxy's state holds it; `index_view` makes the views, records
//! the writes and applies them.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::header::HeaderMap;
use serde_json::{Map, Value};
use tokio::sync::{Notify, OnceCell};
use tokio::time::Instant;

use crate::item_locks::ItemLocks;

/// One item's new state, for the view at `due`.
pub(super) struct Pending {
    pub(super) due: Instant,
    pub(super) seq: u64,
    pub(super) view: String,
    pub(super) key: Map<String, Value>,
    /// `None`: no item (deleted, or in no index).
    pub(super) image: Option<Map<String, Value>>,
    pub(super) credentials: HeaderMap,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The views known to the proxy and the writes on their way to them.
#[derive(Default)]
pub struct IndexViews {
    /// Per table: its view's name once made or found (`None`: no view).
    pub(super) tables: Mutex<HashMap<String, Arc<OnceCell<Option<String>>>>>,
    /// Tables whose view is made again on next use (lag was off meanwhile).
    pub(super) recopy: Mutex<HashSet<String>>,
    pub(super) pending: Mutex<BinaryHeap<Reverse<Pending>>>,
    /// The sequence numbers of the writes scheduled and not yet in their view.
    pub(super) outstanding: Mutex<BTreeSet<u64>>,
    pub(super) wake: Notify,
    pub(super) seq: AtomicU64,
    pub(super) locks: ItemLocks,
    /// Per view this proxy made and filled: the keys of the items it holds.
    /// A write that leaves an item in no index need not reach a view that
    /// does not hold its key (most writes of a table whose items are mostly
    /// in no index: without this every one of them would cost the view a
    /// delete, and the views would fall behind a busy table). A view found
    /// made by another proxy is not here: its every such write is applied.
    pub(super) held_keys: Mutex<HashMap<String, HashSet<String>>>,
}

/// A key as [`IndexViews::held_keys`] holds it.
pub(super) fn key_text(key: &Map<String, Value>) -> String {
    Value::Object(key.clone()).to_string()
}

impl IndexViews {
    /// Forgets what it knows of the tables (their definitions changed).
    pub fn forget(&self) {
        self.tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Lag was turned on again: the views this proxy kept missed the writes
    /// since, so they are made again on next use.
    pub fn resume(&self) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        self.recopy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tables.drain().map(|(table, _)| table));
    }

    pub(super) fn cell(&self, table: &str) -> Arc<OnceCell<Option<String>>> {
        Arc::clone(
            self.tables
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(table.to_owned())
                .or_default(),
        )
    }

    pub(super) fn schedule(&self, pending: Pending) {
        self.outstanding
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pending.seq);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Reverse(pending));
        self.wake.notify_one();
    }

    pub(super) fn drop_pending(&self, view: &str) {
        let mut dropped = Vec::new();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|Reverse(p)| {
                let keep = p.view != view;
                if !keep {
                    dropped.push(p.seq);
                }
                keep
            });
        self.done(dropped);
    }

    /// These writes are in their view (or never will be).
    pub(super) fn done(&self, seqs: impl IntoIterator<Item = u64>) {
        let mut outstanding = self.outstanding.lock().unwrap_or_else(|e| e.into_inner());
        for seq in seqs {
            outstanding.remove(&seq);
        }
    }

    /// Waits until every write scheduled so far is in its view: from then
    /// on, index reads see every write answered before the call.
    pub async fn settled(&self) {
        let mark = self.seq.load(AtomicOrdering::Relaxed);
        loop {
            let first = self
                .outstanding
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .first()
                .copied();
            if first.is_none_or(|seq| seq >= mark) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts keeping the keys `view` holds (it was just made, holding these).
    pub(super) fn hold_keys(&self, view: &str, keys: impl IntoIterator<Item = String>) {
        self.held_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(view.to_owned(), keys.into_iter().collect());
    }

    /// No longer knows which keys `view` holds.
    pub(super) fn forget_keys(&self, view: &str) {
        self.held_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(view);
    }

    /// Leaves out of `batch` the deletes of keys its view is known not to
    /// hold (and says them done); then counts the rest as held or not.
    pub(super) fn needed(&self, batch: Vec<Pending>) -> Vec<Pending> {
        let mut held = self.held_keys.lock().unwrap_or_else(|e| e.into_inner());
        let mut skipped = Vec::new();
        let mut needed = Vec::with_capacity(batch.len());
        for pending in batch {
            let Some(keys) = held.get_mut(&pending.view) else {
                needed.push(pending);
                continue;
            };
            let key = key_text(&pending.key);
            if pending.image.is_some() {
                keys.insert(key);
                needed.push(pending);
            } else if keys.remove(&key) {
                needed.push(pending);
            } else {
                skipped.push(pending.seq);
            }
        }
        drop(held);
        self.done(skipped);
        needed
    }

    /// Every pending write due by `now`, in due order.
    pub(super) fn due(&self, now: Instant) -> Result<Vec<Pending>, Option<Instant>> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        while pending.peek().is_some_and(|Reverse(p)| p.due <= now) {
            if let Some(Reverse(p)) = pending.pop() {
                due.push(p);
            }
        }
        if due.is_empty() {
            return Err(pending.peek().map(|Reverse(p)| p.due));
        }
        Ok(due)
    }
}
