//! Chat input → a typed [`Command`].
//!
//! Three sources end up here: Slack slash commands (`application/x-www-form-urlencoded` with
//! `command`, `text`, `user_id`, ...), Slack block actions (`payload=<JSON>`, a confirmation button's
//! `value` being the signed confirmation token) and Teams outgoing webhooks (JSON with the message's
//! `text`, an `<at>…</at>` mention first). Every argument is parsed into a validated newtype
//! (`defender_shared::ids`) before anything else sees it; anything unknown or malformed becomes
//! [`Parsed::Usage`] with the reason, answered with the usage help.

// `indicators` (the `block`/`unblock` arguments) is a child: it reads this module's [`Reason`], and
// [`Command`] holds its types; parent and child are one unit, not a cycle between siblings.
pub mod indicators;

use defender_shared::{
    defender::{
        kql::{HuntingQuery, KqlValue},
        models::alerts::{AlertStatus, Classification, Determination},
    },
    ids::{ActionId, AlertId, Hostname, IncidentId, MachineId, Sha256},
    tenants::Action,
};
use serde::{Deserialize, Serialize};
use std::{fmt, net::IpAddr, str::FromStr};

/// Longest accepted reason (it becomes the Defender comment, with the requester and request id).
pub const MAX_REASON: usize = 300;

/// How a machine is named in a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum MachineRef {
    /// A machine id (40 hex).
    Id(MachineId),
    /// An IP address (resolved through find-by-IP).
    Ip(IpAddr),
    /// An exact host name (`computerDnsName`).
    Host(Hostname),
}

impl FromStr for MachineRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(id) = s.parse::<MachineId>() {
            return Ok(Self::Id(id));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        // Something that looks like a dotted quad but is not an IP is refused, not read as a host.
        if s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!("'{s}' is not a machine id, an IP address or a host name"));
        }
        s.parse::<Hostname>().map(Self::Host).map_err(|e| e.to_string())
    }
}

impl fmt::Display for MachineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Host(h) => write!(f, "{h}"),
        }
    }
}

/// A reason: 3..=[`MAX_REASON`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Reason {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.chars().count() < 3 {
            return Err("a reason of at least 3 characters is required".into());
        }
        if t.chars().count() > MAX_REASON {
            return Err(format!("the reason is longer than {MAX_REASON} characters"));
        }
        if t.chars().any(char::is_control) {
            return Err("the reason holds control characters".into());
        }
        Ok(Self(t))
    }
}

impl From<Reason> for String {
    fn from(r: Reason) -> Self {
        r.0
    }
}

/// An incident change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentChange {
    /// Assign to a user principal name.
    Assign(Upn),
    /// Resolve.
    Resolve,
    /// Classify.
    Classify(Classification),
}

/// A user principal name (`name@domain`), as incidents are assigned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upn(String);

impl Upn {
    /// The validated value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Upn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = s.len() <= 256
            && s.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && user.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+'".contains(&b))
                    && domain.parse::<defender_shared::ids::DomainName>().is_ok()
            });
        if ok { Ok(Self(s.to_ascii_lowercase())) } else { Err(format!("'{s}' is not a user principal name")) }
    }
}

/// A change to an alert (MDE `PATCH /api/alerts/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertChange {
    /// `New`, `InProgress` or `Resolved` (the values the API takes).
    Status(AlertStatus),
    /// A classification, and optionally a determination.
    Classify(Classification, Option<Determination>),
    /// Assign to a user principal name.
    Assign(Upn),
}

fn classification(word: &str) -> Result<Classification, String> {
    Ok(match word.to_ascii_lowercase().as_str() {
        "truepositive" | "tp" => Classification::TruePositive,
        "falsepositive" | "fp" => Classification::FalsePositive,
        "informational" | "informationalexpectedactivity" => Classification::InformationalExpectedActivity,
        other => return Err(format!("'{other}' is not a classification")),
    })
}

impl AlertChange {
    fn parse(words: &[&str]) -> Result<Self, String> {
        let usage = || {
            "`alert <id>` takes `status <new|inprogress|resolved>`, `classify <tp|fp|informational> \
             [determination]` or `assign <upn>`"
                .to_string()
        };
        let Some((sub, args)) = words.split_first() else { return Err(usage()) };
        Ok(match (sub.to_ascii_lowercase().as_str(), args) {
            ("status", [s]) => Self::Status(match s.to_ascii_lowercase().as_str() {
                "new" => AlertStatus::New,
                "inprogress" | "in-progress" => AlertStatus::InProgress,
                "resolved" => AlertStatus::Resolved,
                other => return Err(format!("'{other}' is not an alert status (new, inprogress, resolved)")),
            }),
            ("classify", [c, rest @ ..]) if rest.len() <= 1 => {
                let d = match rest.first() {
                    None => None,
                    Some(d) => Some(
                        Determination::DOCUMENTED
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(d))
                            .map(|x| Determination::from(*x))
                            .ok_or_else(|| {
                                format!("'{d}' is not a determination ({})", Determination::DOCUMENTED.join(", "))
                            })?,
                    ),
                };
                Self::Classify(classification(c)?, d)
            }
            ("assign", [upn]) => Self::Assign(upn.parse()?),
            _ => return Err(usage()),
        })
    }

    /// The canonical command words.
    pub fn words(&self) -> String {
        match self {
            Self::Status(s) => format!("status {}", s.as_str().to_ascii_lowercase()),
            Self::Classify(c, d) => {
                let c = match c {
                    Classification::TruePositive => "tp",
                    Classification::FalsePositive => "fp",
                    _ => "informational",
                };
                match d {
                    Some(d) => format!("classify {c} {}", d.as_str()),
                    None => format!("classify {c}"),
                }
            }
            Self::Assign(u) => format!("assign {}", u.as_str()),
        }
    }
}

/// The allow-listed hunting queries and their typed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hunt {
    /// Processes on a host within the last `hours`.
    ProcessesOnHost {
        /// Exact `DeviceName`.
        host: Hostname,
        /// 1..=168.
        hours: u32,
    },
    /// Network connections to an IP within the last `hours`.
    ConnectionsToIp {
        /// `RemoteIP`.
        ip: IpAddr,
        /// 1..=168.
        hours: u32,
    },
    /// Process events of a file hash within the last `hours`.
    FileSha256 {
        /// `SHA256`.
        sha256: Sha256,
        /// 1..=168.
        hours: u32,
    },
}

/// Names and parameters of the saved hunts (for the usage help).
pub const HUNTS: &[(&str, &str)] = &[
    ("processes-on-host", "<hostname> [hours 1-168, default 24]"),
    ("connections-to-ip", "<ip> [hours]"),
    ("file-sha256", "<sha256> [hours]"),
];

impl Hunt {
    /// The rendered query: a template fixed here, values bound as escaped literals.
    pub fn query(&self) -> HuntingQuery {
        match self {
            Self::ProcessesOnHost { host, hours } => HuntingQuery::new(
                "DeviceProcessEvents | where Timestamp > ago({span}) | where DeviceName == {host} \
                 | project Timestamp, DeviceName, FileName, ProcessCommandLine, AccountName | take 20",
            )
            .bind("span", span(*hours))
            .bind("host", KqlValue::Str(host.as_str().to_string())),
            Self::ConnectionsToIp { ip, hours } => HuntingQuery::new(
                "DeviceNetworkEvents | where Timestamp > ago({span}) | where RemoteIP == {ip} \
                 | project Timestamp, DeviceName, RemoteIP, RemotePort, InitiatingProcessFileName | take 20",
            )
            .bind("span", span(*hours))
            .bind("ip", KqlValue::Str(ip.to_string())),
            Self::FileSha256 { sha256, hours } => HuntingQuery::new(
                "DeviceProcessEvents | where Timestamp > ago({span}) | where SHA256 =~ {sha} \
                 | project Timestamp, DeviceName, FileName, FolderPath | take 20",
            )
            .bind("span", span(*hours))
            .bind("sha", KqlValue::Str(sha256.as_str().to_string())),
        }
    }

    /// The saved-query name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ProcessesOnHost { .. } => "processes-on-host",
            Self::ConnectionsToIp { .. } => "connections-to-ip",
            Self::FileSha256 { .. } => "file-sha256",
        }
    }
}

fn span(hours: u32) -> KqlValue {
    KqlValue::Timespan(chrono::TimeDelta::hours(i64::from(hours)))
}

fn hours(arg: Option<&&str>) -> Result<u32, String> {
    match arg {
        None => Ok(24),
        Some(h) => h
            .parse::<u32>()
            .ok()
            .filter(|h| (1..=168).contains(h))
            .ok_or_else(|| format!("'{h}' is not a number of hours between 1 and 168")),
    }
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The usage help.
    Help,
    /// Machine details.
    Machine(MachineRef),
    /// An alert.
    Alert(AlertId),
    /// An incident.
    Incident(IncidentId),
    /// A change to an incident (asks for confirmation first).
    UpdateIncident(IncidentId, IncidentChange),
    /// A change to an alert (asks for confirmation first).
    UpdateAlert(AlertId, AlertChange),
    /// Submit a threat-intelligence indicator (asks for confirmation first).
    Block(indicators::BlockRequest),
    /// Remove an indicator, by id or exact value (asks for confirmation first).
    Unblock(indicators::UnblockTarget),
    /// A machine's recent actions and their states, newest first.
    MachineActions(MachineRef),
    /// An allow-listed hunting query.
    Hunt(Hunt),
    /// A machine action (asks for confirmation first).
    Act {
        /// What.
        action: Action,
        /// On which machine.
        machine: MachineRef,
        /// Why.
        reason: Reason,
    },
    /// A machine action's status.
    ActionStatus(ActionId),
    /// Link the chat user's Entra identity (device-code sign-in), so their actions run as them.
    Link,
    /// A typed confirmation (Teams, whose outgoing webhooks carry no buttons): `confirm <code>`, or
    /// a second person's `approve <code>`.
    Confirm {
        /// The code the prompt showed.
        code: ConfirmCode,
        /// `approve` (two-person rule) rather than `confirm`.
        approve: bool,
    },
}

/// The short code a Teams prompt shows for its confirmation: 4–16 letters and digits, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfirmCode(String);

impl ConfirmCode {
    /// A fresh random code (8 characters without look-alikes).
    pub fn random() -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let bytes = uuid::Uuid::new_v4().into_bytes();
        Self(bytes.iter().take(8).map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ConfirmCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if (4..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(format!("'{s}' is not a confirmation code"))
        }
    }
}

impl fmt::Display for ConfirmCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Command {
    /// Whether the command calls Defender (and so is handed to the worker).
    pub fn needs_defender(&self) -> bool {
        !matches!(self, Self::Help)
    }
}

/// The outcome of parsing a command text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid command.
    Command(Command),
    /// Not a valid command: why (the reply adds the usage help).
    Usage(String),
}

/// The usage help.
pub fn usage() -> String {
    let mut s = String::from(
        "Usage: /defender <command>\n\
         • machine <hostname|machine-id|ip>\n\
         • alert <alert-id> [status <new|inprogress|resolved> | classify <tp|fp|informational> [determination] \
         | assign <upn>]\n\
         • incident <id> [assign <upn> | resolve | classify <truepositive|falsepositive|informational>]\n\
         • isolate|unisolate|scan|restrict|unrestrict|collect <hostname|machine-id|ip> <reason…>\n\
         • action <action-id>\n\
         • actions <hostname|machine-id|ip> (the machine's recent actions, newest first)\n\
         • block <ip|sha256|sha1|md5|url|domain> [block|warn|audit] [<n>h|<n>d, default 30d, at most 365d] <reason…>\n\
         • unblock <indicator-id|value>\n\
         • link (sign in once so your actions run with your own Entra identity)\n\
         • confirm|approve <code> (Teams: the code an action prompt showed)\n\
         • hunt <query> [args]:",
    );
    for (name, args) in HUNTS {
        s.push_str(&format!("\n    – {name} {args}"));
    }
    s.push_str("\n• help");
    s
}

fn action_verb(word: &str) -> Option<Action> {
    Action::ALL.into_iter().find(|a| a.as_str() == word)
}

/// Parses the text after the slash command (or after the Teams mention).
pub fn parse_text(text: &str) -> Parsed {
    let words: Vec<&str> = text.split_whitespace().collect();
    match parse_words(&words) {
        Ok(c) => Parsed::Command(c),
        Err(why) => Parsed::Usage(why),
    }
}

fn parse_words(w: &[&str]) -> Result<Command, String> {
    let Some(first) = w.first() else { return Ok(Command::Help) };
    let verb = first.to_ascii_lowercase();
    let rest = &w[1..];
    let one = |what: &str| -> Result<&str, String> {
        match rest {
            [one] => Ok(one),
            [] => Err(format!("`{verb}` needs {what}")),
            _ => Err(format!("`{verb}` takes exactly one argument ({what})")),
        }
    };
    match verb.as_str() {
        "help" | "?" => Ok(Command::Help),
        "link" if rest.is_empty() => Ok(Command::Link),
        "link" => Err("`link` takes no argument".into()),
        "confirm" | "approve" => {
            Ok(Command::Confirm { code: one("the code the prompt showed")?.parse()?, approve: verb == "approve" })
        }
        "machine" => Ok(Command::Machine(one("a host name, machine id or IP")?.parse()?)),
        "alert" if rest.len() > 1 => {
            let id: AlertId = rest[0].parse().map_err(|e| format!("{e}"))?;
            Ok(Command::UpdateAlert(id, AlertChange::parse(&rest[1..])?))
        }
        "alert" => Ok(Command::Alert(one("an alert id")?.parse().map_err(|e| format!("{e}"))?)),
        "actions" => Ok(Command::MachineActions(one("a host name, machine id or IP")?.parse()?)),
        "block" => Ok(Command::Block(indicators::BlockRequest::parse(rest)?)),
        "unblock" => Ok(Command::Unblock(one("an indicator id or value")?.parse()?)),
        "action" => Ok(Command::ActionStatus(one("a machine action id")?.parse().map_err(|e| format!("{e}"))?)),
        "incident" => {
            let Some(id) = rest.first() else { return Err("`incident` needs an incident id".into()) };
            let id: IncidentId = id.parse().map_err(|e| format!("{e}"))?;
            match &rest[1..] {
                [] => Ok(Command::Incident(id)),
                [sub, args @ ..] => {
                    let change = match (sub.to_ascii_lowercase().as_str(), args) {
                        ("assign", [upn]) => IncidentChange::Assign(upn.parse()?),
                        ("resolve", []) => IncidentChange::Resolve,
                        ("classify", [c]) => IncidentChange::Classify(classification(c)?),
                        _ => return Err("`incident <id>` takes `assign <upn>`, `resolve` or `classify <value>`".into()),
                    };
                    Ok(Command::UpdateIncident(id, change))
                }
            }
        }
        "hunt" => {
            let Some(name) = rest.first() else { return Err("`hunt` needs a saved query name".into()) };
            let args = &rest[1..];
            if args.len() > 2 {
                return Err(format!("`hunt {name}` takes at most two arguments"));
            }
            let arg = args.first().ok_or_else(|| format!("`hunt {name}` needs an argument"))?;
            let h = hours(args.get(1))?;
            let hunt = match name.to_ascii_lowercase().as_str() {
                "processes-on-host" => {
                    Hunt::ProcessesOnHost { host: arg.parse().map_err(|e| format!("{e}"))?, hours: h }
                }
                "connections-to-ip" => Hunt::ConnectionsToIp {
                    ip: arg.parse().map_err(|_| format!("'{arg}' is not an IP address"))?,
                    hours: h,
                },
                "file-sha256" => Hunt::FileSha256 { sha256: arg.parse().map_err(|e| format!("{e}"))?, hours: h },
                other => return Err(format!("'{other}' is not a saved query")),
            };
            Ok(Command::Hunt(hunt))
        }
        other => match action_verb(other) {
            Some(action) => {
                let Some(target) = rest.first() else { return Err(format!("`{other}` needs a machine and a reason")) };
                let machine: MachineRef = target.parse()?;
                let reason = Reason::try_from(rest[1..].join(" "))?;
                Ok(Command::Act { action, machine, reason })
            }
            None => Err(format!("unknown command '{other}'")),
        },
    }
}

/// A chat user's stable id: a Slack `user_id` (`U0ANALYST`, `W012A3CDE`) or a Teams user's Entra
/// object id (`from.aadObjectId`; a Teams outgoing webhook without one names `from.id`, `29:1…`). The
/// key of the allow-list, of two-person approval and of user links; parsing is its only constructor:
/// 1 to 128 characters of `[A-Za-z0-9._:+/=-]` (Bot Framework ids are base64 after `29:`), so a value
/// with a space, a quote, a control character or nothing at all never becomes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ChatUserId(String);

/// Why a value is not a chat user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chat user id '{0}': 1 to 128 characters of letters, digits and . _ : + / = -")]
pub struct InvalidChatUserId(pub String);

impl ChatUserId {
    /// The id as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ChatUserId {
    type Err = InvalidChatUserId;
    fn from_str(s: &str) -> Result<Self, InvalidChatUserId> {
        let ok = (1..=128).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'+' | b'/' | b'=' | b'-'));
        if ok { Ok(Self(s.to_string())) } else { Err(InvalidChatUserId(s.chars().take(64).collect())) }
    }
}

impl std::fmt::Display for ChatUserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChatUserId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Who sent a chat request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatUser {
    /// Stable id (Slack `user_id`, Teams `from.aadObjectId`), the RBAC key.
    pub id: ChatUserId,
    /// Display name (for messages and the Defender comment).
    pub name: String,
}

/// Where a chat request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// Slack workspace (`team_id`) or Teams tenant (`channelData.tenant.id`).
    pub team: String,
    /// Channel / conversation.
    pub channel: String,
    /// Slack Enterprise Grid organisation (`enterprise_id`), when the request carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    /// The Slack app the request was sent to (`api_app_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// A parsed Slack request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackRequest {
    /// A slash command.
    Slash {
        /// The sender.
        user: ChatUser,
        /// Where from.
        origin: Origin,
        /// Where to post the result (`hooks.slack.com`).
        response_url: Option<String>,
        /// What was asked.
        parsed: Parsed,
    },
    /// A button press.
    Button {
        /// The presser.
        user: ChatUser,
        /// Where from.
        origin: Origin,
        /// Where to post the result.
        response_url: Option<String>,
        /// `confirm`, `cancel` (or anything else: ignored).
        action_id: String,
        /// The confirmation token.
        value: String,
        /// The thread of the message the button was on, when it is a channel message (replies
        /// posted later with `chat.postMessage` go there); `None` for an ephemeral message.
        thread_ts: Option<String>,
    },
}

/// A request body that is not a Slack request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Slack request: {0}")]
pub struct NotSlack(pub String);

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: PayloadUser,
    #[serde(default)]
    team: Option<IdOnly>,
    #[serde(default)]
    enterprise: Option<IdOnly>,
    #[serde(default)]
    api_app_id: Option<String>,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<PayloadAction>,
    #[serde(default)]
    container: Option<PayloadContainer>,
    #[serde(default)]
    message: Option<PayloadMessage>,
}

#[derive(Deserialize)]
struct PayloadContainer {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    is_ephemeral: Option<bool>,
}

#[derive(Deserialize)]
struct PayloadMessage {
    #[serde(default)]
    thread_ts: Option<String>,
}

/// A Slack message timestamp (`1716480000.000100`): digits, a dot, digits.
fn slack_ts(ts: Option<String>) -> Option<String> {
    ts.filter(|t| {
        t.len() <= 32
            && t.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
            })
    })
}

#[derive(Deserialize)]
struct PayloadUser {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct PayloadAction {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// Parses a verified Slack body (a slash command or a `block_actions` payload).
///
/// # Errors
/// [`NotSlack`] when required fields are missing or the payload is not a block action.
pub fn parse_slack(body: &[u8]) -> Result<SlackRequest, NotSlack> {
    let fields = form(body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(payload) = get("payload") {
        let p: Payload = serde_json::from_str(&payload).map_err(|e| NotSlack(format!("payload: {e}")))?;
        if p.kind != "block_actions" {
            return Err(NotSlack(format!("payload type '{}' is not handled", p.kind)));
        }
        let action = p.actions.into_iter().next().ok_or_else(|| NotSlack("block action without actions".into()))?;
        let id: ChatUserId = p.user.id.parse().map_err(|e: InvalidChatUserId| NotSlack(e.to_string()))?;
        let name = p.user.username.or(p.user.name).unwrap_or_else(|| p.user.id.clone());
        // A button on a channel message: answer in its thread (the thread it is in, or start one).
        let thread_ts = match p.container {
            Some(c) if c.is_ephemeral != Some(true) => {
                slack_ts(p.message.and_then(|m| m.thread_ts)).or_else(|| slack_ts(c.message_ts))
            }
            _ => None,
        };
        return Ok(SlackRequest::Button {
            user: ChatUser { id, name },
            origin: Origin {
                team: p.team.map(|t| t.id).unwrap_or_default(),
                channel: p.channel.map(|c| c.id).unwrap_or_default(),
                enterprise: p.enterprise.map(|e| e.id).filter(|e| !e.is_empty()),
                app: p.api_app_id,
            },
            response_url: p.response_url,
            action_id: action.action_id,
            value: action.value.unwrap_or_default(),
            thread_ts,
        });
    }
    let user_id = get("user_id").ok_or_else(|| NotSlack("no user_id".into()))?;
    let id: ChatUserId = user_id.parse().map_err(|e: InvalidChatUserId| NotSlack(e.to_string()))?;
    get("command").ok_or_else(|| NotSlack("no command".into()))?;
    Ok(SlackRequest::Slash {
        user: ChatUser { name: get("user_name").unwrap_or(user_id), id },
        origin: Origin {
            team: get("team_id").unwrap_or_default(),
            channel: get("channel_id").unwrap_or_default(),
            enterprise: get("enterprise_id").filter(|e| !e.is_empty()),
            app: get("api_app_id"),
        },
        response_url: get("response_url"),
        parsed: parse_text(&get("text").unwrap_or_default()),
    })
}

/// A parsed Teams outgoing-webhook message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsRequest {
    /// The sender.
    pub user: ChatUser,
    /// Where from.
    pub origin: Origin,
    /// What was asked.
    pub parsed: Parsed,
}

#[derive(Deserialize)]
struct TeamsActivity {
    #[serde(default)]
    text: String,
    from: TeamsFrom,
    #[serde(default)]
    conversation: Option<IdOnly>,
    #[serde(default, rename = "channelData")]
    channel_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TeamsFrom {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "aadObjectId")]
    aad_object_id: Option<String>,
}

/// The message text without the `<at>…</at>` mention, other tags and the common HTML entities.
pub fn teams_plain_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<at>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + 5..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    // Strip any remaining tags.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// Parses a verified Teams outgoing-webhook body.
///
/// # Errors
/// [`NotSlack`] (reused: "not a chat request") when the JSON is not a Teams activity.
pub fn parse_teams(body: &[u8]) -> Result<TeamsRequest, NotSlack> {
    let a: TeamsActivity = serde_json::from_slice(body).map_err(|e| NotSlack(format!("teams activity: {e}")))?;
    let raw = a.from.aad_object_id.clone().unwrap_or(a.from.id.clone());
    let id: ChatUserId = raw.parse().map_err(|e: InvalidChatUserId| NotSlack(e.to_string()))?;
    let team = a
        .channel_data
        .as_ref()
        .and_then(|c| c.pointer("/tenant/id"))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(TeamsRequest {
        user: ChatUser { name: a.from.name.unwrap_or(raw), id },
        origin: Origin { team, channel: a.conversation.map(|c| c.id).unwrap_or_default(), ..Origin::default() },
        parsed: parse_text(&teams_plain_text(&a.text)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_user_id_is_a_slack_or_teams_id_and_nothing_else() {
        for ok in ["U0ANALYST", "W012A3CDE", "72f988bf-86f1-41af-91ab-2d7cd011db47", "29:1XJK-Mv/c5+G=="] {
            assert_eq!(ok.parse::<ChatUserId>().unwrap().as_str(), ok);
        }
        let long = "U".repeat(129);
        for bad in ["", " ", "U1 ", "U1\n", "U'1", "U\"1", "<@U1>", "U1|x", long.as_str()] {
            assert!(bad.parse::<ChatUserId>().is_err(), "{bad:?}");
        }
        // The edges refuse a request whose user id is not one, before anything looks it up.
        let slash = b"team_id=T1&user_id=U1%20x&command=%2Fdefender&text=help";
        assert!(parse_slack(slash).unwrap_err().to_string().contains("invalid chat user id"));
        let teams = br#"{"type":"message","text":"help","from":{"id":"29:1","aadObjectId":"a b"}}"#;
        assert!(parse_teams(teams).unwrap_err().to_string().contains("invalid chat user id"));
    }

    const M: &str = "bf44e1ec1d7163de5cf81d93982ed19d185f80d2";

    fn cmd(t: &str) -> Command {
        match parse_text(t) {
            Parsed::Command(c) => c,
            Parsed::Usage(u) => panic!("{t}: {u}"),
        }
    }

    fn bad(t: &str) -> String {
        match parse_text(t) {
            Parsed::Usage(u) => u,
            Parsed::Command(c) => panic!("{t} parsed as {c:?}"),
        }
    }

    #[test]
    fn every_command_parses_into_typed_arguments() {
        assert_eq!(cmd(""), Command::Help);
        assert_eq!(cmd("help"), Command::Help);
        assert_eq!(cmd(&format!("machine {}", M.to_uppercase())), Command::Machine(MachineRef::Id(M.parse().unwrap())));
        assert_eq!(cmd("machine 10.1.2.3"), Command::Machine(MachineRef::Ip("10.1.2.3".parse().unwrap())));
        assert_eq!(
            cmd("machine WS-1.contoso.com"),
            Command::Machine(MachineRef::Host("ws-1.contoso.com".parse().unwrap()))
        );
        assert_eq!(cmd("alert da637_-8807"), Command::Alert("da637_-8807".parse().unwrap()));
        assert_eq!(cmd("incident 42"), Command::Incident(IncidentId(42)));
        assert_eq!(
            cmd("incident 42 assign Alice@contoso.com"),
            Command::UpdateIncident(IncidentId(42), IncidentChange::Assign("alice@contoso.com".parse().unwrap()))
        );
        assert_eq!(cmd("incident 42 resolve"), Command::UpdateIncident(IncidentId(42), IncidentChange::Resolve));
        assert_eq!(
            cmd("incident 42 classify fp"),
            Command::UpdateIncident(IncidentId(42), IncidentChange::Classify(Classification::FalsePositive))
        );
        assert_eq!(
            cmd("isolate ws-1  suspected   C2 beacon"),
            Command::Act {
                action: Action::Isolate,
                machine: MachineRef::Host("ws-1".parse().unwrap()),
                reason: Reason::try_from("suspected C2 beacon".to_string()).unwrap()
            }
        );
        for verb in ["unisolate", "scan", "restrict", "unrestrict", "collect"] {
            assert!(matches!(cmd(&format!("{verb} {M} ticket 42")), Command::Act { .. }));
        }
        assert_eq!(cmd("link"), Command::Link);
        assert_eq!(cmd("confirm ab12cd34"), Command::Confirm { code: "AB12CD34".parse().unwrap(), approve: false });
        assert_eq!(cmd("APPROVE AB12CD34"), Command::Confirm { code: "ab12cd34".parse().unwrap(), approve: true });
        let code = ConfirmCode::random();
        assert_eq!(code.as_str().len(), 8);
        assert_eq!(code.as_str().parse::<ConfirmCode>().unwrap(), code);
        assert_eq!(
            cmd("alert da637_-8807 status InProgress"),
            Command::UpdateAlert("da637_-8807".parse().unwrap(), AlertChange::Status(AlertStatus::InProgress))
        );
        assert_eq!(
            cmd("alert da637_-8807 classify tp malware"),
            Command::UpdateAlert(
                "da637_-8807".parse().unwrap(),
                AlertChange::Classify(Classification::TruePositive, Some(Determination::Malware))
            )
        );
        assert_eq!(cmd("actions ws-1"), Command::MachineActions(MachineRef::Host("ws-1".parse().unwrap())));
        assert!(matches!(cmd("block 45.137.21.9 c2 server"), Command::Block(_)));
        assert!(matches!(cmd("unblock 8030"), Command::Unblock(indicators::UnblockTarget::Id(_))));
        let a = "4c131820-86e8-4828-8756-d1bfc188ad8c";
        assert_eq!(cmd(&format!("action {a}")), Command::ActionStatus(a.parse().unwrap()));
        assert_eq!(
            cmd("hunt processes-on-host ws-1 6"),
            Command::Hunt(Hunt::ProcessesOnHost { host: "ws-1".parse().unwrap(), hours: 6 })
        );
    }

    #[test]
    fn malformed_and_hostile_input_is_usage_with_a_reason() {
        assert!(bad("frobnicate x").contains("unknown command"));
        assert!(bad("machine").contains("needs"));
        assert!(bad("machine a b").contains("exactly one"));
        assert!(bad("machine 10.999.0.1").contains("not a machine id"));
        assert!(bad("machine x'or'1").contains("host name"));
        assert!(bad("isolate ws-1").contains("reason"));
        assert!(bad("isolate ws-1 ok").contains("reason"));
        assert!(bad(&format!("isolate ws-1 {}", "x".repeat(MAX_REASON + 1))).contains("longer"));
        assert!(bad("incident -1").contains("incident id"));
        assert!(bad("incident 4 assign bob").contains("principal"));
        assert!(bad("incident 4 classify maybe").contains("classification"));
        assert!(bad("incident 4 delete").contains("assign"));
        assert!(bad("action 123").contains("machine action id"));
        assert!(bad("hunt drop-table x").contains("saved query"));
        assert!(bad("hunt processes-on-host ws-1 999").contains("hours"));
        assert!(bad("hunt connections-to-ip 1.2.3").contains("IP"));
        assert!(bad("alert a|b").contains("alert id"));
        assert!(bad("link now").contains("no argument"));
        assert!(bad("confirm ab").contains("not a confirmation code"));
        assert!(bad("confirm").contains("needs the code"));
        assert!(bad("alert da637 status closed").contains("not an alert status"));
        assert!(bad("alert da637 classify tp NotMalicious").contains("not a determination"));
        assert!(bad("alert da637 frobnicate").contains("takes `status"));
        assert!(bad("actions").contains("needs"));
        assert!(bad("block 10.0.0.0/8 a whole range").contains("CIDR"));
        assert!(bad("unblock a b").contains("exactly one"));
        assert!(usage().contains("processes-on-host") && usage().contains("unblock"));
    }

    #[test]
    fn hunt_queries_render_with_escaped_literals() {
        let q = Hunt::ProcessesOnHost { host: "ws-1.contoso.com".parse().unwrap(), hours: 6 }.query().render().unwrap();
        assert!(q.as_str().contains("DeviceName == \"ws-1.contoso.com\""), "{q}");
        assert!(q.as_str().contains("ago(6h)"), "{q}");
    }

    #[test]
    fn slack_slash_command_and_block_action_bodies() {
        let body = "token=x&team_id=T1&team_domain=t&channel_id=C1&channel_name=c&user_id=U1&user_name=road\
                    &command=%2Fdefender&text=isolate+ws-1+phishing+follow-up&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1\
                    &trigger_id=1.2.3";
        let SlackRequest::Slash { user, origin, response_url, parsed } = parse_slack(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(user, ChatUser { id: "U1".parse().unwrap(), name: "road".into() });
        assert_eq!(origin, Origin { team: "T1".into(), channel: "C1".into(), ..Origin::default() });
        assert_eq!(response_url.as_deref(), Some("https://hooks.slack.com/commands/1"));
        assert!(matches!(parsed, Parsed::Command(Command::Act { action: Action::Isolate, .. })));

        let payload = serde_json::json!({"type":"block_actions","user":{"id":"U2","username":"wile"},
            "team":{"id":"T1"},"channel":{"id":"C1"},"response_url":"https://hooks.slack.com/actions/1",
            "actions":[{"action_id":"confirm","block_id":"b","type":"button","value":"tok.en"}]});
        let body: String =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        let SlackRequest::Button { user, action_id, value, .. } = parse_slack(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!((user.id.as_str(), action_id.as_str(), value.as_str()), ("U2", "confirm", "tok.en"));
        // The thread of a channel message's button; none for an ephemeral one or a malformed ts.
        let thread_of = |container: serde_json::Value, message: serde_json::Value| {
            let mut p = payload.clone();
            p["container"] = container;
            p["message"] = message;
            let body: String =
                url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &p.to_string()).finish();
            let SlackRequest::Button { thread_ts, .. } = parse_slack(body.as_bytes()).unwrap() else { panic!() };
            thread_ts
        };
        let channel_msg = serde_json::json!({"type":"message","message_ts":"1716480000.000100","is_ephemeral":false});
        assert_eq!(
            thread_of(channel_msg.clone(), serde_json::json!({"ts":"1716480000.000100"})).as_deref(),
            Some("1716480000.000100")
        );
        assert_eq!(
            thread_of(channel_msg, serde_json::json!({"thread_ts":"1716470000.000001"})).as_deref(),
            Some("1716470000.000001"),
            "a reply in a thread answers in that thread"
        );
        let ephemeral = serde_json::json!({"type":"message","message_ts":"1716480000.000100","is_ephemeral":true});
        assert_eq!(thread_of(ephemeral, serde_json::Value::Null), None);
        let bad = serde_json::json!({"type":"message","message_ts":"1716480000.0001<@U1>"});
        assert_eq!(thread_of(bad, serde_json::Value::Null), None);
        assert!(parse_slack(b"text=hi").is_err());
        assert!(parse_slack(b"payload=%7B%22type%22%3A%22view_submission%22%7D").is_err());
    }

    #[test]
    fn slack_published_example_body_parses() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../../contract/vectors/signatures.json")).unwrap();
        let r = parse_slack(v["slack_v0"]["body"].as_str().unwrap().as_bytes()).unwrap();
        let SlackRequest::Slash { user, parsed, .. } = r else { panic!() };
        assert_eq!(user.id.as_str(), "U2CERLKJA");
        assert_eq!(parsed, Parsed::Command(Command::Help), "an empty text is help");
    }

    #[test]
    fn teams_mentions_and_entities_are_stripped() {
        let body = serde_json::json!({"type":"message","text":"<at>Defender</at>&nbsp;machine <b>ws-1</b>",
            "from":{"id":"29:1","name":"Alice","aadObjectId":"aad-1"},"conversation":{"id":"19:c"},
            "channelData":{"tenant":{"id":"tid"}}});
        let r = parse_teams(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.user, ChatUser { id: "aad-1".parse().unwrap(), name: "Alice".into() });
        assert_eq!(r.parsed, Parsed::Command(Command::Machine(MachineRef::Host("ws-1".parse().unwrap()))));
        assert!(parse_teams(b"[]").is_err());
    }
}
