//! The rate limiter's one item per organization: its plan and overrides,
//! and the tokens of its budget taken in the current epochs.
//!
//! | `pk` | `sk` | attributes |
//! |---|---|---|
//! | `LIMIT#<org>` | `LIMIT` | `plan`, `requestsPerSecond`, `burst`, `readUnitsPerSecond`, `writeUnitsPerSecond` (overrides), `e<epoch>r`, `e<epoch>ru`, `e<epoch>wu` (tokens taken), `e<epoch>s` (when the epoch's first lease was taken), `e<epoch>n` (the epoch's hungry containers, `Ask::joins`) |
//!
//! A partition of its own (not `ORG#<org>`), so that the limiter's writes
//! never share a partition's 1,000 write units/s with the organization's
//! clients. A lease ([`LimitStore::lease`]) is one `UpdateItem`: `ADD` of
//! the container's ask to the epoch's three counters and of 1 or 0 to its
//! count of leasers ([`Ask::joins`]), `SET` of the epoch's
//! start if it has none (`if_not_exists`, the asking container's clock),
//! `REMOVE` of the attributes of epochs that are over, `ReturnValues:
//! ALL_NEW`; it cannot
//! conflict (no condition) and answers the plan with the totals, so one
//! call both reads the limits in force and takes the slice. An
//! organization with no item has the deployment's default plan; the first
//! lease creates the item with the counters only. Operators set the plan
//! and overrides with [`LimitStore::set_plan`] (`clients-admin set-plan`);
//! a lease never writes them.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::StoreError;
use super::layout::attr;
use super::table::Table;
use crate::domain::model::OrgId;
use crate::domain::plan::{OrgPlan, Overrides, PlanName};
use crate::domain::share::Ask;

/// The sort key of an organization's limit item.
pub const LIMIT_SK: &str = "LIMIT";

/// The partition key of an organization's limit item.
pub fn limit_pk(org: &OrgId) -> String {
    format!("LIMIT#{org}")
}

/// The attribute of the plan's name.
const PLAN: &str = "plan";
/// The attributes of the overrides, in [`Overrides`]' order.
const OVERRIDES: [&str; 4] = [
    "requestsPerSecond",
    "burst",
    "readUnitsPerSecond",
    "writeUnitsPerSecond",
];
/// The suffixes of an epoch's counters, in `Budget::ALL` order.
const COUNTERS: [&str; 3] = ["r", "ru", "wu"];

/// The suffix of an epoch's start (its first lease's time).
const START: &str = "s";
/// The suffix of an epoch's count of hungry leasers.
const LEASERS: &str = "n";

/// The counter of `budget` (index) in `epoch`.
fn counter(epoch: u64, budget: usize) -> String {
    format!("e{epoch}{}", COUNTERS[budget])
}

/// The attribute of `epoch`'s start.
fn start(epoch: u64) -> String {
    format!("e{epoch}{START}")
}

/// The attribute of `epoch`'s count of hungry leasers.
fn leasers(epoch: u64) -> String {
    format!("e{epoch}{LEASERS}")
}

/// The epoch of a counter attribute, if `name` is one.
fn counter_epoch(name: &str) -> Option<u64> {
    let rest = name.strip_prefix('e')?;
    let digits = rest.trim_end_matches(|c: char| c.is_ascii_lowercase());
    COUNTERS
        .contains(&&rest[digits.len()..])
        .then(|| digits.parse().ok())
        .flatten()
}

/// What a lease answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Leased {
    /// The organization's plan and overrides.
    pub plan: OrgPlan,
    /// The epoch's tokens taken, this ask included (`Budget::ALL` order).
    pub taken: [f64; 3],
    /// When the epoch's first lease was taken (Unix seconds).
    pub started: Option<f64>,
    /// The hungry containers of the epoch ([`Ask::joins`]), and of the one before.
    pub leasers: [u32; 2],
}

/// The limit items of every organization, in the clients' table.
#[derive(Clone, Debug)]
pub struct LimitStore {
    table: Table,
}

impl LimitStore {
    /// The limit items of `table`.
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Takes `ask` from the organization's pools of its epoch (one
    /// `UpdateItem`) at `unix` (the container's clock, Unix seconds: the
    /// epoch's start if this is its first lease), removing the attributes
    /// of epochs before the previous one.
    pub async fn lease(&self, org: &OrgId, ask: &Ask, unix: f64) -> Result<Leased, StoreError> {
        let mut update = self.update(org);
        let mut adds = Vec::new();
        for (i, tokens) in ask.tokens.iter().enumerate() {
            adds.push(format!("#a{i} :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), counter(ask.epoch, i))
                .expression_attribute_values(
                    format!(":a{i}"),
                    AttributeValue::N(tokens.to_string()),
                );
        }
        adds.push("#n :n".to_owned());
        update = update
            .expression_attribute_names("#n", leasers(ask.epoch))
            .expression_attribute_values(
                ":n",
                AttributeValue::N(u8::from(ask.joins()).to_string()),
            );
        let mut expression = format!(
            "ADD {} SET #start = if_not_exists(#start, :now)",
            adds.join(", ")
        );
        update = update
            .expression_attribute_names("#start", start(ask.epoch))
            .expression_attribute_values(":now", AttributeValue::N(format!("{unix:.3}")));
        // The previous epoch's counters stay (a container whose clock is
        // behind may still ask for it); older ones go.
        let stale: Vec<String> = (1..=2)
            .filter_map(|back| ask.epoch.checked_sub(1 + back))
            .flat_map(|epoch| {
                (0..COUNTERS.len())
                    .map(move |i| counter(epoch, i))
                    .chain([start(epoch), leasers(epoch)])
            })
            .collect();
        if !stale.is_empty() {
            let names: Vec<String> = (0..stale.len()).map(|i| format!("#s{i}")).collect();
            expression.push_str(&format!(" REMOVE {}", names.join(", ")));
            for (name, attribute) in names.into_iter().zip(stale) {
                update = update.expression_attribute_names(name, attribute);
            }
        }
        let output = update.update_expression(expression).send().await?;
        let item = output.attributes.unwrap_or_default();
        let taken = std::array::from_fn(|i| number(&item, &counter(ask.epoch, i)).unwrap_or(0.0));
        Ok(Leased {
            plan: org_plan(&item)?,
            taken,
            started: number(&item, &start(ask.epoch)),
            leasers: [ask.epoch, ask.epoch.saturating_sub(1)]
                .map(|epoch| number(&item, &leasers(epoch)).unwrap_or(0.0) as u32),
        })
    }

    /// An `UpdateItem` of the organization's limit item that answers the
    /// item as it is after the update.
    fn update(&self, org: &OrgId) -> UpdateItemFluentBuilder {
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .key(attr::PK, AttributeValue::S(limit_pk(org)))
            .key(attr::SK, AttributeValue::S(LIMIT_SK.into()))
            .return_values(ReturnValue::AllNew)
    }

    /// The organization's plan and overrides (strongly consistent read).
    pub async fn plan(&self, org: &OrgId) -> Result<OrgPlan, StoreError> {
        let item = self
            .table
            .get_item(limit_pk(org), LIMIT_SK.into())
            .await?
            .unwrap_or_default();
        org_plan(&item)
    }

    /// Sets the organization's plan (`Some`) or leaves it as it is
    /// (`None`), sets the overrides given, and removes every override when
    /// `clear` (before setting the given ones); the counters are untouched.
    pub async fn set_plan(
        &self,
        org: &OrgId,
        plan: Option<PlanName>,
        overrides: &Overrides,
        clear: bool,
    ) -> Result<OrgPlan, StoreError> {
        let mut update = self.update(org);
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        if let Some(plan) = plan {
            sets.push("#plan = :plan".to_owned());
            update = update
                .expression_attribute_names("#plan", PLAN)
                .expression_attribute_values(":plan", AttributeValue::S(plan.as_str().into()));
        }
        for (i, figure) in override_figures(overrides).into_iter().enumerate() {
            match figure {
                Some(n) => {
                    sets.push(format!("#o{i} = :o{i}"));
                    update = update
                        .expression_attribute_names(format!("#o{i}"), OVERRIDES[i])
                        .expression_attribute_values(
                            format!(":o{i}"),
                            AttributeValue::N(n.to_string()),
                        );
                }
                None if clear => {
                    removes.push(format!("#o{i}"));
                    update = update.expression_attribute_names(format!("#o{i}"), OVERRIDES[i]);
                }
                None => {}
            }
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        if expression.is_empty() {
            return self.plan(org).await;
        }
        let output = update.update_expression(expression.trim()).send().await?;
        org_plan(&output.attributes.unwrap_or_default())
    }
}

fn override_figures(overrides: &Overrides) -> [Option<u32>; 4] {
    [
        overrides.requests_per_second,
        overrides.burst,
        overrides.read_units_per_second,
        overrides.write_units_per_second,
    ]
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<f64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// The plan and overrides of a limit item.
fn org_plan(item: &HashMap<String, AttributeValue>) -> Result<OrgPlan, StoreError> {
    let plan = match item.get(PLAN) {
        None => None,
        Some(value) => Some(
            value
                .as_s()
                .map_err(|_| StoreError::corrupt("limit item: plan is not a string"))?
                .parse::<PlanName>()
                .map_err(StoreError::corrupt)?,
        ),
    };
    let figure = |i: usize| -> Result<Option<u32>, StoreError> {
        match number(item, OVERRIDES[i]) {
            None if item.contains_key(OVERRIDES[i]) => Err(StoreError::corrupt(format!(
                "limit item: {} is not a number",
                OVERRIDES[i]
            ))),
            None => Ok(None),
            Some(n) => Ok(Some(n.clamp(1.0, f64::from(u32::MAX)) as u32)),
        }
    };
    Ok(OrgPlan {
        plan,
        overrides: Overrides {
            requests_per_second: figure(0)?,
            burst: figure(1)?,
            read_units_per_second: figure(2)?,
            write_units_per_second: figure(3)?,
        },
    })
}

/// The epochs whose counters `item` holds (for tests and the runbook).
pub fn counter_epochs(item: &HashMap<String, AttributeValue>) -> Vec<u64> {
    let mut epochs: Vec<u64> = item.keys().filter_map(|name| counter_epoch(name)).collect();
    epochs.sort_unstable();
    epochs.dedup();
    epochs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_epoch_and_budget_and_read_back() {
        assert_eq!(counter(177, 0), "e177r");
        assert_eq!(counter(177, 2), "e177wu");
        assert_eq!(counter_epoch("e177ru"), Some(177));
        assert_eq!(counter_epoch("plan"), None);
        assert_eq!(counter_epoch("e12x"), None);
    }

    #[test]
    fn an_item_without_plan_or_overrides_is_the_default_plan() {
        assert_eq!(org_plan(&HashMap::new()).unwrap(), OrgPlan::default());
    }

    #[test]
    fn a_plan_that_is_no_plan_is_a_corrupt_item() {
        let item = HashMap::from([(PLAN.to_owned(), AttributeValue::S("gold".into()))]);

        assert!(matches!(org_plan(&item), Err(StoreError::CorruptItem(_))));
    }
}
