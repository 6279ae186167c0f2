//! Set-up: the organizations the sections measure in, each seeded with
//! sample clients by bulk import (with their search index entries), 10 of
//! them named with a rare word, and given an API key.

use std::fmt::Write as _;
use std::time::Instant;

use shared::domain::fields::ClientName;
use shared::domain::model::{Client, OrgId};
use shared::store::admin::import::{import_clients, sample_clients};
use shared::store::admin::keys::KeyAdmin;
use shared::store::Table;

use crate::format::thousands;
use crate::settings::{say, Settings};

/// The word 10 clients of every seeded organization are named with, and no
/// other: a search whose matches do not grow with the organization.
pub const RARE_WORD: &str = "Zephyrine";

/// A seeded organization, its API key and its clients.
pub struct Org {
    pub size: usize,
    pub org: OrgId,
    pub key: String,
    pub clients: Vec<Client>,
}

/// Seeds one organization per size the sections need (every size for the
/// cost table, else only the smallest), noting the seeding rates in `report`.
pub async fn seed_orgs(settings: &Settings, table: &Table, report: &mut String) -> Vec<Org> {
    let sizes = if settings.runs("cost") {
        settings.sizes.clone()
    } else {
        vec![*settings.sizes.iter().min().unwrap_or(&1000)]
    };
    let mut orgs = Vec::new();
    for size in sizes {
        orgs.push(seed_org(table, size, report).await);
    }
    orgs
}

async fn seed_org(table: &Table, size: usize, report: &mut String) -> Org {
    let org: OrgId = format!("bench-{size}-{}", uuid::Uuid::now_v7().simple())
        .parse()
        .expect("an org id");
    let mut clients = sample_clients(size);
    for k in 0..10.min(size) {
        clients[k * size / 10].name =
            ClientName::parse(&format!("{RARE_WORD} {k}")).expect("a valid name");
    }
    let t = Instant::now();
    import_clients(table, &org, &clients, 8)
        .await
        .expect("import the sample clients");
    let elapsed = t.elapsed();
    say(format!(
        "seeded {size} clients in {:.1} s ({:.0} items/s, 8 BatchWriteItem writers)",
        elapsed.as_secs_f64(),
        size as f64 / elapsed.as_secs_f64()
    ));
    let _ = writeln!(
        report,
        "Seeded {} clients in {:.1} s ({:.0}/s).",
        thousands(size as u64),
        elapsed.as_secs_f64(),
        size as f64 / elapsed.as_secs_f64()
    );
    let (key, _) = KeyAdmin::new(table.clone())
        .create_key(&org, "bench")
        .await
        .expect("an API key");
    Org {
        size,
        org,
        key: key.key,
        clients,
    }
}

/// The organization load, warm-up and cold starts run in: the largest of at
/// most 10,000 clients (DynamoDB Local keeps working on a 100,000-client
/// search for a while after the SDK gave up on it, which would skew them).
pub fn load_org(orgs: &[Org]) -> &Org {
    orgs.iter()
        .filter(|o| o.size <= 10_000)
        .max_by_key(|o| o.size)
        .or_else(|| orgs.iter().min_by_key(|o| o.size))
        .expect("an organization")
}
