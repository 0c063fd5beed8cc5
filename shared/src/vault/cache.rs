//! A TTL cache with single-flight per name, in front of any [`SecretStore`].
//!
//! # Semantics
//! - **TTL.** A value read from the inner store is served for `ttl` (default [`DEFAULT_TTL`], 5 minutes)
//!   from the moment the read finished, then read again on the next `get`. Time comes from a clock that
//!   defaults to `tokio::time::Instant::now` (so `tokio::time::pause()` drives it in tests) and can be
//!   replaced with [`CachedStore::with_clock`].
//! - **Single flight per name.** While one `get` of a name is reading the inner store, every other `get`
//!   of that name waits for it and takes its outcome: N concurrent `get`s of an uncached name make one
//!   inner read. That holds for failures too — the waiters of a failed read get a clone of its error — but
//!   errors are **not cached**: a `get` that starts after the failed read finished reads again.
//! - **Per-name locking.** Each name has its own async lock; the map of names is behind a plain mutex held
//!   only to look a name up. A slow or hanging secret never delays another name.
//! - **`get_fresh`** always reads the inner store (its `get_fresh`) and replaces the cached value: the auth
//!   layer calls it once when Entra says the secret it used is invalid (rotation). `get`s of that name that
//!   arrive meanwhile wait for it and take the fresh value.
//! - **`set`** writes through to the inner store and, once that succeeded, caches the new value. A failed
//!   write drops the cached value, so the next `get` reads what the store really holds.
//! - A read that ends in an error drops the cached value too (a `NotFound` means it was deleted) —
//!   **except** a retryable one (throttling, a 5xx, no answer: [`VaultError::is_retryable`]) on a `get`:
//!   then the expired value is served *stale* for at most one more TTL (and never more than
//!   [`MAX_STALE`]) after it expired, and the
//!   vault is tried again after [`STALE_RECHECK`] (not on every request), so a Key Vault outage does not
//!   turn into refused webhooks. `get_fresh` never serves stale (it is called because the value is bad).
//! - A cancelled read (its future dropped) leaves nothing behind; the next waiter reads.
//!
//! Names are never forgotten (a deployment reads a handful); values are [`SecretString`]s and the cache's
//! `Debug` shows only the names' count.

use super::{SecretStore, VaultError};
use crate::secret::SecretString;
use futures::{FutureExt, future::BoxFuture};
use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::time::Instant;

/// How long a value is served before it is read again, unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);

/// How long after its last successful read an expired value may still be served while the vault is
/// unavailable.
pub const MAX_STALE: Duration = Duration::from_secs(60 * 60);

/// While serving stale, how long before the vault is tried again.
pub const STALE_RECHECK: Duration = Duration::from_secs(10);

/// The time source for expiry.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A caching [`SecretStore`] over `S`.
pub struct CachedStore<S: SecretStore> {
    inner: S,
    ttl: Duration,
    clock: Clock,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One name's cache entry and lock.
#[derive(Default)]
struct Slot {
    /// Bumped (under `state`'s lock) each time a read or write of the name completes. A caller that sees it
    /// move while it waited for the lock shares that outcome instead of reading again.
    completed: AtomicU64,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    value: Option<Cached>,
    /// The error of the last completed read, for the callers that waited on it; cleared by a success.
    last_error: Option<VaultError>,
}

struct Cached {
    value: SecretString,
    expires_at: Instant,
    /// When the value was last read from (or written to) the store.
    read_at: Instant,
}

impl<S: SecretStore + fmt::Debug> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.slots.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("ttl", &self.ttl)
            .field("names", &names)
            .finish()
    }
}

impl<S: SecretStore> CachedStore<S> {
    /// A cache over `inner` with the default TTL (5 minutes).
    pub fn new(inner: S) -> Self {
        Self::with_ttl(inner, DEFAULT_TTL)
    }

    /// A cache over `inner` serving each value for `ttl`.
    pub fn with_ttl(inner: S, ttl: Duration) -> Self {
        Self { inner, ttl, clock: Arc::new(Instant::now), slots: Mutex::new(HashMap::new()) }
    }

    /// Replaces the clock (default `tokio::time::Instant::now`).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The store behind the cache.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn slot(&self, name: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(name.to_string()).or_default().clone()
    }

    async fn cached_get(&self, name: &str) -> Result<SecretString, VaultError> {
        let slot = self.slot(name);
        let seen = slot.completed.load(Ordering::Acquire);
        let mut state = slot.state.lock().await;
        if let Some(c) = &state.value
            && c.expires_at > (self.clock)()
        {
            crate::metrics::count("VaultCacheHits", 1);
            return Ok(c.value.clone());
        }
        if slot.completed.load(Ordering::Acquire) != seen {
            // A read (or write) finished while we queued: its outcome is as fresh as ours would be.
            if let Some(e) = &state.last_error {
                return Err(e.clone());
            }
            if let Some(c) = &state.value {
                return Ok(c.value.clone());
            }
        }
        crate::metrics::count("VaultFetches", 1);
        let result = self.inner.get(name).await;
        if let Err(e) = &result
            && e.is_retryable()
            && let Some(c) = &mut state.value
        {
            let now = (self.clock)();
            // Bridged for at most one more TTL: a value is never served longer than twice what a
            // rotation (or a revocation) is promised to take.
            if now.saturating_duration_since(c.read_at) <= self.ttl + self.ttl.min(MAX_STALE) {
                tracing::warn!(secret = name, error = %e, "secret store unavailable: serving the last value read");
                c.expires_at = now + STALE_RECHECK.min(self.ttl);
                let value = c.value.clone();
                state.last_error = None;
                slot.completed.fetch_add(1, Ordering::Release);
                return Ok(value);
            }
        }
        self.complete(&slot, &mut state, result)
    }

    async fn fresh_get(&self, name: &str) -> Result<SecretString, VaultError> {
        let slot = self.slot(name);
        let mut state = slot.state.lock().await;
        crate::metrics::count("VaultFetches", 1);
        let result = self.inner.get_fresh(name).await;
        self.complete(&slot, &mut state, result)
    }

    fn complete(
        &self,
        slot: &Slot,
        state: &mut State,
        result: Result<SecretString, VaultError>,
    ) -> Result<SecretString, VaultError> {
        match &result {
            Ok(value) => {
                let now = (self.clock)();
                state.value = Some(Cached { value: value.clone(), expires_at: now + self.ttl, read_at: now });
                state.last_error = None;
            }
            Err(e) => {
                state.value = None;
                state.last_error = Some(e.clone());
            }
        }
        slot.completed.fetch_add(1, Ordering::Release);
        result
    }

    async fn write_through(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        let slot = self.slot(name);
        let mut state = slot.state.lock().await;
        match self.inner.set(name, value).await {
            Ok(()) => {
                self.complete(&slot, &mut state, Ok(value.clone()))?;
                Ok(())
            }
            Err(e) => {
                // The store's state is unknown now; let the next get find out.
                state.value = None;
                Err(e)
            }
        }
    }
}

impl<S: SecretStore> SecretStore for CachedStore<S> {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.cached_get(name).boxed()
    }

    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.fresh_get(name).boxed()
    }

    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        self.write_through(name, value).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::watch;

    /// A store that counts reads per name, can hold a name's reads at a gate, and can be told to fail.
    #[derive(Default)]
    struct Fake {
        values: Mutex<HashMap<String, String>>,
        reads: Mutex<HashMap<String, usize>>,
        fresh_reads: AtomicUsize,
        writes: AtomicUsize,
        failing: Mutex<Option<VaultError>>,
        gates: Mutex<HashMap<String, watch::Receiver<bool>>>,
    }

    impl Fake {
        fn with(values: &[(&str, &str)]) -> Self {
            let f = Self::default();
            for (k, v) in values {
                f.put(k, v);
            }
            f
        }
        fn put(&self, name: &str, value: &str) {
            self.values.lock().unwrap().insert(name.into(), value.into());
        }
        fn reads(&self, name: &str) -> usize {
            self.reads.lock().unwrap().get(name).copied().unwrap_or(0)
        }
        fn fail(&self, e: Option<VaultError>) {
            *self.failing.lock().unwrap() = e;
        }
        /// Reads of `name` wait until the returned sender sends `true`.
        fn hold(&self, name: &str) -> watch::Sender<bool> {
            let (tx, rx) = watch::channel(false);
            self.gates.lock().unwrap().insert(name.into(), rx);
            tx
        }
        async fn read(&self, name: &str) -> Result<SecretString, VaultError> {
            *self.reads.lock().unwrap().entry(name.into()).or_default() += 1;
            let gate = self.gates.lock().unwrap().get(name).cloned();
            if let Some(mut gate) = gate {
                gate.wait_for(|open| *open).await.unwrap();
            }
            if let Some(e) = self.failing.lock().unwrap().clone() {
                return Err(e);
            }
            let v = self.values.lock().unwrap().get(name).cloned();
            v.map(SecretString::new).ok_or_else(|| VaultError::NotFound(name.into()))
        }
    }

    impl SecretStore for Fake {
        fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
            self.read(name).boxed()
        }
        fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
            self.fresh_reads.fetch_add(1, Ordering::SeqCst);
            self.read(name).boxed()
        }
        fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
            async move {
                self.writes.fetch_add(1, Ordering::SeqCst);
                if let Some(e) = self.failing.lock().unwrap().clone() {
                    return Err(e);
                }
                self.put(name, value.expose());
                Ok(())
            }
            .boxed()
        }
    }

    /// A clock the test moves by hand.
    #[derive(Clone)]
    struct ManualClock {
        start: Instant,
        offset_s: Arc<AtomicU64>,
    }

    impl ManualClock {
        fn new() -> Self {
            Self { start: Instant::now(), offset_s: Arc::default() }
        }
        fn set(&self, seconds: u64) {
            self.offset_s.store(seconds, Ordering::SeqCst);
        }
        fn now(&self) -> Instant {
            self.start + Duration::from_secs(self.offset_s.load(Ordering::SeqCst))
        }
    }

    fn cached(fake: Fake, ttl: Duration, clock: &ManualClock) -> CachedStore<Fake> {
        let c = clock.clone();
        CachedStore::with_ttl(fake, ttl).with_clock(move || c.now())
    }

    fn unavailable() -> VaultError {
        VaultError::Http { vault: "https://v".into(), name: "s".into(), status: 503, code: None }
    }

    /// Runs `n` concurrent gets of `name` while its reads are held, opens the gate once all `n` have
    /// started, and returns their results.
    async fn concurrent_gets(store: &CachedStore<Fake>, name: &str, n: usize) -> Vec<Result<SecretString, VaultError>> {
        let gate = store.inner().hold(name);
        let started = AtomicUsize::new(0);
        let gets = futures::future::join_all((0..n).map(|_| async {
            started.fetch_add(1, Ordering::SeqCst);
            store.get(name).await
        }));
        let opener = async {
            // Every get has been polled up to its first wait before the gate opens.
            while started.load(Ordering::SeqCst) < n || store.inner().reads(name) == 0 {
                tokio::task::yield_now().await;
            }
            gate.send_replace(true);
        };
        let (results, ()) = tokio::join!(gets, opener);
        store.inner().gates.lock().unwrap().remove(name);
        results
    }

    #[tokio::test]
    async fn hundred_concurrent_gets_make_one_read() {
        let store = CachedStore::new(Fake::with(&[("s", "v1")]));
        let results = concurrent_gets(&store, "s", 100).await;
        assert_eq!(results.len(), 100);
        assert!(results.iter().all(|r| r.as_ref().unwrap().expose() == "v1"));
        assert_eq!(store.inner().reads("s"), 1);
        assert_eq!(store.get("s").await.unwrap().expose(), "v1");
        assert_eq!(store.inner().reads("s"), 1, "a later get is served from the cache");
    }

    #[tokio::test]
    async fn without_the_cache_the_same_load_reads_a_hundred_times() {
        // The control for the test above: the fake really does see concurrent reads.
        let fake = Arc::new(Fake::with(&[("s", "v1")]));
        let gate = fake.hold("s");
        let gets = futures::future::join_all((0..100).map(|_| fake.get("s")));
        let opener = async {
            while fake.reads("s") < 100 {
                tokio::task::yield_now().await;
            }
            gate.send_replace(true);
        };
        let (results, ()) = tokio::join!(gets, opener);
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(fake.reads("s"), 100);
    }

    #[tokio::test]
    async fn expires_after_the_ttl() {
        let clock = ManualClock::new();
        let store = cached(Fake::with(&[("s", "v1")]), Duration::from_secs(60), &clock);
        assert_eq!(store.get("s").await.unwrap().expose(), "v1");
        store.inner().put("s", "v2");
        clock.set(59);
        assert_eq!(store.get("s").await.unwrap().expose(), "v1", "still within the TTL");
        assert_eq!(store.inner().reads("s"), 1);
        clock.set(60);
        assert_eq!(store.get("s").await.unwrap().expose(), "v2", "expired at exactly the TTL");
        assert_eq!(store.inner().reads("s"), 2);
        clock.set(119);
        assert_eq!(store.get("s").await.unwrap().expose(), "v2");
        assert_eq!(store.inner().reads("s"), 2, "the TTL restarts at the new read");
        clock.set(120);
        store.get("s").await.unwrap();
        assert_eq!(store.inner().reads("s"), 3);
    }

    #[tokio::test]
    async fn default_ttl_is_five_minutes() {
        let clock = ManualClock::new();
        let c = clock.clone();
        let store = CachedStore::new(Fake::with(&[("s", "v")])).with_clock(move || c.now());
        assert_eq!(store.ttl(), DEFAULT_TTL);
        assert_eq!(DEFAULT_TTL, Duration::from_secs(300));
        store.get("s").await.unwrap();
        clock.set(299);
        store.get("s").await.unwrap();
        assert_eq!(store.inner().reads("s"), 1);
        clock.set(300);
        store.get("s").await.unwrap();
        assert_eq!(store.inner().reads("s"), 2);
    }

    #[tokio::test]
    async fn get_fresh_always_reads_and_refreshes() {
        let store = CachedStore::new(Fake::with(&[("s", "old")]));
        assert_eq!(store.get("s").await.unwrap().expose(), "old");
        store.inner().put("s", "rotated");
        assert_eq!(store.get("s").await.unwrap().expose(), "old", "cached");
        for _ in 0..3 {
            assert_eq!(store.get_fresh("s").await.unwrap().expose(), "rotated");
        }
        assert_eq!(store.inner().fresh_reads.load(Ordering::SeqCst), 3);
        assert_eq!(store.inner().reads("s"), 4);
        assert_eq!(store.get("s").await.unwrap().expose(), "rotated", "the fresh value is cached");
        assert_eq!(store.inner().reads("s"), 4);
    }

    #[tokio::test]
    async fn gets_waiting_on_get_fresh_take_its_value() {
        let store = CachedStore::new(Fake::with(&[("s", "old")]));
        store.get("s").await.unwrap();
        store.inner().put("s", "rotated");
        let gate = store.inner().hold("s");
        let mut fresh = store.get_fresh("s");
        assert!(futures::poll!(&mut fresh).is_pending(), "held at the gate");
        let mut waiting = store.get("s");
        assert!(futures::poll!(&mut waiting).is_pending(), "queued behind the refresh, not served stale");
        gate.send_replace(true);
        assert_eq!(fresh.await.unwrap().expose(), "rotated");
        assert_eq!(waiting.await.unwrap().expose(), "rotated");
        assert_eq!(store.inner().reads("s"), 2);
    }

    #[tokio::test]
    async fn a_slow_name_does_not_block_another() {
        let store = CachedStore::new(Fake::with(&[("slow", "a"), ("fast", "b")]));
        let gate = store.inner().hold("slow");
        let mut slow = store.get("slow");
        assert!(futures::poll!(&mut slow).is_pending());
        assert_eq!(store.inner().reads("slow"), 1);
        // With the slow read in flight, another name is read and served at once.
        let fast = store.get("fast").now_or_never().expect("fast must not wait for slow");
        assert_eq!(fast.unwrap().expose(), "b");
        // ... and so is a cached one.
        let again = store.get("fast").now_or_never().expect("cached fast must not wait for slow");
        assert_eq!(again.unwrap().expose(), "b");
        gate.send_replace(true);
        assert_eq!(slow.await.unwrap().expose(), "a");
    }

    #[tokio::test]
    async fn errors_are_shared_by_waiters_but_not_cached() {
        let store = CachedStore::new(Fake::with(&[("s", "v")]));
        store.inner().fail(Some(unavailable()));
        let results = concurrent_gets(&store, "s", 10).await;
        assert!(results.iter().all(|r| matches!(r, Err(VaultError::Http { status: 503, .. }))));
        assert_eq!(store.inner().reads("s"), 1, "one failed read for ten concurrent callers");

        assert!(store.get("s").await.is_err());
        assert_eq!(store.inner().reads("s"), 2, "the error is not served from the cache");
        store.inner().fail(None);
        assert_eq!(store.get("s").await.unwrap().expose(), "v");
        assert_eq!(store.inner().reads("s"), 3);
    }

    #[tokio::test]
    async fn an_unavailable_store_is_bridged_with_the_last_value_for_a_bounded_time() {
        let clock = ManualClock::new();
        let ttl = Duration::from_secs(60);
        let store = cached(Fake::with(&[("s", "v")]), ttl, &clock);
        assert_eq!(store.get("s").await.unwrap().expose(), "v");
        store.inner().fail(Some(unavailable()));
        clock.set(61);
        assert_eq!(store.get("s").await.unwrap().expose(), "v", "stale while the vault is down");
        assert_eq!(store.inner().reads("s"), 2);
        assert_eq!(store.get("s").await.unwrap().expose(), "v");
        assert_eq!(store.inner().reads("s"), 2, "not re-tried on every request");
        clock.set(61 + STALE_RECHECK.as_secs());
        assert_eq!(store.get("s").await.unwrap().expose(), "v");
        assert_eq!(store.inner().reads("s"), 3, "re-tried after STALE_RECHECK");
        assert!(store.get_fresh("s").await.is_err(), "get_fresh never serves stale");
        // get_fresh's failure dropped the value: nothing left to bridge with.
        assert!(store.get("s").await.is_err());

        // Bounded: past ttl + MAX_STALE since the last good read, the error comes through.
        let store = cached(Fake::with(&[("s", "v")]), ttl, &clock);
        clock.set(0);
        store.get("s").await.unwrap();
        store.inner().fail(Some(unavailable()));
        clock.set(ttl.as_secs() + MAX_STALE.as_secs() + 1);
        assert!(matches!(store.get("s").await, Err(VaultError::Http { status: 503, .. })));
        // ... and past one more TTL after expiry: the bridge is at most the TTL long.
        let store = cached(Fake::with(&[("s", "v")]), ttl, &clock);
        clock.set(0);
        store.get("s").await.unwrap();
        store.inner().fail(Some(unavailable()));
        clock.set(2 * ttl.as_secs());
        assert_eq!(store.get("s").await.unwrap().expose(), "v", "bridged up to one TTL after expiry");
        clock.set(2 * ttl.as_secs() + STALE_RECHECK.as_secs() + 1);
        assert!(matches!(store.get("s").await, Err(VaultError::Http { status: 503, .. })), "not longer");

        // Not for a revoked credential (401/403 from the vault or from Entra): that is not an outage.
        let store = cached(Fake::with(&[("s", "v")]), ttl, &clock);
        clock.set(0);
        store.get("s").await.unwrap();
        store.inner().fail(Some(VaultError::AccessDenied { vault: "kv".into(), name: "s".into(), status: 401 }));
        clock.set(61);
        assert!(matches!(store.get("s").await, Err(VaultError::AccessDenied { .. })));

        // Not for an error that says the value is gone or forbidden.
        let store = cached(Fake::with(&[("s", "v")]), ttl, &clock);
        clock.set(0);
        store.get("s").await.unwrap();
        store.inner().fail(Some(VaultError::NotFound("s".into())));
        clock.set(61);
        assert!(matches!(store.get("s").await, Err(VaultError::NotFound(_))));
    }

    #[tokio::test]
    async fn a_failed_read_drops_the_cached_value() {
        let store = CachedStore::new(Fake::with(&[("s", "v")]));
        store.get("s").await.unwrap();
        store.inner().values.lock().unwrap().clear();
        assert!(matches!(store.get_fresh("s").await, Err(VaultError::NotFound(_))));
        assert!(matches!(store.get("s").await, Err(VaultError::NotFound(_))), "not the stale value");
    }

    #[tokio::test]
    async fn set_writes_through_and_updates_the_cache() {
        let store = CachedStore::new(Fake::with(&[("s", "v1")]));
        store.get("s").await.unwrap();
        store.set("s", &SecretString::new("v2")).await.unwrap();
        assert_eq!(store.inner().writes.load(Ordering::SeqCst), 1);
        assert_eq!(store.inner().values.lock().unwrap()["s"], "v2");
        assert_eq!(store.get("s").await.unwrap().expose(), "v2");
        assert_eq!(store.inner().reads("s"), 1, "served from the cache after the write");

        store.inner().fail(Some(unavailable()));
        assert!(store.set("s", &SecretString::new("v3")).await.is_err());
        store.inner().fail(None);
        assert_eq!(store.get("s").await.unwrap().expose(), "v2", "re-read after the failed write");
        assert_eq!(store.inner().reads("s"), 2);
    }

    #[tokio::test]
    async fn a_cancelled_read_leaves_nothing_behind() {
        let store = CachedStore::new(Fake::with(&[("s", "v")]));
        let gate = store.inner().hold("s");
        let mut first = store.get("s");
        assert!(futures::poll!(&mut first).is_pending());
        drop(first);
        gate.send_replace(true);
        assert_eq!(store.get("s").await.unwrap().expose(), "v");
        assert_eq!(store.inner().reads("s"), 2);
    }

    #[tokio::test]
    async fn debug_shows_no_values() {
        #[derive(Debug)]
        struct Named;
        impl SecretStore for Named {
            fn get<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
                async { Ok(SecretString::new("hunter2")) }.boxed()
            }
            fn get_fresh<'a>(&'a self, n: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
                self.get(n)
            }
            fn set<'a>(&'a self, _: &'a str, _: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
                async { Ok(()) }.boxed()
            }
        }
        let store = CachedStore::new(Named);
        store.get("s").await.unwrap();
        let printed = format!("{store:?}");
        assert!(printed.contains("names: 1") && !printed.contains("hunter2"), "{printed}");
    }
}
