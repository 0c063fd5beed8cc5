//! The production [`DefenderLookups`]: typed calls of the shared Defender client for one tenant, each
//! bounded by the request's deadline, mapped into the response's facts. A 404 is "not known"; a
//! throttle or a deadline becomes the item's `error` reason; nothing else leaks (no token, no body).

use crate::{
    enrich::{DefenderLookups, Evidence, Lookup, LookupError},
    request::Kind,
    response::{AlertFacts, FileFacts, MachineFacts, Prevalence},
};
use defender_shared::{
    auth::TokenSource,
    defender::{
        DefenderError, Failure, TenantClient,
        models::{Lenient, Timestamp, alerts::Alert, files::FileHash, incidents::Incident, machines::Machine},
    },
    ids::{AccountName, AlertId, DomainName, Hostname, IncidentId, MachineId, Sha1, Sha256, UrlIndicator},
};
use futures::{FutureExt, future::BoxFuture};
use std::net::IpAddr;

impl From<DefenderError> for LookupError {
    fn from(e: DefenderError) -> Self {
        match e.classify() {
            Failure::Throttled => Self::Throttled,
            Failure::Deadline => Self::Deadline,
            Failure::AlreadyInProgress | Failure::Service(_) => Self::Service(e.summary()),
        }
    }
}

/// A 404 means Defender does not know it.
fn optional<V>(r: Result<V, DefenderError>) -> Lookup<Option<V>> {
    Ok(defender_shared::defender::error::found(r)?)
}

/// What the response says about a machine.
pub fn machine_facts(m: Machine) -> MachineFacts {
    MachineFacts {
        id: m.id.as_str().to_string(),
        computer_dns_name: m.computer_dns_name,
        os_platform: m.os_platform,
        health_status: m.health_status.map(|h| h.as_str().to_string()),
        risk_score: m.risk_score.map(|r| r.as_str().to_string()),
        exposure_level: m.exposure_level.map(|r| r.as_str().to_string()),
        last_seen: m.last_seen.map(|t| t.as_str().to_string()),
        last_ip_address: m.last_ip_address,
        logged_on_users: Vec::new(),
    }
}

/// What the response says about an alert.
pub fn alert_facts(a: Alert) -> AlertFacts {
    AlertFacts {
        id: a.id.to_string(),
        title: a.title,
        severity: a.severity.map(|s| s.as_str().to_string()),
        status: a.status.map(|s| s.as_str().to_string()),
        machine_id: a.machine_id.map(|m| m.as_str().to_string()),
        incident_id: a.incident_id.map(|i| i.0),
        created: a.alert_creation_time.map(|t| t.as_str().to_string()),
    }
}

/// What one evidence item (MDE alert evidence or XDR incident entity: the two models carry the same
/// fields) says that names an indicator: SHA-256, SHA-1, IP, URL, account.
type EvidenceParts = (Option<Lenient<Sha256>>, Option<Lenient<Sha1>>, Option<String>, Option<String>, Option<String>);

/// The indicators one evidence item carries; a file is named by its SHA-256 when known, else its SHA-1.
fn push_evidence(out: &mut Vec<(Kind, String)>, (sha256, sha1, ip, url, account): EvidenceParts) {
    match (sha256, sha1) {
        (Some(h), _) => out.push((Kind::Sha256, h.as_str().to_string())),
        (None, Some(h)) => out.push((Kind::Sha1, h.as_str().to_string())),
        (None, None) => {}
    }
    out.extend(ip.map(|v| (Kind::Ip, v)));
    out.extend(url.map(evidence_url));
    out.extend(account.map(|v| (Kind::User, v)));
}

/// A URL entity as an indicator. Defender sends URL evidence without a scheme too (`www.google.com` in
/// the real tenant's incidents and alerts of `contract/real-responses/`), which is no absolute URL; a
/// URL is enriched by its host's domain, so such a value is enriched as the domain it starts with.
/// Anything else stays a URL (and is answered `invalid` if it is not one).
fn evidence_url(v: String) -> (Kind, String) {
    if v.parse::<UrlIndicator>().is_err() {
        let host = v.split(['/', '?', '#']).next().unwrap_or_default();
        if !host.is_empty() && host.parse::<DomainName>().is_ok() {
            return (Kind::Domain, host.to_string());
        }
    }
    (Kind::Url, v)
}

/// The indicators an MDE alert names: its machine and its evidence.
pub fn alert_evidence(a: Alert) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    if let Some(m) = &a.machine_id {
        out.push((Kind::MachineId, m.as_str().to_string()));
    }
    for e in a.evidence.unwrap_or_default() {
        push_evidence(&mut out, (e.sha256, e.sha1, e.ip_address, e.url, e.account_name));
    }
    out
}

/// The indicators an XDR incident names: its alerts' devices and entities.
pub fn incident_evidence(inc: Incident) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    for a in inc.alerts.unwrap_or_default() {
        for d in a.devices.unwrap_or_default() {
            if let Some(m) = d.mdatp_device_id {
                out.push((Kind::MachineId, m.as_str().to_string()));
            }
        }
        for e in a.entities.unwrap_or_default() {
            push_evidence(&mut out, (e.sha256, e.sha1, e.ip_address, e.url, e.account_name));
        }
    }
    out
}

fn prevalence(org: Option<i64>, first: Option<Timestamp>, last: Option<Timestamp>) -> Prevalence {
    let text = |t: Option<Timestamp>| t.map(|t| t.as_str().to_string());
    Prevalence { organization_prevalence: org.unwrap_or(0), org_first_seen: text(first), org_last_seen: text(last) }
}

/// Every item of a list answer as the response's facts.
fn each<M, F>(items: Vec<M>, facts: fn(M) -> F) -> Lookup<Vec<F>> {
    Ok(items.into_iter().map(facts).collect())
}

/// A file's facts: its profile and, when Defender knows it, its prevalence in the organisation.
async fn file_facts<T: TokenSource>(c: &TenantClient<T>, hash: &str) -> Lookup<Option<FileFacts>> {
    let id = if let Ok(s) = hash.parse() {
        FileHash::Sha1(s)
    } else if let Ok(s) = hash.parse() {
        FileHash::Sha256(s)
    } else {
        // MD5 has no file endpoint: Defender's file APIs take SHA-1 or SHA-256 only.
        return Ok(None);
    };
    let Some(info) = optional(c.client.get_file(&c.tenant, &id, c.deadline).await)? else {
        return Ok(None);
    };
    let stats = optional(c.client.file_stats(&c.tenant, &id, None, c.deadline).await)?;
    Ok(Some(FileFacts {
        sha1: info.sha1.map(|s| s.to_string()),
        sha256: info.sha256.map(|s| s.to_string()),
        file_type: info.file_type,
        signer: info.signer,
        is_valid_certificate: info.is_valid_certificate,
        global_prevalence: info.global_prevalence,
        organization_prevalence: stats.as_ref().and_then(|s| s.organization_prevalence),
        org_first_seen: stats.as_ref().and_then(|s| s.org_first_seen.as_ref().map(|t| t.as_str().to_string())),
        org_last_seen: stats.as_ref().and_then(|s| s.org_last_seen.as_ref().map(|t| t.as_str().to_string())),
    }))
}

impl<T: TokenSource> DefenderLookups for TenantClient<T> {
    fn machine<'a>(&'a self, id: &'a MachineId) -> BoxFuture<'a, Lookup<Option<MachineFacts>>> {
        async move { Ok(optional(self.client.get_machine(&self.tenant, id, self.deadline).await)?.map(machine_facts)) }
            .boxed()
    }

    fn machines_by_hostname<'a>(&'a self, host: &'a Hostname) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        async move {
            // Exact (trailing whitespace Defender kept aside, ASCII case aside): see `Hostname::names`.
            each(self.client.machines_by_host(&self.tenant, host, None, self.deadline).await?.value, machine_facts)
        }
        .boxed()
    }

    fn machines_by_ip<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        async move {
            let at = chrono::Utc::now();
            each(self.client.find_machines_by_ip(&self.tenant, ip, at, self.deadline).await?.value, machine_facts)
        }
        .boxed()
    }

    fn logged_on_users<'a>(&'a self, machine_id: &'a str) -> BoxFuture<'a, Lookup<Vec<String>>> {
        async move {
            let Ok(id) = machine_id.parse::<MachineId>() else { return Ok(Vec::new()) };
            let users = optional(self.client.machine_logon_users(&self.tenant, &id, self.deadline).await)?;
            Ok(users.map(|u| u.value.into_iter().filter_map(|u| u.account_name).collect()).unwrap_or_default())
        }
        .boxed()
    }

    fn machine_alerts<'a>(&'a self, machine_id: &'a str) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        async move {
            let Ok(id) = machine_id.parse::<MachineId>() else { return Ok(Vec::new()) };
            let list = optional(self.client.machine_alerts(&self.tenant, &id, self.deadline).await)?;
            Ok(list.map(|l| l.value.into_iter().map(alert_facts).collect()).unwrap_or_default())
        }
        .boxed()
    }

    fn file<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Lookup<Option<FileFacts>>> {
        file_facts(self, hash).boxed()
    }

    fn file_alerts<'a>(&'a self, sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        async move {
            let id = FileHash::Sha1(sha1.clone());
            each(self.client.file_alerts(&self.tenant, &id, self.deadline).await?.value, alert_facts)
        }
        .boxed()
    }

    fn file_machines<'a>(&'a self, sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        async move {
            let id = FileHash::Sha1(sha1.clone());
            each(self.client.file_machines(&self.tenant, &id, self.deadline).await?.value, machine_facts)
        }
        .boxed()
    }

    fn ip_prevalence<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Option<Prevalence>>> {
        async move {
            let s = self.client.ip_stats(&self.tenant, ip, None, self.deadline).await?;
            Ok(Some(prevalence(s.organization_prevalence, s.org_first_seen, s.org_last_seen)))
        }
        .boxed()
    }

    fn ip_alerts<'a>(&'a self, ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        async move { each(self.client.ip_alerts(&self.tenant, ip, self.deadline).await?.value, alert_facts) }.boxed()
    }

    fn domain_prevalence<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Option<Prevalence>>> {
        async move {
            let s = self.client.domain_stats(&self.tenant, domain, None, self.deadline).await?;
            Ok(Some(prevalence(s.organization_prevalence, s.org_first_seen, s.org_last_seen)))
        }
        .boxed()
    }

    fn domain_alerts<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        async move { each(self.client.domain_alerts(&self.tenant, domain, self.deadline).await?.value, alert_facts) }
            .boxed()
    }

    fn domain_machines<'a>(&'a self, domain: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        async move { each(self.client.domain_machines(&self.tenant, domain, self.deadline).await?.value, machine_facts) }.boxed()
    }

    fn user_alerts<'a>(&'a self, user: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        async move { each(self.client.user_alerts(&self.tenant, user, self.deadline).await?.value, alert_facts) }
            .boxed()
    }

    fn user_machines<'a>(&'a self, user: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        async move { each(self.client.user_machines(&self.tenant, user, self.deadline).await?.value, machine_facts) }
            .boxed()
    }

    fn alert_indicators<'a>(&'a self, id: &'a AlertId) -> BoxFuture<'a, Lookup<Evidence>> {
        async move {
            let Some(a) = optional(self.client.get_alert(&self.tenant, id, self.deadline).await)? else {
                return Ok(None);
            };
            Ok(Some(alert_evidence(a)))
        }
        .boxed()
    }

    fn hunt<'a>(
        &'a self,
        query: &'a defender_shared::defender::kql::KqlQuery,
    ) -> BoxFuture<'a, Lookup<Vec<serde_json::Value>>> {
        async move {
            // Graph runHuntingQuery: MDE's /api/advancedqueries/run is being retired (MC1220762).
            let req = defender_shared::defender::models::hunting::GraphHuntingRequest {
                query: query.clone(),
                timespan: None,
            };
            let out = self.client.graph_hunt(&self.tenant, &req, self.deadline).await?;
            Ok(out.results.unwrap_or_default().into_iter().map(serde_json::Value::Object).collect())
        }
        .boxed()
    }

    fn incident_indicators<'a>(&'a self, id: IncidentId) -> BoxFuture<'a, Lookup<Evidence>> {
        async move {
            let Some(inc) = optional(self.client.get_incident(&self.tenant, id, self.deadline).await)? else {
                return Ok(None);
            };
            Ok(Some(incident_evidence(inc)))
        }
        .boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn url_evidence_without_a_scheme_is_enriched_as_its_domain() {
        let kinds = |v: &str| evidence_url(v.to_string());
        assert_eq!(kinds("www.google.com"), (Kind::Domain, "www.google.com".into()));
        assert_eq!(kinds("evil.example/a.ps1?x=1"), (Kind::Domain, "evil.example".into()));
        assert_eq!(kinds("https://evil.example/a.ps1"), (Kind::Url, "https://evil.example/a.ps1".into()));
        // Neither a URL nor a domain: kept as the URL it claims to be, answered `invalid`.
        assert_eq!(kinds("not a url"), (Kind::Url, "not a url".into()));
        assert_eq!(kinds("/only/a/path"), (Kind::Url, "/only/a/path".into()));
    }
}
