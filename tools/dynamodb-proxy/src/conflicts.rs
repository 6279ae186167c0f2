//! The items held by transactions: while a `TransactWriteItems` is in
//! flight, and for a hold after the upstream answers it, its items (table
//! and full primary key) belong to it; another transaction or a
//! single-item write touching one of them conflicts.
//!
//! The service behaves so because a transaction's items stay prepared
//! between its prepare and commit phases (Idziorek et al., "Distributed
//! Transactions at Scale in Amazon DynamoDB", USENIX ATC 2023: in its
//! write-transaction protocol an item prepared for one transaction rejects
//! other transactions and single-item writes until the coordinator
//! commits), which the developer guide's "Transaction conflict handling in
//! DynamoDB" describes from the outside.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One item: the table's name and the item's canonical primary key.
pub type ItemId = (String, String);

#[derive(Debug, Clone, Copy)]
struct Hold {
    owner: u64,
    /// `None` while the transaction is in flight.
    until: Option<Instant>,
}

impl Hold {
    fn active(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// The items held by transactions.
#[derive(Debug, Default)]
pub struct Holds {
    state: Mutex<(u64, HashMap<ItemId, Hold>)>,
}

/// What a successful [`Holds::acquire`] returns: who holds the items.
#[derive(Debug)]
pub struct Ticket {
    owner: u64,
    items: Vec<ItemId>,
}

impl Holds {
    /// Holds every item for a new transaction, or, if any is held by
    /// another, holds none and says which ones conflict (in request order).
    pub fn acquire(&self, items: &[ItemId]) -> Result<Ticket, Vec<bool>> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (next, held) = &mut *state;
        held.retain(|_, hold| hold.active(now));
        let conflicts: Vec<bool> = items.iter().map(|item| held.contains_key(item)).collect();
        if conflicts.iter().any(|c| *c) {
            return Err(conflicts);
        }
        *next += 1;
        for item in items {
            held.insert(
                item.clone(),
                Hold {
                    owner: *next,
                    until: None,
                },
            );
        }
        Ok(Ticket {
            owner: *next,
            items: items.to_vec(),
        })
    }

    /// Whether a transaction holds the item now.
    pub fn is_held(&self, item: &ItemId) -> bool {
        let now = Instant::now();
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1.get(item).is_some_and(|hold| hold.active(now))
    }

    /// Ends a transaction: its items stay held for `hold` more (a committed
    /// transaction), or are freed at once (`Duration::ZERO`, e.g. a cancelled one).
    pub fn release(&self, ticket: Ticket, hold: Duration) {
        let until = Instant::now() + hold;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for item in ticket.items {
            if let Some(entry) = state.1.get_mut(&item) {
                if entry.owner == ticket.owner {
                    entry.until = Some(until);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str) -> ItemId {
        ("t".into(), key.into())
    }

    #[test]
    fn a_held_item_conflicts_and_a_free_one_does_not() {
        let holds = Holds::default();
        let _first = holds.acquire(&[item("a"), item("b")]).unwrap();

        let second = holds.acquire(&[item("c"), item("b")]);

        assert_eq!(second.unwrap_err(), vec![false, true]);
        assert!(holds.acquire(&[item("c")]).is_ok());
    }

    #[test]
    fn a_released_item_is_free_after_its_hold() {
        let holds = Holds::default();
        let ticket = holds.acquire(&[item("a")]).unwrap();

        holds.release(ticket, Duration::from_millis(20));

        assert!(holds.is_held(&item("a")));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!holds.is_held(&item("a")));
    }
}
