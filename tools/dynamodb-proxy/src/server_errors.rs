//! A random rate of HTTP 500 `InternalServerError`s on any operation, from
//! a seeded generator so a run can be replayed.
//!
//! The service answers `InternalServerError` now and then (the developer
//! guide's "Error handling with DynamoDB": a 5xx is retryable and expected
//! during the lifetime of a table). From the outside an error can come
//! before DynamoDB did anything or after it applied the request; the
//! client cannot tell which. So each error drawn is, with even odds, answered
//! instead of forwarding ([`When::BeforeForwarding`]) or in place of the
//! upstream's answer once it was applied ([`When::AfterForwarding`]).
//!
//! The draws come one per request in arrival order from one generator
//! seeded with [`ServerErrors::seed`]: requests sent one at a time meet the
//! same errors on every run; concurrent ones the same number in
//! expectation. [`crate::Fault::InternalServerError`] arms exact ones.

use std::sync::Mutex;

/// The rate `--faithful` turns on: one request in a hundred.
///
/// AWS publishes no error rate, only the bound its SLA implies: a region
/// meeting the 99.99 % monthly uptime of the DynamoDB Service Level
/// Agreement's standard commitment (uptime measured from the share of
/// requests failing with a server error) sees at most 0.01 % on average,
/// more in a bad minute. The faithful
/// default is a hundred times that so a test suite of thousands of calls
/// meets dozens of them, while the chance that the SDK's three attempts of
/// one call all meet one stays at one in a million.
pub const FAITHFUL_RATE: f64 = 0.01;

/// The seed when none is given.
pub const DEFAULT_SEED: u64 = 0;

/// How often to answer `InternalServerError`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerErrors {
    /// The chance per request, 0 to 1.
    pub rate: f64,
    /// The seed of the draws.
    pub seed: u64,
}

impl Default for ServerErrors {
    fn default() -> Self {
        Self {
            rate: FAITHFUL_RATE,
            seed: DEFAULT_SEED,
        }
    }
}

/// When a drawn server error is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Instead of forwarding: nothing was done.
    BeforeForwarding,
    /// In place of the upstream's answer: the request was applied.
    AfterForwarding,
}

/// The generator, reseeded whenever the configured seed changes.
#[derive(Debug, Default)]
pub struct Draws {
    state: Mutex<Option<(u64, fastrand::Rng)>>,
}

impl Draws {
    /// Whether the next request meets a server error, and when.
    pub fn draw(&self, config: &ServerErrors) -> Option<When> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.as_ref().is_none_or(|(seed, _)| *seed != config.seed) {
            *state = Some((config.seed, fastrand::Rng::with_seed(config.seed)));
        }
        let (_, rng) = state.as_mut()?;
        if rng.f64() >= config.rate {
            return None;
        }
        Some(if rng.bool() {
            When::AfterForwarding
        } else {
            When::BeforeForwarding
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(config: &ServerErrors, n: usize) -> Vec<Option<When>> {
        let generator = Draws::default();
        (0..n).map(|_| generator.draw(config)).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_errors_and_the_rate_holds() {
        let config = ServerErrors {
            rate: 0.1,
            seed: 42,
        };

        let first = draws(&config, 10_000);
        let second = draws(&config, 10_000);
        let other = draws(&ServerErrors { seed: 43, ..config }, 10_000);

        assert_eq!(first, second);
        assert_ne!(first, other);
        let errors = first.iter().flatten().count();
        assert!((800..1200).contains(&errors), "{errors} errors in 10,000");
        let after = first
            .iter()
            .filter(|w| **w == Some(When::AfterForwarding))
            .count();
        assert!(
            (errors * 4 / 10..errors * 6 / 10).contains(&after),
            "{after} of {errors} after forwarding"
        );
    }

    #[test]
    fn a_rate_of_zero_never_errs_and_one_always_does() {
        let never = draws(&ServerErrors { rate: 0.0, seed: 1 }, 1000);
        let always = draws(&ServerErrors { rate: 1.0, seed: 1 }, 1000);

        assert!(never.iter().all(Option::is_none));
        assert!(always.iter().all(Option::is_some));
    }
}
