//! Exactly-once for confirmed actions: a conditional "put if absent" keyed by the confirmation's
//! request id (unique per confirmation token, and inside its MAC).
//!
//! [`MemoryStore`] serves tests, `make run` and one warm instance. [`DynamoStore`] is production
//! (`CHATOPS_IDEMPOTENCY_TABLE`), shared by every instance of the callback and the worker: partition
//! key `pk` (S), `PutItem` with `ConditionExpression: attribute_not_exists(pk)`, the value in `v`,
//! and the TTL attribute `expires_at` (N, epoch seconds) set a day past the token's expiry, so two
//! Lambda instances receiving a double click never both win and a late retry is still a duplicate.
//! (Behind it, the worker still re-checks the machine's pending actions before acting, and Defender
//! itself refuses a second action of a kind in flight.)

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
    /// The value under `key`, read consistently.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
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
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn put_if_absent(&self, key: &str, value: &str, expires_at: i64) -> Result<Option<String>, StoreError> {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(now) = self.clock.map(|c| c()) {
            // Keep keys a day past their expiry: a late retry of an old token is still a duplicate.
            map.retain(|_, (_, exp)| *exp + KEEP_AFTER_EXPIRY_S >= now);
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

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).map(|(v, _)| v.clone()))
    }
}

/// How long a key outlives its token: a late retry of an old token is still a duplicate.
pub const KEEP_AFTER_EXPIRY_S: i64 = 86_400;

/// Production store: one DynamoDB table (`pk` S partition key, TTL on `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn dynamo_error<E, R>(op: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError(format!("DynamoDB {op}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn put_if_absent(&self, key: &str, value: &str, expires_at: i64) -> Result<Option<String>, StoreError> {
        use aws_sdk_dynamodb::{operation::put_item::PutItemError, types::AttributeValue as A};
        // Two rounds: a key removed between our failed put and our read is claimed again.
        for _ in 0..2 {
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", A::S(key.to_string()))
                .item("v", A::S(value.to_string()))
                .item("expires_at", A::N(expires_at.saturating_add(KEEP_AFTER_EXPIRY_S).to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            match put {
                Ok(_) => return Ok(None),
                Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {}
                Err(e) => return Err(dynamo_error("PutItem", e)),
            }
            if let Some(v) = self.get(key).await? {
                return Ok(Some(v));
            }
        }
        Err(StoreError(format!("key '{key}' changed twice while being claimed")))
    }

    async fn set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", A::S(key.to_string()))
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", A::S(value.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| dynamo_error("UpdateItem", e))
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", A::S(key.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| dynamo_error("DeleteItem", e))
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", A::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        Ok(got.item.map(|item| item.get("v").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()))
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
