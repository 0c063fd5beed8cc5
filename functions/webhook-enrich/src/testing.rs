//! In-memory fakes for the tests: a Defender tenant that counts its calls, and a secret store.

use crate::{
    enrich::{DefenderLookups, Evidence, Lookup, LookupError},
    request::Kind,
    response::{AlertFacts, FileFacts, MachineFacts, Prevalence},
};
use defender_shared::{
    ids::{AccountName, AlertId, DomainName, Hostname, IncidentId, MachineId, Sha1},
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use futures::{FutureExt, future::BoxFuture};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

pub const M1: &str = "abcdef0123456789abcdef0123456789abcdef01";
pub const SHA1: &str = "87662bc3d60e4200ceaf7aae249d1c343f4b83c9";

#[path = "../tests/common/facts.rs"]
mod facts;
use facts::machine;

fn alert(id: &str, severity: &str) -> AlertFacts {
    facts::alert(id, severity, M1)
}

/// A fake tenant: one machine, one file, one bad IP; counts calls; can throttle or hang one lookup.
#[derive(Default)]
pub struct Fake {
    pub calls: Mutex<HashMap<String, usize>>,
    pub throttle_ip: bool,
    pub hang_domain: bool,
    pub total: AtomicUsize,
}

impl Fake {
    fn hit(&self, what: &str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        *self.calls.lock().unwrap().entry(what.to_string()).or_default() += 1;
    }
    pub fn count(&self, what: &str) -> usize {
        self.calls.lock().unwrap().get(what).copied().unwrap_or(0)
    }
}

impl DefenderLookups for Fake {
    fn machine<'a>(&'a self, id: &'a MachineId) -> BoxFuture<'a, Lookup<Option<MachineFacts>>> {
        self.hit("machine");
        async move { Ok((id.as_str() == M1).then(|| machine(M1, "ws-fin-014.contoso.com"))) }.boxed()
    }
    fn machines_by_hostname<'a>(&'a self, host: &'a Hostname) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        self.hit("by_hostname");
        async move {
            Ok(if host.as_str() == "ws-fin-014.contoso.com" { vec![machine(M1, host.as_str())] } else { vec![] })
        }
        .boxed()
    }
    fn machines_by_ip<'a>(&'a self, _ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        self.hit("by_ip");
        async { Ok(vec![]) }.boxed()
    }
    fn logged_on_users<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Lookup<Vec<String>>> {
        self.hit("users");
        async { Ok(vec!["alice".into()]) }.boxed()
    }
    fn machine_alerts<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        self.hit("machine_alerts");
        async { Ok(vec![alert("da1", "Medium"), alert("da2", "High")]) }.boxed()
    }
    fn file<'a>(&'a self, hash: &'a str) -> BoxFuture<'a, Lookup<Option<FileFacts>>> {
        self.hit("file");
        let known = hash == SHA1 || hash.len() == 64;
        async move {
            Ok(known.then(|| FileFacts {
                sha1: Some(SHA1.into()),
                sha256: None,
                file_type: None,
                signer: None,
                is_valid_certificate: Some(false),
                global_prevalence: Some(3),
                organization_prevalence: Some(2),
                org_first_seen: None,
                org_last_seen: None,
            }))
        }
        .boxed()
    }
    fn file_alerts<'a>(&'a self, _sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        self.hit("file_alerts");
        async { Ok(vec![alert("da3", "Low")]) }.boxed()
    }
    fn file_machines<'a>(&'a self, _sha1: &'a Sha1) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        self.hit("file_machines");
        async { Ok(vec![machine(M1, "ws-fin-014.contoso.com")]) }.boxed()
    }
    fn ip_prevalence<'a>(&'a self, _ip: IpAddr) -> BoxFuture<'a, Lookup<Option<Prevalence>>> {
        self.hit("ip_prevalence");
        async { Ok(Some(Prevalence { organization_prevalence: 0, org_first_seen: None, org_last_seen: None })) }.boxed()
    }
    fn ip_alerts<'a>(&'a self, _ip: IpAddr) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        self.hit("ip_alerts");
        let throttle = self.throttle_ip;
        async move { if throttle { Err(LookupError::Throttled) } else { Ok(vec![]) } }.boxed()
    }
    fn domain_prevalence<'a>(&'a self, _d: &'a DomainName) -> BoxFuture<'a, Lookup<Option<Prevalence>>> {
        self.hit("domain_prevalence");
        let hang = self.hang_domain;
        async move {
            if hang {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            Ok(Some(Prevalence { organization_prevalence: 4, org_first_seen: None, org_last_seen: None }))
        }
        .boxed()
    }
    fn domain_alerts<'a>(&'a self, _d: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        self.hit("domain_alerts");
        async { Ok(vec![]) }.boxed()
    }
    fn domain_machines<'a>(&'a self, _d: &'a DomainName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        self.hit("domain_machines");
        async { Ok(vec![]) }.boxed()
    }
    fn user_alerts<'a>(&'a self, _u: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<AlertFacts>>> {
        self.hit("user_alerts");
        async { Ok(vec![]) }.boxed()
    }
    fn user_machines<'a>(&'a self, _u: &'a AccountName) -> BoxFuture<'a, Lookup<Vec<MachineFacts>>> {
        self.hit("user_machines");
        async { Ok(vec![]) }.boxed()
    }
    fn alert_indicators<'a>(&'a self, id: &'a AlertId) -> BoxFuture<'a, Lookup<Evidence>> {
        self.hit("alert_indicators");
        let known = id.as_str() == "da1";
        async move { Ok(known.then(|| vec![(Kind::MachineId, M1.to_string()), (Kind::Sha1, SHA1.to_string())])) }
            .boxed()
    }
    fn incident_indicators<'a>(&'a self, _id: IncidentId) -> BoxFuture<'a, Lookup<Evidence>> {
        self.hit("incident_indicators");
        async { Ok(None) }.boxed()
    }
}

/// Secrets held in memory.
#[derive(Default)]
pub struct MemStore(pub Mutex<HashMap<String, String>>);

impl MemStore {
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self(Mutex::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
    }
}

impl SecretStore for MemStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        let v = self.0.lock().unwrap().get(name).cloned();
        async move { v.map(SecretString::new).ok_or_else(|| VaultError::NotFound(name.to_string())) }.boxed()
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(name)
    }
    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        self.0.lock().unwrap().insert(name.to_string(), value.expose().to_string());
        async { Ok(()) }.boxed()
    }
}
