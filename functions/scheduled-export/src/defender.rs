//! The production [`Source`], on the shared [`TenantClient`]: the typed list pages for one tenant, asked with the
//! documented options only (`$filter` on the time field, `$top`, `$skip`; `$expand=evidence` on MDE
//! alerts) — no `$orderby`, which no list documents. Each record is the item as Defender returned it
//! (the page's raw JSON for that item); the cursor's `(id, time)` come from the typed view. A page is
//! read as it streams in ([`DefenderClient::call_items`]): each item is decoded and handed to the
//! export on its own, so no page is held whole.

use crate::export::{PageQuery, Record, Records, Source, StreamKind};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::{
    auth::TokenSource,
    defender::{
        Deadline, DefenderClient, DefenderError, TenantClient,
        api::{self, ListQuery},
        items::Items,
        kql::KqlQuery,
        models::{
            Item, Timestamp,
            alerts::Alert,
            graph::{GraphAlert, GraphIncident},
            hunting::GraphHuntingRequest,
            incidents::Incident,
        },
        odata::{Filter, fields},
    },
    ids::TenantName,
};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// One tenant's pages through the shared client: a [`TenantClient`] built once at cold start
/// ([`TenantClient::unbounded`]), each call bounded by the run's deadline it is given.
pub fn source<T: TokenSource>(client: Arc<DefenderClient<T>>, tenant: TenantName) -> TenantClient<T> {
    TenantClient::unbounded(client, tenant)
}

/// A record from one page item: the line is the item exactly as Defender sent it (its raw JSON,
/// moved, not re-serialised); the id and time come from the typed view. An item without a typed view
/// is still written, with its id and time read from the raw item alone (see [`fallback_key`]).
fn record<M>(stream: StreamKind, item: Item<M>, key: Key<M>) -> Record {
    let (raw, typed) = item.into_parts();
    let (id, updated, undecodable) = match &typed {
        Ok(m) => {
            let (id, t) = key(m);
            (id, t.map(Timestamp::at), false)
        }
        Err(e) => {
            tracing::warn!(
                stream = stream.as_str(),
                id = e.id.as_deref().unwrap_or(""),
                field = %e.field,
                reason = %e.reason,
                "an item our model does not read is exported as received"
            );
            let (id, t) = fallback_key(&raw, e.id.clone(), stream.time_field());
            (id, t, true)
        }
    };
    drop(typed);
    let line = Box::<str>::from(raw).into_boxed_bytes().into_vec();
    Record { id, updated: updated.unwrap_or(DateTime::<Utc>::MIN_UTC), line, undecodable }
}

/// The id and time of an item without a typed view: its `id`/`incidentId` as text (or, without one,
/// a digest of the item, so a retry names it the same), and its time field when that parses.
fn fallback_key(raw: &RawValue, id: Option<String>, time_field: &str) -> (String, Option<DateTime<Utc>>) {
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw.get()).unwrap_or_default();
    let time = fields.get(time_field).and_then(|v| v.as_str()).and_then(|s| s.parse::<Timestamp>().ok());
    let id = id.unwrap_or_else(|| {
        let digest = Sha256::digest(raw.get().as_bytes());
        format!("sha256:{}", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
    });
    (id, time.map(|t| t.at()))
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

/// The id and time of a typed item.
type Key<M> = fn(&M) -> (String, Option<&Timestamp>);

/// The client's items of one page handed on as records, one at a time.
struct ToRecords<'a, M> {
    stream: StreamKind,
    key: Key<M>,
    out: &'a mut dyn Records,
}

impl<M> Items<M> for ToRecords<'_, M> {
    fn item(&mut self, item: Item<M>) {
        self.out.record(record(self.stream, item, self.key));
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
        let tenant = &self.tenant;
        match stream {
            StreamKind::XdrIncidents => {
                let lq = query(fields::incidents::LAST_UPDATE_TIME, q, ListQuery::new());
                let key: Key<Incident> = |i| (i.incident_id.to_string(), i.last_update_time.as_ref());
                let mut items = ToRecords { stream, key, out };
                self.client.call_items(tenant, api::incidents::list_page_call(&lq), deadline, &mut items).await?;
            }
            StreamKind::MdeAlerts => {
                let base = ListQuery::new().expand(fields::alerts::EXPAND_EVIDENCE);
                let lq = query(fields::alerts::LAST_UPDATE_TIME, q, base);
                let key: Key<Alert> = |a| (a.id.as_str().to_string(), a.last_update_time.as_ref());
                let mut items = ToRecords { stream, key, out };
                self.client.call_items(tenant, api::alerts::list_page_call(&lq), deadline, &mut items).await?;
            }
            StreamKind::GraphAlerts => {
                let lq = query(fields::graph_alerts::LAST_UPDATE_DATE_TIME, q, ListQuery::new());
                let key: Key<GraphAlert> = |a| (a.id.as_str().to_string(), a.last_update_date_time.as_ref());
                let mut items = ToRecords { stream, key, out };
                self.client.call_items(tenant, api::graph::alerts_list_page_call(&lq), deadline, &mut items).await?;
            }
            StreamKind::GraphIncidents => {
                let lq = query(fields::graph_incidents::LAST_UPDATE_DATE_TIME, q, ListQuery::new());
                let key: Key<GraphIncident> = |i| (i.id.as_str().to_string(), i.last_update_date_time.as_ref());
                let mut items = ToRecords { stream, key, out };
                let call = api::graph::incidents_list_page_call(&lq);
                self.client.call_items(tenant, call, deadline, &mut items).await?;
            }
        }
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
