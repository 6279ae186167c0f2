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
//!
//! A transaction with the `ClientRequestToken` of one that still holds its
//! items (in flight, or in the hold before its answer) does not conflict with
//! it: the service answers it `TransactionInProgressException` ("the
//! transaction with the given request token is already in progress", API
//! reference, `TransactWriteItems`), which the SDK retries. A repeat after
//! that is forwarded, and DynamoDB Local answers it as the first (the token
//! is idempotent for 10 minutes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One item: the table's name and the item's canonical primary key.
pub type ItemId = (String, String);

#[derive(Debug, Clone)]
struct Hold {
    owner: u64,
    /// The holder's `ClientRequestToken`, if it sent one.
    token: Option<String>,
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

/// Why [`Holds::acquire`] refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Items held by other transactions: `true` for each one, in request order.
    Conflict(Vec<bool>),
    /// A transaction with the same `ClientRequestToken` is still in flight.
    InProgress,
}

/// What a successful [`Holds::acquire`] returns: who holds the items.
#[derive(Debug)]
pub struct Ticket {
    owner: u64,
    items: Vec<ItemId>,
}

impl Holds {
    /// Holds every item for a new transaction (`token`: its
    /// `ClientRequestToken`), or, if any is held by another, holds none and
    /// says why (see the module header for a repeated token).
    pub fn acquire(&self, items: &[ItemId], token: Option<&str>) -> Result<Ticket, Refusal> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (next, held) = &mut *state;
        held.retain(|_, hold| hold.active(now));
        let same_token = |hold: &Hold| token.is_some() && hold.token.as_deref() == token;
        if items
            .iter()
            .filter_map(|item| held.get(item))
            .any(same_token)
        {
            return Err(Refusal::InProgress);
        }
        let conflicts: Vec<bool> = items.iter().map(|item| held.contains_key(item)).collect();
        if conflicts.iter().any(|c| *c) {
            return Err(Refusal::Conflict(conflicts));
        }
        *next += 1;
        for item in items {
            held.insert(
                item.clone(),
                Hold {
                    owner: *next,
                    token: token.map(str::to_owned),
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
        let _first = holds.acquire(&[item("a"), item("b")], None).unwrap();

        let second = holds.acquire(&[item("c"), item("b")], None);

        assert_eq!(second.unwrap_err(), Refusal::Conflict(vec![false, true]));
        assert!(holds.acquire(&[item("c")], None).is_ok());
    }

    #[test]
    fn a_released_item_is_free_after_its_hold() {
        let holds = Holds::default();
        let ticket = holds.acquire(&[item("a")], None).unwrap();

        holds.release(ticket, Duration::from_millis(20));

        assert!(holds.is_held(&item("a")));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!holds.is_held(&item("a")));
    }

    #[test]
    fn a_repeat_of_a_transaction_holding_its_items_is_in_progress_and_one_after_passes() {
        let holds = Holds::default();
        let first = holds.acquire(&[item("a")], Some("token-1")).unwrap();

        let in_flight = holds.acquire(&[item("a")], Some("token-1"));
        let other = holds.acquire(&[item("a")], Some("token-2"));
        holds.release(first, Duration::from_millis(50));
        let in_hold = holds.acquire(&[item("a")], Some("token-1"));
        std::thread::sleep(Duration::from_millis(60));
        let after_commit = holds.acquire(&[item("a")], Some("token-1"));

        assert_eq!(in_flight.unwrap_err(), Refusal::InProgress);
        assert_eq!(other.unwrap_err(), Refusal::Conflict(vec![true]));
        assert_eq!(in_hold.unwrap_err(), Refusal::InProgress);
        assert!(after_commit.is_ok());
    }
}
