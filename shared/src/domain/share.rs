//! One container's slice of an organization's budget, and the token
//! buckets that spend it: pure arithmetic on the time it is given, so that
//! every rule here is tested without a clock or a table.
//!
//! The budget of an organization is counted in epochs of
//! [`EPOCH_SECONDS`] by the wall clock: each epoch has a pool of
//! `rate × EPOCH_SECONDS` tokens for each [`Budget`] (requests, read units,
//! write units). A container takes a slice of each pool with one atomic
//! `ADD` on the organization's lease item ([`Ask`] → [`Answer`]): its grant
//! is what was left of the pool before its `ADD`, up to what it asked, so
//! the grants of one epoch never add up to more than the pool, whatever the
//! number of containers and however they interleave. It then spends its
//! slice through a token bucket: part at once (its share of the burst),
//! the rest paced evenly to the epoch's end. Unused tokens lapse with the
//! epoch; the next ask is sized to what the container saw coming.
//!
//! - A request is admitted with one request token and no unit debt; the
//!   units it consumed are charged afterwards ([`Share::settle`]), so an
//!   expensive request drives the unit buckets into debt and the
//!   requests after it wait until the debt is paid from later grants.
//! - A container's first lease for an organization asks for nothing: it
//!   learns the organization's limits (its plan and overrides), so that
//!   its first real ask is sized to them, not to the default plan's.
//! - A container with no history asks for [`COLD_FRACTION`] of the pool
//!   (pro rata of the epoch left), at most [`COLD_REQUESTS_PER_SECOND`];
//!   no ask takes more than [`MAX_ASK_FRACTION`] of the pool.
//! - A new grant is at most the container's fair share: the rate to the
//!   epoch's end over the hungry containers expected. The lease item
//!   counts the containers whose ask was capped so ([`Answer::leasers`]),
//!   and the ones expected are as many as in the epoch so far or the one
//!   before, whichever is more; so under a flood every container gets its
//!   share with its one lease, while containers that ask less than their
//!   share (a developer's tests, a light neighbour) divide nothing.
//! - One that runs dry while the pool had tokens left at its last look,
//!   beyond the fair shares of the hungry containers that had not taken
//!   theirs yet (held for them for [`TOPUP_INTERVAL`]), tops up: at once
//!   while more than half the pool is free, else at most every
//!   [`TOPUP_INTERVAL`].
//! - A container's burst is the organization's in the part of its rate it
//!   was granted; what it carries into a new epoch is at most that grant's
//!   part of the burst, so that all containers together carry at most one.
//! - A lease that fails ([`Share::fail`]) leaves a container with its
//!   grant for the epoch, or with a fallback of at most the cold slice when
//!   it has none: the limiter fails open, by a bounded amount.

use std::time::{Duration, Instant};

use super::plan::Limits;

/// The length of an epoch, the lifetime of every grant.
pub const EPOCH_SECONDS: u64 = 10;
/// What a container with no history asks, as a fraction of the pool...
pub const COLD_FRACTION: f64 = 0.125;
/// ...and at most this many requests per second (a container serves one
/// request at a time: 20/s is a request every 50 ms), so that a burst of
/// new containers of a generous plan does not split its whole pool among
/// the first eight; the unit budgets' cold slices shrink in proportion.
pub const COLD_REQUESTS_PER_SECOND: f64 = 20.0;
/// The most one ask may take of an epoch's pool, so that one busy
/// container never leaves the organization's other containers nothing;
/// it tops up for more.
pub const MAX_ASK_FRACTION: f64 = 0.25;
/// How much more than it saw coming a container asks.
pub const HEADROOM: f64 = 1.25;
/// The shortest time between two leases of one container for one
/// organization within an epoch (top-ups).
pub const TOPUP_INTERVAL: Duration = Duration::from_secs(1);
/// Seconds of its unit rate a container may save up.
pub const UNIT_BURST_SECONDS: f64 = 2.0;

const EPOCH: f64 = EPOCH_SECONDS as f64;

/// The budgets of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Requests.
    Requests,
    /// DynamoDB read capacity units.
    ReadUnits,
    /// DynamoDB write capacity units.
    WriteUnits,
}

impl Budget {
    /// Every budget, in the order of the arrays of this module.
    pub const ALL: [Budget; 3] = [Self::Requests, Self::ReadUnits, Self::WriteUnits];

    /// Its name in the `RateLimit` header fields and the docs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::ReadUnits => "read-units",
            Self::WriteUnits => "write-units",
        }
    }

    /// Its rate per second under `limits`.
    pub fn rate(self, limits: &Limits) -> f64 {
        f64::from(match self {
            Self::Requests => limits.requests_per_second,
            Self::ReadUnits => limits.read_units_per_second,
            Self::WriteUnits => limits.write_units_per_second,
        })
    }

    /// The most of it the whole organization may hold at once: the burst
    /// for requests, [`UNIT_BURST_SECONDS`] of the rate for units.
    pub fn quota(self, limits: &Limits) -> f64 {
        match self {
            Self::Requests => f64::from(limits.burst),
            _ => self.rate(limits) * UNIT_BURST_SECONDS,
        }
    }

    /// The pool of one epoch.
    pub fn pool(self, limits: &Limits) -> f64 {
        self.rate(limits) * EPOCH
    }
}

/// Which budgets may refuse a request: a read spends no write units, so a
/// debt of write units (after a burst of writes) holds back the
/// organization's writes, not its reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    /// A `GET`: requests and read units.
    Reads,
    /// A create, update or delete: every budget.
    Writes,
}

impl Spending {
    /// Whether `budget` may refuse the request.
    pub fn limited_by(self, budget: Budget) -> bool {
        self == Self::Writes || budget != Budget::WriteUnits
    }
}

/// The time as the limiter sees it: the monotonic clock paces the buckets,
/// the wall clock (Unix seconds) names the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// The container's monotonic clock.
    pub instant: Instant,
    /// The container's wall clock, in Unix seconds.
    pub unix: f64,
}

/// The epoch a wall-clock time falls in.
pub fn epoch_of(unix: f64) -> u64 {
    (unix.max(0.0) / EPOCH) as u64
}

/// Seconds from `unix` to the end of `epoch` (at least 0.1).
fn left_in(epoch: u64, unix: f64) -> f64 {
    ((epoch + 1) as f64 * EPOCH - unix).clamp(0.1, EPOCH)
}

/// What a container asks the pool of `epoch` for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ask {
    /// The epoch.
    pub epoch: u64,
    /// Tokens of each budget ([`Budget::ALL`] order).
    pub tokens: [f64; 3],
    /// Whether it adds to a grant of this epoch (else it starts one).
    pub top_up: bool,
    /// Whether the container wanted more than its fair share of the pool
    /// (the ask is capped to it).
    pub hungry: bool,
}

impl Ask {
    /// Whether the asking container counts as one more of the epoch's
    /// hungry leasers ([`Answer::leasers`]): an ask that starts a grant
    /// and was capped to its fair share does.
    pub fn joins(&self) -> bool {
        !self.top_up && self.hungry
    }
}

/// The lease item's answer to an [`Ask`]: the limits in force and, for each
/// budget, the tokens of the epoch taken so far, this ask included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    /// The organization's limits (plan and overrides).
    pub limits: Limits,
    /// Tokens of the epoch's pools taken, after this ask.
    pub taken: [f64; 3],
    /// When the epoch's first lease was taken (Unix seconds, the clock of
    /// the container that took it); `None`: the whole epoch.
    pub started: Option<f64>,
    /// Containers that wanted more than their fair share of the epoch so
    /// far ([`Ask::joins`]), this one included, and of the epoch before it:
    /// the ones a flood keeps busy, which share the pool between them.
    pub leasers: [u32; 2],
}

impl Answer {
    /// What the pools grant the ask: what was left before it, up to what it asked.
    pub fn grants(&self, ask: &Ask) -> [f64; 3] {
        Budget::ALL.map(|budget| {
            let i = budget as usize;
            let before = self.taken[i] - ask.tokens[i];
            (self.pool(budget, ask.epoch) - before).clamp(0.0, ask.tokens[i])
        })
    }

    /// The pool of `budget` in `epoch`: its rate for the part of the epoch
    /// from its first lease on. An organization that starts sending in the
    /// middle of an epoch gets the rest of that epoch's pool, not all of
    /// it, so that a flood that starts late in one epoch is not admitted a
    /// whole epoch's worth in its last seconds (a fixed window's double
    /// burst at its edge).
    pub fn pool(&self, budget: Budget, epoch: u64) -> f64 {
        let active = self
            .started
            .map_or(EPOCH, |started| left_in(epoch, started));
        budget.pool(&self.limits) * active / EPOCH
    }
}

/// What a container knows of its organization's other containers: how
/// many took a slice of an epoch and of the epoch before it, as the limit
/// item last answered.
#[derive(Debug, Clone, Copy)]
struct Peers {
    epoch: u64,
    leasers: [u32; 2],
    /// When the answer came (Unix seconds).
    unix: f64,
}

impl Peers {
    /// How many hungry containers are expected to share the pool of
    /// `epoch`, this one included (`counted`: the answer counted it
    /// already): as many as so far or in the epoch before, whichever is
    /// more. `None` when the answer is older than the epoch before.
    fn expected(&self, epoch: u64, counted: bool) -> Option<f64> {
        if self.epoch != epoch && self.epoch + 1 != epoch {
            return None;
        }
        let [so_far, before] = self.leasers;
        let so_far = so_far + u32::from(!counted);
        Some(f64::from(so_far.max(before).max(1)))
    }

    /// How many of the hungry containers expected in `epoch` had not
    /// taken a slice of it at the answer; none once the answer is
    /// [`TOPUP_INTERVAL`] old at `unix` (a flood's containers all ask
    /// within its first moments; ones that have not, after a flood that
    /// ended, are not waited for).
    fn waiting(&self, epoch: u64, unix: f64) -> f64 {
        let [so_far, before] = self.leasers;
        if self.epoch == epoch && unix - self.unix < TOPUP_INTERVAL.as_secs_f64() {
            f64::from(before.saturating_sub(so_far))
        } else {
            0.0
        }
    }
}

/// A token bucket with a debt: `balance` may go below zero.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    balance: f64,
    /// Tokens per second.
    rate: f64,
    capacity: f64,
    at: Instant,
}

impl Bucket {
    fn empty(at: Instant) -> Self {
        Self {
            balance: 0.0,
            rate: 0.0,
            capacity: 0.0,
            at,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        if self.balance < self.capacity {
            self.balance = (self.balance + self.rate * elapsed).min(self.capacity);
        }
    }
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Yes: one request token was taken.
    Admitted,
    /// No: it would be admitted in about this long.
    Refused {
        /// The estimated wait, in whole seconds (at least one: `Retry-After`'s unit).
        retry_after: Duration,
        /// The budget that refused it.
        budget: Budget,
    },
}

/// What the `RateLimit` field reports for one budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// The budget.
    pub budget: Budget,
    /// The organization's quota ([`Budget::quota`]) and its window in
    /// seconds (quota / rate).
    pub quota: f64,
    /// The window the quota refills in, in seconds.
    pub window: f64,
    /// What is left of the quota: this container's balance scaled by its
    /// share of the pool (an estimate for the whole organization).
    pub remaining: f64,
    /// Seconds until the quota is whole again.
    pub reset: f64,
}

/// One organization's slice in one container.
#[derive(Debug, Clone)]
pub struct Share {
    limits: Limits,
    epoch: Option<u64>,
    buckets: [Bucket; 3],
    /// The rate of each budget granted for the epoch: each grant over the
    /// seconds of the epoch it was granted for.
    granted_rate: [f64; 3],
    left: [f64; 3],
    /// The epoch of the last answer and the containers it counted.
    peers: Option<Peers>,
    /// The epoch this container was last counted hungry in.
    hungry_in: Option<u64>,
    /// The pools of the epoch held, as the last answer gave them ([`Answer::pool`]).
    pools: [f64; 3],
    arrivals: f64,
    consumed: [f64; 3],
    since: Instant,
    last_lease: Option<Instant>,
    fallback: bool,
    known: bool,
}

impl Share {
    /// A share with no grant yet; `limits` (the default plan's) size the
    /// first ask until the lease item tells the organization's own.
    pub fn new(limits: Limits, now: Now) -> Self {
        Self {
            limits,
            epoch: None,
            buckets: [Bucket::empty(now.instant); 3],
            granted_rate: [0.0; 3],
            left: [0.0; 3],
            peers: None,
            hungry_in: None,
            pools: [0.0; 3],
            arrivals: 0.0,
            consumed: [0.0; 3],
            since: now.instant,
            last_lease: None,
            fallback: false,
            known: false,
        }
    }

    /// The limits in force, as the last lease answered them.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether the share runs on a fallback grant (its lease failed).
    pub fn on_fallback(&self) -> bool {
        self.fallback
    }

    /// The lease this container must take before deciding on a request
    /// now: a new grant when its epoch is over (or it has none), a top-up
    /// when the request would be refused, the pool had tokens left at the
    /// last look and the last lease is [`TOPUP_INTERVAL`] old; else none.
    pub fn lease_needed(&mut self, now: Now, spending: Spending) -> Option<Ask> {
        let epoch = epoch_of(now.unix);
        if !self.known {
            // First, learn the organization's limits: an ask of nothing.
            return Some(Ask {
                epoch,
                tokens: [0.0; 3],
                top_up: true,
                hungry: false,
            });
        }
        if self.epoch.is_none_or(|held| held < epoch) {
            return Some(self.ask(now, epoch, false));
        }
        if self.fallback {
            // Its limit item could not be reached: while the fallback
            // would refuse, it tries again, at most every TOPUP_INTERVAL,
            // so that a container recovers within a second of DynamoDB
            // coming back instead of at the epoch's end.
            let due = self
                .last_lease
                .is_none_or(|at| now.instant.saturating_duration_since(at) >= TOPUP_INTERVAL);
            let short = !self.short(now.instant, spending).is_empty();
            return (due && short).then(|| self.ask(now, epoch, false));
        }
        let recent = self
            .last_lease
            .is_some_and(|at| now.instant.saturating_duration_since(at) < TOPUP_INTERVAL);
        let short: Vec<Budget> = self.short(now.instant, spending);
        let available = self.available(epoch, now.unix);
        let can_grow = !short.is_empty() && short.iter().all(|b| available[*b as usize] >= 1.0);
        // While most of the pool is free, a container tops up at once:
        // nobody else needs it, and its own ask is bounded.
        let plenty = short
            .iter()
            .all(|b| available[*b as usize] > self.pools[*b as usize] / 2.0);
        (can_grow && (plenty || !recent)).then(|| self.ask(now, self.epoch.unwrap_or(epoch), true))
    }

    /// What a top-up may take of each pool of `epoch` at `unix`: what was
    /// left at the last answer, less the fair shares of the hungry
    /// containers expected in the epoch that had not taken theirs yet, as
    /// they were then ([`Peers::waiting`]).
    fn available(&self, epoch: u64, unix: f64) -> [f64; 3] {
        let (waiting, expected, rest) = self.peers.map_or((0.0, 1.0, 0.0), |peers| {
            (
                peers.waiting(epoch, unix),
                peers.expected(epoch, true).unwrap_or(1.0),
                left_in(epoch, peers.unix),
            )
        });
        Budget::ALL.map(|budget| {
            let fair = self.fair_share(budget, rest, expected);
            (self.left[budget as usize] - waiting * fair).max(0.0)
        })
    }

    /// The fair share of `budget` for `rest` seconds of an epoch among
    /// `expected` hungry containers: their part of the rate.
    fn fair_share(&self, budget: Budget, rest: f64, expected: f64) -> f64 {
        budget.rate(&self.limits) * rest / expected
    }

    /// The budgets that would refuse a request spending `spending` now.
    fn short(&mut self, now: Instant, spending: Spending) -> Vec<Budget> {
        Budget::ALL
            .into_iter()
            .filter(|budget| spending.limited_by(*budget))
            .filter(|budget| {
                let bucket = &mut self.buckets[*budget as usize];
                bucket.refill(now);
                match budget {
                    Budget::Requests => bucket.balance < 1.0,
                    _ => bucket.balance < 0.0,
                }
            })
            .collect()
    }

    fn ask(&mut self, now: Now, epoch: u64, top_up: bool) -> Ask {
        let rest = left_in(epoch, now.unix);
        let elapsed = now
            .instant
            .saturating_duration_since(self.since)
            .as_secs_f64();
        let observed = if top_up {
            let seconds = elapsed.max(0.5);
            let mut rates = self.consumed.map(|units| units / seconds);
            rates[0] = self.arrivals / seconds;
            Some(rates)
        } else if self.epoch.is_some_and(|held| held + 1 == epoch) && elapsed >= 1.0 {
            let mut rates = self.consumed.map(|units| units / elapsed);
            rates[0] = self.arrivals / elapsed;
            Some(rates)
        } else {
            None
        };
        let expected = self
            .peers
            .and_then(|peers| peers.expected(epoch, self.hungry_in == Some(peers.epoch)));
        // What a top-up may take (a new grant is capped by its fair share).
        let available = top_up.then(|| self.available(epoch, now.unix));
        let mut hungry = false;
        let tokens = Budget::ALL.map(|budget| {
            let i = budget as usize;
            let pool = budget.pool(&self.limits);
            let cold = pool / EPOCH * self.cold_fraction();
            let floor = match budget {
                Budget::Requests => 1.0,
                _ => cold * rest / 4.0,
            };
            let rate = observed.map_or(cold, |rates| rates[i]);
            let bucket = &self.buckets[i];
            let wanted = rate * rest * HEADROOM;
            // A debt (a negative balance) is asked for on top.
            let asked = if top_up {
                wanted - bucket.balance - bucket.rate * rest
            } else {
                wanted + (-bucket.balance).max(0.0)
            };
            // A new grant is at most the container's fair share of the
            // pool (the rate over the containers expected), so that the
            // first to ask do not leave the last nothing; a top-up at most
            // what the others' fair shares leave.
            let share = if let Some(available) = available {
                available[i]
            } else {
                let fair = self.fair_share(budget, rest, expected.unwrap_or(1.0));
                hungry |= asked > fair.max(floor);
                fair
            };
            // Never more than the organization's rate to the epoch's end:
            // paced, one container alone never goes past the rate.
            asked
                .min(share)
                .max(floor)
                .min(budget.rate(&self.limits) * rest)
                .min(pool * MAX_ASK_FRACTION)
                .ceil()
        });
        Ask {
            epoch,
            tokens,
            top_up,
            hungry,
        }
    }

    /// The part of each pool a container with no history takes:
    /// [`COLD_FRACTION`], at most [`COLD_REQUESTS_PER_SECOND`].
    fn cold_fraction(&self) -> f64 {
        let requests = f64::from(self.limits.requests_per_second.max(1));
        COLD_FRACTION.min(COLD_REQUESTS_PER_SECOND / requests)
    }

    /// Takes the lease's grant. When the ask was sized with other limits
    /// than the organization's (a container's first lease sizes it with
    /// the default plan's), the share keeps only what it would have asked
    /// under the organization's own, and answers what it gives back: the
    /// rest of its ask, to be `ADD`ed back to the pool (negative tokens),
    /// so that the other containers of the organization find it there.
    pub fn apply(&mut self, ask: &Ask, answer: &Answer, now: Now) -> Option<Ask> {
        self.peers = Some(Peers {
            epoch: ask.epoch,
            leasers: answer.leasers,
            unix: now.unix,
        });
        if ask.joins() {
            self.hungry_in = Some(ask.epoch);
        }
        if !self.known {
            // The probe: the limits, and what the pools have left.
            self.known = true;
            self.limits = answer.limits;
            return None;
        }
        let sized_with = self.limits;
        self.limits = answer.limits;
        let mut grants = answer.grants(ask);
        let mut back = None;
        if sized_with != answer.limits {
            let proper = self.ask(now, ask.epoch, ask.top_up).tokens;
            let kept = std::array::from_fn(|i| grants[i].min(proper[i]));
            if kept != grants {
                back = Some(Ask {
                    epoch: ask.epoch,
                    tokens: std::array::from_fn(|i| kept[i] - ask.tokens[i]),
                    top_up: true,
                    hungry: false,
                });
            }
            grants = kept;
        }
        self.grant(ask, grants, now);
        for budget in Budget::ALL {
            let i = budget as usize;
            let returned = back.map_or(0.0, |back| back.tokens[i]);
            self.pools[i] = answer.pool(budget, ask.epoch);
            self.left[i] = (self.pools[i] - answer.taken[i] - returned).max(0.0);
        }
        self.fallback = false;
        back
    }

    /// The lease failed (throttled, refused or unreachable): a top-up
    /// changes nothing; without a grant for the epoch, the container
    /// grants itself its ask up to the cold slice, for this epoch only.
    pub fn fail(&mut self, ask: &Ask, now: Now) {
        if !self.known {
            // The probe failed: fall back under the default plan's limits.
            self.known = true;
            let fresh = self.ask(now, ask.epoch, false);
            return self.fail(&fresh, now);
        }
        // A top-up, or a fallback's retry within its epoch: nothing more is
        // granted (the fallback stays bounded by one cold slice an epoch).
        if ask.top_up || (self.fallback && self.epoch == Some(ask.epoch)) {
            self.last_lease = Some(now.instant);
            return;
        }
        let rest = left_in(ask.epoch, now.unix);
        let fraction = self.cold_fraction();
        let grants = Budget::ALL.map(|budget| {
            let cold = budget.pool(&self.limits) * fraction * rest / EPOCH;
            ask.tokens[budget as usize].min(cold.max(1.0))
        });
        self.grant(ask, grants, now);
        self.left = [0.0; 3];
        self.fallback = true;
    }

    fn grant(&mut self, ask: &Ask, grants: [f64; 3], now: Now) {
        let rest = left_in(ask.epoch, now.unix);
        if !ask.top_up {
            self.epoch = Some(ask.epoch);
            self.granted_rate = [0.0; 3];
            self.arrivals = 0.0;
            self.consumed = [0.0; 3];
            self.since = now.instant;
        }
        for budget in Budget::ALL {
            let i = budget as usize;
            let pool = budget.pool(&self.limits).max(1.0);
            let quota = budget.quota(&self.limits);
            let bucket = &mut self.buckets[i];
            bucket.refill(now.instant);
            if !ask.top_up {
                bucket.rate = 0.0;
                // What is carried from the epoch before is at most this
                // grant's part of the organization's burst (so that all
                // containers together carry at most one burst).
                bucket.balance = bucket.balance.min((quota * grants[i] / pool).max(1.0));
            }
            self.granted_rate[i] += grants[i] / rest;
            // Its burst: the organization's, in the part of its rate this
            // container was granted.
            let rate = budget.rate(&self.limits).max(1e-9);
            bucket.capacity = (quota * self.granted_rate[i] / rate).clamp(1.0, quota.max(1.0));
            bucket.balance = bucket.balance.min(bucket.capacity);
            // At once: up to the burst, a debt paid first.
            let at_once = grants[i].min((bucket.capacity - bucket.balance).max(0.0));
            bucket.balance += at_once;
            bucket.rate += (grants[i] - at_once) / rest;
        }
        self.last_lease = Some(now.instant);
    }

    /// Decides on a request now: admitted with one request token if no
    /// budget is short, else refused with the wait.
    pub fn admit(&mut self, now: Now, spending: Spending) -> Decision {
        self.arrivals += 1.0;
        let short = self.short(now.instant, spending);
        let Some(budget) = short.first().copied() else {
            self.buckets[Budget::Requests as usize].balance -= 1.0;
            return Decision::Admitted;
        };
        let wait = short
            .iter()
            .map(|budget| self.wait(*budget, now))
            .fold(0.0, f64::max);
        Decision::Refused {
            retry_after: Duration::from_secs(wait.ceil().max(1.0) as u64),
            budget,
        }
    }

    /// Seconds until `budget` would admit a request: at this container's
    /// rate if that comes within the epoch, else the epoch's end plus the
    /// time the whole organization's rate takes to pay what is missing.
    fn wait(&self, budget: Budget, now: Now) -> f64 {
        let bucket = &self.buckets[budget as usize];
        let missing = match budget {
            Budget::Requests => 1.0 - bucket.balance,
            _ => -bucket.balance,
        }
        .max(0.0);
        let rest = self.epoch.map_or(0.0, |epoch| left_in(epoch, now.unix));
        if bucket.rate > 0.0 && missing / bucket.rate <= rest {
            missing / bucket.rate
        } else {
            let rate = budget.rate(&self.limits).max(1e-9);
            rest + (missing - bucket.rate * rest).max(0.0) / rate
        }
    }

    /// Charges the units a request consumed.
    pub fn settle(&mut self, read_units: f64, write_units: f64, now: Now) {
        for (budget, units) in [
            (Budget::ReadUnits, read_units),
            (Budget::WriteUnits, write_units),
        ] {
            let i = budget as usize;
            self.buckets[i].refill(now.instant);
            self.buckets[i].balance -= units;
            self.consumed[i] += units;
        }
    }

    /// What is left of each budget, for the `RateLimit` field.
    pub fn standings(&mut self, now: Now) -> [Standing; 3] {
        Budget::ALL.map(|budget| {
            let i = budget as usize;
            let quota = budget.quota(&self.limits);
            let rate = budget.rate(&self.limits).max(1e-9);
            let bucket = &mut self.buckets[i];
            bucket.refill(now.instant);
            let remaining = if self.granted_rate[i] > 0.0 && bucket.balance >= 1.0 {
                (bucket.balance * rate / self.granted_rate[i]).clamp(0.0, quota)
            } else {
                0.0
            };
            Standing {
                budget,
                quota,
                window: quota / rate,
                remaining,
                reset: (quota - remaining) / rate,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::PlanName;

    /// A clock that starts at the beginning of epoch 1000 and moves on demand.
    struct Clock {
        start: Instant,
        offset: f64,
    }

    impl Clock {
        fn new() -> Self {
            Self {
                start: Instant::now(),
                offset: 0.0,
            }
        }
        fn now(&self) -> Now {
            Now {
                instant: self.start + Duration::from_secs_f64(self.offset),
                unix: 1000.0 * EPOCH + self.offset,
            }
        }
        fn advance(&mut self, seconds: f64) {
            self.offset += seconds;
        }
    }

    /// A pool shared by several shares, as the lease item's `ADD` is: the
    /// limit item in memory, the epochs' counters and first leases.
    struct Pool {
        limits: Limits,
        taken: std::collections::HashMap<u64, [f64; 3]>,
        started: std::collections::HashMap<u64, f64>,
        leasers: std::collections::HashMap<u64, u32>,
        /// Leases answered, give-backs included.
        calls: u32,
    }

    impl Pool {
        fn new(limits: Limits) -> Self {
            Self {
                limits,
                taken: Default::default(),
                started: Default::default(),
                leasers: Default::default(),
                calls: 0,
            }
        }
        /// Leases as the limiter does: at most twice (a first lease learns the limits).
        fn lease(&mut self, share: &mut Share, now: Now) {
            for _ in 0..2 {
                self.lease_once(share, now);
            }
        }

        fn lease_once(&mut self, share: &mut Share, now: Now) {
            if let Some(ask) = share.lease_needed(now, Spending::Writes) {
                self.calls += 1;
                *self.leasers.entry(ask.epoch).or_default() += u32::from(ask.joins());
                let leasers = [
                    self.leasers[&ask.epoch],
                    self.leasers.get(&(ask.epoch - 1)).copied().unwrap_or(0),
                ];
                let taken = self.taken.entry(ask.epoch).or_default();
                for (taken, tokens) in taken.iter_mut().zip(ask.tokens) {
                    *taken += tokens;
                }
                let started = *self.started.entry(ask.epoch).or_insert(now.unix);
                let answer = Answer {
                    limits: self.limits,
                    taken: *taken,
                    started: Some(started),
                    leasers,
                };
                if let Some(back) = share.apply(&ask, &answer, now) {
                    self.calls += 1;
                    for (taken, tokens) in taken.iter_mut().zip(back.tokens) {
                        *taken += tokens;
                    }
                }
            }
        }
    }

    /// Sends `requests` requests `every` seconds apart, round robin over
    /// `shares`, each leasing first as the limiter does; `decided` sees
    /// each request's share and decision. Answers how many were admitted.
    fn round_robin(
        pool: &mut Pool,
        shares: &mut [Share],
        clock: &mut Clock,
        (requests, every): (usize, f64),
        spending: Spending,
        mut decided: impl FnMut(&mut Share, Decision, Now),
    ) -> u32 {
        let mut admitted = 0;
        for n in 0..requests {
            clock.advance(every);
            let share = &mut shares[n % shares.len()];
            pool.lease(share, clock.now());
            let decision = share.admit(clock.now(), spending);
            admitted += u32::from(decision == Decision::Admitted);
            decided(share, decision, clock.now());
        }
        admitted
    }

    /// A container of a `standard` organization whose one admitted
    /// request consumed `read_units` and `write_units` (more than an
    /// epoch's pool: a debt), 10 ms and a lease later.
    fn in_debt(read_units: f64, write_units: f64) -> (Share, Clock) {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = Share::new(limits, clock.now());
        pool.lease(&mut share, clock.now());
        assert_eq!(
            share.admit(clock.now(), Spending::Writes),
            Decision::Admitted
        );
        share.settle(read_units, write_units, clock.now());
        clock.advance(0.01);
        pool.lease(&mut share, clock.now());
        (share, clock)
    }

    fn standard() -> Limits {
        PlanName::Standard.limits()
    }

    #[test]
    fn grants_never_exceed_the_pool_however_the_asks_interleave() {
        let limits = standard();
        let ask = |tokens: f64| Ask {
            epoch: 1,
            tokens: [tokens, 0.0, 0.0],
            top_up: false,
            hungry: false,
        };
        let mut taken = 0.0;
        let mut granted = 0.0;
        for tokens in [400.0, 400.0, 400.0, 50.0] {
            taken += tokens;
            let answer = Answer {
                limits,
                taken: [taken, 0.0, 0.0],
                started: None,
                leasers: [1, 0],
            };
            granted += answer.grants(&ask(tokens))[0];
        }

        assert_eq!(granted, 1000.0);
    }

    #[test]
    fn eight_containers_flooding_at_ten_times_the_rate_get_the_rate_together() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut shares: Vec<Share> = (0..8).map(|_| Share::new(limits, clock.now())).collect();
        let mut refused = 0u32;

        // 1,000 requests/s for 30 s, round robin over the containers.
        let admitted = round_robin(
            &mut pool,
            &mut shares,
            &mut clock,
            (30_000, 0.001),
            Spending::Writes,
            |_, decision, _| {
                if let Decision::Refused { retry_after, .. } = decision {
                    refused += 1;
                    assert!(retry_after >= Duration::from_secs(1));
                }
            },
        );

        let rate = f64::from(admitted) / 30.0;
        assert!((90.0..=101.0).contains(&rate), "{rate} admitted/s");
        assert_eq!(admitted + refused, 30_000);
        // One lease a container an epoch, a first probe, few top-ups.
        let calls_per_admitted = f64::from(pool.calls) / f64::from(admitted);
        assert!(
            calls_per_admitted <= 0.02,
            "{} calls, {calls_per_admitted}",
            pool.calls
        );
    }

    #[test]
    fn a_container_left_alone_after_a_flood_over_eight_is_not_held_to_its_eighth() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut shares: Vec<Share> = (0..8).map(|_| Share::new(limits, clock.now())).collect();
        // Eight containers flood a whole epoch...
        let flood = (10_000, 0.001);
        round_robin(
            &mut pool,
            &mut shares,
            &mut clock,
            flood,
            Spending::Writes,
            |_, _, _| {},
        );
        // ...then one of them alone gets 200 requests/s for the next.
        let alone = &mut shares[..1];

        let admitted = round_robin(
            &mut pool,
            alone,
            &mut clock,
            (2_000, 0.005),
            Spending::Writes,
            |_, _, _| {},
        );

        // Its fair share of an eighth would be 125. The seven others'
        // shares are held for them for a second, then it tops up (each
        // top-up paced to the epoch's end): 751 when this was written.
        assert!(
            (700..=1_010).contains(&admitted),
            "{admitted} admitted in 10 s"
        );
    }

    #[test]
    fn a_flood_that_starts_late_in_an_epoch_gets_the_rest_of_its_pool_not_all_of_it() {
        let limits = standard();
        let mut clock = Clock::new();
        // The flood starts 7 s into an epoch, and lasts 20 s (3 epochs).
        clock.advance(7.0);
        let mut pool = Pool::new(limits);
        let mut shares: Vec<Share> = (0..8).map(|_| Share::new(limits, clock.now())).collect();

        let admitted = round_robin(
            &mut pool,
            &mut shares,
            &mut clock,
            (20_000, 0.001),
            Spending::Writes,
            |_, _, _| {},
        );

        // Without the first lease's time: up to 3 whole pools (150/s).
        let rate = f64::from(admitted) / 20.0;
        assert!((85.0..=110.0).contains(&rate), "{rate} admitted/s");
    }

    #[test]
    fn a_lone_container_reaches_the_whole_rate_by_topping_up() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = [Share::new(limits, clock.now())];

        let admitted = round_robin(
            &mut pool,
            &mut share,
            &mut clock,
            (20_000, 0.001),
            Spending::Writes,
            |_, _, _| {},
        );

        let rate = f64::from(admitted) / 20.0;
        assert!((85.0..=101.0).contains(&rate), "{rate} admitted/s");
    }

    #[test]
    fn an_expensive_request_puts_the_units_in_debt_and_refuses_until_it_is_paid() {
        // More than the epoch's whole pool of read units (10,000).
        let (mut share, clock) = in_debt(15_000.0, 0.0);

        let refused = share.admit(clock.now(), Spending::Writes);

        let Decision::Refused {
            retry_after,
            budget,
        } = refused
        else {
            panic!("admitted in debt: {refused:?}");
        };
        assert_eq!(budget, Budget::ReadUnits);
        // The rest of the epoch, then the debt left at the organization's
        // 1,000 units/s: seconds, not minutes.
        assert!(retry_after >= Duration::from_secs(5), "{retry_after:?}");
        assert!(retry_after <= Duration::from_secs(30), "{retry_after:?}");
    }

    #[test]
    fn a_debt_of_write_units_holds_back_writes_but_not_reads() {
        // More than the epoch's whole pool of write units (5,000).
        let (mut share, clock) = in_debt(0.0, 8_000.0);

        let write = share.admit(clock.now(), Spending::Writes);
        let read = share.admit(clock.now(), Spending::Reads);

        assert!(
            matches!(
                write,
                Decision::Refused {
                    budget: Budget::WriteUnits,
                    ..
                }
            ),
            "{write:?}"
        );
        assert_eq!(read, Decision::Admitted);
    }

    #[test]
    fn expensive_searches_from_two_containers_are_held_to_the_read_unit_rate() {
        let limits = Limits {
            read_units_per_second: 300,
            ..standard()
        };
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut shares: Vec<Share> = (0..2).map(|_| Share::new(limits, clock.now())).collect();
        let mut consumed = 0.0;

        // Each container tries a search of 2,150 read units every 10 ms, for 120 s.
        round_robin(
            &mut pool,
            &mut shares,
            &mut clock,
            (24_000, 0.005),
            Spending::Reads,
            |share, decision, now| {
                if decision == Decision::Admitted {
                    share.settle(2_150.0, 0.0, now);
                    consumed += 2_150.0;
                }
            },
        );

        // The rate, and at most the two searches' debts and one epoch's
        // pool (the bound of docs/operations.md) beyond it.
        let per_second = consumed / 120.0;
        // 322 when this was written.
        assert!(
            per_second <= 300.0 * 130.0 / 120.0 + 2.0 * 2_150.0 / 120.0,
            "{per_second} read units/s"
        );
        assert!(per_second >= 250.0, "{per_second} read units/s");
    }

    #[test]
    fn a_first_lease_sized_by_a_generous_default_keeps_only_the_organizations_own_slice() {
        let tight = Limits {
            requests_per_second: 10,
            burst: 10,
            read_units_per_second: 100,
            write_units_per_second: 50,
        };
        let clock = Clock::new();
        let mut pool = Pool::new(tight);
        let mut first = Share::new(PlanName::Local.limits(), clock.now());
        let mut second = Share::new(PlanName::Local.limits(), clock.now());

        pool.lease(&mut first, clock.now());
        pool.lease(&mut second, clock.now());

        let taken = pool.taken[&1000];
        // Each took the cold slice of the tight pool (100/8, asked with
        // headroom): its first lease learnt the limits.
        assert!(taken[0] <= 2.0 * 16.0, "{taken:?}");
        assert!(first.granted_rate[0] > 0.0 && second.granted_rate[0] > 0.0);
        assert_eq!(first.limits(), tight);
    }

    #[test]
    fn a_new_epochs_grant_does_not_carry_more_than_its_own_burst() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = Share::new(limits, clock.now());
        pool.lease(&mut share, clock.now());
        clock.advance(EPOCH);
        pool.limits.requests_per_second = 1;
        pool.limits.burst = 1;

        pool.lease(&mut share, clock.now());
        let mut admitted = 0;
        while share.admit(clock.now(), Spending::Writes) == Decision::Admitted {
            admitted += 1;
        }

        assert!(admitted <= 1, "{admitted}");
    }

    #[test]
    fn thirty_two_new_containers_of_a_generous_plan_all_get_a_slice() {
        let limits = PlanName::Local.limits();
        let clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut shares: Vec<Share> = (0..32).map(|_| Share::new(limits, clock.now())).collect();

        for share in &mut shares {
            pool.lease(share, clock.now());
        }

        for share in &mut shares {
            assert_eq!(
                share.admit(clock.now(), Spending::Writes),
                Decision::Admitted
            );
        }
        assert!(pool.taken[&1000][0] < limits.requests_per_second as f64 * EPOCH / 2.0);
    }

    #[test]
    fn a_busy_container_leaves_a_share_for_the_organizations_other_containers() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut busy = Share::new(limits, clock.now());
        // Half the organization's rate, through one container, for 3 s.
        for _ in 0..150 {
            clock.advance(0.02);
            pool.lease(&mut busy, clock.now());
            busy.admit(clock.now(), Spending::Writes);
        }
        let mut other = Share::new(limits, clock.now());

        pool.lease(&mut other, clock.now());

        assert_eq!(
            other.admit(clock.now(), Spending::Writes),
            Decision::Admitted
        );
    }

    #[test]
    fn a_failed_lease_falls_back_to_the_cold_slice_for_the_epoch() {
        let limits = standard();
        let clock = Clock::new();
        let mut share = Share::new(limits, clock.now());
        let ask = share.lease_needed(clock.now(), Spending::Writes).unwrap();

        share.fail(&ask, clock.now());
        let mut admitted = 0;
        while share.admit(clock.now(), Spending::Writes) == Decision::Admitted {
            admitted += 1;
        }

        assert!(share.on_fallback());
        assert!(admitted >= 1);
        assert!(f64::from(admitted) <= 1000.0 * COLD_FRACTION, "{admitted}");
        assert_eq!(share.lease_needed(clock.now(), Spending::Writes), None);
    }

    #[test]
    fn failed_retries_of_a_fallback_grant_nothing_more_in_its_epoch() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut share = Share::new(limits, clock.now());
        let mut admitted = 0.0;

        // The limit item unreachable for a whole epoch; a request every ms.
        for _ in 0..9_000 {
            clock.advance(0.001);
            if let Some(ask) = share.lease_needed(clock.now(), Spending::Writes) {
                share.fail(&ask, clock.now());
            }
            if share.admit(clock.now(), Spending::Writes) == Decision::Admitted {
                admitted += 1.0;
            }
        }

        // One cold slice of the epoch (1/8 of 1,000), however many retries.
        assert!(admitted <= 1000.0 * COLD_FRACTION + 1.0, "{admitted}");
        assert!(admitted >= 1.0);
    }

    #[test]
    fn a_container_on_its_fallback_tries_its_lease_again_within_a_second_while_refusing() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = Share::new(limits, clock.now());
        let ask = share.lease_needed(clock.now(), Spending::Writes).unwrap();
        share.fail(&ask, clock.now());
        while share.admit(clock.now(), Spending::Writes) == Decision::Admitted {}

        clock.advance(TOPUP_INTERVAL.as_secs_f64());
        // What the fallback paced in since is spent too.
        while share.admit(clock.now(), Spending::Writes) == Decision::Admitted {}
        let again = share.lease_needed(clock.now(), Spending::Writes);
        assert!(again.is_some_and(|ask| !ask.top_up), "{again:?}");
        pool.lease(&mut share, clock.now());

        assert!(!share.on_fallback());
        assert_eq!(
            share.admit(clock.now(), Spending::Writes),
            Decision::Admitted
        );
    }

    #[test]
    fn a_new_epoch_needs_a_new_lease_and_the_old_grant_lapses() {
        let limits = standard();
        let mut clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = Share::new(limits, clock.now());
        pool.lease(&mut share, clock.now());

        clock.advance(EPOCH + 0.5);
        let ask = share.lease_needed(clock.now(), Spending::Writes).unwrap();

        assert_eq!(ask.epoch, 1001);
        assert!(!ask.top_up);
    }

    #[test]
    fn standings_scale_this_containers_balance_to_the_organization() {
        let limits = standard();
        let clock = Clock::new();
        let mut pool = Pool::new(limits);
        let mut share = Share::new(limits, clock.now());
        pool.lease(&mut share, clock.now());

        let [requests, ..] = share.standings(clock.now());

        assert_eq!(requests.quota, 200.0);
        assert_eq!(requests.window, 2.0);
        assert!(requests.remaining > 0.0 && requests.remaining <= 200.0);
    }
}
