//! The load runner of the overhead section: an operation run from several
//! tasks for a while, its rate and latency percentiles.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::App;

use crate::request::{send, Prepared};

#[derive(Default)]
pub struct Load {
    count: u64,
    pub errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Load {
    pub fn merge(&mut self, other: Load) {
        self.count += other.count;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    /// Operations run.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Successful operations per second.
    pub fn success_rate(&self) -> f64 {
        (self.count - self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile(&mut self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

/// One operation of a load run: given the request number, whether it succeeded.
pub type Op =
    Arc<dyn Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Sends the `n`-th of `requests` (round robin) through the handlers; a
/// success is the `expected` status.
pub fn api_op(app: &Arc<App>, requests: Arc<Vec<Prepared>>, expected: u16) -> Op {
    let app = Arc::clone(app);
    Arc::new(move |n| {
        let (app, requests) = (Arc::clone(&app), Arc::clone(&requests));
        Box::pin(async move {
            let request = &requests[n as usize % requests.len()];
            send(&app, request).await.0 == expected
        })
    })
}

/// Runs `operation` from `concurrency` tasks for `duration`. Task `i`'s
/// calls get the numbers `i`, `i + concurrency`, `i + 2·concurrency`, …, so
/// `n % concurrency` names the task (a writer's own organization or `App`).
/// `false` counts as an error.
pub async fn run_load(concurrency: usize, duration: Duration, operation: Op) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let (operation, stop) = (operation.clone(), stop.clone());
        let mut next = task as u64;
        tasks.spawn(async move {
            let mut load = Load::default();
            while !stop.load(Ordering::Relaxed) {
                let n = next;
                next += concurrency as u64;
                let t = Instant::now();
                let ok = operation(n).await;
                load.latencies.push(t.elapsed());
                load.count += 1;
                load.errors += u64::from(!ok);
            }
            load
        });
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Load::default();
    while let Some(load) = tasks.join_next().await {
        total.merge(load.expect("a load task"));
    }
    total.elapsed = started.elapsed();
    total
}
