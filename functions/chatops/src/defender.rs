//! The narrow Defender surface the chat-ops use cases need ([`DefenderOps`]), and its production
//! implementation on the shared [`TenantClient`] (the client, one tenant, one deadline).

use crate::command::Hunt;
use async_trait::async_trait;
use defender_shared::{
    auth::TokenSource,
    defender::{
        DefenderError, Failure, TenantClient,
        api::ListQuery,
        models::{
            actions::{CommentRequest, IsolateRequest, IsolationType, MachineAction, ScanRequest, ScanType},
            alerts::{Alert, AlertUpdate},
            hunting::{GraphHuntingRequest, HuntingResponse},
            incidents::{Incident, IncidentUpdate},
            indicators::{Indicator, IndicatorId, IndicatorSubmit, IndicatorValue},
            machines::Machine,
        },
        odata::{Filter, fields},
    },
    ids::{ActionId, AlertId, Hostname, IncidentId, MachineId, TenantName},
    tenants::Action,
};
use std::{net::IpAddr, sync::Arc};

/// A Defender call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpsError {
    /// Defender refuses because an action of that kind is already in flight
    /// (`400 ActiveRequestAlreadyExists`).
    #[error("an action of this kind is already in progress on the machine")]
    AlreadyInProgress,
    /// Throttled.
    #[error("Defender is throttling requests; try again shortly")]
    Throttled,
    /// The deadline passed.
    #[error("Defender did not answer in time")]
    Deadline,
    /// Anything else (status and code only; never a body or a token).
    #[error("Defender answered {0}")]
    Service(String),
}

/// What the use cases need from Defender, for one tenant.
#[async_trait]
pub trait DefenderOps: Send + Sync {
    /// One machine (`None`: not found).
    async fn machine(&self, id: &MachineId) -> Result<Option<Machine>, OpsError>;
    /// Machines whose `computerDnsName` is exactly `host`.
    async fn machines_by_host(&self, host: &Hostname) -> Result<Vec<Machine>, OpsError>;
    /// Machines seen with `ip` now.
    async fn machines_by_ip(&self, ip: IpAddr) -> Result<Vec<Machine>, OpsError>;
    /// The machine's actions of the kinds chat-ops acts on (every page; any order: the caller orders
    /// them by time).
    async fn machine_actions(&self, id: &MachineId) -> Result<Vec<MachineAction>, OpsError>;
    /// The machine's alerts.
    async fn machine_alerts(&self, id: &MachineId) -> Result<Vec<Alert>, OpsError>;
    /// One alert.
    async fn alert(&self, id: &AlertId) -> Result<Option<Alert>, OpsError>;
    /// One incident.
    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>, OpsError>;
    /// Changes an incident.
    async fn update_incident(&self, id: IncidentId, change: &IncidentUpdate) -> Result<Incident, OpsError>;
    /// Runs an allow-listed hunt.
    async fn hunt(&self, hunt: &Hunt) -> Result<HuntingResponse, OpsError>;
    /// Starts a machine action.
    async fn act(&self, action: Action, id: &MachineId, comment: &str) -> Result<MachineAction, OpsError>;
    /// One machine action.
    async fn action(&self, id: &ActionId) -> Result<Option<MachineAction>, OpsError>;
    /// The machine's actions of every kind (every page, any order; at most [`MAX_MACHINE_ACTIONS`]).
    async fn machine_history(&self, id: &MachineId) -> Result<Vec<MachineAction>, OpsError>;
    /// Changes an alert.
    async fn update_alert(&self, id: &AlertId, change: &AlertUpdate) -> Result<Alert, OpsError>;
    /// The indicators whose value and type are exactly `value`'s.
    async fn indicators_by_value(&self, value: &IndicatorValue) -> Result<Vec<Indicator>, OpsError>;
    /// Submits (or updates, by value and type) an indicator.
    async fn submit_indicator(&self, req: &IndicatorSubmit) -> Result<Indicator, OpsError>;
    /// Deletes an indicator (`false`: Defender knows no such indicator).
    async fn delete_indicator(&self, id: &IndicatorId) -> Result<bool, OpsError>;
}

impl From<DefenderError> for OpsError {
    fn from(e: DefenderError) -> Self {
        match e.classify() {
            Failure::Throttled => Self::Throttled,
            Failure::Deadline => Self::Deadline,
            Failure::AlreadyInProgress => Self::AlreadyInProgress,
            Failure::Service(summary) => Self::Service(summary),
        }
    }
}

fn optional<V>(r: Result<V, DefenderError>) -> Result<Option<V>, OpsError> {
    Ok(defender_shared::defender::error::found(r)?)
}

#[async_trait]
impl<T: TokenSource + Send + Sync + 'static> DefenderOps for TenantClient<T> {
    async fn machine(&self, id: &MachineId) -> Result<Option<Machine>, OpsError> {
        optional(self.client.get_machine(&self.tenant, id, self.deadline).await)
    }

    async fn machines_by_host(&self, host: &Hostname) -> Result<Vec<Machine>, OpsError> {
        // Exact (trailing whitespace Defender kept aside, ASCII case aside): see `Hostname::names`.
        let page = self.client.machines_by_host(&self.tenant, host, Some(10), self.deadline).await?;
        Ok(page.value)
    }

    async fn machines_by_ip(&self, ip: IpAddr) -> Result<Vec<Machine>, OpsError> {
        let now = chrono::Utc::now();
        Ok(self.client.find_machines_by_ip(&self.tenant, ip, now, self.deadline).await?.value)
    }

    async fn machine_actions(&self, id: &MachineId) -> Result<Vec<MachineAction>, OpsError> {
        read_actions(self, actions_query(id)).await
    }

    async fn machine_history(&self, id: &MachineId) -> Result<Vec<MachineAction>, OpsError> {
        read_actions(self, history_query(id)).await
    }

    async fn update_alert(&self, id: &AlertId, change: &AlertUpdate) -> Result<Alert, OpsError> {
        self.client.update_alert(&self.tenant, id, change, self.deadline).await.map_err(OpsError::from)
    }

    async fn indicators_by_value(&self, value: &IndicatorValue) -> Result<Vec<Indicator>, OpsError> {
        use defender_shared::defender::odata::fields::indicators as f;
        let q = ListQuery::new()
            .filter(
                Filter::eq(f::INDICATOR_VALUE, value.value().as_str())
                    .and(Filter::eq(f::INDICATOR_TYPE, value.indicator_type().as_str())),
            )
            .top(10);
        let page = self.client.indicators_page(&self.tenant, &q, self.deadline).await?;
        // Exact: the filter is `eq`; this guards against a looser server.
        Ok(page
            .value
            .into_iter()
            .filter(|i| {
                i.indicator_value.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(&value.value()))
                    && i.indicator_type.as_ref() == Some(&value.indicator_type())
            })
            .collect())
    }

    async fn submit_indicator(&self, req: &IndicatorSubmit) -> Result<Indicator, OpsError> {
        self.client.submit_indicator(&self.tenant, req, self.deadline).await.map_err(OpsError::from)
    }

    async fn delete_indicator(&self, id: &IndicatorId) -> Result<bool, OpsError> {
        optional(self.client.delete_indicator(&self.tenant, id, self.deadline).await).map(|r| r.is_some())
    }

    async fn machine_alerts(&self, id: &MachineId) -> Result<Vec<Alert>, OpsError> {
        Ok(self.client.machine_alerts(&self.tenant, id, self.deadline).await?.value)
    }

    async fn alert(&self, id: &AlertId) -> Result<Option<Alert>, OpsError> {
        optional(self.client.get_alert(&self.tenant, id, self.deadline).await)
    }

    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>, OpsError> {
        optional(self.client.get_incident(&self.tenant, id, self.deadline).await)
    }

    async fn update_incident(&self, id: IncidentId, change: &IncidentUpdate) -> Result<Incident, OpsError> {
        self.client.update_incident(&self.tenant, id, change, self.deadline).await.map_err(OpsError::from)
    }

    async fn hunt(&self, hunt: &Hunt) -> Result<HuntingResponse, OpsError> {
        let query = hunt.query().render().map_err(|e| OpsError::Service(format!("query template: {e}")))?;
        // Graph runHuntingQuery: MDE's /api/advancedqueries/run is being retired (MC1220762).
        let req = GraphHuntingRequest { query, timespan: None };
        self.client.graph_hunt(&self.tenant, &req, self.deadline).await.map_err(OpsError::from)
    }

    async fn act(&self, action: Action, id: &MachineId, comment: &str) -> Result<MachineAction, OpsError> {
        let (c, t, d) = (&self.client, &self.tenant, self.deadline);
        let body = CommentRequest::new(comment);
        match action {
            Action::Isolate => {
                let req = IsolateRequest { comment: comment.to_string(), isolation_type: IsolationType::Full };
                c.isolate(t, id, &req, d).await
            }
            Action::Unisolate => c.unisolate(t, id, &body, d).await,
            Action::Scan => {
                let req = ScanRequest { comment: comment.to_string(), scan_type: ScanType::Quick };
                c.run_av_scan(t, id, &req, d).await
            }
            Action::Restrict => c.restrict_code_execution(t, id, &body, d).await,
            Action::Unrestrict => c.unrestrict_code_execution(t, id, &body, d).await,
            Action::Collect => c.collect_investigation_package(t, id, &body, d).await,
        }
        .map_err(OpsError::from)
    }

    async fn action(&self, id: &ActionId) -> Result<Option<MachineAction>, OpsError> {
        optional(self.client.get_machine_action(&self.tenant, id, self.deadline).await)
    }
}

/// Every page of a machine-action query, bounded by [`MAX_MACHINE_ACTIONS`].
async fn read_actions<T: TokenSource + Send + Sync + 'static>(
    c: &TenantClient<T>,
    query: ListQuery<defender_shared::defender::odata::resource::MachineActions>,
) -> Result<Vec<MachineAction>, OpsError> {
    use futures::TryStreamExt;
    let mut stream = c.client.machine_actions(&c.tenant, &query, c.deadline);
    let mut all = Vec::new();
    while let Some(page) = stream.try_next().await? {
        all.extend(page);
        if all.len() > MAX_MACHINE_ACTIONS {
            // Deciding on a part of the history could be wrong: refuse rather than guess.
            return Err(OpsError::Service(format!(
                "more than {MAX_MACHINE_ACTIONS} machine actions on this machine; not read to the end"
            )));
        }
    }
    Ok(all)
}

/// The action types whose history decides whether an action may run (isolation, restriction, and
/// the kinds that conflict while pending).
pub const STATE_ACTION_TYPES: [&str; 6] = [
    "Isolate",
    "Unisolate",
    "RestrictCodeExecution",
    "UnrestrictCodeExecution",
    "RunAntiVirusScan",
    "CollectInvestigationPackage",
];

/// Page size of the machine-action history (every page is read, by `$skip` or `@odata.nextLink`).
pub const MACHINE_ACTIONS_PAGE: usize = 200;

/// The most actions of those kinds one machine's history is read to; beyond it the state is
/// unknown and the action refused.
pub const MAX_MACHINE_ACTIONS: usize = 10_000;

/// The machine-action query: filtered by machine and by type (both documented `$filter` fields of
/// `GET /api/machineactions`). MDE documents no `$orderby` there (an undocumented option may be
/// ignored), so none is sent: the pages come in any order and [`crate::history::machine_state`]
/// orders them by time.
pub fn actions_query(id: &MachineId) -> ListQuery<defender_shared::defender::odata::resource::MachineActions> {
    let kinds = STATE_ACTION_TYPES.iter().map(|k| Filter::eq(fields::machine_actions::TYPE, *k)).reduce(Filter::or);
    let by_machine = Filter::eq(fields::machine_actions::MACHINE_ID, id.as_str());
    let filter = match kinds {
        Some(k) => by_machine.and(k),
        None => by_machine,
    };
    ListQuery::new().filter(filter).top(MACHINE_ACTIONS_PAGE)
}

/// The machine's whole action history (`actions <host>`): filtered by machine only (a documented
/// `$filter` field). `$orderby` is not documented on `GET /api/machineactions`, so the order is made
/// here, from parsed instants ([`crate::history`]).
pub fn history_query(id: &MachineId) -> ListQuery<defender_shared::defender::odata::resource::MachineActions> {
    ListQuery::new().filter(Filter::eq(fields::machine_actions::MACHINE_ID, id.as_str())).top(MACHINE_ACTIONS_PAGE)
}

/// The tenants: Defender for each, and what each allows.
pub trait Tenants: Send + Sync {
    /// Defender calls in `tenant`, bounded by `deadline` (`None`: no such tenant).
    fn ops(&self, tenant: &TenantName, deadline: tokio::time::Instant) -> Option<Arc<dyn DefenderOps>>;
    /// Whether the tenant's `allowed_actions` hold `action`.
    fn allows(&self, tenant: &TenantName, action: Action) -> bool;
}
