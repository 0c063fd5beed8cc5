//! The function's own settings (the shared ones — tenant, credential, vault, cloud — are read by
//! `defender_shared::config`). Read once at cold start from a lookup, never from `std::env` elsewhere.
//!
//! `CHATOPS_RBAC` is the access policy, a JSON document:
//!
//! ```json
//! { "slack": { "app_id": "A0DEFENDER", "workspaces": ["T1DC2JH3J"], "enterprises": [] },
//!   "teams": { "tenants": ["72f988bf-86f1-41af-91ab-2d7cd011db47"] },
//!   "routes":  { "T1DC2JH3J": "default", "C0123": "fabrikam" },
//!   "catch_all": { "tenant": "default" },
//!   "tenants": { "default": { "T1DC2JH3J:U2CERLKJA": ["read", "hunt", "incident", "isolate", "scan"] } },
//!   "two_person": { "default": ["isolate"] },
//!   "links": { "default": { "U2CERLKJA": "alice@contoso.com" } } }
//! ```
//!
//! Who may talk to the function at all, checked right after the signature and before anything else
//! ([`Rbac::admit`]): a Slack request must come from the app `slack.app_id` (`api_app_id`) in one of
//! `slack.workspaces` (`team_id`) and, when it carries an `enterprise_id`, from one of
//! `slack.enterprises`; a Teams activity from one of `teams.tenants` (`channelData.tenant.id`). Without
//! `slack` (or `teams`) that platform is refused: a signing secret alone does not say which workspace
//! a request is from (one Slack app can be installed in many).
//!
//! `routes` maps a Slack channel id or workspace (`team_id`) — or a Teams tenant id — to a registry
//! tenant (channel first). An unrouted channel is refused unless the policy opts in to a catch-all
//! with `catch_all: {"tenant": …}`; the former `default_tenant` key is refused at start with a message
//! naming `catch_all`, so no policy keeps an implicit catch-all by accident. Users are keyed on
//! `"<workspace>:<user>"` — the Slack `team_id` and `user_id`, or the Teams tenant id and the user's
//! `aadObjectId` — since a user id is only unique within its workspace. A user absent from a tenant's
//! map may do nothing there but read the help. Permissions: `read` (machine,
//! alert, incident, action status), `hunt`, `incident` (assign/resolve/classify), `alert_update`
//! (alert status/classify/assign), `block` and `unblock` (threat-intelligence indicators), `actions`
//! (a machine's recent actions) and one per machine
//! action (`isolate`, `unisolate`, `scan`, `restrict`, `unrestrict`, `collect`) — a machine action also
//! needs the tenant's `allowed_actions`, and implies `read`. `two_person` lists, per tenant, the
//! actions that need a second, different authorised user to approve after the requester confirmed.
//! `links` binds, per tenant, a chat user to the Entra identity (UPN or object id) their
//! `/defender link` sign-in must be; it takes precedence over the Slack e-mail match
//! ([`crate::identity`]).
//! [`Rbac::self_check`] runs at cold start: a policy naming an unknown tenant, or granting an action
//! a tenant does not allow, stops the function there rather than at the first click.

use crate::command::{ChatUser, ChatUserId, Command, Origin};
use defender_shared::{
    ids::{ClientId, TenantName},
    settings::SettingError,
    tenants::Action,
};
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
    /// Change alerts (status, classification, assignment): `alert_update`.
    AlertUpdate,
    /// Submit threat-intelligence indicators: `block`.
    Block,
    /// Remove threat-intelligence indicators: `unblock`.
    Unblock,
    /// List a machine's recent actions: `actions`.
    Actions,
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
            "alert_update" => Ok(Self::AlertUpdate),
            "block" => Ok(Self::Block),
            "unblock" => Ok(Self::Unblock),
            "actions" => Ok(Self::Actions),
            other => other.parse::<Action>().map(Self::Act).map_err(|_| format!("'{other}' is not a permission")),
        }
    }
}

impl Permission {
    /// The permission a command needs (`None`: anyone, e.g. help).
    pub fn for_command(cmd: &Command) -> Option<Self> {
        match cmd {
            Command::Help | Command::Confirm { .. } => None,
            Command::Machine(_)
            | Command::Alert(_)
            | Command::Incident(_)
            | Command::ActionStatus(_)
            | Command::Link => Some(Self::Read),
            Command::Hunt(_) => Some(Self::Hunt),
            Command::UpdateIncident(..) => Some(Self::Incident),
            Command::UpdateAlert(..) => Some(Self::AlertUpdate),
            Command::Block(_) => Some(Self::Block),
            Command::Unblock(_) => Some(Self::Unblock),
            Command::MachineActions(_) => Some(Self::Actions),
            Command::Act { action, .. } => Some(Self::Act(*action)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RbacDoc {
    /// Refused with a message naming `catch_all` (kept here only to say so).
    #[serde(default)]
    default_tenant: Option<serde_json::Value>,
    #[serde(default)]
    slack: Option<SlackAllow>,
    #[serde(default)]
    teams: Option<TeamsAllow>,
    #[serde(default)]
    catch_all: Option<CatchAll>,
    #[serde(default)]
    routes: HashMap<String, TenantName>,
    #[serde(default)]
    tenants: HashMap<TenantName, HashMap<String, Vec<String>>>,
    #[serde(default)]
    two_person: HashMap<TenantName, Vec<String>>,
    #[serde(default)]
    links: HashMap<TenantName, HashMap<String, String>>,
}

/// The Slack app and workspaces requests are accepted from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAllow {
    /// The app's id (`api_app_id`, `A…`).
    pub app_id: String,
    /// Workspace ids (`team_id`, `T…`).
    pub workspaces: BTreeSet<String>,
    /// Enterprise Grid organisations (`enterprise_id`, `E…`); a request carrying another is refused.
    #[serde(default)]
    pub enterprises: BTreeSet<String>,
}

/// The Microsoft Entra tenants Teams activities are accepted from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsAllow {
    /// Tenant ids (`channelData.tenant.id`).
    pub tenants: BTreeSet<String>,
}

/// The explicit opt-in to serve unrouted channels.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatchAll {
    tenant: TenantName,
}

/// The chat platform a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Slack.
    Slack,
    /// Microsoft Teams.
    Teams,
}

/// The access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rbac {
    slack: Option<SlackAllow>,
    teams: Option<TeamsAllow>,
    catch_all: Option<TenantName>,
    routes: HashMap<String, TenantName>,
    /// Per tenant, per (workspace, user): the permissions.
    users: HashMap<TenantName, HashMap<(String, ChatUserId), BTreeSet<Permission>>>,
    two_person: HashMap<TenantName, BTreeSet<Action>>,
    links: HashMap<TenantName, HashMap<ChatUserId, String>>,
}

/// Why a chat user may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The request comes from a workspace, organisation, app or Teams tenant the policy does not admit.
    #[error("this {0} is not allowed to use this Defender integration; nothing was done")]
    NotAdmitted(&'static str),
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
        if let Some(t) = doc.default_tenant {
            return Err(format!(
                "default_tenant is no longer accepted: unrouted channels are refused unless the policy opts in \
                 explicitly with \"catch_all\": {{\"tenant\": {t}}} (or route each channel and workspace in `routes`)"
            ));
        }
        if let Some(s) = &doc.slack
            && (s.app_id.trim().is_empty() || s.workspaces.is_empty())
        {
            return Err("slack: needs the app's `app_id` and at least one workspace in `workspaces`".into());
        }
        if doc.teams.as_ref().is_some_and(|t| t.tenants.is_empty()) {
            return Err("teams: needs at least one tenant id in `tenants`".into());
        }
        let mut users = HashMap::new();
        for (tenant, map) in doc.tenants {
            let mut per = HashMap::new();
            for (user, perms) in map {
                let Some((team, id)) = user.split_once(':').filter(|(w, u)| !w.is_empty() && !u.is_empty()) else {
                    return Err(format!(
                        "tenants.{tenant}: user '{user}' names no workspace: write '<workspace>:{user}' (the Slack \
                         team_id or the Teams tenant id; permissions are per workspace and user)"
                    ));
                };
                let id: ChatUserId = id.parse().map_err(|e| format!("tenants.{tenant}: {e}"))?;
                let set = perms.iter().map(|p| p.parse()).collect::<Result<BTreeSet<Permission>, _>>()?;
                per.insert((team.to_string(), id), set);
            }
            users.insert(tenant, per);
        }
        let mut two_person = HashMap::new();
        for (tenant, actions) in doc.two_person {
            let set = actions
                .iter()
                .map(|a| a.parse::<Action>().map_err(|_| format!("two_person: '{a}' is not a machine action")))
                .collect::<Result<BTreeSet<Action>, _>>()?;
            two_person.insert(tenant, set);
        }
        let mut links = HashMap::new();
        for (tenant, map) in doc.links {
            let mut per = HashMap::new();
            for (user, who) in map {
                if who.trim().is_empty() || who.chars().any(char::is_whitespace) {
                    return Err(format!("links.{tenant}.{user}: give a user principal name or an object id"));
                }
                per.insert(user.parse::<ChatUserId>().map_err(|e| format!("links.{tenant}: {e}"))?, who);
            }
            links.insert(tenant, per);
        }
        Ok(Self {
            slack: doc.slack,
            teams: doc.teams,
            catch_all: doc.catch_all.map(|c| c.tenant),
            routes: doc.routes,
            users,
            two_person,
            links,
        })
    }

    /// The Entra identity an administrator bound `user_id` to in `tenant` (`links`): a user principal
    /// name, or an object id. A `/defender link` sign-in must be that identity; without an entry it
    /// must match the chat user's own verified directory identity ([`crate::identity`]).
    pub fn linked_identity(&self, tenant: &TenantName, user_id: &ChatUserId) -> Option<&str> {
        self.links.get(tenant).and_then(|m| m.get(user_id)).map(String::as_str)
    }

    /// Whether a verified request's origin may use the function at all: for Slack the app, the
    /// workspace and (when present) the Enterprise Grid organisation; for Teams the tenant. Checked
    /// before anything else is done with the request.
    ///
    /// # Errors
    /// [`Denied::NotAdmitted`] naming what is not admitted.
    pub fn admit(&self, platform: Platform, origin: &Origin) -> Result<(), Denied> {
        match platform {
            Platform::Slack => {
                let Some(s) = &self.slack else { return Err(Denied::NotAdmitted("Slack workspace")) };
                if origin.app.as_deref() != Some(s.app_id.as_str()) {
                    return Err(Denied::NotAdmitted("Slack app"));
                }
                if !s.workspaces.contains(&origin.team) {
                    return Err(Denied::NotAdmitted("Slack workspace"));
                }
                if let Some(e) = &origin.enterprise
                    && !s.enterprises.contains(e)
                {
                    return Err(Denied::NotAdmitted("Slack organisation"));
                }
                Ok(())
            }
            Platform::Teams => match &self.teams {
                Some(t) if t.tenants.contains(&origin.team) => Ok(()),
                _ => Err(Denied::NotAdmitted("Teams tenant")),
            },
        }
    }

    /// Whether `action` in `tenant` needs a second person's approval.
    pub fn needs_two_person(&self, tenant: &TenantName, action: Action) -> bool {
        self.two_person.get(tenant).is_some_and(|s| s.contains(&action))
    }

    /// The cold-start check of the policy against the tenants: `allows(tenant, action)` answers
    /// `None` for an unknown tenant, else whether its `allowed_actions` hold the action.
    ///
    /// # Errors
    /// Every problem, one per line: an unknown tenant (route, default, user map, two-person list), an
    /// action granted or put under two-person approval that the tenant does not allow.
    pub fn self_check(&self, allows: impl Fn(&TenantName, Action) -> Option<bool>) -> Result<(), String> {
        let mut problems = Vec::new();
        let known = |t: &TenantName| allows(t, Action::Isolate).is_some();
        if let Some(t) = self.catch_all.as_ref().filter(|t| !known(t)) {
            problems.push(format!("catch_all: '{t}' is not a configured tenant"));
        }
        let mut routes: Vec<_> = self.routes.iter().filter(|(_, t)| !known(t)).collect();
        routes.sort();
        for (from, t) in routes {
            problems.push(format!("route '{from}' names the unknown tenant '{t}'"));
        }
        let mut users: Vec<_> = self.users.iter().collect();
        users.sort_by_key(|(t, _)| t.as_str().to_string());
        for (tenant, map) in users {
            if !known(tenant) {
                problems.push(format!("tenants: '{tenant}' is not a configured tenant"));
                continue;
            }
            let mut map: Vec<_> = map.iter().collect();
            map.sort();
            for ((team, user), perms) in map {
                for p in perms {
                    if let Permission::Act(a) = p
                        && allows(tenant, *a) == Some(false)
                    {
                        problems.push(format!(
                            "user '{team}:{user}' is granted {a} in tenant '{tenant}', whose allowed_actions do not include it"
                        ));
                    }
                }
            }
        }
        let mut two: Vec<_> = self.two_person.iter().collect();
        two.sort_by_key(|(t, _)| t.as_str().to_string());
        for (tenant, actions) in two {
            for a in actions {
                match allows(tenant, *a) {
                    None => problems.push(format!("two_person: '{tenant}' is not a configured tenant")),
                    Some(false) => problems.push(format!("two_person: tenant '{tenant}' does not allow {a}")),
                    Some(true) => {}
                }
            }
        }
        problems.dedup();
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }

    /// The tenant serving a request's origin (channel route, then workspace route, then the explicit
    /// `catch_all`, if the policy has one).
    pub fn tenant_for(&self, origin: &Origin) -> Option<&TenantName> {
        self.routes.get(&origin.channel).or_else(|| self.routes.get(&origin.team)).or(self.catch_all.as_ref())
    }

    /// Whether bot messages about `tenant` may go to the Slack `channel`: the channel is routed to
    /// it, or is routed nowhere while the tenant serves unrouted channels (it is the catch-all, or an
    /// admitted workspace is routed to it).
    pub fn channel_serves(&self, channel: &str, tenant: &TenantName) -> bool {
        match self.routes.get(channel) {
            Some(t) => t == tenant,
            None => {
                self.catch_all.as_ref() == Some(tenant)
                    || self.routes.iter().any(|(from, t)| {
                        t == tenant && self.slack.as_ref().is_some_and(|s| s.workspaces.contains(from))
                    })
            }
        }
    }

    /// Whether `user` of `origin`'s workspace holds `perm` in `tenant` (a machine action implies `read`).
    pub fn has(&self, tenant: &TenantName, origin: &Origin, user: &ChatUser, perm: Permission) -> bool {
        let key = (origin.team.clone(), user.id.clone());
        let Some(set) = self.users.get(tenant).and_then(|m| m.get(&key)) else { return false };
        set.contains(&perm) || (perm == Permission::Read && set.iter().any(|p| matches!(p, Permission::Act(_))))
    }

    /// The tenant and the check of `perm` for `user` at `origin`.
    ///
    /// # Errors
    /// [`Denied`].
    pub fn check(&self, origin: &Origin, user: &ChatUser, perm: Permission) -> Result<TenantName, Denied> {
        let tenant = self.tenant_for(origin).ok_or(Denied::NoTenant)?;
        if self.has(tenant, origin, user, perm) {
            Ok(tenant.clone())
        } else {
            Err(Denied::NotAllowed(match perm {
                Permission::Read => "look things up".into(),
                Permission::Hunt => "run hunting queries".into(),
                Permission::Incident => "change incidents".into(),
                Permission::AlertUpdate => "change alerts".into(),
                Permission::Block => "block indicators".into(),
                Permission::Unblock => "unblock indicators".into(),
                Permission::Actions => "list machine actions".into(),
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
    /// `CHATOPS_QUEUE_URL`: the SQS queue of the hand-off (`None`: in-process, local mode only).
    pub queue_url: Option<String>,
    /// `CHATOPS_IDEMPOTENCY_TABLE`: the DynamoDB table of exactly-once (`None`: in memory, local mode only).
    pub idempotency_table: Option<String>,
    /// Delay between follow-up passes.
    pub recheck_after: Duration,
    /// Stop following an action this long after it was accepted.
    pub followup_max_age: Duration,
    /// `CHATOPS_USER_CLIENT_ID`: the public client app chat users link their Entra identity with
    /// (device code); `None`: actions always run in app context.
    pub user_client_id: Option<ClientId>,
    /// `CHATOPS_SLACK_BOT_TOKEN_NAME`: the vault secret holding the Slack bot token (`xoxb-…`, scope
    /// `chat:write`) for replies after a `response_url` is used up or expired; `None`: none are posted.
    pub slack_bot_token_name: Option<String>,
    /// `CHATOPS_SLACK_API_URL`: Slack's Web API (default `https://slack.com/api`).
    pub slack_api_url: String,
    /// `CHATOPS_LINK_STEP_S`: how long one worker invocation polls a `/defender link` sign-in before
    /// handing the rest to the next (0: one poll per invocation).
    pub link_step: Duration,
    /// The Teams bot on the Bot Framework (`CHATOPS_BOT_*`); `None`: no bot route.
    pub teams_bot: Option<crate::teams_bot::TeamsBotConfig>,
}

/// A setting is wrong (the variable and why).
pub type ChatOpsConfigError = SettingError;

pub(crate) use defender_shared::settings::{list, nonempty, seconds};

/// A `response_url` prefix is compared with `starts_with`, so it must pin the whole origin: https (or
/// http to a loopback receiver, for local runs) and a `/` right after the host — without it,
/// `https://hooks.slack.com` would also admit `https://hooks.slack.com.evil.example/…`.
pub(crate) fn check_response_url_prefix(prefix: &str) -> Result<(), String> {
    let parsed = url::Url::parse(prefix).map_err(|e| format!("'{prefix}' is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
        return Err(format!("'{prefix}' is neither https nor a loopback receiver"));
    }
    let after_scheme = prefix.split_once("://").map_or("", |(_, rest)| rest);
    if !after_scheme.contains('/') || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("'{prefix}' must end its host with '/' (e.g. https://hooks.slack.com/)"));
    }
    Ok(())
}

impl ChatOpsConfig {
    /// Reads `CHATOPS_SLACK_SECRET_NAMES` (default `slack-signing-secret`), `CHATOPS_TEAMS_SECRET_NAMES`
    /// (default `teams-outgoing-secret`), `CHATOPS_CONFIRM_TTL_S` (30–900, default 300),
    /// `CHATOPS_RESPONSE_URL_PREFIXES` (default `https://hooks.slack.com/`), `CHATOPS_RBAC`
    /// (required: without a policy nobody may do anything, so a missing one is an error),
    /// `CHATOPS_QUEUE_URL` and `CHATOPS_IDEMPOTENCY_TABLE` (production hand-off and store),
    /// `CHATOPS_RECHECK_S` (5–900, default 30), `CHATOPS_FOLLOWUP_MAX_AGE_S` (60–604800, default
    /// 21600), `CHATOPS_USER_CLIENT_ID` (user linking; off when unset), `CHATOPS_LINK_STEP_S` (0–30,
    /// default 20), `CHATOPS_SLACK_BOT_TOKEN_NAME` (a vault secret name; late replies off when unset)
    /// and `CHATOPS_SLACK_API_URL` (default `https://slack.com/api`; https, or http to loopback).
    ///
    /// # Errors
    /// The variable and the reason.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ChatOpsConfigError> {
        let confirm_ttl = seconds(&get, "CHATOPS_CONFIRM_TTL_S", 30..=900, 300)?;
        let recheck_after = seconds(&get, "CHATOPS_RECHECK_S", 5..=900, 30)?;
        let followup_max_age = seconds(&get, "CHATOPS_FOLLOWUP_MAX_AGE_S", 60..=604_800, 21_600)?;
        let user_client_id = nonempty(&get, "CHATOPS_USER_CLIENT_ID")
            .map(|v| {
                v.parse::<ClientId>()
                    .map_err(|e| ChatOpsConfigError { var: "CHATOPS_USER_CLIENT_ID", reason: e.to_string() })
            })
            .transpose()?;
        let rbac_text = get("CHATOPS_RBAC")
            .ok_or(ChatOpsConfigError { var: "CHATOPS_RBAC", reason: "required (the access policy)".into() })?;
        let rbac = Rbac::from_json(&rbac_text).map_err(|reason| ChatOpsConfigError { var: "CHATOPS_RBAC", reason })?;
        let link_step = seconds(&get, "CHATOPS_LINK_STEP_S", 0..=30, 20)?;
        let slack_bot_token_name = nonempty(&get, "CHATOPS_SLACK_BOT_TOKEN_NAME")
            .map(|name| {
                defender_shared::vault::check_name(&name)
                    .map(|()| name)
                    .map_err(|e| ChatOpsConfigError { var: "CHATOPS_SLACK_BOT_TOKEN_NAME", reason: e.to_string() })
            })
            .transpose()?;
        let slack_api_url = nonempty(&get, "CHATOPS_SLACK_API_URL")
            .unwrap_or_else(|| crate::thread::DEFAULT_SLACK_API_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        // Pinned as a response_url prefix is: the whole origin, https (or a loopback stand-in).
        check_response_url_prefix(&format!("{slack_api_url}/"))
            .map_err(|reason| ChatOpsConfigError { var: "CHATOPS_SLACK_API_URL", reason })?;
        let prefixes = list(get("CHATOPS_RESPONSE_URL_PREFIXES"), &["https://hooks.slack.com/"]);
        for prefix in &prefixes {
            check_response_url_prefix(prefix)
                .map_err(|reason| ChatOpsConfigError { var: "CHATOPS_RESPONSE_URL_PREFIXES", reason })?;
        }
        Ok(Self {
            slack_secret_names: list(get("CHATOPS_SLACK_SECRET_NAMES"), &["slack-signing-secret"]),
            teams_secret_names: list(get("CHATOPS_TEAMS_SECRET_NAMES"), &["teams-outgoing-secret"]),
            confirm_ttl,
            response_url_prefixes: prefixes,
            rbac,
            queue_url: nonempty(&get, "CHATOPS_QUEUE_URL"),
            idempotency_table: nonempty(&get, "CHATOPS_IDEMPOTENCY_TABLE"),
            recheck_after,
            followup_max_age,
            user_client_id,
            slack_bot_token_name,
            slack_api_url,
            link_step,
            teams_bot: crate::teams_bot::TeamsBotConfig::from_lookup(&get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::settings::only;

    const POLICY: &str = r#"{"catch_all":{"tenant":"default"},"routes":{"C9":"fabrikam"},
        "slack":{"app_id":"A1","workspaces":["T1"]},
        "tenants":{"default":{"T1:U1":["isolate"],"T1:U2":["read"]},"fabrikam":{"T1:U1":["read"]}}}"#;

    fn user(id: &str) -> ChatUser {
        ChatUser { id: id.parse().unwrap(), name: id.into() }
    }

    #[test]
    fn policy_routes_and_permissions() {
        let r = Rbac::from_json(POLICY).unwrap();
        let o = Origin { team: "T1".into(), channel: "C1".into(), ..Origin::default() };
        let fab = Origin { team: "T1".into(), channel: "C9".into(), ..Origin::default() };
        assert_eq!(r.check(&o, &user("U1"), Permission::Act(Action::Isolate)).unwrap().as_str(), "default");
        assert_eq!(r.check(&o, &user("U1"), Permission::Read).unwrap().as_str(), "default", "an action implies read");
        assert_eq!(r.check(&o, &user("U1"), Permission::Act(Action::Scan)), Err(Denied::NotAllowed("scan".into())));
        assert!(r.check(&o, &user("U2"), Permission::Act(Action::Isolate)).is_err());
        assert!(r.check(&o, &user("U3"), Permission::Read).is_err(), "unknown users may not read");
        assert!(r.check(&fab, &user("U1"), Permission::Act(Action::Isolate)).is_err(), "per tenant");
        let none = Rbac::from_json(r#"{"tenants":{}}"#).unwrap();
        assert_eq!(none.check(&o, &user("U1"), Permission::Read), Err(Denied::NoTenant));
        assert!(Rbac::from_json(r#"{"tenants":{"default":{"T1:U1":["root"]}}}"#).unwrap_err().contains("root"));
        let bad_user = Rbac::from_json(r#"{"tenants":{"default":{"T1:U 1":["read"]}}}"#).unwrap_err();
        assert!(bad_user.contains("tenants.default: invalid chat user id 'U 1'"), "{bad_user}");
        let bad_link = Rbac::from_json(r#"{"links":{"default":{"":"alice@contoso.com"}}}"#).unwrap_err();
        assert!(bad_link.contains("links.default: invalid chat user id"), "{bad_link}");
        assert!(Rbac::from_json(r#"{"tenant":{}}"#).is_err(), "unknown keys are refused");
        // The commands after lookups: each its own permission, none implied by `read` or another.
        let r =
            Rbac::from_json(r#"{"routes":{"T1":"default"},"tenants":{"default":{"T1:U1":["read","block"]}}}"#).unwrap();
        assert!(r.check(&o, &user("U1"), Permission::Block).is_ok());
        for (p, named) in [
            (Permission::Unblock, "unblock indicators"),
            (Permission::AlertUpdate, "change alerts"),
            (Permission::Actions, "list machine actions"),
            (Permission::Incident, "change incidents"),
        ] {
            assert_eq!(r.check(&o, &user("U1"), p), Err(Denied::NotAllowed(named.into())));
        }
        for p in ["alert_update", "block", "unblock", "actions"] {
            assert!(p.parse::<Permission>().is_ok(), "{p}");
        }
    }

    #[test]
    fn bot_messages_go_only_to_channels_that_serve_the_tenant() {
        let t = |s: &str| s.parse::<TenantName>().unwrap();
        let routed = Rbac::from_json(
            r#"{"slack":{"app_id":"A1","workspaces":["T1"]},"routes":{"C1":"default","C2":"fabrikam","T1":"default"}}"#,
        )
        .unwrap();
        assert!(routed.channel_serves("C1", &t("default")));
        assert!(!routed.channel_serves("C2", &t("default")), "a channel routed to another tenant");
        assert!(routed.channel_serves("C9", &t("default")), "unrouted, and the workspace is routed to it");
        assert!(!routed.channel_serves("C9", &t("fabrikam")));
        let channel_only = Rbac::from_json(r#"{"routes":{"C1":"default"}}"#).unwrap();
        assert!(!channel_only.channel_serves("C9", &t("default")), "no catch-all, no workspace route");
        let catch_all = Rbac::from_json(r#"{"catch_all":{"tenant":"default"}}"#).unwrap();
        assert!(catch_all.channel_serves("C9", &t("default")));
    }

    #[test]
    fn only_the_admitted_app_workspace_organisation_and_teams_tenant_get_in() {
        let r = Rbac::from_json(
            r#"{"slack":{"app_id":"A1","workspaces":["T1"],"enterprises":["E1"]},"teams":{"tenants":["tid"]},
                "routes":{"T1":"default","tid":"default"},"tenants":{"default":{"T1:U1":["read"],"tid:aad-1":["read"]}}}"#,
        )
        .unwrap();
        let slack = |team: &str, app: Option<&str>, enterprise: Option<&str>| Origin {
            team: team.into(),
            channel: "C1".into(),
            app: app.map(Into::into),
            enterprise: enterprise.map(Into::into),
        };
        assert_eq!(r.admit(Platform::Slack, &slack("T1", Some("A1"), None)), Ok(()));
        assert_eq!(r.admit(Platform::Slack, &slack("T1", Some("A1"), Some("E1"))), Ok(()));
        let no = |what| Err(Denied::NotAdmitted(what));
        assert_eq!(r.admit(Platform::Slack, &slack("T2", Some("A1"), None)), no("Slack workspace"));
        assert_eq!(r.admit(Platform::Slack, &slack("T1", Some("A2"), None)), no("Slack app"));
        assert_eq!(r.admit(Platform::Slack, &slack("T1", None, None)), no("Slack app"));
        assert_eq!(r.admit(Platform::Slack, &slack("T1", Some("A1"), Some("E2"))), no("Slack organisation"));
        let teams = |tenant: &str| Origin { team: tenant.into(), channel: "19:c".into(), ..Origin::default() };
        assert_eq!(r.admit(Platform::Teams, &teams("tid")), Ok(()));
        assert_eq!(r.admit(Platform::Teams, &teams("other")), no("Teams tenant"));
        // Without a `slack` (or `teams`) block, that platform is refused.
        let none = Rbac::from_json(r#"{"tenants":{}}"#).unwrap();
        assert_eq!(none.admit(Platform::Slack, &slack("T1", Some("A1"), None)), no("Slack workspace"));
        assert_eq!(none.admit(Platform::Teams, &teams("tid")), no("Teams tenant"));
        // Permissions are per workspace and user: the same user id in another workspace has none.
        let other_ws = Origin { team: "T9".into(), channel: "C1".into(), ..Origin::default() };
        let routed =
            Rbac::from_json(r#"{"routes":{"C1":"default"},"tenants":{"default":{"T1:U1":["read"]}}}"#).unwrap();
        assert!(routed.check(&slack("T1", None, None), &user("U1"), Permission::Read).is_ok());
        assert!(routed.check(&other_ws, &user("U1"), Permission::Read).is_err());
    }

    #[test]
    fn an_unrouted_channel_is_refused_without_an_explicit_catch_all() {
        let o = Origin { team: "T1".into(), channel: "C7".into(), ..Origin::default() };
        let r = Rbac::from_json(r#"{"routes":{"C1":"default"},"tenants":{"default":{"T1:U1":["read"]}}}"#).unwrap();
        assert_eq!(r.check(&o, &user("U1"), Permission::Read), Err(Denied::NoTenant));
        let r =
            Rbac::from_json(r#"{"catch_all":{"tenant":"default"},"tenants":{"default":{"T1:U1":["read"]}}}"#).unwrap();
        assert_eq!(r.check(&o, &user("U1"), Permission::Read).unwrap().as_str(), "default");
        // The former implicit catch-all is refused, naming the new key.
        let e = Rbac::from_json(r#"{"default_tenant":"default","tenants":{}}"#).unwrap_err();
        assert!(e.contains(r#""catch_all": {"tenant": "default"}"#), "{e}");
        // Bare user ids (no workspace) are refused with the form to write.
        let e = Rbac::from_json(r#"{"tenants":{"default":{"U1":["read"]}}}"#).unwrap_err();
        assert!(e.contains("'<workspace>:U1'"), "{e}");
        assert!(Rbac::from_json(r#"{"slack":{"app_id":"A1","workspaces":[]}}"#).unwrap_err().contains("workspace"));
        let e = Rbac::from_json(r#"{"catch_all":{"tenant":"ghost"}}"#).unwrap().self_check(|_, _| None).unwrap_err();
        assert_eq!(e, "catch_all: 'ghost' is not a configured tenant");
    }

    #[test]
    fn two_person_and_the_cold_start_self_check() {
        let r = Rbac::from_json(
            r#"{"catch_all":{"tenant":"default"},"routes":{"C9":"fabrikam"},"two_person":{"default":["isolate"]},
                "tenants":{"default":{"T1:U1":["isolate","collect"]},"fabrikam":{"T1:U1":["read"]}}}"#,
        )
        .unwrap();
        let default: TenantName = "default".parse().unwrap();
        assert!(r.needs_two_person(&default, Action::Isolate));
        assert!(!r.needs_two_person(&default, Action::Scan));
        // Both tenants known, default allows isolate only.
        let allows = |t: &TenantName, a: Action| match t.as_str() {
            "default" => Some(a == Action::Isolate),
            "fabrikam" => Some(false),
            _ => None,
        };
        assert_eq!(
            r.self_check(allows).unwrap_err(),
            "user 'T1:U1' is granted collect in tenant 'default', whose allowed_actions do not include it"
        );
        let only_default = |t: &TenantName, _: Action| (t.as_str() == "default").then_some(true);
        let e = r.self_check(only_default).unwrap_err();
        assert!(e.contains("route 'C9' names the unknown tenant 'fabrikam'"), "{e}");
        assert!(e.contains("tenants: 'fabrikam' is not a configured tenant"), "{e}");
        assert_eq!(r.self_check(|_, _| Some(true)), Ok(()));
        let e = Rbac::from_json(r#"{"two_person":{"default":["reboot"]}}"#).unwrap_err();
        assert!(e.contains("'reboot' is not a machine action"), "{e}");
    }

    #[test]
    fn settings_defaults_and_errors() {
        let c = ChatOpsConfig::from_lookup(|k| (k == "CHATOPS_RBAC").then(|| POLICY.to_string())).unwrap();
        assert_eq!(c.slack_secret_names, vec!["slack-signing-secret"]);
        assert_eq!(c.confirm_ttl, Duration::from_secs(300));
        assert_eq!((c.recheck_after, c.followup_max_age), (Duration::from_secs(30), Duration::from_secs(21_600)));
        assert_eq!(
            (c.queue_url.as_deref(), c.idempotency_table.as_deref(), c.user_client_id.as_ref()),
            (None, None, None)
        );
        let e =
            ChatOpsConfig::from_lookup(only(&[("CHATOPS_RBAC", POLICY), ("CHATOPS_RECHECK_S", "1000")])).unwrap_err();
        assert_eq!(e.to_string(), "CHATOPS_RECHECK_S: '1000' is not 5-900 seconds");
        assert_eq!(ChatOpsConfig::from_lookup(|_| None).unwrap_err().var, "CHATOPS_RBAC");
        let e =
            ChatOpsConfig::from_lookup(only(&[("CHATOPS_RBAC", POLICY), ("CHATOPS_CONFIRM_TTL_S", "5")])).unwrap_err();
        assert_eq!(e.var, "CHATOPS_CONFIRM_TTL_S");
        let e = ChatOpsConfig::from_lookup(only(&[
            ("CHATOPS_RBAC", POLICY),
            ("CHATOPS_RESPONSE_URL_PREFIXES", "http://evil.example/"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "CHATOPS_RESPONSE_URL_PREFIXES");
    }

    #[test]
    fn the_slack_web_api_is_pinned_and_the_bot_token_named() {
        let with = |k: &'static str, v: &'static str| {
            ChatOpsConfig::from_lookup(move |key| match key {
                "CHATOPS_RBAC" => Some(POLICY.into()),
                _ if key == k => Some(v.into()),
                _ => None,
            })
        };
        let c = with("X", "").unwrap();
        assert_eq!((c.slack_api_url.as_str(), c.slack_bot_token_name.as_deref()), ("https://slack.com/api", None));
        assert_eq!(c.link_step, Duration::from_secs(20));
        assert_eq!(
            with("CHATOPS_SLACK_BOT_TOKEN_NAME", "slack-bot-token").unwrap().slack_bot_token_name.as_deref(),
            Some("slack-bot-token")
        );
        assert_eq!(
            with("CHATOPS_SLACK_BOT_TOKEN_NAME", "xoxb-123.456").unwrap_err().var,
            "CHATOPS_SLACK_BOT_TOKEN_NAME",
            "a name, not a token"
        );
        assert_eq!(
            with("CHATOPS_SLACK_API_URL", "http://127.0.0.1:9/api/").unwrap().slack_api_url,
            "http://127.0.0.1:9/api"
        );
        for bad in ["http://slack.com/api", "https://user@slack.com/api", "slack.com"] {
            assert_eq!(with("CHATOPS_SLACK_API_URL", bad).unwrap_err().var, "CHATOPS_SLACK_API_URL", "{bad}");
        }
        assert_eq!(with("CHATOPS_LINK_STEP_S", "60").unwrap_err().var, "CHATOPS_LINK_STEP_S");
        assert_eq!(with("CHATOPS_LINK_STEP_S", "0").unwrap().link_step, Duration::ZERO);
    }
}
