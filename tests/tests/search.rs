//! Search through the suffix index against DynamoDB Local: results equal a
//! brute-force filter of every client over randomized Unicode names and
//! phones; writes are visible to search at once; stale index entries never
//! come back, and late deletes spare entries put back since; the cost
//! follows the matches, not the organization; the backfill makes clients
//! stored without index entries searchable.

use std::time::Instant;

use integration_tests::{expected_order, ids, index_settled, sample_clients, Tenant, TestApi};
use serde_json::{json, Value};
use shared::domain::fields::ClientName;
use shared::domain::list_query::ListQuery;
use shared::domain::model::{Client, ClientId, Status};
use shared::domain::search::{fold_name, phone_digits, SearchTerm};
use shared::store::admin::search_backfill::backfill;
use shared::store::search_index;

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn seeded() -> Self {
        let seed = std::env::var("SEARCH_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_1234_abcd_0042);
        eprintln!("search test seed: {seed} (set SEARCH_TEST_SEED to replay)");
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Name fragments mixing scripts, cases, accents and punctuation.
const FRAGMENTS: [&str; 24] = [
    "Anna",
    "ÉLOÏSE",
    "chloé",
    "Straße",
    "STRASSE",
    "İstanbul",
    "ıiIİ",
    "Σοφία",
    "ΟΔΟΣ",
    "Жанна",
    "ёлка",
    "O'Brien",
    "Smith-Jones",
    "Ltd.",
    "& Co",
    "müller",
    "MÜLLER",
    "Ǆemal",
    "42",
    "x",
    "Ñandú",
    "Ångström",
    "ﬁsh",
    "Zoë",
];
const PHONES: [&str; 6] = [
    "+1 555-{}",
    "(555) {}",
    "555.{}",
    "+44 20 {}",
    "0{}",
    "+7 (495) {}",
];

fn random_name(random: &mut Random) -> String {
    let words = 1 + random.below(3);
    let separators = [" ", " ", "-", ", ", ""];
    let mut name = String::new();
    for i in 0..words {
        if i > 0 {
            name.push_str(random.pick(&separators));
        }
        name.push_str(random.pick(&FRAGMENTS));
    }
    name
}

fn random_phone(random: &mut Random) -> Option<String> {
    (random.below(5) != 0).then(|| {
        let digits = format!("{:04}", random.below(10_000));
        random.pick(&PHONES).replace("{}", &digits)
    })
}

/// A query: a substring of a real name (recased or not), of a phone's
/// digits in another notation, or text that matches nothing.
fn random_query(random: &mut Random, clients: &[Value]) -> String {
    let client = &clients[random.below(clients.len())];
    match random.below(6) {
        0..=2 => {
            let chars: Vec<char> = client["name"].as_str().unwrap().chars().collect();
            let start = random.below(chars.len());
            let len = 1 + random.below(chars.len() - start);
            let part: String = chars[start..start + len].iter().collect();
            match random.below(3) {
                0 => part.to_uppercase(),
                1 => part.to_lowercase(),
                _ => part,
            }
        }
        3..=4 => match client["phone"].as_str() {
            Some(phone) => {
                let digits = phone_digits(phone);
                let start = random.below(digits.len());
                let len = 1 + random.below(digits.len() - start);
                let part = &digits[start..start + len];
                match random.below(3) {
                    0 => part.to_owned(),
                    1 => part.chars().map(|c| format!("{c} ")).collect(),
                    _ => format!("({part})"),
                }
            }
            None => "5".to_owned(),
        },
        _ => random
            .pick(&["qqq", "ζζ", "щщ", "999999", "-", "ann x", "ß"])
            .to_owned(),
    }
}

/// Every byte percent-encoded but ASCII letters and digits.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A valid client name.
fn name(text: &str) -> ClientName {
    ClientName::parse(text).expect("a valid name")
}

/// The clients a search must find, by the contract's rule applied to each.
fn brute_force<'a>(clients: &'a [Value], query: &str, status: &str) -> Vec<&'a Value> {
    let term = SearchTerm::parse(query);
    clients
        .iter()
        .filter(|c| status.is_empty() || c["status"] == status)
        .filter(|c| {
            let phone = c["phone"].as_str().map(phone_digits);
            term.as_ref().is_none_or(|term| {
                term.matches(&[Some(fold_name(c["name"].as_str().unwrap())), phone])
            })
        })
        .collect()
}

async fn search_ids(api: &TestApi, tenant: &Tenant, query: &str) -> Vec<String> {
    ids(&api
        .list(tenant, &format!("query={}&limit=100", encode(query)))
        .await)
}

#[tokio::test]
async fn search_results_equal_a_brute_force_filter_over_random_unicode_names_and_phones() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let mut random = Random::seeded();
    let mut clients = Vec::new();
    for _ in 0..90 {
        let mut body = json!({
            "name": random_name(&mut random),
            "status": random.pick(&["active", "inactive"]),
        });
        if let Some(phone) = random_phone(&mut random) {
            body["phone"] = json!(phone);
        }
        clients.push(api.create(&tenant, body).await);
    }
    // An arrange step: a blank query is a plain list, which reads the list
    // indexes; the clients are in them before the rounds.
    index_settled().await;

    for round in 0..150 {
        let query = random_query(&mut random, &clients);
        let status = random.pick(&["", "active", "inactive"]);
        let sort_by = random.pick(&["name", "phone", "status", "createdAt"]);
        let (order, descending) = random.pick(&[("asc", false), ("desc", true)]);

        let list = api
            .list(
                &tenant,
                &format!(
                    "query={}&status={status}&sortBy={sort_by}&sortOrder={order}&limit=100",
                    encode(&query)
                ),
            )
            .await;

        let expected: Vec<Value> = brute_force(&clients, &query, status)
            .into_iter()
            .cloned()
            .collect();
        let what = format!("round {round}: query={query:?} status={status} {sort_by} {order}");
        assert_eq!(list["total"], expected.len(), "{what}");
        assert_eq!(
            ids(&list),
            expected_order(&expected, sort_by, descending),
            "{what}"
        );
    }
}

#[tokio::test]
async fn creates_renames_and_deletes_are_visible_to_search_at_once() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let started = Instant::now();

    let created = api
        .create(
            &tenant,
            json!({"name": "Quintessa Vale", "phone": "+1 555-7788"}),
        )
        .await;
    let found_created = search_ids(&api, &tenant, "ntess").await;
    let found_by_phone = search_ids(&api, &tenant, "557-788").await;
    let uri = integration_tests::client_uri(&created);
    api.patch(
        &tenant,
        &uri,
        &json!({"name": "Rosalind Vale", "phone": "+1 555-1100"}),
    )
    .await;
    let old_name = search_ids(&api, &tenant, "ntess").await;
    let old_phone = search_ids(&api, &tenant, "7788").await;
    let new_name = search_ids(&api, &tenant, "osalin").await;
    let kept_part = search_ids(&api, &tenant, "vale").await;
    api.delete(&tenant, &uri).await;
    let after_delete = search_ids(&api, &tenant, "vale").await;
    let elapsed = started.elapsed();

    let id = vec![created["id"].as_str().unwrap().to_owned()];
    assert_eq!(found_created, id, "found on the first search after the 201");
    assert_eq!(found_by_phone, id);
    assert!(old_name.is_empty() && old_phone.is_empty(), "renamed away");
    assert_eq!(new_name, id);
    assert_eq!(kept_part, id);
    assert!(after_delete.is_empty());
    eprintln!("every change was visible on the first search, with 0 retries ({elapsed:?} in all)");
}

#[tokio::test]
async fn stale_and_leftover_index_entries_never_come_back_as_matches() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let real = api.create(&tenant, json!({"name": "Ottoline"})).await;
    let ghost = Client {
        name: name("Ottoline Ghost"),
        ..sample_clients(1).remove(0)
    };
    let renamed = Client {
        id: ClientId::parse(real["id"].as_str().unwrap()).unwrap(),
        name: name("Ottoline Prior Name"),
        ..ghost.clone()
    };
    // Entries of a client that was never written, and of a name the real client never had.
    for client in [&ghost, &renamed] {
        let entries: Vec<_> = search_index::entries(&tenant.org, client)
            .into_iter()
            .collect();
        search_index::put(&api.table, &entries, 1).await.unwrap();
    }

    let list = api.list(&tenant, "query=ottoline").await;
    let prior = api.list(&tenant, "query=prior").await;

    assert_eq!(ids(&list), [real["id"].as_str().unwrap()]);
    assert_eq!(list["total"], 1);
    assert_eq!(
        (prior["total"].clone(), prior["data"].clone()),
        (json!(0), json!([]))
    );
}

/// Seeds `size` sample clients plus 10 named with a word found nowhere else.
async fn org_with_ten_rare_clients(api: &TestApi, size: usize) -> Tenant {
    let tenant = api.tenant().await;
    let mut clients = sample_clients(size);
    for (i, client) in clients.iter_mut().take(10).enumerate() {
        client.name = name(&format!("Zephyrine {i}"));
    }
    api.seed(&tenant.org, &clients).await;
    tenant
}

#[tokio::test]
async fn a_search_costs_what_it_finds_whatever_the_organizations_size() {
    let api = TestApi::start().await;
    let small = org_with_ten_rare_clients(&api, 100).await;
    let large = org_with_ten_rare_clients(&api, 1_500).await;
    let query = ListQuery {
        search: SearchTerm::parse("ephyri"),
        ..ListQuery::default()
    };

    let (small_page, small_cost) = api.page(&small.org, &query).await;
    let (large_page, large_cost) = api.page(&large.org, &query).await;

    assert_eq!((small_page.total, large_page.total), (10, 10));
    assert_eq!(small_cost, large_cost, "flat in the organization's size");
    // one entry and one client read per match (the page is made of the
    // clients read): the index's Query and one BatchGetItem
    assert_eq!(large_cost.items_read, 20, "{large_cost:?}");
    assert_eq!(large_cost.calls, 2, "{large_cost:?}");
}

#[tokio::test]
async fn the_backfill_makes_clients_stored_without_index_entries_searchable_and_can_resume() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = sample_clients(250);
    api.seed_without_search_index(&tenant.org, &clients).await;
    let before = api.list(&tenant, "query=client%20001").await;

    let mut reports = Vec::new();
    let first = backfill(&api.table, &tenant.org, None, |p| reports.push(p.clone()))
        .await
        .unwrap();
    let checkpoint = reports[0].last;
    let resumed = backfill(&api.table, &tenant.org, checkpoint, |_| {})
        .await
        .unwrap();
    let after = api.list(&tenant, "query=client%20001&limit=100").await;

    assert_eq!(before["total"], 0, "no index entries yet");
    assert_eq!(first.clients, 250);
    assert_eq!(reports.len(), 3, "progress after each page of 100");
    assert_eq!(
        resumed.clients, 150,
        "resumed after the first page's last client"
    );
    let expected: Vec<&Client> = clients
        .iter()
        .filter(|c| c.name.as_str().starts_with("Client 001"))
        .collect();
    assert_eq!(after["total"], expected.len());
    let mut found = ids(&after);
    found.sort();
    let mut wanted: Vec<String> = expected.iter().map(|c| c.id.to_string()).collect();
    wanted.sort();
    assert_eq!(found, wanted);
    let status_counts = api.list(&tenant, "query=client&status=inactive").await;
    let inactive = clients
        .iter()
        .filter(|c| c.status == Status::Inactive)
        .count();
    assert_eq!(status_counts["total"], inactive);
}

#[tokio::test]
async fn a_late_delete_keeps_an_entry_that_a_newer_write_put_back() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let client = sample_clients(1).remove(0);
    let entries: Vec<_> = search_index::entries(&tenant.org, &client)
        .into_iter()
        .collect();
    let exists = |entry: &search_index::Entry| {
        let (table, pk, sk) = (api.table.clone(), entry.pk.clone(), entry.sk.clone());
        async move { table.get_item(pk, sk).await.unwrap().is_some() }
    };
    // Version 5 put the entries back after version 4 dropped them.
    search_index::put(&api.table, &entries, 5).await.unwrap();

    search_index::delete_unneeded(&api.table, &entries, 4)
        .await
        .unwrap();
    let kept = exists(&entries[0]).await;
    search_index::delete_unneeded(&api.table, &entries, 6)
        .await
        .unwrap();
    let dropped = !exists(&entries[0]).await;

    assert!(
        kept,
        "written for version 5: a delete for version 4 keeps it"
    );
    assert!(dropped, "a delete for version 6 removes it");
}
