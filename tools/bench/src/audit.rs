//! The flood section's ground truth, read back over HTTP once the flood has
//! drained: every organization listed page by page by cursor
//! (`GET /api/v1/clients?limit=100&cursor=…`), and every client listed
//! searched by its exact name (`GET /api/v1/clients?query=<name>`).
//!
//! A read that meets a 5xx or no answer is repeated (the flood is over, but
//! DynamoDB Local may still be catching up); any other status ends the
//! audit with the reason.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Method;
use serde_json::Value;

use crate::http::{encode, Connection};

/// Attempts of one read before the audit gives up.
const READ_ATTEMPTS: usize = 10;
/// The pause between them.
const READ_PAUSE: Duration = Duration::from_millis(500);
/// How long the audit waits before searching again for the clients a first
/// search did not find (to tell entries still on their way from entries lost).
pub const SEARCH_AGAIN_AFTER: Duration = Duration::from_secs(15);

/// A client as the list shows it.
pub struct Listed {
    pub id: String,
    pub name: String,
}

/// One organization, listed by cursor to its end.
pub struct OrgTruth {
    /// `total` on the list's first page.
    pub total: u64,
    /// Every client listed, each id once.
    pub clients: Vec<Listed>,
    /// Ids listed more than once (a paging defect).
    pub repeated: usize,
}

/// What the audit found.
pub struct Truth {
    pub orgs: Vec<OrgTruth>,
    /// Clients searched for by name: every client listed.
    pub searched: usize,
    /// The names of those a search by their exact name did not return,
    /// neither at first nor [`SEARCH_AGAIN_AFTER`] later.
    pub not_found: Vec<String>,
    /// Those the first search missed and the second found.
    pub found_late: usize,
}

impl Truth {
    /// How many listed clients carry each name.
    pub fn names(&self) -> HashMap<&str, usize> {
        let mut names = HashMap::new();
        for client in self.orgs.iter().flat_map(|o| &o.clients) {
            *names.entry(client.name.as_str()).or_default() += 1;
        }
        names
    }

    /// Clients listed, all organizations together.
    pub fn listed(&self) -> usize {
        self.orgs.iter().map(|o| o.clients.len()).sum()
    }
}

/// Lists every organization (one API key each) and searches every client
/// listed, over `width` connections to `address`.
pub async fn audit(address: SocketAddr, keys: &[String], width: usize) -> Result<Truth, String> {
    let orgs: Vec<OrgTruth> = on_connections(address, keys.to_vec(), width, list_org)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let searches: Vec<(String, String, String)> = keys
        .iter()
        .zip(&orgs)
        .flat_map(|(key, org)| {
            org.clients
                .iter()
                .map(|c| (key.clone(), c.id.clone(), c.name.clone()))
        })
        .collect();
    let searched = searches.len();
    let missed = unfound(address, searches, width).await?;
    let (not_found, found_late) = if missed.is_empty() {
        (Vec::new(), 0)
    } else {
        tokio::time::sleep(SEARCH_AGAIN_AFTER).await;
        let again = unfound(address, missed.clone(), width).await?;
        let late = missed.len() - again.len();
        (again.into_iter().map(|(_, _, name)| name).collect(), late)
    };
    Ok(Truth {
        orgs,
        searched,
        not_found,
        found_late,
    })
}

/// The searches (key, id, name) that did not find their client.
async fn unfound(
    address: SocketAddr,
    searches: Vec<(String, String, String)>,
    width: usize,
) -> Result<Vec<(String, String, String)>, String> {
    let mut missed = Vec::new();
    for (search, found) in on_connections(address, searches, width, search_name).await {
        if !found? {
            missed.push(search);
        }
    }
    Ok(missed)
}

/// Walks one organization's list by cursor.
async fn list_org(
    mut connection: Connection,
    key: String,
) -> (Connection, Result<OrgTruth, String>) {
    let mut truth = OrgTruth {
        total: 0,
        clients: Vec::new(),
        repeated: 0,
    };
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut first = true;
    loop {
        let path = match &cursor {
            None => "/api/v1/clients?limit=100".to_owned(),
            Some(c) => format!("/api/v1/clients?limit=100&cursor={}", encode(c)),
        };
        let page = match read(&mut connection, &path, &key).await {
            Ok(page) => page,
            Err(e) => return (connection, Err(e)),
        };
        if first {
            truth.total = page["total"].as_u64().unwrap_or(0);
            first = false;
        }
        for client in page["data"].as_array().into_iter().flatten() {
            let id = client["id"].as_str().unwrap_or_default().to_owned();
            if !seen.insert(id.clone()) {
                truth.repeated += 1;
                continue;
            }
            let name = client["name"].as_str().unwrap_or_default().to_owned();
            truth.clients.push(Listed { id, name });
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (connection, Ok(truth)),
        }
    }
}

/// Whether a search by `name` returns the client `id`; the search with it.
#[allow(clippy::type_complexity)]
async fn search_name(
    mut connection: Connection,
    search: (String, String, String),
) -> (Connection, ((String, String, String), Result<bool, String>)) {
    let (key, id, name) = &search;
    let path = format!("/api/v1/clients?limit=100&query={}", encode(name));
    let found = read(&mut connection, &path, key).await.map(|page| {
        page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["id"].as_str() == Some(id.as_str()))
    });
    (connection, (search, found))
}

/// A `GET` expected to answer 200, repeated after a 5xx or no answer.
async fn read(connection: &mut Connection, path: &str, key: &str) -> Result<Value, String> {
    let mut last = String::new();
    for _ in 0..READ_ATTEMPTS {
        match connection.send(Method::GET, path, key, None).await {
            Ok(reply) if reply.status == 200 => return Ok(reply.body),
            Ok(reply) if reply.status >= 500 => last = format!("{} {}", reply.status, reply.body),
            Ok(reply) => return Err(format!("GET {path}: {} {}", reply.status, reply.body)),
            Err(error) => last = error,
        }
        tokio::time::sleep(READ_PAUSE).await;
    }
    Err(format!(
        "GET {path}: {READ_ATTEMPTS} attempts, the last: {last}"
    ))
}

/// Runs `work` on every job from `width` tasks, each with its own
/// connection; the results in the jobs' order.
async fn on_connections<J, R, F, Fut>(
    address: SocketAddr,
    jobs: Vec<J>,
    width: usize,
    work: F,
) -> Vec<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(Connection, J) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (Connection, R)> + Send,
{
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(
        jobs.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let work = Arc::new(work);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..width.max(1).min(total.max(1)) {
        let (queue, work) = (Arc::clone(&queue), Arc::clone(&work));
        tasks.spawn(async move {
            let mut connection = Connection::new(address);
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((index, job)) = next else { break };
                let (back, result) = work(connection, job).await;
                connection = back;
                done.push((index, result));
            }
            done
        });
    }
    let mut results: Vec<(usize, R)> = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        results.extend(done.expect("an audit task"));
    }
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}
