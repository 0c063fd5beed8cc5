//! The production [`Source`]: the shared client's typed list pages for one tenant, asked with the
//! documented options only (`$filter` on the time field, `$top`, `$skip`; `$expand=evidence` on MDE
//! alerts) — no `$orderby`, which no list documents.

use crate::export::{Page, PageQuery, Record, Source, StreamKind};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use defender_shared::{
    auth::TokenSource,
    defender::{
        Deadline, DefenderClient, DefenderError,
        api::ListQuery,
        kql::KqlQuery,
        models::{Timestamp, hunting::GraphHuntingRequest},
        odata::{Filter, fields},
    },
    ids::TenantName,
};
use serde::Serialize;
use std::sync::Arc;

/// One tenant's pages.
pub struct ClientSource<T: TokenSource> {
    client: Arc<DefenderClient<T>>,
    tenant: TenantName,
}

impl<T: TokenSource> std::fmt::Debug for ClientSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSource").field("tenant", &self.tenant).finish_non_exhaustive()
    }
}

impl<T: TokenSource> ClientSource<T> {
    /// Pages of `tenant` through `client`.
    pub fn new(client: Arc<DefenderClient<T>>, tenant: TenantName) -> Self {
        Self { client, tenant }
    }
}

fn record<M: Serialize>(
    endpoint: &'static str,
    id: String,
    updated: Option<&Timestamp>,
    m: &M,
) -> Result<Record, DefenderError> {
    let line = serde_json::to_vec(m).map_err(|source| DefenderError::Decode { endpoint, source })?;
    Ok(Record { id, updated: updated.map_or(DateTime::<Utc>::MIN_UTC, Timestamp::at), line })
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

fn page<M>(
    list: defender_shared::defender::models::ODataList<M>,
    to_record: impl Fn(&M) -> Result<Record, DefenderError>,
) -> Result<Page, DefenderError> {
    // `@odata.nextLink` is not relied on: the pager ends a window at a short page.
    let records = list.value.iter().map(to_record).collect::<Result<_, _>>()?;
    Ok(Page { records })
}

#[async_trait]
impl<T: TokenSource> Source for ClientSource<T> {
    async fn page(&self, stream: StreamKind, q: &PageQuery, deadline: Deadline) -> Result<Page, DefenderError> {
        match stream {
            StreamKind::XdrIncidents => {
                let f = fields::incidents::LAST_UPDATE_TIME;
                let mut lq = ListQuery::new().top(q.top).skip(q.skip);
                lq.filter = window(f, q);
                let list = self.client.incidents_page(&self.tenant, &lq, deadline).await?;
                page(list, |i| record("xdr.incidents.list", i.incident_id.to_string(), i.last_update_time.as_ref(), i))
            }
            StreamKind::MdeAlerts => {
                let f = fields::alerts::LAST_UPDATE_TIME;
                let mut lq = ListQuery::new().expand(fields::alerts::EXPAND_EVIDENCE).top(q.top).skip(q.skip);
                lq.filter = window(f, q);
                let list = self.client.alerts_page(&self.tenant, &lq, deadline).await?;
                page(list, |a| record("mde.alerts.list", a.id.as_str().to_string(), a.last_update_time.as_ref(), a))
            }
            StreamKind::GraphAlerts => {
                let f = fields::graph_alerts::LAST_UPDATE_DATE_TIME;
                let mut lq = ListQuery::new().top(q.top).skip(q.skip);
                lq.filter = window(f, q);
                let list = self.client.graph_alerts_page(&self.tenant, &lq, deadline).await?;
                page(list, |a| {
                    record(
                        "graph.security.alerts_v2.list",
                        a.id.as_str().to_string(),
                        a.last_update_date_time.as_ref(),
                        a,
                    )
                })
            }
            StreamKind::GraphIncidents => {
                let f = fields::graph_incidents::LAST_UPDATE_DATE_TIME;
                let mut lq = ListQuery::new().top(q.top).skip(q.skip);
                lq.filter = window(f, q);
                let list = self.client.graph_incidents_page(&self.tenant, &lq, deadline).await?;
                page(list, |i| {
                    record(
                        "graph.security.incidents.list",
                        i.id.as_str().to_string(),
                        i.last_update_date_time.as_ref(),
                        i,
                    )
                })
            }
        }
    }

    fn throttles_retried(&self) -> u64 {
        self.client.throttles_retried()
    }

    async fn hunt(&self, query: &KqlQuery, deadline: Deadline) -> Result<Vec<Vec<u8>>, DefenderError> {
        let req = GraphHuntingRequest { query: query.clone(), timespan: None };
        let answer = self.client.graph_hunt(&self.tenant, &req, deadline).await?;
        answer
            .rows()
            .iter()
            .map(|row| {
                serde_json::to_vec(row)
                    .map_err(|source| DefenderError::Decode { endpoint: "graph.security.run_hunting_query", source })
            })
            .collect()
    }
}
