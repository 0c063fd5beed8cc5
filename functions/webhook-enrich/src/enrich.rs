//! The use case: look every valid indicator up in Defender, concurrently (bounded fan-out), each
//! distinct lookup once, within the request's deadline; an item whose lookups fail or time out is
//! reported `error` with the reason while the others are answered.
//!
//! It sees only typed input and the [`DefenderLookups`] trait — never a Lambda event — so it is
//! tested with in-memory fakes and driven in production by an adapter over the shared client.

use crate::{
    hunting::NamedQuery,
    request::{EnrichRequest, Indicator, Item, Kind},
    response::{
        AlertFacts, EnrichResponse, FileFacts, HuntingFacts, ItemResult, MachineFacts, Prevalence, Status, Summary,
    },
};
use defender_shared::defender::kql::KqlQuery;
use defender_shared::ids::{AccountName, AlertId, DomainName, Hostname, IncidentId, MachineId, Sha1};
use futures::{FutureExt, StreamExt, future::BoxFuture};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};
use tokio::{sync::OnceCell, time::Instant};

/// How many items are looked up at once.
pub const FAN_OUT: usize = 8;

/// Why a lookup produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Defender throttled us and the wait would pass the deadline.
    #[error("throttled by Defender past the request's deadline")]
    Throttled,
    /// No answer before the deadline.
    #[error("no answer before the request's deadline")]
    Deadline,
    /// Defender refused or failed (status and code, never a token or a body).
    #[error("defender answered {0}")]
    Service(String),
}

/// A lookup's outcome.
pub type Lookup<T> = Result<T, LookupError>;

/// Indicators found in an alert's or incident's evidence (`None`: no such alert or incident).
pub type Evidence = Option<Vec<(Kind, String)>>;

/// Everything known about a domain: prevalence, alerts, machines.
type DomainFacts = (Option<Prevalence>, Vec<AlertFacts>, Vec<MachineFacts>);

/// What the use case asks Defender, for one tenant. `Ok(None)` / an empty list means "not known".
pub trait DefenderLookups: Send + Sync {
    /// A machine by id.
    fn machine<'a>(&'a self, id: &'a MachineId) -> BoxFuture<'a, Lookup<Option<MachineFacts>>>;
    /// Machines whose `computerDnsName` equals the host name exactly.
    fn machines_by_hostname<'a>(&'a self, host: &'a Hostname) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>>;
    /// Machines seen with this IP around now.
    fn machines_by_ip<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>>;
    /// Account names logged on to a machine.
    fn logged_on_users<'a>(&'a self, machine_id: &'a str) -> BoxFuture<'a, Lookup<Vec<String>>>;
    /// Alerts on a machine.
    fn machine_alerts<'a>(&'a self, machine_id: &'a str) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>>;
    /// File info and organisation stats by SHA-1, SHA-256 or MD5.
    fn file<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Lookup<Option<FileFacts>>>;
    /// Alerts related to a file.
    fn file_alerts<'a>(&'a self, sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>>;
    /// Machines that saw a file.
    fn file_machines<'a>(&'a self, sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>>;
    /// Organisation prevalence of an IP.
    fn ip_prevalence<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Option<Prevalence>>>;
    /// Alerts related to an IP.
    fn ip_alerts<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>>;
    /// Organisation prevalence of a domain.
    fn domain_prevalence<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Option<Prevalence>>>;
    /// Alerts related to a domain.
    fn domain_alerts<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>>;
    /// Machines that talked to a domain.
    fn domain_machines<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>>;
    /// Alerts related to a user.
    fn user_alerts<'a>(&'a self, user: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>>;
    /// Machines a user logged on to.
    fn user_machines<'a>(&'a self, user: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>>;
    /// The indicators in an alert's evidence (`None`: no such alert).
    fn alert_indicators<'a>(&'a self, id: &'a AlertId) -> BoxFuture<'a, Lookup<Evidence>>;
    /// The indicators in an incident's alerts' evidence (`None`: no such incident).
    fn incident_indicators<'a>(&'a self, id: IncidentId) -> BoxFuture<'a, Lookup<Evidence>>;
    /// Runs an allow-listed hunting query (already bound to a typed value); its result rows.
    fn hunt<'a>(&'a self, query: &'a KqlQuery) -> BoxFuture<'a, Lookup<Vec<serde_json::Value>>> {
        let _ = query;
        Box::pin(async { Err(LookupError::Service("advanced hunting is not available".into())) })
    }
}

/// Makes each distinct lookup once per request, however many items need it.
struct Once<T> {
    cells: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T: Clone> Once<T> {
    fn new() -> Self {
        Self { cells: Mutex::new(HashMap::new()) }
    }

    async fn get<F: Future<Output = T>>(&self, key: String, make: impl FnOnce() -> F) -> T {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            cells.entry(key).or_default().clone()
        };
        cell.get_or_init(make).await.clone()
    }
}

struct Memo<'d, D: ?Sized> {
    d: &'d D,
    users: Once<Lookup<Vec<String>>>,
    machine_alerts: Once<Lookup<Vec<AlertFacts>>>,
    file: Once<Lookup<Option<FileFacts>>>,
    file_alerts: Once<Lookup<Vec<AlertFacts>>>,
    file_machines: Once<Lookup<Vec<MachineFacts>>>,
    domain: Once<Lookup<DomainFacts>>,
}

/// Runs the enrichment. `tenant` is the name reported back; `deadline` bounds every lookup;
/// `hunting` are the allow-listed queries to run for each matching indicator.
pub async fn enrich<D: DefenderLookups + ?Sized>(
    req: &EnrichRequest,
    tenant: &str,
    d: &D,
    deadline: Instant,
    hunting: &[&'static NamedQuery],
) -> EnrichResponse {
    let memo = Memo {
        d,
        users: Once::new(),
        machine_alerts: Once::new(),
        file: Once::new(),
        file_alerts: Once::new(),
        file_machines: Once::new(),
        domain: Once::new(),
    };
    let mut items = req.items.clone();
    let mut expansion_errors = Vec::new();
    if let Some(id) = &req.alert_id {
        let got = within(deadline, d.alert_indicators(id)).await;
        expand(&mut items, &mut expansion_errors, Kind::AlertId, got, id.as_str());
    }
    if let Some(id) = req.incident_id {
        expand(
            &mut items,
            &mut expansion_errors,
            Kind::IncidentId,
            within(deadline, d.incident_indicators(id)).await,
            &id.to_string(),
        );
    }
    let memo = &memo;
    // Boxed first: a closure handed straight to the stream would make the futures' lifetime
    // higher-ranked, which the Lambda runtime's `Send` bound cannot prove.
    let lookups: Vec<BoxFuture<'_, ItemResult>> =
        items.iter().map(|item| lookup_item(memo, item, deadline, hunting).boxed()).collect();
    let mut results: Vec<ItemResult> = futures::stream::iter(lookups).buffered(FAN_OUT).collect().await;
    results.extend(expansion_errors);
    let summary = Summary::of(&results);
    EnrichResponse { tenant: tenant.to_string(), results, summary, callback: None }
}

fn expand(items: &mut Vec<Item>, errors: &mut Vec<ItemResult>, what: Kind, got: Lookup<Evidence>, id: &str) {
    let name = if what == Kind::AlertId { "alert" } else { "incident" };
    let source = format!("{name}:{id}");
    match got {
        Ok(Some(found)) => {
            for (kind, value) in found {
                let parsed = Indicator::parse(kind, &value).map_err(|e| e.to_string());
                let dup = items
                    .iter()
                    .any(|i| i.kind == kind && i.parsed.as_ref().ok() == parsed.as_ref().ok() && parsed.is_ok());
                if !dup {
                    items.push(Item { kind, input: value, source: source.clone(), parsed });
                }
            }
        }
        Ok(None) => errors.push(bare(what, id, &source, Status::NotFound, Some(format!("no such {name}")))),
        Err(e) => errors.push(bare(what, id, &source, Status::Error, Some(e.to_string()))),
    }
}

fn bare(kind: Kind, input: &str, source: &str, status: Status, reason: Option<String>) -> ItemResult {
    ItemResult {
        kind,
        input: input.to_string(),
        value: None,
        source: source.to_string(),
        status,
        reason,
        machines: Vec::new(),
        alerts: Vec::new(),
        file: None,
        prevalence: None,
        hunting: Vec::new(),
    }
}

async fn within<T>(deadline: Instant, f: impl Future<Output = Lookup<T>>) -> Lookup<T> {
    match tokio::time::timeout_at(deadline, f).await {
        Ok(r) => r,
        Err(_) => Err(LookupError::Deadline),
    }
}

/// Adds logged-on users to each machine (each machine's users fetched once per request, every
/// machine's at once).
async fn with_users<D: DefenderLookups + ?Sized>(
    memo: &Memo<'_, D>,
    machines: Vec<MachineFacts>,
) -> Lookup<Vec<MachineFacts>> {
    let users = futures::future::join_all(
        machines.iter().map(|m| memo.users.get(m.id.clone(), || memo.d.logged_on_users(&m.id))),
    )
    .await;
    let mut out = Vec::with_capacity(machines.len());
    for (mut m, u) in machines.into_iter().zip(users) {
        m.logged_on_users = u?;
        out.push(m);
    }
    Ok(out)
}

/// The alerts of every machine (asked at once), each alert once, in the machines' order.
async fn machine_alerts<D: DefenderLookups + ?Sized>(
    memo: &Memo<'_, D>,
    machines: &[MachineFacts],
) -> Lookup<Vec<AlertFacts>> {
    let lists = futures::future::join_all(
        machines.iter().map(|m| memo.machine_alerts.get(m.id.clone(), || memo.d.machine_alerts(&m.id))),
    )
    .await;
    let mut out: Vec<AlertFacts> = Vec::new();
    for list in lists {
        for a in list? {
            if !out.iter().any(|x| x.id == a.id) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// A machine's users and alerts, asked at once.
async fn users_and_alerts<D: DefenderLookups + ?Sized>(
    memo: &Memo<'_, D>,
    machines: Vec<MachineFacts>,
) -> Lookup<(Vec<MachineFacts>, Vec<AlertFacts>)> {
    let (users, alerts) = futures::join!(with_users(memo, machines.clone()), machine_alerts(memo, &machines));
    Ok((users?, alerts?))
}

struct Found {
    machines: Vec<MachineFacts>,
    alerts: Vec<AlertFacts>,
    file: Option<FileFacts>,
    prevalence: Option<Prevalence>,
}

impl Found {
    fn empty() -> Self {
        Self { machines: Vec::new(), alerts: Vec::new(), file: None, prevalence: None }
    }
    fn anything(&self) -> bool {
        !self.machines.is_empty()
            || !self.alerts.is_empty()
            || self.file.is_some()
            || self.prevalence.as_ref().is_some_and(|p| p.organization_prevalence > 0)
    }
}

async fn domain_facts<D: DefenderLookups + ?Sized>(memo: &Memo<'_, D>, domain: &DomainName) -> Lookup<Found> {
    let (prevalence, alerts, machines) = memo
        .domain
        .get(domain.to_string(), || async {
            let p = memo.d.domain_prevalence(domain).await?;
            let a = memo.d.domain_alerts(domain).await?;
            let m = memo.d.domain_machines(domain).await?;
            Ok((p, a, m))
        })
        .await?;
    Ok(Found { machines, alerts, file: None, prevalence })
}

async fn lookup<D: DefenderLookups + ?Sized>(memo: &Memo<'_, D>, ind: &Indicator) -> Lookup<Found> {
    let d = memo.d;
    let mut f = Found::empty();
    match ind {
        Indicator::Machine(id) => {
            // A `MachineId` is Defender's device id (40 hex), the id the users and alerts endpoints take:
            // all three are asked at once (one round trip instead of three). Should Defender answer
            // the machine under another id, its users and alerts are asked again under that one.
            let key = id.as_str().to_string();
            let (machine, _, _) = futures::join!(
                d.machine(id),
                memo.users.get(key.clone(), || d.logged_on_users(&key)),
                memo.machine_alerts.get(key.clone(), || d.machine_alerts(&key)),
            );
            if let Some(m) = machine? {
                (f.machines, f.alerts) = users_and_alerts(memo, vec![m]).await?;
            }
        }
        Indicator::Hostname(h) => {
            (f.machines, f.alerts) = users_and_alerts(memo, d.machines_by_hostname(h).await?).await?;
        }
        Indicator::Ip(ip) => {
            let machines = async { with_users(memo, d.machines_by_ip(*ip).await?).await };
            let (machines, alerts, prevalence) = futures::join!(machines, d.ip_alerts(*ip), d.ip_prevalence(*ip));
            (f.machines, f.alerts, f.prevalence) = (machines?, alerts?, prevalence?);
        }
        Indicator::Domain(domain) => f = domain_facts(memo, domain).await?,
        Indicator::Url(u) => {
            if let Some(domain) = u.host().and_then(|h| h.parse::<DomainName>().ok()) {
                f = domain_facts(memo, &domain).await?;
            }
        }
        Indicator::Sha1(_) | Indicator::Sha256(_) | Indicator::Md5(_) => {
            let hash = ind.value();
            f.file = memo.file.get(hash.clone(), || d.file(&hash)).await?;
            // Related alerts and machines are looked up by SHA-1 only (documented limitation).
            let sha1 = f.file.as_ref().and_then(|x| x.sha1.as_deref()).and_then(|s| s.parse::<Sha1>().ok());
            let sha1 = match ind {
                Indicator::Sha1(s) => Some(s.clone()),
                _ => sha1,
            };
            if let Some(sha1) = sha1 {
                f.alerts = memo.file_alerts.get(sha1.to_string(), || d.file_alerts(&sha1)).await?;
                f.machines = memo.file_machines.get(sha1.to_string(), || d.file_machines(&sha1)).await?;
            }
        }
        Indicator::User(u) => {
            f.alerts = d.user_alerts(u).await?;
            f.machines = d.user_machines(u).await?;
        }
    }
    Ok(f)
}

async fn lookup_item<D: DefenderLookups + ?Sized>(
    memo: &Memo<'_, D>,
    item: &Item,
    deadline: Instant,
    hunting: &[&'static NamedQuery],
) -> ItemResult {
    let ind = match &item.parsed {
        Ok(i) => i,
        Err(reason) => return bare(item.kind, &item.input, &item.source, Status::Invalid, Some(reason.clone())),
    };
    let mut r = bare(item.kind, &item.input, &item.source, Status::NotFound, None);
    r.value = Some(ind.value());
    match within(deadline, lookup(memo, ind)).await {
        Ok(found) => {
            if found.anything() {
                r.status = Status::Found;
            }
            r.machines = found.machines;
            r.alerts = found.alerts;
            r.file = found.file;
            r.prevalence = found.prevalence;
        }
        Err(e) => {
            r.status = Status::Error;
            r.reason = Some(e.to_string());
        }
    }
    for q in hunting {
        let Some(bound) = q.bind(ind) else { continue };
        let facts = match bound {
            Err(e) => HuntingFacts { query: q.name.into(), rows: None, reason: Some(e.to_string()) },
            Ok(query) => match within(deadline, memo.d.hunt(&query)).await {
                Ok(rows) => HuntingFacts { query: q.name.into(), rows: Some(rows), reason: None },
                Err(e) => HuntingFacts { query: q.name.into(), rows: None, reason: Some(e.to_string()) },
            },
        };
        r.hunting.push(facts);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{Fake, M1, SHA1};

    fn req(body: &str) -> EnrichRequest {
        EnrichRequest::parse(body.as_bytes()).unwrap()
    }

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(30)
    }

    #[tokio::test]
    async fn mixed_request_reports_each_item_and_a_summary() {
        let fake = Fake::default();
        let r = req(&format!(
            r#"{{"indicators":{{"machine_ids":["{M1}"],"hostnames":["ws-fin-014.contoso.com","ghost.contoso.com"],"sha1":["{SHA1}"],"domains":["evil.example"],"ips":["198.51.100.7","not-an-ip"]}}}}"#
        ));
        let out = enrich(&r, "default", &fake, far(), &[]).await;
        let status: Vec<(Kind, Status)> = out.results.iter().map(|x| (x.kind, x.status)).collect();
        assert_eq!(
            status,
            vec![
                (Kind::MachineId, Status::Found),
                (Kind::Hostname, Status::Found),
                (Kind::Hostname, Status::NotFound),
                (Kind::Ip, Status::NotFound),
                (Kind::Ip, Status::Invalid),
                (Kind::Domain, Status::Found),
                (Kind::Sha1, Status::Found),
            ]
        );
        let m = &out.results[0].machines[0];
        assert_eq!(m.logged_on_users, vec!["alice".to_string()]);
        assert_eq!(out.summary.highest_alert_severity.as_deref(), Some("High"));
        assert_eq!(out.summary.alerts, 3);
        assert_eq!(out.summary.affected_machines, 1);
        assert_eq!(out.summary.items.invalid, 1);
        assert!(out.summary.complete);
        // The same machine (by id and by host name) is enriched once: users and alerts fetched once.
        assert_eq!(fake.count("users"), 1);
        assert_eq!(fake.count("machine_alerts"), 1);
        // The invalid IP never reached a lookup.
        assert_eq!(fake.count("by_ip"), 1);
    }

    #[tokio::test]
    async fn a_throttled_lookup_marks_only_its_item() {
        let fake = Fake { throttle_ip: true, ..Fake::default() };
        let out = enrich(
            &req(&format!(r#"{{"indicators":{{"ips":["198.51.100.7"],"machine_ids":["{M1}"]}}}}"#)),
            "t",
            &fake,
            far(),
            &[],
        )
        .await;
        let ip = out.results.iter().find(|x| x.kind == Kind::Ip).unwrap();
        assert_eq!(ip.status, Status::Error);
        assert_eq!(ip.reason.as_deref(), Some("throttled by Defender past the request's deadline"));
        assert_eq!(out.results.iter().find(|x| x.kind == Kind::MachineId).unwrap().status, Status::Found);
        assert!(!out.summary.complete);
        assert_eq!(out.summary.items.error, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_lookup_is_cut_at_the_deadline() {
        let fake = Fake { hang_domain: true, ..Fake::default() };
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        let out = enrich(
            &req(&format!(r#"{{"indicators":{{"domains":["evil.example"],"sha1":["{SHA1}"]}}}}"#)),
            "t",
            &fake,
            deadline,
            &[],
        )
        .await;
        assert!(Instant::now() <= deadline + std::time::Duration::from_millis(1));
        assert_eq!(out.results[0].status, Status::Error);
        assert_eq!(out.results[0].reason.as_deref(), Some("no answer before the request's deadline"));
        assert_eq!(out.results[1].status, Status::Found);
    }

    #[tokio::test]
    async fn alerts_expand_into_their_evidence_and_unknown_ones_are_reported() {
        let fake = Fake::default();
        let out = enrich(
            &req(&format!(r#"{{"alert_id":"da1","indicators":{{"sha1":["{SHA1}"]}}}}"#)),
            "t",
            &fake,
            far(),
            &[],
        )
        .await;
        // the sha1 from the evidence duplicates the explicit one: looked up once
        assert_eq!(out.results.len(), 2);
        assert_eq!(out.results[1].source, "alert:da1");
        assert_eq!(fake.count("file"), 1);
        let out = enrich(&req(r#"{"alert_id":"da404"}"#), "t", &fake, far(), &[]).await;
        assert_eq!(out.results[0].status, Status::NotFound);
        assert_eq!(out.results[0].reason.as_deref(), Some("no such alert"));
        assert_eq!(out.results[0].kind, Kind::AlertId);
    }
}
