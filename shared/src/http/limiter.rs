//! The per-organization rate limiter of one container: it admits or refuses
//! each authenticated request before the request touches client data, and
//! writes the `RateLimit-Policy` and `RateLimit` fields of every answer.
//!
//! Each organization's slice of its budget ([`crate::domain::share`]) is
//! leased from its limit item ([`crate::store::limits`]): one `UpdateItem`
//! per container and organization per epoch (10 s), plus a top-up when the
//! container runs dry while the pool has tokens left (at most one a
//! second), and once per container and organization an ask of nothing
//! that tells the organization's limits. Everything else (admitting, refusing, charging the units a
//! request consumed) is arithmetic in memory: a refusal costs no DynamoDB
//! call. A lease runs on a task of its own, so that its call is the
//! limiter's, not the request's (`store::usage` leaves it out of the
//! request's count); [`Limiter::lease_calls`] counts them.
//!
//! A lease that fails (throttled, an error, no answer within
//! [`LEASE_TIMEOUT`]) is logged and the container falls back as
//! `Share::fail` says: it keeps its grant, or grants itself at most the
//! cold slice for the rest of the epoch. The limiter fails open, by a
//! bounded amount, rather than refusing every request of an organization
//! because its limit item cannot be reached.
//!
//! The fields follow draft-ietf-httpapi-ratelimit-headers-10 ("RateLimit
//! header fields for HTTP", IETF httpapi working group):
//! `RateLimit-Policy: "requests";q=200;w=2, "read-units";q=2000;w=2, …`
//! (each budget's quota and the seconds it refills in) and
//! `RateLimit: "requests";r=57;t=1, …` (what is left, and the seconds
//! until it is whole). `r` is this container's balance scaled by its share
//! of the pool: an estimate for the whole organization.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::{cause_chain, ApiError};
use crate::domain::model::OrgId;
use crate::domain::plan::PlanName;
use crate::domain::share::{Answer, Ask, Decision, Now, Share, Spending, Standing};
use crate::store::limits::LimitStore;

/// The longest a request waits for a lease before its container falls back.
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(1);

/// The header of the policies.
pub const RATELIMIT_POLICY: &str = "ratelimit-policy";
/// The header of what is left.
pub const RATELIMIT: &str = "ratelimit";

/// Organizations one container keeps slices for; past it, the ones not
/// seen for an epoch are forgotten.
const MAX_ORGANIZATIONS: usize = 10_000;

tokio::task_local! {
    static TICKET: Mutex<Option<Ticket>>;
}

/// Runs `work` (a request's handler) with a place for the limiter's ticket
/// of the request; answers the ticket too, if the request was admitted or
/// refused by a limiter.
pub async fn scoped<F: std::future::Future>(work: F) -> (F::Output, Option<Ticket>) {
    TICKET
        .scope(Mutex::new(None), async {
            let output = work.await;
            let ticket = TICKET.with(|cell| lock(cell).take());
            (output, ticket)
        })
        .await
}

/// The container's clock, with an offset of its wall clock (tests skew it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    /// Seconds added to the wall clock.
    pub skew_seconds: f64,
}

impl Clock {
    fn now(&self) -> Now {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Now {
            instant: Instant::now(),
            unix: unix + self.skew_seconds,
        }
    }
}

struct Entry {
    share: Mutex<Share>,
    leasing: tokio::sync::Mutex<()>,
    seen: Mutex<Instant>,
}

/// What the limiter decided for a request, kept until its answer so that
/// its units are charged and its fields written.
pub struct Ticket {
    entry: Arc<Entry>,
    clock: Clock,
}

impl Ticket {
    /// Charges the request's units and answers the fields of its response.
    pub fn settle(self, read_units: f64, write_units: f64) -> [(&'static str, String); 2] {
        let now = self.clock.now();
        let mut share = lock(&self.entry.share);
        share.settle(read_units, write_units, now);
        fields(&share.standings(now))
    }
}

/// The `RateLimit-Policy` and `RateLimit` fields of these standings.
pub fn fields(standings: &[Standing; 3]) -> [(&'static str, String); 2] {
    let policy: Vec<String> = standings
        .iter()
        .map(|s| {
            format!(
                "\"{}\";q={};w={}",
                s.budget.name(),
                s.quota.round() as u64,
                s.window.ceil().max(1.0) as u64
            )
        })
        .collect();
    let left: Vec<String> = standings
        .iter()
        .map(|s| {
            format!(
                "\"{}\";r={};t={}",
                s.budget.name(),
                s.remaining.floor() as u64,
                s.reset.ceil() as u64
            )
        })
        .collect();
    [
        (RATELIMIT_POLICY, policy.join(", ")),
        (RATELIMIT, left.join(", ")),
    ]
}

/// One container's limiter.
pub struct Limiter {
    store: LimitStore,
    default_plan: PlanName,
    clock: Clock,
    orgs: Mutex<HashMap<OrgId, Arc<Entry>>>,
    lease_calls: Arc<AtomicU64>,
    lease_failures: Arc<AtomicU64>,
}

impl Limiter {
    /// A limiter leasing from `store`; organizations without a plan have `default_plan`.
    pub fn new(store: LimitStore, default_plan: PlanName, clock: Clock) -> Self {
        Self {
            store,
            default_plan,
            clock,
            orgs: Mutex::new(HashMap::new()),
            lease_calls: Arc::new(AtomicU64::new(0)),
            lease_failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Leases this container sent to the limit items so far.
    pub fn lease_calls(&self) -> u64 {
        self.lease_calls.load(Ordering::Relaxed)
    }

    /// Leases that failed (the container fell back).
    pub fn lease_failures(&self) -> u64 {
        self.lease_failures.load(Ordering::Relaxed)
    }

    /// Admits a request of `org` that spends `spending`, or refuses it
    /// with 429 `rate_limited`; either way its ticket waits in the
    /// request's scope ([`scoped`]) for the answer's fields.
    pub async fn admit(&self, org: &OrgId, spending: Spending) -> Result<(), ApiError> {
        let entry = self.entry(org);
        let needed = lock(&entry.share)
            .lease_needed(self.clock.now(), spending)
            .is_some();
        if needed {
            let _leasing = entry.leasing.lock().await;
            // At most two: a container's first learns the limits.
            for _ in 0..2 {
                let ask = lock(&entry.share).lease_needed(self.clock.now(), spending);
                match ask {
                    Some(ask) => self.lease(org, &entry, ask).await,
                    None => break,
                }
            }
        }
        let decision = lock(&entry.share).admit(self.clock.now(), spending);
        let ticket = Ticket {
            entry,
            clock: self.clock,
        };
        let _ = TICKET.try_with(|cell| *lock(cell) = Some(ticket));
        match decision {
            Decision::Admitted => Ok(()),
            Decision::Refused {
                retry_after,
                budget,
            } => Err(ApiError::RateLimited {
                retry_after,
                budget,
            }),
        }
    }

    async fn lease(&self, org: &OrgId, entry: &Entry, ask: Ask) {
        let store = self.store.clone();
        let owned = org.clone();
        self.lease_calls.fetch_add(1, Ordering::Relaxed);
        // A task of its own: the call is the limiter's, not the request's.
        let unix = self.clock.now().unix;
        let call = tokio::spawn(async move { store.lease(&owned, &ask, unix).await });
        let outcome = match tokio::time::timeout(LEASE_TIMEOUT, call).await {
            Ok(Ok(Ok(leased))) => Ok(leased),
            Ok(Ok(Err(error))) => Err(cause_chain(&error)),
            Ok(Err(joined)) => Err(joined.to_string()),
            Err(_) => Err(format!("no answer within {} ms", LEASE_TIMEOUT.as_millis())),
        };
        let now = self.clock.now();
        let mut share = lock(&entry.share);
        match outcome {
            Ok(leased) => {
                let answer = Answer {
                    limits: leased.plan.limits(self.default_plan),
                    taken: leased.taken,
                    started: leased.started,
                    leasers: leased.leasers,
                };
                if let Some(back) = share.apply(&ask, &answer, now) {
                    self.give_back(org, back);
                }
            }
            Err(error) => {
                self.lease_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    organization = org.as_str(),
                    %error,
                    top_up = ask.top_up,
                    "rate limit lease failed; the container falls back to a bounded slice"
                );
                share.fail(&ask, now);
            }
        }
    }

    /// Gives tokens back to the pool (a negative ask), on a task of its
    /// own that the request does not wait for; if it fails, they lapse
    /// with the epoch.
    fn give_back(&self, org: &OrgId, back: Ask) {
        let store = self.store.clone();
        let owned = org.clone();
        self.lease_calls.fetch_add(1, Ordering::Relaxed);
        let unix = self.clock.now().unix;
        tokio::spawn(async move {
            if let Err(error) = store.lease(&owned, &back, unix).await {
                tracing::debug!(organization = owned.as_str(), error = %cause_chain(&error), "giving tokens back failed; they lapse with the epoch");
            }
        });
    }

    fn entry(&self, org: &OrgId) -> Arc<Entry> {
        let mut orgs = lock(&self.orgs);
        if let Some(entry) = orgs.get(org) {
            *lock(&entry.seen) = Instant::now();
            return Arc::clone(entry);
        }
        if orgs.len() >= MAX_ORGANIZATIONS {
            let epoch = Duration::from_secs(crate::domain::share::EPOCH_SECONDS);
            orgs.retain(|_, entry| lock(&entry.seen).elapsed() < epoch);
        }
        let entry = Arc::new(Entry {
            share: Mutex::new(Share::new(self.default_plan.limits(), self.clock.now())),
            leasing: tokio::sync::Mutex::new(()),
            seen: Mutex::new(Instant::now()),
        });
        orgs.insert(org.clone(), Arc::clone(&entry));
        entry
    }

    /// The limits this container holds for `org` now (the default plan's
    /// before its first lease), and whether it runs on a fallback.
    pub fn limits(&self, org: &OrgId) -> (crate::domain::plan::Limits, bool) {
        let entry = self.entry(org);
        let share = lock(&entry.share);
        (share.limits(), share.on_fallback())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::share::Budget;

    #[test]
    fn the_fields_name_each_budget_with_its_quota_window_and_what_is_left() {
        let standing = |budget, quota, remaining, reset| Standing {
            budget,
            quota,
            window: 2.0,
            remaining,
            reset,
        };
        let standings = [
            standing(Budget::Requests, 200.0, 57.6, 1.43),
            standing(Budget::ReadUnits, 2000.0, 2000.0, 0.0),
            standing(Budget::WriteUnits, 1000.0, 0.0, 2.0),
        ];

        let [(policy_name, policy), (left_name, left)] = fields(&standings);

        assert_eq!(policy_name, "ratelimit-policy");
        assert_eq!(
            policy,
            "\"requests\";q=200;w=2, \"read-units\";q=2000;w=2, \"write-units\";q=1000;w=2"
        );
        assert_eq!(left_name, "ratelimit");
        assert_eq!(
            left,
            "\"requests\";r=57;t=2, \"read-units\";r=2000;t=0, \"write-units\";r=0;t=2"
        );
    }
}
