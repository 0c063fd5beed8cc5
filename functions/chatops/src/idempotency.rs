//! Exactly-once for confirmed actions: a conditional "put if absent" keyed by the confirmation's
//! request id (unique per confirmation token, and inside its MAC).
//!
//! [`MemoryStore`] serves tests, `make run` and one warm instance. Production must use a store with a
//! conditional write shared by every instance of the callback and the worker — DynamoDB `PutItem` with
//! `ConditionExpression: attribute_not_exists(pk)` and a TTL attribute set to the token's expiry plus a
//! day — so that two Lambda instances receiving a double click never both win. (Behind it, the worker
//! still re-checks the machine's pending actions before acting, and Defender itself refuses a second
//! action of a kind in flight.)

use async_trait::async_trait;
use std::{collections::HashMap, sync::Mutex};

/// The store failed (the action must then not run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency store: {0}")]
pub struct StoreError(pub String);

/// A conditional-write store.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Writes `value` under `key` unless the key exists (atomically). `Ok(None)`: this caller owns
    /// the key now; `Ok(Some(v))`: it was there already, with `v`.
    async fn put_if_absent(&self, key: &str, value: &str, expires_at: i64) -> Result<Option<String>, StoreError>;
    /// Replaces the value of a key this caller owns.
    async fn set(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Removes a key (used only when the claimed work could not even be handed on).
    async fn remove(&self, key: &str) -> Result<(), StoreError>;
}

/// In-memory store: one mutex, so the check and the write are one step.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, (String, i64)>>,
    clock: Option<fn() -> i64>,
}

impl MemoryStore {
    /// A store that drops expired keys on write, reading time from `clock`.
    pub fn with_clock(clock: fn() -> i64) -> Self {
        Self { map: Mutex::new(HashMap::new()), clock: Some(clock) }
    }

    /// The value under `key` (tests).
    pub fn get(&self, key: &str) -> Option<String> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).map(|(v, _)| v.clone())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn put_if_absent(&self, key: &str, value: &str, expires_at: i64) -> Result<Option<String>, StoreError> {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(now) = self.clock.map(|c| c()) {
            // Keep keys a day past their expiry: a late retry of an old token is still a duplicate.
            map.retain(|_, (_, exp)| *exp + 86_400 >= now);
        }
        if let Some((v, _)) = map.get(key) {
            return Ok(Some(v.clone()));
        }
        map.insert(key.to_string(), (value.to_string(), expires_at));
        Ok(None)
    }

    async fn set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let exp = map.get(key).map(|(_, e)| *e).unwrap_or(i64::MAX);
        map.insert(key.to_string(), (value.to_string(), exp));
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_winner_among_concurrent_claims() {
        let store = Arc::new(MemoryStore::default());
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move { s.put_if_absent("k", &format!("by {i}"), 10).await.unwrap() })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if t.await.unwrap().is_none() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
        store.set("k", "done").await.unwrap();
        assert_eq!(store.put_if_absent("k", "again", 10).await.unwrap().as_deref(), Some("done"));
        store.remove("k").await.unwrap();
        assert_eq!(store.put_if_absent("k", "again", 10).await.unwrap(), None);
    }
}
