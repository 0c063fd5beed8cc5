//! The token cache: one slot per (tenant, client, scope, context), refreshed ahead of expiry, with
//! single-flight per slot.
//!
//! Each slot has its own async gate, so a slow or failing tenant holds only its own slot: other
//! tenants and other scopes never wait on it. Within a slot, the first caller that finds the token
//! missing or due fetches it while the others wait on the gate and then read what it stored — 100
//! concurrent callers cause one token request. While a due-but-still-valid token is being refreshed,
//! callers get the valid one instead of waiting; if that refresh fails, the valid token keeps being
//! served (with a short back-off before the next attempt) until it really nears expiry.

use super::{AccessToken, error::AuthError};
use chrono::{DateTime, Duration, Utc};
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
};

/// Refresh this long before `expires_in` runs out.
pub const REFRESH_AHEAD: Duration = Duration::minutes(5);
/// A token this close to expiry is not handed out any more.
const MIN_REMAINING: Duration = Duration::seconds(30);
/// After a failed refresh of a still-valid token, wait this long before the next attempt.
const RETRY_BACKOFF: Duration = Duration::seconds(30);

/// What a slot is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Authority host (one tenant id means one tenant, but a test or a misconfiguration may point
    /// the same ids at two authorities: their tokens must not mix).
    pub authority: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Client id.
    pub client_id: String,
    /// Requested scope, as asked.
    pub scope: String,
    /// Delegated (user) rather than application context.
    pub user: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    refresh_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Slot {
    current: Mutex<Option<Cached>>,
    gate: tokio::sync::Mutex<()>,
}

impl Slot {
    fn snapshot(&self) -> Option<Cached> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn store(&self, cached: Option<Cached>) {
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = cached;
    }
}

/// When to refresh a token issued at `issued` that expires at `expires`: 5 minutes ahead, or at half
/// its life for tokens shorter than 10 minutes.
pub fn refresh_time(issued: DateTime<Utc>, expires: DateTime<Utc>) -> DateTime<Utc> {
    let life = expires - issued;
    if life > REFRESH_AHEAD * 2 { expires - REFRESH_AHEAD } else { issued + life / 2 }
}

/// The cache.
#[derive(Debug, Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
}

impl TokenCache {
    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(key.clone()).or_default().clone()
    }

    /// Forgets the token for `key` (an API refused it).
    pub fn invalidate(&self, key: &CacheKey) {
        let slot = self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned();
        if let Some(slot) = slot {
            slot.store(None);
        }
    }

    /// The cached token for `key` if it is not due, else the result of `fetch` (run by one caller
    /// per key at a time).
    ///
    /// # Errors
    /// What `fetch` returned, when no still-valid token can stand in.
    pub async fn get_or_fetch<N, F, Fut>(&self, key: &CacheKey, now: N, fetch: F) -> Result<AccessToken, AuthError>
    where
        N: Fn() -> DateTime<Utc>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, AuthError>>,
    {
        let slot = self.slot(key);
        let usable = |c: &Cached, at: DateTime<Utc>| at < c.token.expires_at - MIN_REMAINING;
        if let Some(c) = slot.snapshot()
            && now() < c.refresh_at
        {
            crate::metrics::count("TokenCacheHits", 1);
            return Ok(c.token);
        }
        let _gate = match slot.gate.try_lock() {
            Ok(gate) => gate,
            Err(_) => {
                // Someone is fetching: a still-valid token serves meanwhile; otherwise wait for theirs.
                if let Some(c) = slot.snapshot()
                    && usable(&c, now())
                {
                    crate::metrics::count("TokenCacheHits", 1);
                    return Ok(c.token);
                }
                slot.gate.lock().await
            }
        };
        let issued = now();
        let previous = slot.snapshot();
        if let Some(c) = &previous
            && issued < c.refresh_at
        {
            // Fetched by the caller that held the gate: served from the cache, so counted as a hit
            // (every answer is either a hit or a fetch, however concurrent callers interleave).
            crate::metrics::count("TokenCacheHits", 1);
            return Ok(c.token.clone());
        }
        crate::metrics::count("TokenFetches", 1);
        match fetch().await {
            Ok(token) => {
                let refresh_at = refresh_time(issued, token.expires_at);
                slot.store(Some(Cached { token: token.clone(), refresh_at }));
                Ok(token)
            }
            Err(e) => match previous {
                Some(c) if usable(&c, now()) => {
                    tracing::warn!(
                        tenant_id = %key.tenant_id, client_id = %key.client_id, scope = %key.scope, error = %e,
                        "refreshing a token ahead of expiry failed; the current one serves until it nears expiry"
                    );
                    let refresh_at = (now() + RETRY_BACKOFF).min(c.token.expires_at - MIN_REMAINING);
                    slot.store(Some(Cached { token: c.token.clone(), refresh_at }));
                    Ok(c.token)
                }
                _ => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(scope: &str) -> CacheKey {
        CacheKey {
            authority: "a".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            scope: scope.into(),
            user: false,
        }
    }

    fn token(value: &str, expires_at: DateTime<Utc>) -> AccessToken {
        AccessToken { secret: SecretString::new(value), expires_at }
    }

    #[test]
    fn refresh_is_five_minutes_ahead_or_at_half_life() {
        let t0 = Utc::now();
        assert_eq!(refresh_time(t0, t0 + Duration::seconds(3599)), t0 + Duration::seconds(3299));
        assert_eq!(refresh_time(t0, t0 + Duration::seconds(300)), t0 + Duration::seconds(150));
    }

    #[tokio::test]
    async fn a_failed_refresh_ahead_serves_the_valid_token_and_backs_off() {
        let cache = TokenCache::default();
        let t0 = Utc::now();
        let now = Mutex::new(t0);
        let clock = || *now.lock().unwrap();
        let k = key("s");
        let first = cache.get_or_fetch(&k, clock, || async { Ok(token("one", t0 + Duration::hours(1))) }).await;
        assert_eq!(first.unwrap().secret.expose(), "one");
        *now.lock().unwrap() = t0 + Duration::minutes(56);
        let calls = AtomicUsize::new(0);
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(AuthError::UnknownTenant("x".into()))
        };
        assert_eq!(cache.get_or_fetch(&k, clock, failing).await.unwrap().secret.expose(), "one");
        // Within the back-off: no new attempt.
        assert_eq!(cache.get_or_fetch(&k, clock, failing).await.unwrap().secret.expose(), "one");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Past expiry - 30 s the error comes through.
        *now.lock().unwrap() = t0 + Duration::minutes(60);
        assert!(matches!(cache.get_or_fetch(&k, clock, failing).await, Err(AuthError::UnknownTenant(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidate_forces_a_fetch() {
        let cache = TokenCache::default();
        let t0 = Utc::now();
        let k = key("s");
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(token("x", t0 + Duration::hours(1)))
        };
        cache.get_or_fetch(&k, || t0, fetch).await.unwrap();
        cache.get_or_fetch(&k, || t0, fetch).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache.invalidate(&k);
        cache.get_or_fetch(&k, || t0, fetch).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
