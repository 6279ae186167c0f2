//! The search rows of the cost table: queries whose number of matches is
//! fixed whatever the organization's size (the seeded rare word,
//! [`crate::seed::RARE_WORD`], and a name prefix), one matching about 1 % of
//! the clients, and a 1-character query matching every client; each with its
//! median latency.

use std::time::{Duration, Instant};

use super::run::CostRun;
use crate::format::median;
use crate::request::{get, send};

/// Runs timed per search row (after the measured one).
pub const LATENCY_RUNS: usize = 5;

/// The searches measured: label, query string, grows by design (matches grow with the organization).
const SEARCHES: [(&str, &str, bool); 4] = [
    (
        "search \"zephyrine\" (10 matches)",
        "limit=50&query=zephyrine",
        false,
    ),
    (
        "search \"client 00004\" (1 match)",
        "limit=50&query=client%2000004",
        false,
    ),
    ("search \"555-12\" (~1 %)", "limit=50&query=555-12", true),
    ("search \"e\" (every client)", "limit=50&query=e", true),
];

/// A 200-character name (the longest allowed) of pseudo-random letters in
/// words of 7, so that no two of its suffixes share their first 24
/// characters: the most index entries a name can have.
pub fn long_name() -> String {
    let mut state: u32 = 42;
    (0..200)
        .map(|i| {
            if i % 8 == 7 {
                return ' ';
            }
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + ((state >> 16) % 26) as u8)
        })
        .collect()
}

/// Each of [`SEARCHES`]: measured once, then timed [`LATENCY_RUNS`] times.
pub async fn searches(run: &mut CostRun, index: usize, key: &str) {
    for (label, query, grows) in SEARCHES {
        let request = get(&format!("/api/v1/clients?{query}"), key);
        let (tally, _) = run.measure(&request, 200, label).await;
        let mut times: Vec<Duration> = Vec::with_capacity(LATENCY_RUNS);
        if tally.failed.is_none() {
            for _ in 0..LATENCY_RUNS {
                let started = Instant::now();
                send(run.app(), &request).await;
                times.push(started.elapsed());
            }
        }
        let p50 = (!times.is_empty()).then(|| median(times));
        let note = if grows { "matches grow with n" } else { "" };
        run.put_timed(label, index, (Some(tally), p50), note, grows);
    }
}

#[cfg(test)]
mod tests {
    use super::SEARCHES;
    use crate::seed::RARE_WORD;

    #[test]
    fn the_first_search_looks_for_the_word_the_seed_gives_ten_clients() {
        let (label, query, grows) = SEARCHES[0];

        assert_eq!(
            query,
            format!("limit=50&query={}", RARE_WORD.to_lowercase())
        );
        assert!(label.contains(&RARE_WORD.to_lowercase()));
        assert!(!grows);
    }
}
