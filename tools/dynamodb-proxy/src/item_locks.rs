//! Writes to one item through the proxy, one at a time: while the index
//! view ([`crate::index_view`]) learns a write's result (the item as the
//! write left it, read back), no other write to that item runs, so each
//! result it records is the item exactly after that write, and the results
//! of one item reach the view in commit order.
//!
//! DynamoDB Local serializes writes to an item anyway; the lock adds only
//! the read-back to the time a write holds it. Items are locked in one
//! order (sorted), so two writes of several items never wait on each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::conflicts::ItemId;

/// The locks of the items being written.
#[derive(Debug, Default)]
pub struct ItemLocks {
    locks: Mutex<HashMap<ItemId, Arc<tokio::sync::Mutex<()>>>>,
}

/// The items a write holds, released when dropped.
pub struct Held<'a> {
    owner: &'a ItemLocks,
    guards: Vec<(ItemId, OwnedMutexGuard<()>)>,
}

impl ItemLocks {
    /// Waits until no other write holds any of `items`, then holds them all.
    pub async fn lock(&self, items: &[ItemId]) -> Held<'_> {
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        let mut guards = Vec::with_capacity(items.len());
        for item in items {
            let lock = Arc::clone(
                self.locks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(item.clone())
                    .or_default(),
            );
            guards.push((item, lock.lock_owned().await));
        }
        Held {
            owner: self,
            guards,
        }
    }

    /// How many items have a lock now (held or waited on).
    pub fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no item has a lock.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut locks = self.owner.locks.lock().unwrap_or_else(|e| e.into_inner());
        for (item, guard) in self.guards.drain(..) {
            drop(guard);
            // Only the map's own reference left: nobody holds or waits.
            if locks.get(&item).is_some_and(|l| Arc::strong_count(l) == 1) {
                locks.remove(&item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn item(key: &str) -> ItemId {
        ("t".into(), key.into())
    }

    #[tokio::test]
    async fn a_second_write_of_an_item_waits_for_the_first_and_others_do_not() {
        let locks = Arc::new(ItemLocks::default());
        let first = locks.lock(&[item("a"), item("b")]).await;

        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock(&[item("c")])).await;
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(&[item("b")])).await;

        assert!(other.is_ok(), "another item is free");
        assert!(same.is_err(), "the held item waits");
        drop(other);
        drop(first);
        assert!(locks.is_empty(), "released locks are forgotten");
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock(&[item("b")])).await;
        assert!(again.is_ok());
    }
}
