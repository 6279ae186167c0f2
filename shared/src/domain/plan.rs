//! What an organization may use: its plan ([`PlanName`]: `free`,
//! `standard`, `enterprise`, or the generous `local` of `scripts/run-local`
//! and the tests), the [`Limits`] each plan sets, and the per-organization
//! [`Overrides`] an operator may put on top. Why each figure is what it is
//! is written down in `docs/operations.md` ("Plans and rate limits").
//!
//! Every limit is a rate per second: requests (with a burst), and the
//! read and write capacity units DynamoDB reports for the organization's
//! requests (`ReturnConsumedCapacity`), so that an expensive request (a
//! one-letter search over 100,000 clients) uses up more of the budget
//! than a `GET`.

use std::fmt;
use std::str::FromStr;

/// The largest figure an override may set (a million per second: beyond
/// any one organization's use of one table).
pub const MAX_OVERRIDE: u32 = 1_000_000;

/// A named plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PlanName {
    /// A trial or a small integration.
    Free,
    /// A business using the API from its own systems (the default).
    #[default]
    Standard,
    /// Large customers with bulk jobs.
    Enterprise,
    /// `scripts/run-local` and the tests: generous enough that a
    /// developer's own test suite (hundreds of requests per second from one
    /// organization) is never refused.
    Local,
}

impl PlanName {
    /// Every plan, in order of size.
    pub const ALL: [PlanName; 4] = [Self::Free, Self::Standard, Self::Enterprise, Self::Local];

    /// The plan's name as configured and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Standard => "standard",
            Self::Enterprise => "enterprise",
            Self::Local => "local",
        }
    }

    /// The limits the plan sets.
    pub fn limits(self) -> Limits {
        let (requests, burst, read_units, write_units) = match self {
            Self::Free => (10, 20, 100, 50),
            Self::Standard => (100, 200, 1_000, 500),
            Self::Enterprise => (1_000, 2_000, 10_000, 5_000),
            Self::Local => (2_000, 4_000, 100_000, 50_000),
        };
        Limits {
            requests_per_second: requests,
            burst,
            read_units_per_second: read_units,
            write_units_per_second: write_units,
        }
    }
}

impl fmt::Display for PlanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlanName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|plan| plan.as_str() == text.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
                format!("plan {text:?} is not one of {}", names.join(", "))
            })
    }
}

/// The limits of an organization: each a whole number per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per second, sustained.
    pub requests_per_second: u32,
    /// Requests that may come at once after a quiet spell.
    pub burst: u32,
    /// DynamoDB read capacity units per second.
    pub read_units_per_second: u32,
    /// DynamoDB write capacity units per second.
    pub write_units_per_second: u32,
}

/// An operator's overrides of an organization's plan: each set figure
/// replaces the plan's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overrides {
    /// Requests per second.
    pub requests_per_second: Option<u32>,
    /// Burst, in requests.
    pub burst: Option<u32>,
    /// Read capacity units per second.
    pub read_units_per_second: Option<u32>,
    /// Write capacity units per second.
    pub write_units_per_second: Option<u32>,
}

/// A figure an override may set: 1 to [`MAX_OVERRIDE`].
pub fn override_figure(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_OVERRIDE).contains(n))
        .ok_or(format!("must be a whole number from 1 to {MAX_OVERRIDE}"))
}

/// An organization's plan and overrides, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrgPlan {
    /// The plan; `None`: the deployment's default plan.
    pub plan: Option<PlanName>,
    /// The overrides.
    pub overrides: Overrides,
}

impl OrgPlan {
    /// The limits in force: the plan's (or `default`'s), with the overrides
    /// on top. The burst is never below one second of the rate.
    pub fn limits(&self, default: PlanName) -> Limits {
        let base = self.plan.unwrap_or(default).limits();
        let o = &self.overrides;
        let requests_per_second = o.requests_per_second.unwrap_or(base.requests_per_second);
        Limits {
            requests_per_second,
            burst: o.burst.unwrap_or(base.burst).max(requests_per_second),
            read_units_per_second: o
                .read_units_per_second
                .unwrap_or(base.read_units_per_second),
            write_units_per_second: o
                .write_units_per_second
                .unwrap_or(base.write_units_per_second),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_by_name_and_grow_in_order() {
        for plan in PlanName::ALL {
            assert_eq!(plan.as_str().parse::<PlanName>(), Ok(plan));
        }
        assert!("gold".parse::<PlanName>().unwrap_err().contains("free"));
        let rates: Vec<_> = PlanName::ALL
            .iter()
            .map(|p| p.limits().requests_per_second)
            .collect();
        assert!(rates.windows(2).all(|pair| pair[0] < pair[1]), "{rates:?}");
    }

    #[test]
    fn overrides_replace_the_plans_figures_and_the_default_plan_applies_without_one() {
        let none = OrgPlan::default();
        let tight = OrgPlan {
            plan: Some(PlanName::Free),
            overrides: Overrides {
                requests_per_second: Some(2),
                read_units_per_second: Some(7),
                ..Overrides::default()
            },
        };

        assert_eq!(none.limits(PlanName::Standard), PlanName::Standard.limits());
        assert_eq!(
            tight.limits(PlanName::Enterprise),
            Limits {
                requests_per_second: 2,
                burst: 20,
                read_units_per_second: 7,
                write_units_per_second: 50,
            }
        );
    }

    #[test]
    fn the_burst_is_at_least_one_second_of_the_rate() {
        let org = OrgPlan {
            plan: None,
            overrides: Overrides {
                requests_per_second: Some(500),
                burst: Some(10),
                ..Overrides::default()
            },
        };

        assert_eq!(org.limits(PlanName::Free).burst, 500);
    }

    #[test]
    fn override_figures_are_bounded() {
        assert_eq!(override_figure("5"), Ok(5));
        for bad in ["0", "-1", "x", "1000001", ""] {
            assert!(override_figure(bad).is_err(), "{bad:?}");
        }
    }
}
