//! The production [`Source`], on the shared [`TenantClient`]: the typed list pages for one tenant, asked with the
//! documented options only (`$filter` on the time field, `$top`, `$skip`; `$expand=evidence` on MDE
//! alerts) — no `$orderby`, which no list documents. Each record is the item as Defender returned it
//! (the page's raw JSON for that item); the cursor's `(id, time)` are its two members read from
//! those bytes, nothing else of it decoded. A page is read as it streams in
//! ([`DefenderClient::call_item_bytes`]): each item is handed to the export on its own, so no page
//! is held whole.

use crate::export::{PageQuery, Record, Records, Source, StreamKind};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::{
    auth::TokenSource,
    defender::{
        Deadline, DefenderClient, DefenderError, TenantClient,
        api::{self, ListQuery},
        items::{ItemBytes, ItemKey, Member},
        kql::KqlQuery,
        models::{Timestamp, hunting::GraphHuntingRequest},
        odata::{Filter, fields},
    },
    ids::TenantName,
};
use serde::de::Error as _;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// One tenant's pages through the shared client: a [`TenantClient`] built once at cold start
/// ([`TenantClient::unbounded`]), each call bounded by the run's deadline it is given.
pub fn source<T: TokenSource>(client: Arc<DefenderClient<T>>, tenant: TenantName) -> TenantClient<T> {
    TenantClient::unbounded(client, tenant)
}

/// A record from one page item, its bytes exactly as Defender sent them: the line is those bytes;
/// the id and time are the two members the export reads ([`ItemKey`]), the rest of the item is only
/// checked to be JSON. See "What the export reads of a record" in [`crate::export`].
///
/// # Errors
/// The bytes are not JSON (not UTF-8, or not one JSON value): the page is not JSON.
fn record(stream: StreamKind, bytes: &[u8]) -> Result<Record, serde_json::Error> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| serde_json::Error::custom(format!("an item is not UTF-8: {e}")))?;
    let key = ItemKey::read(text, stream.id_field(), stream.time_field())?;
    let mut odd: Option<&'static str> = (!key.object).then_some("the item is not a JSON object");
    let id = match key.id {
        Member::Text(id) => Some(id.into_owned()),
        Member::Number(n) => Some(n),
        Member::Absent if key.object => {
            odd = Some("the id is missing");
            None
        }
        Member::Absent => None,
        Member::Null | Member::Other => {
            odd = Some("the id is not a string or a number (or given twice)");
            None
        }
    };
    let updated = match key.time {
        Member::Text(t) => {
            let at = Timestamp::instant(&t);
            if at.is_none() {
                odd = odd.or(Some("the time does not parse"));
            }
            at
        }
        Member::Absent | Member::Null => None,
        Member::Number(_) | Member::Other => {
            odd = odd.or(Some("the time is not a string (or given twice)"));
            None
        }
    };
    let id = id.unwrap_or_else(|| {
        // Without an id, a digest of the item names it, so a retry keys it the same.
        let digest = Sha256::digest(bytes);
        format!("sha256:{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
    });
    if let Some(reason) = odd {
        tracing::warn!(
            stream = stream.as_str(),
            id = %loggable(&id),
            reason,
            "an item the export cannot key by its id and time is exported as received"
        );
    }
    Ok(Record {
        id,
        updated: updated.unwrap_or(DateTime::<Utc>::MIN_UTC),
        line: bytes.to_vec(),
        undecodable: odd.is_some(),
    })
}

/// An id as a log field: at most 128 characters, control characters as `?` (an id is the
/// service's text, not ours).
fn loggable(id: &str) -> String {
    id.chars().take(128).map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn window<R>(
    field: defender_shared::defender::odata::Field<R>,
    q: &PageQuery,
) -> Option<defender_shared::defender::odata::Filter<R>> {
    let ge = q.from.map(|t| Filter::ge(field, t));
    let lt = q.until.map(|t| Filter::lt(field, t));
    match (ge, lt) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    }
}

/// `base` with the page's `$top`/`$skip` and the window on `field`.
fn query<R>(field: defender_shared::defender::odata::Field<R>, q: &PageQuery, base: ListQuery<R>) -> ListQuery<R> {
    let mut lq = base.top(q.top).skip(q.skip);
    lq.filter = window(field, q);
    lq
}

/// The items of one page handed on as records, one at a time.
struct ToRecords<'a> {
    stream: StreamKind,
    out: &'a mut dyn Records,
}

impl ItemBytes for ToRecords<'_> {
    fn item(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        self.out.record(record(self.stream, bytes)?);
        Ok(())
    }
    fn restart(&mut self) {
        self.out.restart();
    }
}

#[async_trait]
impl<T: TokenSource> Source for TenantClient<T> {
    async fn page(
        &self,
        stream: StreamKind,
        q: &PageQuery,
        deadline: Deadline,
        out: &mut dyn Records,
    ) -> Result<(), DefenderError> {
        // `@odata.nextLink` is not relied on: the pager ends a window at a short page.
        let deadline = self.within(deadline);
        let call = match stream {
            StreamKind::XdrIncidents => {
                api::incidents::list_page_call(&query(fields::incidents::LAST_UPDATE_TIME, q, ListQuery::new()))
            }
            StreamKind::MdeAlerts => {
                let base = ListQuery::new().expand(fields::alerts::EXPAND_EVIDENCE);
                api::alerts::list_page_call(&query(fields::alerts::LAST_UPDATE_TIME, q, base))
            }
            StreamKind::GraphAlerts => api::graph::alerts_list_page_call(&query(
                fields::graph_alerts::LAST_UPDATE_DATE_TIME,
                q,
                ListQuery::new(),
            )),
            StreamKind::GraphIncidents => api::graph::incidents_list_page_call(&query(
                fields::graph_incidents::LAST_UPDATE_DATE_TIME,
                q,
                ListQuery::new(),
            )),
        };
        let mut items = ToRecords { stream, out };
        self.client.call_item_bytes(&self.tenant, call, deadline, &mut items).await?;
        Ok(())
    }

    fn throttles_retried(&self) -> u64 {
        self.client.throttles_retried()
    }

    async fn hunt(&self, query: &KqlQuery, deadline: Deadline) -> Result<Vec<Vec<u8>>, DefenderError> {
        let deadline = self.within(deadline);
        let req = GraphHuntingRequest { query: query.clone(), timespan: None };
        let answer = self.client.graph_hunt(&self.tenant, &req, deadline).await?;
        answer
            .rows()
            .iter()
            .map(|row| {
                serde_json::to_vec(row).map_err(|source| DefenderError::Decode {
                    endpoint: defender_shared::defender::Endpoint::GraphSecurityRunHuntingQuery.name(),
                    source,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{StreamKind, record};
    use chrono::{DateTime, Utc};

    fn key(stream: StreamKind, item: &str) -> (String, DateTime<Utc>, bool) {
        let r = record(stream, item.as_bytes()).unwrap();
        assert_eq!(r.line, item.as_bytes(), "the line is the item's bytes");
        (r.id, r.updated, r.undecodable)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_record_is_keyed_by_its_id_and_time_whatever_else_it_holds() {
        let mde = StreamKind::MdeAlerts;
        // Members our model would refuse (a severity as a number, evidence of another shape, a
        // member it does not know) are not read: the record is keyed and placed like any other.
        let odd = r#"{"id":"da1","severity":3,"evidence":"none","new":{"x":[1]},"lastUpdateTime":"2026-01-02T03:04:05.1234567Z"}"#;
        assert_eq!(key(mde, odd), ("da1".into(), at("2026-01-02T03:04:05.1234567Z"), false));
        // The time's other spellings real data has: 0 to 7 fractional digits, no offset.
        assert_eq!(key(mde, r#"{"lastUpdateTime":"2026-01-02T03:04:05","id":"da2"}"#).1, at("2026-01-02T03:04:05Z"));
        // The id as sent: escapes resolved, spaces kept, no length limit, no character set.
        let long = format!("{}.x", "a".repeat(200));
        assert_eq!(key(mde, &format!(r#"{{"id":"{long}"}}"#)).0, long);
        assert_eq!(key(mde, r#"{"id":" da\u00331 "}"#).0, " da31 ");
        // XDR: `incidentId`, a number or (as some real answers send ids) a string.
        let xdr = StreamKind::XdrIncidents;
        assert_eq!(
            key(xdr, r#"{"incidentId":7587,"lastUpdateTime":null}"#),
            ("7587".into(), DateTime::<Utc>::MIN_UTC, false)
        );
        assert_eq!(key(xdr, r#"{"incidentId":"7587","id":"other"}"#).0, "7587");
        let graph = StreamKind::GraphAlerts;
        assert_eq!(
            key(graph, r#"{"id":"g1","lastUpdateDateTime":"2026-01-02T03:04:05Z"}"#).1,
            at("2026-01-02T03:04:05Z")
        );
    }

    #[test]
    fn a_record_without_a_readable_key_is_written_all_the_same_and_counted() {
        let mde = StreamKind::MdeAlerts;
        let min = DateTime::<Utc>::MIN_UTC;
        // Without a time (absent or null): untimed, not undecodable (the model allows both).
        assert_eq!(key(mde, r#"{"id":"da1"}"#), ("da1".into(), min, false));
        // A time that is not one: untimed and undecodable.
        for t in [r#""yesterday""#, "5", r#"{"at":"2026-01-01T00:00:00Z"}"#] {
            let (id, updated, undecodable) = key(mde, &format!(r#"{{"id":"da1","lastUpdateTime":{t}}}"#));
            assert_eq!((id.as_str(), updated, undecodable), ("da1", min, true), "{t}");
        }
        // A member given twice: which one the service meant is unknown.
        let twice = r#"{"id":"da1","lastUpdateTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-02T00:00:00Z"}"#;
        assert_eq!(key(mde, twice), ("da1".into(), min, true));
        // No id (missing, null, of another type, given twice, not an object): a digest of the item
        // names it, the same on every read of the same bytes, and different items apart.
        let items = [
            r#"{"lastUpdateTime":"2026-01-01T00:00:00Z"}"#,
            r#"{"id":null}"#,
            r#"{"id":["da1"]}"#,
            r#"{"id":"a","id":"b"}"#,
            "7",
            r#""da1""#,
            "null",
        ];
        let mut ids = std::collections::HashSet::new();
        for item in items {
            let (id, _, undecodable) = key(mde, item);
            assert!(undecodable, "{item}");
            assert!(id.starts_with("sha256:") && id.len() == 39, "{item}: {id}");
            assert_eq!(key(mde, item).0, id, "{item}: the same bytes, the same id");
            assert!(ids.insert(id), "{item}");
        }
        // A digest keeps the time when there is one.
        assert_eq!(key(mde, items[0]).1, at("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn bytes_that_are_not_json_fail_the_page() {
        for bad in [&b"{\"id\":\"a\""[..], b"{\"id\":\"a\",}", b"{\"id\":\"\xff\"}", b"{\"id\":\"a\"} 1"] {
            assert!(record(StreamKind::MdeAlerts, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
