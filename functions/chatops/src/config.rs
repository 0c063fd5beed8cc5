//! The function's own settings (the shared ones — tenant, credential, vault, cloud — are read by
//! `defender_shared::config`). Read once at cold start from a lookup, never from `std::env` elsewhere.
//!
//! `CHATOPS_RBAC` is the access policy, a JSON document:
//!
//! ```json
//! { "default_tenant": "default",
//!   "routes":  { "T1DC2JH3J": "default", "C0123": "fabrikam" },
//!   "tenants": { "default": { "U2CERLKJA": ["read", "hunt", "incident", "isolate", "scan"] } } }
//! ```
//!
//! `routes` maps a Slack channel id or workspace (`team_id`) — or a Teams tenant id — to a registry
//! tenant (channel first); `default_tenant` is used when no route matches (omit it to refuse). A user
//! absent from a tenant's map may do nothing there but read the help. Permissions: `read` (machine,
//! alert, incident, action status), `hunt`, `incident` (assign/resolve/classify) and one per machine
//! action (`isolate`, `unisolate`, `scan`, `restrict`, `unrestrict`, `collect`) — a machine action also
//! needs the tenant's `allowed_actions`, and implies `read`.

use crate::command::{ChatUser, Command, Origin};
use defender_shared::{ids::TenantName, tenants::Action};
use serde::Deserialize;
use std::{
    collections::{BTreeSet, HashMap},
    str::FromStr,
    time::Duration,
};

/// What a chat user may do in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Look things up.
    Read,
    /// Run allow-listed hunting queries.
    Hunt,
    /// Change incidents.
    Incident,
    /// Run one machine action.
    Act(Action),
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(Self::Read),
            "hunt" => Ok(Self::Hunt),
            "incident" => Ok(Self::Incident),
            other => other.parse::<Action>().map(Self::Act).map_err(|_| format!("'{other}' is not a permission")),
        }
    }
}

impl Permission {
    /// The permission a command needs (`None`: anyone, e.g. help).
    pub fn for_command(cmd: &Command) -> Option<Self> {
        match cmd {
            Command::Help => None,
            Command::Machine(_) | Command::Alert(_) | Command::Incident(_) | Command::ActionStatus(_) => {
                Some(Self::Read)
            }
            Command::Hunt(_) => Some(Self::Hunt),
            Command::UpdateIncident(..) => Some(Self::Incident),
            Command::Act { action, .. } => Some(Self::Act(*action)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RbacDoc {
    #[serde(default)]
    default_tenant: Option<TenantName>,
    #[serde(default)]
    routes: HashMap<String, TenantName>,
    #[serde(default)]
    tenants: HashMap<TenantName, HashMap<String, Vec<String>>>,
}

/// The access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rbac {
    default_tenant: Option<TenantName>,
    routes: HashMap<String, TenantName>,
    users: HashMap<TenantName, HashMap<String, BTreeSet<Permission>>>,
}

/// Why a chat user may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No tenant serves this workspace/channel.
    #[error("this workspace or channel is not connected to a Defender tenant")]
    NoTenant,
    /// The user lacks the permission.
    #[error("you are not allowed to {0} in this tenant")]
    NotAllowed(String),
}

impl Rbac {
    /// Parses the policy document.
    ///
    /// # Errors
    /// The reason, for malformed JSON, an unknown key or permission.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let doc: RbacDoc = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut users = HashMap::new();
        for (tenant, map) in doc.tenants {
            let mut per = HashMap::new();
            for (user, perms) in map {
                let set = perms.iter().map(|p| p.parse()).collect::<Result<BTreeSet<Permission>, _>>()?;
                per.insert(user, set);
            }
            users.insert(tenant, per);
        }
        Ok(Self { default_tenant: doc.default_tenant, routes: doc.routes, users })
    }

    /// The tenant serving a request's origin (channel route, then workspace route, then the default).
    pub fn tenant_for(&self, origin: &Origin) -> Option<&TenantName> {
        self.routes.get(&origin.channel).or_else(|| self.routes.get(&origin.team)).or(self.default_tenant.as_ref())
    }

    /// Whether `user` holds `perm` in `tenant` (a machine action implies `read`).
    pub fn has(&self, tenant: &TenantName, user: &ChatUser, perm: Permission) -> bool {
        let Some(set) = self.users.get(tenant).and_then(|m| m.get(&user.id)) else { return false };
        set.contains(&perm) || (perm == Permission::Read && set.iter().any(|p| matches!(p, Permission::Act(_))))
    }

    /// The tenant and the check of `perm` for `user` at `origin`.
    ///
    /// # Errors
    /// [`Denied`].
    pub fn check(&self, origin: &Origin, user: &ChatUser, perm: Permission) -> Result<TenantName, Denied> {
        let tenant = self.tenant_for(origin).ok_or(Denied::NoTenant)?;
        if self.has(tenant, user, perm) {
            Ok(tenant.clone())
        } else {
            Err(Denied::NotAllowed(match perm {
                Permission::Read => "look things up".into(),
                Permission::Hunt => "run hunting queries".into(),
                Permission::Incident => "change incidents".into(),
                Permission::Act(a) => a.as_str().to_string(),
            }))
        }
    }
}

/// Settings of the chat-ops functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatOpsConfig {
    /// Vault names of the Slack signing secrets, current first.
    pub slack_secret_names: Vec<String>,
    /// Vault names of the Teams outgoing-webhook secrets (base64), current first.
    pub teams_secret_names: Vec<String>,
    /// How long a confirmation button stays valid.
    pub confirm_ttl: Duration,
    /// Accepted `response_url` prefixes (production: `https://hooks.slack.com/`).
    pub response_url_prefixes: Vec<String>,
    /// The access policy.
    pub rbac: Rbac,
}

/// A setting is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ChatOpsConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn list(raw: Option<String>, default: &[&str]) -> Vec<String> {
    match raw.filter(|r| !r.trim().is_empty()) {
        Some(r) => r.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None => default.iter().map(|s| s.to_string()).collect(),
    }
}

impl ChatOpsConfig {
    /// Reads `CHATOPS_SLACK_SECRET_NAMES` (default `slack-signing-secret`), `CHATOPS_TEAMS_SECRET_NAMES`
    /// (default `teams-outgoing-secret`), `CHATOPS_CONFIRM_TTL_S` (30–900, default 300),
    /// `CHATOPS_RESPONSE_URL_PREFIXES` (default `https://hooks.slack.com/`) and `CHATOPS_RBAC`
    /// (required: without a policy nobody may do anything, so a missing one is an error).
    ///
    /// # Errors
    /// The variable and the reason.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ChatOpsConfigError> {
        let ttl = match get("CHATOPS_CONFIRM_TTL_S") {
            None => 300,
            Some(v) => v.trim().parse::<u64>().ok().filter(|s| (30..=900).contains(s)).ok_or_else(|| {
                ChatOpsConfigError { var: "CHATOPS_CONFIRM_TTL_S", reason: format!("'{v}' is not 30-900 seconds") }
            })?,
        };
        let rbac_text = get("CHATOPS_RBAC")
            .ok_or(ChatOpsConfigError { var: "CHATOPS_RBAC", reason: "required (the access policy)".into() })?;
        let rbac = Rbac::from_json(&rbac_text).map_err(|reason| ChatOpsConfigError { var: "CHATOPS_RBAC", reason })?;
        let prefixes = list(get("CHATOPS_RESPONSE_URL_PREFIXES"), &["https://hooks.slack.com/"]);
        if let Some(bad) = prefixes.iter().find(|p| !(p.starts_with("https://") || p.starts_with("http://127.0.0.1"))) {
            return Err(ChatOpsConfigError {
                var: "CHATOPS_RESPONSE_URL_PREFIXES",
                reason: format!("'{bad}' is neither https nor a loopback receiver"),
            });
        }
        Ok(Self {
            slack_secret_names: list(get("CHATOPS_SLACK_SECRET_NAMES"), &["slack-signing-secret"]),
            teams_secret_names: list(get("CHATOPS_TEAMS_SECRET_NAMES"), &["teams-outgoing-secret"]),
            confirm_ttl: Duration::from_secs(ttl),
            response_url_prefixes: prefixes,
            rbac,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"default_tenant":"default","routes":{"C9":"fabrikam"},
        "tenants":{"default":{"U1":["isolate"],"U2":["read"]},"fabrikam":{"U1":["read"]}}}"#;

    fn user(id: &str) -> ChatUser {
        ChatUser { id: id.into(), name: id.into() }
    }

    #[test]
    fn policy_routes_and_permissions() {
        let r = Rbac::from_json(POLICY).unwrap();
        let o = Origin { team: "T1".into(), channel: "C1".into() };
        let fab = Origin { team: "T1".into(), channel: "C9".into() };
        assert_eq!(r.check(&o, &user("U1"), Permission::Act(Action::Isolate)).unwrap().as_str(), "default");
        assert_eq!(r.check(&o, &user("U1"), Permission::Read).unwrap().as_str(), "default", "an action implies read");
        assert_eq!(r.check(&o, &user("U1"), Permission::Act(Action::Scan)), Err(Denied::NotAllowed("scan".into())));
        assert!(r.check(&o, &user("U2"), Permission::Act(Action::Isolate)).is_err());
        assert!(r.check(&o, &user("U3"), Permission::Read).is_err(), "unknown users may not read");
        assert!(r.check(&fab, &user("U1"), Permission::Act(Action::Isolate)).is_err(), "per tenant");
        let none = Rbac::from_json(r#"{"tenants":{}}"#).unwrap();
        assert_eq!(none.check(&o, &user("U1"), Permission::Read), Err(Denied::NoTenant));
        assert!(Rbac::from_json(r#"{"tenants":{"default":{"U1":["root"]}}}"#).unwrap_err().contains("root"));
        assert!(Rbac::from_json(r#"{"tenant":{}}"#).is_err(), "unknown keys are refused");
    }

    #[test]
    fn settings_defaults_and_errors() {
        let c = ChatOpsConfig::from_lookup(|k| (k == "CHATOPS_RBAC").then(|| POLICY.to_string())).unwrap();
        assert_eq!(c.slack_secret_names, vec!["slack-signing-secret"]);
        assert_eq!(c.confirm_ttl, Duration::from_secs(300));
        assert_eq!(ChatOpsConfig::from_lookup(|_| None).unwrap_err().var, "CHATOPS_RBAC");
        let e = ChatOpsConfig::from_lookup(|k| match k {
            "CHATOPS_RBAC" => Some(POLICY.into()),
            "CHATOPS_CONFIRM_TTL_S" => Some("5".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.var, "CHATOPS_CONFIRM_TTL_S");
        let e = ChatOpsConfig::from_lookup(|k| match k {
            "CHATOPS_RBAC" => Some(POLICY.into()),
            "CHATOPS_RESPONSE_URL_PREFIXES" => Some("http://evil.example/".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.var, "CHATOPS_RESPONSE_URL_PREFIXES");
    }
}
