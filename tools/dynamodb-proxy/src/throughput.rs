//! Per-partition token buckets: each table partition key value and each
//! index partition key value gets its own read and write bucket.
//!
//! Limits: 1,000 write units and 3,000 read units per second per partition
//! (developer guide, "Best practices for designing and using partition keys
//! effectively": "a single partition … can support a maximum of 3,000 read
//! units per second or 1,000 write units per second"); reads and writes are
//! throttled independently ("Key range throughput exceeded (hot
//! partitions)": "a partition may throttle reads while writes continue
//! normally, or vice versa").
//!
//! Burst: a bucket holds at most `burst_seconds` (default 1) of its rate.
//! The 300 seconds of unused capacity DynamoDB retains ("burst capacity")
//! is table-level provisioned capacity and "can't alleviate partition-level
//! throttling … If a resulting hot partition exceeds the per partition
//! limits of 3,000 RCU or 1,000 WCU per second … your table throttles" (AWS
//! re:Post knowledge center, "How does DynamoDB handle spiky workloads in
//! short intervals?"), so a partition gets at most one second's worth.
//! On-demand scaling and split-for-heat (which over minutes give a hot key
//! range more partitions) are not modelled: one partition key value is one
//! partition, whose limit never grows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::cost::{Access, Charge, Partition};

/// The per-partition limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Write units per second per partition (service: 1,000).
    pub write_units_per_second: f64,
    /// Read units per second per partition (service: 3,000).
    pub read_units_per_second: f64,
    /// How many seconds of its rate a partition may save up (default 1).
    pub burst_seconds: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            write_units_per_second: 1000.0,
            read_units_per_second: 3000.0,
            burst_seconds: 1.0,
        }
    }
}

impl Limits {
    fn rate(&self, access: Access) -> f64 {
        match access {
            Access::Read => self.read_units_per_second,
            Access::Write => self.write_units_per_second,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every partition's buckets.
#[derive(Debug, Default)]
pub struct Buckets {
    state: Mutex<HashMap<(Partition, Access), Bucket>>,
}

impl Buckets {
    /// Takes every charge, or none: if some partition has less than it is
    /// charged, says which charges do not fit (in order).
    pub fn take(&self, charges: &[Charge], limits: &Limits) -> Result<(), Vec<bool>> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut wanted: HashMap<(Partition, Access), f64> = HashMap::new();
        for charge in charges {
            *wanted
                .entry((charge.partition.clone(), charge.access))
                .or_default() += charge.units;
        }
        let short: Vec<bool> = charges
            .iter()
            .map(|charge| {
                let key = (charge.partition.clone(), charge.access);
                refill(&mut state, &key, limits, now).tokens < wanted[&key]
            })
            .collect();
        if short.iter().any(|s| *s) {
            return Err(short);
        }
        for (key, units) in wanted {
            refill(&mut state, &key, limits, now).tokens -= units;
        }
        Ok(())
    }

    /// Charges what a request turned out to cost beyond what it was
    /// admitted with (a read's size is known only from its answer); a
    /// bucket may go below zero, throttling the partition until it refills.
    pub fn consume(&self, charges: &[Charge], limits: &Limits) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for charge in charges {
            refill(
                &mut state,
                &(charge.partition.clone(), charge.access),
                limits,
                now,
            )
            .tokens -= charge.units;
        }
    }
}

/// The bucket, refilled to `now` (a new one starts full).
fn refill<'a>(
    state: &'a mut HashMap<(Partition, Access), Bucket>,
    key: &(Partition, Access),
    limits: &Limits,
    now: Instant,
) -> &'a mut Bucket {
    let rate = limits.rate(key.1);
    let capacity = rate * limits.burst_seconds;
    let bucket = state.entry(key.clone()).or_insert(Bucket {
        tokens: capacity,
        at: now,
    });
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
    bucket.at = now;
    bucket
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: &str, units: f64) -> Charge {
        Charge {
            partition: Partition {
                table: "t".into(),
                index: None,
                key: key.into(),
            },
            access: Access::Write,
            units,
            arn: "arn:t".into(),
        }
    }

    #[test]
    fn a_partition_over_its_rate_is_refused_while_another_is_not() {
        let buckets = Buckets::default();
        let limits = Limits {
            write_units_per_second: 10.0,
            ..Limits::default()
        };
        buckets.take(&[write("hot", 10.0)], &limits).unwrap();

        let hot = buckets.take(&[write("hot", 1.0)], &limits);
        let cold = buckets.take(&[write("cold", 1.0)], &limits);

        assert_eq!(hot, Err(vec![true]));
        assert_eq!(cold, Ok(()));
    }

    #[test]
    fn a_refused_request_takes_nothing() {
        let buckets = Buckets::default();
        let limits = Limits {
            write_units_per_second: 10.0,
            ..Limits::default()
        };

        let refused = buckets.take(&[write("a", 5.0), write("b", 11.0)], &limits);

        assert_eq!(refused, Err(vec![false, true]));
        assert_eq!(buckets.take(&[write("a", 10.0)], &limits), Ok(()));
    }
}
