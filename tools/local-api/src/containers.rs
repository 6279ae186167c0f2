//! The function containers `local-api` serves requests with, as Lambda
//! would: a fixed number of them, each holding its own [`App`] (its own
//! key cache and counts shard picker, over one shared DynamoDB client) and
//! serving one request at a time.
//!
//! Lambda runs at most as many containers as the function's concurrency
//! allows and refuses an invocation when none is free. Here a request waits
//! for a free container at most [`Containers::wait`]; past that it is
//! answered 503 `unavailable` with `Retry-After` ("nothing was changed":
//! it never reached a handler). That keeps the work in flight, and with it
//! DynamoDB Local's latency, bounded under any load: without it, every
//! concurrent request runs at once, DynamoDB Local's answers slow past the
//! SDK's attempt timeout, and retries of writes that are still being
//! applied crowd out new work.
//!
//! `LOCAL_API_CONTAINERS` (default [`DEFAULT_CONTAINERS`]) and
//! `LOCAL_API_WAIT_MS` (default [`DEFAULT_WAIT`]) set them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::App;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Containers when `LOCAL_API_CONTAINERS` is not set: enough for a
/// developer's test suites and a browser, few enough that DynamoDB Local on
/// two cores keeps answering well inside the SDK's 2 s attempt timeout.
pub const DEFAULT_CONTAINERS: usize = 16;
/// How long a request may wait for a free container when
/// `LOCAL_API_WAIT_MS` is not set: with a write's own budget
/// (`shared::store::write::WRITE_BUDGET`, 0.7 s) every answer, refusals
/// included, comes within a second.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(300);

/// The containers requests are served by.
pub enum Containers {
    /// A fixed set, each serving one request at a time.
    Limited {
        /// The containers not serving a request now.
        free: Mutex<Vec<Arc<App>>>,
        /// One per container not serving a request now.
        permits: Arc<Semaphore>,
        /// How long a request may wait for a free container.
        wait: Duration,
    },
    /// One app serving every request at once, with no limit (the tests'
    /// in-process server, whose tests drive concurrency themselves).
    Unlimited(Arc<App>),
}

/// A container lent to one request; a limited one goes back to the free
/// ones when dropped.
pub struct Lent<'a> {
    app: Arc<App>,
    returns_to: Option<(&'a Mutex<Vec<Arc<App>>>, OwnedSemaphorePermit)>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some((free, _permit)) = &self.returns_to {
            // Back to the free ones before the permit is released.
            lock(free).push(Arc::clone(&self.app));
        }
    }
}

impl Containers {
    /// `count` containers, each an [`App`] made by `make`; a request waits
    /// at most `wait` for one.
    pub fn new(count: usize, wait: Duration, mut make: impl FnMut() -> App) -> Self {
        let count = count.max(1);
        Self::Limited {
            free: Mutex::new((0..count).map(|_| Arc::new(make())).collect()),
            permits: Arc::new(Semaphore::new(count)),
            wait,
        }
    }

    /// A container for one request: at once if one is free, else the first
    /// to become free within the wait; `None` if none did.
    pub async fn lend(&self) -> Option<Lent<'_>> {
        match self {
            Self::Unlimited(app) => Some(Lent {
                app: Arc::clone(app),
                returns_to: None,
            }),
            Self::Limited {
                free,
                permits,
                wait,
            } => {
                let permit = tokio::time::timeout(*wait, Arc::clone(permits).acquire_owned())
                    .await
                    .ok()?
                    .ok()?;
                // A permit is held for each container lent, so one is free.
                let app = lock(free).pop()?;
                Some(Lent {
                    app,
                    returns_to: Some((free, permit)),
                })
            }
        }
    }

    /// How long a request may wait for a free container (zero when unlimited).
    pub fn wait(&self) -> Duration {
        match self {
            Self::Limited { wait, .. } => *wait,
            Self::Unlimited(_) => Duration::ZERO,
        }
    }
}

fn lock(free: &Mutex<Vec<Arc<App>>>) -> std::sync::MutexGuard<'_, Vec<Arc<App>>> {
    free.lock().unwrap_or_else(|e| e.into_inner())
}
