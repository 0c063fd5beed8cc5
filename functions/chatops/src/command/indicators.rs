//! `block` and `unblock`: threat-intelligence indicators (`POST /api/indicators`,
//! `DELETE /api/indicators/{id}`), typed before anything else sees them.
//!
//! - The value is one of the typed indicators webhook enrichment uses (`defender_shared::ids`): an IP
//!   address (no CIDR: the API takes none), a SHA-256 / SHA-1 / MD5 file hash (by length), an
//!   absolute http(s) URL, or a domain name. Anything else is a usage error, so nothing malformed
//!   reaches Defender.
//! - The action is one of [`BlockAction`], each mapped to the `action` the API documents for the
//!   indicator's kind: a file hash is blocked with `BlockAndRemediate`, a network indicator with
//!   `Block` (Defender's "Block and remediate" exists for files and certificates only); `audit` sends
//!   `generateAlert: true`, which the API requires for `Audit`.
//! - The expiry is `<n>h` or `<n>d`, bounded to [`MIN_EXPIRY_H`]..=[`MAX_EXPIRY_D`] days; by default
//!   [`DEFAULT_EXPIRY_D`] days: a chat block never lives for ever.
//! - The title and description come from the reason; the description names the chat user and the
//!   request id (Defender records the app as the indicator's creator).
//! - `unblock` takes an indicator id (digits, as Defender issues them) or a value: a value is looked up
//!   by exact `indicatorValue` and `indicatorType` (documented `$filter` fields), and must match
//!   exactly one indicator, whose id the confirmation then names.

use super::Reason;
use chrono::{DateTime, TimeDelta, Utc};
use defender_shared::{
    defender::models::{
        Timestamp,
        indicators::{IndicatorAction, IndicatorId, IndicatorSeverity, IndicatorSubmit, IndicatorValue},
    },
    ids::{DomainName, Md5, Sha1, Sha256, UrlIndicator},
};
use std::{fmt, net::IpAddr, str::FromStr};

/// Default expiry of a chat block, days.
pub const DEFAULT_EXPIRY_D: i64 = 30;
/// Longest expiry of a chat block, days.
pub const MAX_EXPIRY_D: i64 = 365;
/// Shortest expiry of a chat block, hours.
pub const MIN_EXPIRY_H: i64 = 1;
/// Longest indicator title Defender is sent (the reason, shortened).
pub const MAX_TITLE: usize = 100;

/// Parses an indicator value typed in chat: an IP, a hash (by length), a URL or a domain.
///
/// # Errors
/// Why it is none of them.
pub fn parse_indicator(s: &str) -> Result<IndicatorValue, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IndicatorValue::Ip(ip));
    }
    if s.split_once('/').is_some_and(|(a, n)| a.parse::<IpAddr>().is_ok() && n.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("'{s}': CIDR ranges cannot be submitted as indicators"));
    }
    if s.contains("://") || s.contains(':') {
        return s.parse::<UrlIndicator>().map(IndicatorValue::Url).map_err(|e| e.to_string());
    }
    if s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return match s.len() {
            64 => s.parse::<Sha256>().map(IndicatorValue::Sha256),
            40 => s.parse::<Sha1>().map(IndicatorValue::Sha1),
            32 => s.parse::<Md5>().map(IndicatorValue::Md5),
            n => return Err(format!("'{s}' is {n} hex characters: not a SHA-256, SHA-1 or MD5")),
        }
        .map_err(|e| e.to_string());
    }
    // Something that looks like a dotted quad but is not an IP is refused, not read as a domain.
    if s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("'{s}' is not an IP address, a file hash, a URL or a domain name"));
    }
    s.parse::<DomainName>()
        .map(IndicatorValue::Domain)
        .map_err(|_| format!("'{s}' is not an IP address, a file hash, a URL or a domain name"))
}

/// Whether the indicator is a file hash (rather than a network indicator).
pub fn is_file(v: &IndicatorValue) -> bool {
    matches!(v, IndicatorValue::Sha1(_) | IndicatorValue::Sha256(_) | IndicatorValue::Md5(_))
}

/// What `block` asks the sensor to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAction {
    /// Block (files: block and remediate).
    Block,
    /// Warn the user, who may bypass (network indicators only).
    Warn,
    /// Audit: no block, an alert on a match.
    Audit,
}

impl BlockAction {
    /// The word in a command.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Warn => "warn",
            Self::Audit => "audit",
        }
    }

    /// The API's `action` for `value`'s kind.
    ///
    /// # Errors
    /// When the kind does not take the action (`warn` on a file hash).
    pub fn api_action(self, value: &IndicatorValue) -> Result<IndicatorAction, String> {
        Ok(match (self, is_file(value)) {
            (Self::Block, true) => IndicatorAction::BlockAndRemediate,
            (Self::Block, false) => IndicatorAction::Block,
            (Self::Warn, false) => IndicatorAction::Warn,
            (Self::Warn, true) => return Err("`warn` applies to IP addresses, URLs and domains, not to files".into()),
            (Self::Audit, _) => IndicatorAction::Audit,
        })
    }
}

impl FromStr for BlockAction {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "block" => Ok(Self::Block),
            "warn" => Ok(Self::Warn),
            "audit" => Ok(Self::Audit),
            _ => Err(()),
        }
    }
}

/// How long a block lives: whole hours, [`MIN_EXPIRY_H`]..=[`MAX_EXPIRY_D`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    hours: i64,
}

impl Expiry {
    /// The default ([`DEFAULT_EXPIRY_D`] days).
    pub fn default_days() -> Self {
        Self { hours: DEFAULT_EXPIRY_D * 24 }
    }

    /// The duration.
    pub fn duration(self) -> TimeDelta {
        TimeDelta::hours(self.hours)
    }

    /// The expiry instant after `now` (whole seconds, UTC, as Defender writes it).
    pub fn at(self, now: DateTime<Utc>) -> Option<Timestamp> {
        (now + self.duration()).format("%Y-%m-%dT%H:%M:%SZ").to_string().parse().ok()
    }

    /// Whether `s` looks like an expiry (digits then `h` or `d`), valid or not.
    pub fn looks_like(s: &str) -> bool {
        let s = s.to_ascii_lowercase();
        s.len() >= 2 && (s.ends_with('h') || s.ends_with('d')) && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
    }
}

impl FromStr for Expiry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let l = s.to_ascii_lowercase();
        let bad = || format!("'{s}' is not an expiry between {MIN_EXPIRY_H}h and {MAX_EXPIRY_D}d");
        if !Self::looks_like(&l) {
            return Err(bad());
        }
        let n: i64 = l[..l.len() - 1].parse().map_err(|_| bad())?;
        let hours = if l.ends_with('d') { n.checked_mul(24).ok_or_else(bad)? } else { n };
        if !(MIN_EXPIRY_H..=MAX_EXPIRY_D * 24).contains(&hours) {
            return Err(bad());
        }
        Ok(Self { hours })
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hours % 24 == 0 { write!(f, "{}d", self.hours / 24) } else { write!(f, "{}h", self.hours) }
    }
}

/// A `block` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRequest {
    /// The indicator.
    pub value: IndicatorValue,
    /// What the sensor does.
    pub action: BlockAction,
    /// How long it lives.
    pub expiry: Expiry,
    /// Why (the title and description).
    pub reason: Reason,
}

impl BlockRequest {
    /// Parses the words after `block`: `<indicator> [block|warn|audit] [<n>h|<n>d] <reason…>`.
    ///
    /// # Errors
    /// The message for the user.
    pub fn parse(words: &[&str]) -> Result<Self, String> {
        let Some((first, mut rest)) = words.split_first() else {
            return Err("`block` needs an indicator (IP, file hash, URL or domain) and a reason".into());
        };
        let value = parse_indicator(first)?;
        let mut action = BlockAction::Block;
        if let Some((w, r)) = rest.split_first()
            && let Ok(a) = w.parse::<BlockAction>()
        {
            action = a;
            rest = r;
        }
        let mut expiry = Expiry::default_days();
        if let Some((w, r)) = rest.split_first()
            && Expiry::looks_like(w)
        {
            expiry = w.parse()?;
            rest = r;
        }
        action.api_action(&value)?;
        let reason = Reason::try_from(rest.join(" "))?;
        Ok(Self { value, action, expiry, reason })
    }

    /// The canonical command words (parsed again when the confirmed change runs).
    pub fn words(&self) -> String {
        format!("block {} {} {} {}", self.value.value(), self.action.as_str(), self.expiry, self.reason.as_str())
    }

    /// The `POST /api/indicators` body: title and description from the reason, the chat user and the
    /// request id in the description, the expiry from `now`.
    ///
    /// # Errors
    /// When the kind does not take the action (refused at parse time already).
    pub fn submit(
        &self,
        user_name: &str,
        user_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<IndicatorSubmit, String> {
        let action = self.action.api_action(&self.value)?;
        let title: String = format!("chat-ops: {}", self.reason.as_str()).chars().take(MAX_TITLE).collect();
        let description = format!(
            "{}. Submitted in chat by {} ({}); request {}.",
            self.reason.as_str(),
            clean(user_name),
            clean(user_id),
            request_id
        );
        let mut s = IndicatorSubmit::new(&self.value, action.clone(), title, description);
        s.expiration_time = self.expiry.at(now);
        s.severity = Some(IndicatorSeverity::High);
        s.application = Some("defender-functions chat-ops".into());
        if action == IndicatorAction::Audit {
            s.generate_alert = Some(true);
        }
        Ok(s)
    }
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// What `unblock` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnblockTarget {
    /// An indicator id (Defender's, digits).
    Id(IndicatorId),
    /// An indicator value (looked up by exact value and type).
    Value(IndicatorValue),
}

impl FromStr for UnblockTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<IndicatorId>().map(Self::Id).map_err(|e| e.to_string());
        }
        parse_indicator(s).map(Self::Value)
    }
}

impl fmt::Display for UnblockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => f.write_str(id.as_str()),
            Self::Value(v) => f.write_str(&v.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    const SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    #[test]
    fn indicators_are_typed_by_shape() {
        assert_eq!(parse_indicator("45.137.21.9").unwrap().indicator_type().as_str(), "IpAddress");
        assert_eq!(parse_indicator("2001:db8::1").unwrap().indicator_type().as_str(), "IpAddress");
        assert_eq!(parse_indicator(SHA256).unwrap().indicator_type().as_str(), "FileSha256");
        assert_eq!(parse_indicator(&SHA256[..40]).unwrap().indicator_type().as_str(), "FileSha1");
        assert_eq!(parse_indicator(&SHA256[..32]).unwrap().indicator_type().as_str(), "FileMd5");
        assert_eq!(parse_indicator("Evil.Example.").unwrap().value(), "evil.example");
        assert_eq!(parse_indicator("https://evil.example/x?a=1").unwrap().indicator_type().as_str(), "Url");
        for bad in ["10.0.0.0/8", "10.999.0.1", "evil", "x' or 1 eq 1", "javascript:alert(1)", &SHA256[..50]] {
            assert!(parse_indicator(bad).is_err(), "{bad}");
        }
        assert!(parse_indicator("10.0.0.0/8").unwrap_err().contains("CIDR"));
    }

    #[test]
    fn block_words_parse_with_optional_action_and_bounded_expiry() {
        let b = BlockRequest::parse(&w("45.137.21.9 c2 server of the campaign")).unwrap();
        assert_eq!((b.action, b.expiry), (BlockAction::Block, Expiry::default_days()));
        assert_eq!(b.words(), "block 45.137.21.9 block 30d c2 server of the campaign");
        let b = BlockRequest::parse(&w("evil.example warn 12h phishing lure")).unwrap();
        assert_eq!((b.action, b.expiry.to_string().as_str()), (BlockAction::Warn, "12h"));
        assert_eq!(BlockRequest::parse(&w(&b.words()[6..])).unwrap(), b, "the canonical words parse back");
        assert!(BlockRequest::parse(&w("evil.example 400d too long")).unwrap_err().contains("expiry"));
        assert!(BlockRequest::parse(&w("evil.example 0h too short")).unwrap_err().contains("expiry"));
        assert!(BlockRequest::parse(&w(&format!("{SHA256} warn malware"))).unwrap_err().contains("not to files"));
        assert!(BlockRequest::parse(&w("evil.example")).unwrap_err().contains("reason"));
        assert!(BlockRequest::parse(&[]).unwrap_err().contains("needs an indicator"));
    }

    #[test]
    fn the_submit_body_follows_the_contract() {
        let now: DateTime<Utc> = "2026-12-06T05:00:00Z".parse().unwrap();
        let b = BlockRequest::parse(&w(&format!("{SHA256} 7d dropper seen on ws-1"))).unwrap();
        let s = serde_json::to_value(b.submit("road\nrunner", "U1", "r-1", now).unwrap()).unwrap();
        assert_eq!(s["indicatorType"], "FileSha256");
        assert_eq!(s["action"], "BlockAndRemediate");
        assert_eq!(s["expirationTime"], "2026-12-13T05:00:00Z");
        assert_eq!(s["title"], "chat-ops: dropper seen on ws-1");
        assert_eq!(s["description"], "dropper seen on ws-1. Submitted in chat by roadrunner (U1); request r-1.");
        let a = BlockRequest::parse(&w("evil.example audit watch it")).unwrap();
        let s = serde_json::to_value(a.submit("x", "U1", "r", now).unwrap()).unwrap();
        assert_eq!((s["action"].as_str(), s["generateAlert"].as_bool()), (Some("Audit"), Some(true)));
        let n = BlockRequest::parse(&w("45.137.21.9 c2 beacon")).unwrap();
        assert_eq!(serde_json::to_value(n.submit("x", "U1", "r", now).unwrap()).unwrap()["action"], "Block");
    }

    #[test]
    fn unblock_takes_an_id_or_a_value() {
        assert_eq!("8030".parse::<UnblockTarget>().unwrap(), UnblockTarget::Id("8030".parse().unwrap()));
        assert!(matches!("45.137.21.9".parse::<UnblockTarget>().unwrap(), UnblockTarget::Value(_)));
        assert!("80-30".parse::<UnblockTarget>().is_err());
    }
}
