//! The one write path of the client store: how a create, an update or a
//! delete commits its transaction, and the one retry policy all three
//! follow when an attempt fails.
//!
//! Every write is a `TransactWriteItems` of the client's item (and, for a
//! keyed create, its idempotency record) plus, when the organization's
//! counts change, one counts shard leased for it ([`super::counts`]), last.
//! Each transaction carries a fresh `ClientRequestToken`, so that the SDK's
//! own retries of it (after an attempt timed out, say) are idempotent: the
//! service answers a repeat of a committed transaction with success and a
//! repeat of one still running with `TransactionInProgressException`
//! (which the SDK retries), instead of applying it twice or conflicting
//! with itself.
//!
//! [`retrying`] runs a write's attempts. After a failed attempt it waits as
//! [`pause_before`] says and tries again, at most [`MAX_WRITE_ATTEMPTS`]
//! times; a write that used them all up is [`StoreError::Unavailable`]
//! (the HTTP edge answers 503 with `Retry-After`), never a conflict: losing
//! races to other writers is the service being busy, not the caller's
//! fault. Whether that write may have been applied all the same is the
//! write's [`super::outcome::WriteOutcome`], which the caller's watch
//! supplies ([`super::outcome::watch_writes`]).
//!
//! Every write also has a [`WriteDeadline`]: the caller is answered within
//! [`WRITE_BUDGET`] of its handler's start, committed or not. No attempt
//! starts that could not end before it, and an attempt still unanswered at
//! the deadline is given up (its transaction may still commit: the watch
//! then says the write may have been applied).

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::counts::{self, ShardPicker};
use super::error::StoreError;
use super::table::Table;
use crate::domain::model::{OrgId, Status};

/// How many times a write is attempted when it keeps losing races.
pub const MAX_WRITE_ATTEMPTS: u32 = 8;

/// How long after its handler started a write is answered at the latest,
/// the key look-up and all its attempts and pauses included: a caller is
/// told within a second that the service is busy (with `local-api`'s wait
/// for a container, at most 0.3 s by default), rather than after seconds of
/// timeouts. On the service a transaction takes milliseconds: the deadline
/// only ever ends writes of an overloaded or failing table.
pub const WRITE_BUDGET: Duration = Duration::from_millis(700);
/// No attempt starts with less than this left before the deadline: it
/// would most likely be cut off unanswered, turning a write that certainly
/// changed nothing into one that may have.
pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(100);

/// The instant by which a write ends, committed or not.
#[derive(Debug, Clone, Copy)]
pub struct WriteDeadline(tokio::time::Instant);

impl WriteDeadline {
    /// The deadline of a write whose handler starts now: [`WRITE_BUDGET`] from now.
    pub fn from_now() -> Self {
        Self::after(WRITE_BUDGET)
    }

    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(tokio::time::Instant::now() + budget)
    }

    /// The time left before it.
    pub fn remaining(&self) -> Duration {
        self.0
            .saturating_duration_since(tokio::time::Instant::now())
    }
}

/// Which write is being attempted (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Creating a client.
    Create,
    /// Updating a client.
    Update,
    /// Deleting a client.
    Delete,
}

/// Why one attempt of a write did not commit.
#[derive(Debug)]
pub enum Failure {
    /// A condition (`version`, `attribute_not_exists`) did not hold.
    ConditionFailed,
    /// Another transaction touched the same items at the same time.
    Conflict {
        /// Whether the only item contested was the counts shard.
        counts_only: bool,
    },
    /// DynamoDB throttled it: nothing was written.
    Throttled(StoreError),
    /// Anything else: the write ends with this error.
    Fatal(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Fatal(error)
    }
}

/// The organization's count changes a transaction carries.
pub type CountChanges<'a> = Option<(&'a OrgId, &'a [(Status, i64)])>;

/// Commits `items` as one transaction with a fresh `ClientRequestToken`,
/// with the organization's count `changes` on a shard leased from `shards`
/// when `counted` is given (last, so that a conflict on it alone is
/// recognised and retried at once on another). An attempt still
/// unanswered at `deadline` is given up: [`StoreError::Unavailable`], which
/// the watch marks as maybe applied (the transaction was sent).
pub async fn transact(
    table: &Table,
    shards: &ShardPicker,
    mut items: Vec<TransactWriteItem>,
    counted: CountChanges<'_>,
    deadline: WriteDeadline,
) -> Result<(), Failure> {
    let lease = match counted {
        Some((org, changes)) => {
            let lease = shards.lease();
            items.push(counts::change(table, org, lease.shard(), changes)?);
            Some(lease)
        }
        None => None,
    };
    let counts_last = lease.is_some();
    let outcome = match tokio::time::timeout_at(deadline.0, send(table, items, counts_last)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::Fatal(StoreError::unavailable(
            "the write's transaction was unanswered at its deadline",
        ))),
    };
    if let (Some(lease), Err(Failure::Conflict { counts_only: true })) = (lease, &outcome) {
        lease.contested();
    }
    outcome
}

/// Sends one transaction and sorts its failure out.
async fn send(
    table: &Table,
    items: Vec<TransactWriteItem>,
    counts_last: bool,
) -> Result<(), Failure> {
    let last = items.len().saturating_sub(1);
    let result = table
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .client_request_token(uuid::Uuid::now_v7().to_string())
        .send()
        .await;
    let service = match result {
        Ok(_) => return Ok(()),
        Err(SdkError::ServiceError(service)) => service,
        Err(error) => return Err(Failure::Fatal(error.into())),
    };
    match service.err() {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            // One reason per item, in the order of the items.
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            let conflicted: Vec<usize> = (0..codes.len())
                .filter(|&i| codes[i] == "TransactionConflict")
                .collect();
            if codes.contains(&"ConditionalCheckFailed") {
                Err(Failure::ConditionFailed)
            } else if codes.contains(&"ThrottlingError") {
                // The service throttles a transaction by cancelling it;
                // nothing was written, and the SDK does not retry it.
                Err(Failure::Throttled(StoreError::unavailable(
                    SdkError::ServiceError(service),
                )))
            } else if !conflicted.is_empty() {
                Err(Failure::Conflict {
                    counts_only: counts_last && conflicted == [last],
                })
            } else {
                Err(Failure::Fatal(SdkError::ServiceError(service).into()))
            }
        }
        // The SDK retried it and it is still running: it may yet commit.
        TransactWriteItemsError::TransactionInProgressException(_) => Err(Failure::Fatal(
            StoreError::maybe_applied(SdkError::ServiceError(service)),
        )),
        _ => Err(Failure::Fatal(SdkError::ServiceError(service).into())),
    }
}

/// Runs `attempt` (given its 1-based number) until it commits or ends the
/// write, following the one retry policy ([`pause_before`]); after
/// [`MAX_WRITE_ATTEMPTS`] failed attempts, or when the next one could not
/// start [`MIN_ATTEMPT_TIME`] before `deadline`, the write is
/// [`StoreError::Unavailable`] (the last throttling error, or the lost races).
pub async fn retrying<T, F, Fut>(
    kind: WriteKind,
    shards: &ShardPicker,
    deadline: WriteDeadline,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    if deadline.remaining() < MIN_ATTEMPT_TIME {
        // The request's own work before the write (the key look-up, the
        // rate limiter's lease) used up its budget: nothing is sent.
        return Err(StoreError::unavailable(format!(
            "{kind:?} reached its deadline before its first attempt"
        )));
    }
    let mut last_throttled = None;
    let mut made = 0;
    for number in 1..=MAX_WRITE_ATTEMPTS {
        made = number;
        let failure = match attempt(number).await {
            Ok(done) => return Ok(done),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(failure) => failure,
        };
        let pause = jittered(pause_before(number + 1, &failure, shards.shards()));
        tracing::debug!(attempt = number, ?kind, ?failure, "write attempt failed");
        if let Failure::Throttled(error) = failure {
            last_throttled = Some(error);
        }
        if number == MAX_WRITE_ATTEMPTS || deadline.remaining() < pause + MIN_ATTEMPT_TIME {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    Err(last_throttled.unwrap_or_else(|| {
        StoreError::unavailable(format!(
            "{kind:?} lost the race to concurrent writers on each of its {made} attempts"
        ))
    }))
}

/// The one retry rule: the longest pause (jittered down to 1 ms) before
/// attempt `next` (2-based) after `failure`.
///
/// - A conflict on the counts shard alone: the next attempt leases another
///   shard, so it need not wait for the other transaction; a short pause
///   (up to 2 ms, doubling to 16 ms) only keeps retries from arriving in
///   lockstep, for the first three attempts and with more than one shard.
/// - Anything else (a changed version, a conflict on the client, a
///   throttled transaction): exponential backoff from 20 ms, doubling up to
///   320 ms, with full jitter so racing writers spread out.
pub fn pause_before(next: u32, failure: &Failure, shards: u16) -> Duration {
    let attempt = next - 1;
    let cap_ms = match failure {
        Failure::Conflict { counts_only: true } if shards > 1 && attempt <= 3 => {
            1u64 << attempt.min(4)
        }
        _ => 10u64 << attempt.min(5),
    };
    Duration::from_millis(cap_ms)
}

/// 1 ms plus a random part of `cap` (full jitter).
fn jittered(cap: Duration) -> Duration {
    let cap_ms = cap.as_millis().max(1) as u64;
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from(u16::from_le_bytes(random)) % cap_ms,
        Err(_) => cap_ms / 2,
    };
    Duration::from_millis(jitter + 1)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::store::outcome::WriteOutcome;

    #[test]
    fn a_counts_only_conflict_pauses_briefly_for_three_attempts_then_backs_off() {
        let counts_only = Failure::Conflict { counts_only: true };

        assert_eq!(pause_before(2, &counts_only, 128), Duration::from_millis(2));
        assert_eq!(pause_before(4, &counts_only, 128), Duration::from_millis(8));
        assert_eq!(
            pause_before(5, &counts_only, 128),
            Duration::from_millis(160)
        );
        assert_eq!(pause_before(2, &counts_only, 1), Duration::from_millis(20));
    }

    /// Runs a write whose every attempt loses a race on the client (time is
    /// paused: the pauses pass at once, exactly as long as they are);
    /// returns its result, its attempts and how long after its deadline
    /// was set each one started.
    async fn losing_write(deadline: WriteDeadline) -> (Result<(), StoreError>, Vec<Duration>) {
        let shards = ShardPicker::new(4);
        let set = tokio::time::Instant::now();
        let starts = Mutex::new(Vec::new());
        let result = retrying(WriteKind::Update, &shards, deadline, |_| {
            starts.lock().unwrap().push(set.elapsed());
            async { Err::<(), _>(Failure::Conflict { counts_only: false }) }
        })
        .await;
        (result, starts.into_inner().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_keeps_losing_starts_no_attempt_it_could_not_finish_by_its_deadline() {
        let (result, starts) = losing_write(WriteDeadline::from_now()).await;

        assert!(matches!(
            result,
            Err(StoreError::Unavailable {
                outcome: WriteOutcome::NotApplied,
                ..
            })
        ));
        assert!(starts.len() >= 2, "{starts:?}");
        let last = *starts.last().unwrap();
        assert!(last <= WRITE_BUDGET - MIN_ATTEMPT_TIME, "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_whose_request_used_up_its_budget_sends_nothing_and_says_so() {
        let (result, starts) = losing_write(WriteDeadline::after(Duration::from_millis(50))).await;

        assert!(matches!(
            result,
            Err(StoreError::Unavailable {
                outcome: WriteOutcome::NotApplied,
                ..
            })
        ));
        assert!(starts.is_empty(), "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_with_little_time_left_still_makes_its_first_attempt() {
        let (result, starts) = losing_write(WriteDeadline::after(Duration::from_millis(150))).await;

        assert!(matches!(result, Err(StoreError::Unavailable { .. })));
        assert_eq!(starts.first(), Some(&Duration::ZERO));
        assert!(
            *starts.last().unwrap() <= Duration::from_millis(50),
            "{starts:?}"
        );
    }

    #[test]
    fn other_failures_back_off_exponentially_up_to_320_ms() {
        let changed = Failure::ConditionFailed;

        assert_eq!(pause_before(2, &changed, 128), Duration::from_millis(20));
        assert_eq!(pause_before(3, &changed, 128), Duration::from_millis(40));
        assert_eq!(pause_before(8, &changed, 128), Duration::from_millis(320));
    }
}
