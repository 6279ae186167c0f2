//! Search and list answers against a brute-force model, over random
//! organizations large enough to cross the 1,000-match count bound: every
//! answer's page, `total`, `totalRelation` and `nextCursor` is what the
//! contract's rules give when applied to every client (match, sort, tie
//! by id, count up to 1,000), for offset and cursor paging, in both orders
//! of every sort field. The queries are chosen so that the search planner
//! takes each of its ways (`store::listing`): selective (the index's
//! entries end within the probe), broad by walking the order, and broad
//! given up for the index (many entries, few matches in the walk).

use std::cmp::Ordering;

use integration_tests::{ids, Tenant, TestApi};
use serde_json::{json, Value};
use shared::domain::input::NewClient;
use shared::domain::list_query::MATCH_COUNT_LIMIT;
use shared::domain::model::{Client, ClientId, Status};
use shared::domain::search::SearchTerm;

/// Words the names are made of: `a` is in about two names in three.
const WORDS: [&str; 12] = [
    "Ada", "Bea", "Cy", "Dan", "Eve", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu",
];
const CLIENTS: usize = 1_700;
/// Clients whose names hold 24 a's: each has ~21 index entries beginning
/// with `aaaa`, so that query has many entries and few matches.
const LONG_A_CLIENTS: usize = 45;

/// A small deterministic generator (the data must not change between runs).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn random_clients() -> Vec<Client> {
    let mut random = Lcg(19);
    (0..CLIENTS + LONG_A_CLIENTS)
        .map(|i| {
            let name = if i < LONG_A_CLIENTS {
                format!("{} {i}", "a".repeat(24))
            } else {
                let mut word = || WORDS[random.below(WORDS.len() as u64) as usize];
                format!("{} {}", word(), word())
            };
            let phone =
                (random.below(5) != 0).then(|| format!("+1 555-{:04}", random.below(10_000)));
            let status = if random.below(3) == 0 {
                "inactive"
            } else {
                "active"
            };
            let body = json!({"name": name, "phone": phone, "status": status});
            NewClient::from_json(body.as_object().unwrap())
                .expect("a valid client")
                .into_client(ClientId::new())
        })
        .collect()
}

/// The contract's order of two clients for `sort_by` ascending (ties by id).
fn ascending(sort_by: &str, a: &Client, b: &Client) -> Ordering {
    let by_field = match sort_by {
        "name" => a
            .name
            .as_str()
            .to_lowercase()
            .cmp(&b.name.as_str().to_lowercase()),
        "phone" => match (&a.phone, &b.phone) {
            (Some(x), Some(y)) => x.as_str().cmp(y.as_str()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        "status" => a.status.as_str().cmp(b.status.as_str()),
        _ => Ordering::Equal, // createdAt: the id's instant, then the id
    };
    by_field.then(a.id.to_string().cmp(&b.id.to_string()))
}

/// What the contract says a list of `clients` answers.
struct Model {
    ids: Vec<String>,
}

impl Model {
    /// The list of `clients` the contract gives, searched for `query` if given.
    fn of(
        clients: &[Client],
        query: Option<&str>,
        sort_by: &str,
        desc: bool,
        status: Option<Status>,
    ) -> Self {
        let term = query.map(|q| SearchTerm::parse(q).expect("a search"));
        let mut matches: Vec<&Client> = clients
            .iter()
            .filter(|c| status.is_none_or(|s| c.status == s))
            .filter(|c| term.as_ref().is_none_or(|t| t.matches_client(c)))
            .collect();
        matches.sort_by(|a, b| {
            let order = ascending(sort_by, a, b);
            if desc {
                order.reverse()
            } else {
                order
            }
        });
        Self {
            ids: matches.iter().map(|c| c.id.to_string()).collect(),
        }
    }

    fn total(&self) -> (u64, &'static str) {
        let matches = self.ids.len() as u64;
        if matches > MATCH_COUNT_LIMIT {
            (MATCH_COUNT_LIMIT, "gte")
        } else {
            (matches, "eq")
        }
    }

    fn page(&self, offset: usize, limit: usize) -> &[String] {
        let start = offset.min(self.ids.len());
        &self.ids[start..(start + limit).min(self.ids.len())]
    }
}

fn assert_counted(answer: &Value, model: &Model, what: &str) {
    let (total, relation) = model.total();
    assert_eq!(
        (answer["total"].as_u64(), answer["totalRelation"].as_str()),
        (Some(total), Some(relation)),
        "{what} (model: {} matches)",
        model.ids.len()
    );
}

/// Every page by cursor, each checked against the model as it comes.
async fn walk_by_cursor(api: &TestApi, tenant: &Tenant, base: &str, model: &Model) {
    let limit = 100;
    let mut seen = Vec::new();
    let mut query = format!("{base}&limit={limit}");
    loop {
        let page = api.list(tenant, &query).await;
        assert_counted(&page, model, &query);
        let page_ids = ids(&page);
        assert_eq!(page_ids, model.page(seen.len(), limit), "{query}");
        seen.extend(page_ids);
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("{base}&limit={limit}&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, model.ids, "{base}: every match once, in order");
}

#[tokio::test]
async fn every_search_and_list_answer_is_the_brute_force_models_across_the_count_bound() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = random_clients();
    api.seed(&tenant.org, &clients).await;
    // (query, status filter): broad by walking (`a`, and `5` through the
    // phone partition), broad given up for the index (`aaaa`), selective
    // (`da`, `y`), and broad within one status.
    let searches = [
        ("a", None),
        ("5", None),
        ("aaaa", None),
        ("da", None),
        ("y", Some(Status::Inactive)),
        ("a", Some(Status::Active)),
    ];
    let mut crossed = false;
    for (round, (query, status)) in searches.iter().enumerate() {
        for (field, sort_by) in ["createdAt", "name", "phone", "status"].iter().enumerate() {
            // Each search in both orders of two sort fields, turn by turn;
            // every sort field and order is met by several searches.
            if (round + field) % 2 == 1 {
                continue;
            }
            for desc in [false, true] {
                let model = Model::of(&clients, Some(*query), sort_by, desc, *status);
                crossed |= model.ids.len() as u64 > MATCH_COUNT_LIMIT;
                let order = if desc { "desc" } else { "asc" };
                let filter = status.map_or(String::new(), |s| format!("&status={}", s.as_str()));
                let base = format!("query={query}&sortBy={sort_by}&sortOrder={order}{filter}");
                for offset in [0, 990, 1_000, 1_150] {
                    let page = api
                        .list(&tenant, &format!("{base}&offset={offset}&limit=20"))
                        .await;
                    assert_counted(&page, &model, &base);
                    assert_eq!(ids(&page), model.page(offset, 20), "{base}&offset={offset}");
                }
                walk_by_cursor(&api, &tenant, &base, &model).await;
            }
        }
    }
    assert!(
        crossed,
        "some search has more than {MATCH_COUNT_LIMIT} matches"
    );
}

#[tokio::test]
async fn every_plain_list_answer_is_the_models_in_both_orders_of_every_sort_field() {
    let api = TestApi::start().await;
    let tenant = api.tenant().await;
    let clients = random_clients();
    api.seed(&tenant.org, &clients[..300]).await;

    for sort_by in ["createdAt", "name", "phone", "status"] {
        for desc in [false, true] {
            for status in [None, Some(Status::Active)] {
                let model = Model::of(&clients[..300], None, sort_by, desc, status);
                let order = if desc { "desc" } else { "asc" };
                let filter = status.map_or(String::new(), |s| format!("&status={}", s.as_str()));
                let base = format!("sortBy={sort_by}&sortOrder={order}{filter}");
                let page = api
                    .list(&tenant, &format!("{base}&offset=130&limit=40"))
                    .await;
                assert_eq!(
                    (page["total"].as_u64(), page["totalRelation"].as_str()),
                    (Some(model.ids.len() as u64), Some("eq")),
                    "{base}"
                );
                assert_eq!(ids(&page), model.page(130, 40), "{base}");
                walk_by_cursor(&api, &tenant, &base, &model).await;
            }
        }
    }
}
