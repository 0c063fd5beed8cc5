//! Webhook senders (MSSP tenant binding): who may sign requests to webhook-enrich, with which keys,
//! and about which tenants.
//!
//! A sender is identified by the key that verified its signature — each sender has its own signing
//! secret(s) in the vault — and may only ask about the tenants it is bound to. A request naming any
//! other tenant is refused before a Defender call; a request naming none is answered for the sender's
//! tenant when it is bound to exactly one, and refused otherwise.
//!
//! # Document
//! The tenant registry's top-level `senders` list:
//! ```json
//! {"tenants": [...],
//!  "senders": [
//!    {"name": "siem-contoso", "secrets": ["siem-contoso-whsec", "siem-contoso-whsec-next"],
//!     "tenants": ["contoso"]},
//!    {"name": "soar", "scheme": "github", "secrets": ["soar-github"], "tenants": ["contoso", "fabrikam"]}
//!  ]}
//! ```
//! Unknown keys are refused. `name`: 1-64 letters, digits, `_`, `.`, `-`, unique (it is the
//! `webhook-sender` header value and the log field). `scheme`: `standard` (Standard Webhooks, the
//! default) or `github`. `secrets`: one or two vault secret names (two during a rotation), never shared
//! with another sender. `tenants`: one or more registry tenants, no repeats.
//!
//! # Work before authentication
//! The body is hashed once per tried key. A request may name its sender in the `webhook-sender`
//! header: then only that sender's keys (at most [`MAX_KEYS_PER_SENDER`]) are tried, and an unknown
//! name is refused without hashing. Without the header every key of the scheme is tried, which is
//! allowed only while the scheme has at most [`MAX_HEADERLESS_KEYS`] keys in all; a deployment with
//! more requires the header ([`Senders::candidates`]). So an unauthenticated request costs at most
//! `MAX_HEADERLESS_KEYS` HMACs over at most the body limit, whatever the number of senders.

use crate::ids::TenantName;
use serde::Deserialize;

/// Most senders one document may list.
pub const MAX_SENDERS: usize = 256;
/// Most signing secrets per sender: the current key and, during a rotation, the next.
pub const MAX_KEYS_PER_SENDER: usize = 2;
/// Most keys of one scheme tried for a request that does not name its sender.
pub const MAX_HEADERLESS_KEYS: usize = 16;
/// The header a request names its sender in (optional while the keys are few, see the module docs).
pub const SENDER_HEADER: &str = "webhook-sender";
/// The implicit sender of single-tenant deployments (`WEBHOOK_SECRET_NAMES`).
pub const IMPLICIT_SENDER: &str = "default";
/// The implicit GitHub-scheme sender of single-tenant deployments (`WEBHOOK_GITHUB_SECRET_NAMES`).
pub const IMPLICIT_GITHUB_SENDER: &str = "default-github";

/// How a sender signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Standard Webhooks v1 (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    #[default]
    Standard,
    /// GitHub's `X-Hub-Signature-256` (no timestamp, no replay window: weaker).
    Github,
}

/// A sender's name: 1-64 letters, digits, `_`, `.`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderName(String);

crate::ids::text_newtype!(SenderName, "The name.", text);

impl std::str::FromStr for SenderName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("'{}' must be 1-64 letters, digits, '_', '.' or '-'", printable(s)))
        }
    }
}

/// One sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Its name.
    pub name: SenderName,
    /// How it signs.
    pub scheme: Scheme,
    /// Vault names of its signing secrets, current first.
    pub secret_names: Vec<String>,
    /// The tenants it may ask about (never empty).
    pub tenants: Vec<TenantName>,
}

/// Why a verified sender's request may not be answered for the tenant it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The request names a tenant the sender is not bound to (whether or not the registry has it: a
    /// sender learns nothing about other tenants).
    #[error("sender '{sender}' may not ask about tenant '{tenant}'")]
    NotBound {
        /// The sender.
        sender: SenderName,
        /// The tenant asked for.
        tenant: TenantName,
    },
    /// The request names no tenant and the sender is bound to several.
    #[error("sender '{sender}' may ask about several tenants: name one in `tenant`")]
    TenantRequired {
        /// The sender.
        sender: SenderName,
    },
}

impl Sender {
    /// The tenant a verified request from this sender is answered for: the one it names, if the sender
    /// is bound to it; the sender's only tenant when it names none.
    ///
    /// # Errors
    /// [`BindingError`] for any other tenant, or for none when the sender has several.
    pub fn resolve(&self, requested: Option<&TenantName>) -> Result<&TenantName, BindingError> {
        match requested {
            Some(t) => self
                .tenants
                .iter()
                .find(|bound| *bound == t)
                .ok_or_else(|| BindingError::NotBound { sender: self.name.clone(), tenant: t.clone() }),
            None => match self.tenants.as_slice() {
                [only] => Ok(only),
                _ => Err(BindingError::TenantRequired { sender: self.name.clone() }),
            },
        }
    }
}

/// Why the `senders` document is refused (at cold start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendersError {
    /// Not a list of sender objects.
    #[error("senders: {0}")]
    Document(String),
    /// An empty list (omit the key instead).
    #[error("senders: the list is empty")]
    Empty,
    /// Too many senders.
    #[error("senders: {0} senders; at most {MAX_SENDERS} are accepted")]
    TooMany(usize),
    /// One entry is wrong.
    #[error("senders[{index}]{}: {reason}", name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Entry {
        /// Position in the list.
        index: usize,
        /// The entry's `name`, when readable.
        name: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSender {
    name: String,
    #[serde(default)]
    scheme: Scheme,
    secrets: Vec<String>,
    tenants: Vec<TenantName>,
}

/// The senders of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Senders {
    list: Vec<Sender>,
}

/// Why no sender may be tried for a request (it is refused as unauthenticated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    /// The `webhook-sender` header names no sender of the request's scheme.
    #[error("the webhook-sender header names no configured sender of this scheme")]
    UnknownSender,
    /// The header is absent and the scheme has too many keys to try them all.
    #[error("the webhook-sender header is required: this deployment has more than {MAX_HEADERLESS_KEYS} signing keys")]
    HeaderRequired,
    /// No sender uses the scheme.
    #[error("no sender uses this signature scheme")]
    NoSender,
}

fn printable(s: &str) -> String {
    s.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect()
}

impl Senders {
    /// Parses the registry's `senders` value; `known` answers whether the registry has a tenant.
    ///
    /// # Errors
    /// [`SendersError`] naming the entry and the reason: an unknown key, a bad name or secret name,
    /// a repeated sender name, a secret shared with another sender, no or too many secrets, no tenant,
    /// an unknown or repeated tenant.
    pub fn from_value(value: serde_json::Value, known: impl Fn(&TenantName) -> bool) -> Result<Self, SendersError> {
        let serde_json::Value::Array(items) = value else {
            return Err(SendersError::Document("expected a list of senders".into()));
        };
        if items.is_empty() {
            return Err(SendersError::Empty);
        }
        if items.len() > MAX_SENDERS {
            return Err(SendersError::TooMany(items.len()));
        }
        let mut list: Vec<Sender> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let name = item.get("name").and_then(|n| n.as_str()).map(printable);
            let entry = |reason: String| SendersError::Entry { index, name: name.clone(), reason };
            let w: WireSender = serde_json::from_value(item).map_err(|e| entry(e.to_string()))?;
            let sender_name: SenderName = w.name.parse().map_err(|e| entry(format!("name: {e}")))?;
            if list.iter().any(|s| s.name == sender_name) {
                return Err(entry(format!("the name '{sender_name}' is used by an earlier sender")));
            }
            if w.secrets.is_empty() || w.secrets.len() > MAX_KEYS_PER_SENDER {
                return Err(entry(format!(
                    "secrets: {} names; expected 1 to {MAX_KEYS_PER_SENDER} (the current key, and the next during a rotation)",
                    w.secrets.len()
                )));
            }
            for (i, s) in w.secrets.iter().enumerate() {
                if !crate::vault::is_secret_name(s) {
                    return Err(entry(format!(
                        "secrets: '{}' is not {}",
                        printable(s),
                        crate::vault::SECRET_NAME_RULE
                    )));
                }
                if w.secrets[..i].contains(s) {
                    return Err(entry(format!("secrets: '{s}' is listed twice")));
                }
                if let Some(other) = list.iter().find(|o| o.secret_names.contains(s)) {
                    return Err(entry(format!(
                        "secrets: '{s}' is also the secret of sender '{}': each sender needs keys of its own, or \
                         one could ask about the other's tenants",
                        other.name
                    )));
                }
            }
            if w.tenants.is_empty() {
                return Err(entry("tenants: a sender must be bound to at least one tenant".into()));
            }
            for (i, t) in w.tenants.iter().enumerate() {
                if w.tenants[..i].contains(t) {
                    return Err(entry(format!("tenants: '{t}' is listed twice")));
                }
                if !known(t) {
                    return Err(entry(format!("tenants: '{t}' is not a tenant of the registry")));
                }
            }
            list.push(Sender { name: sender_name, scheme: w.scheme, secret_names: w.secrets, tenants: w.tenants });
        }
        Ok(Self { list })
    }

    /// Parses a `senders` list from JSON text (tests, the fuzz target).
    ///
    /// # Errors
    /// As [`Senders::from_value`], and for text that is not JSON.
    pub fn from_json(text: &str, known: impl Fn(&TenantName) -> bool) -> Result<Self, SendersError> {
        let value = serde_json::from_str(text).map_err(|e| SendersError::Document(e.to_string()))?;
        Self::from_value(value, known)
    }

    /// The implicit senders of a deployment with one tenant and no `senders` document: `default`
    /// (Standard Webhooks, `standard` secret names) and, when `github` is not empty,
    /// `default-github` — both bound to `tenant` alone.
    pub fn implicit(standard: Vec<String>, github: Vec<String>, tenant: TenantName) -> Self {
        let mut list = vec![Sender {
            name: SenderName(IMPLICIT_SENDER.into()),
            scheme: Scheme::Standard,
            secret_names: standard,
            tenants: vec![tenant.clone()],
        }];
        if !github.is_empty() {
            list.push(Sender {
                name: SenderName(IMPLICIT_GITHUB_SENDER.into()),
                scheme: Scheme::Github,
                secret_names: github,
                tenants: vec![tenant],
            });
        }
        Self { list }
    }

    /// Every sender, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &Sender> {
        self.list.iter()
    }

    /// Whether some sender signs with `scheme`.
    pub fn uses(&self, scheme: Scheme) -> bool {
        self.list.iter().any(|s| s.scheme == scheme)
    }

    /// Every vault secret name any sender signs with.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().flat_map(|s| s.secret_names.iter().map(String::as_str))
    }

    /// The senders whose keys a request of `scheme` is verified against: the one the `webhook-sender`
    /// header names, or — without the header — every sender of the scheme while they hold at most
    /// [`MAX_HEADERLESS_KEYS`] keys in all.
    ///
    /// # Errors
    /// [`CandidateError`]: an unknown name, too many keys without the header, or no sender of the scheme.
    pub fn candidates(&self, scheme: Scheme, header: Option<&str>) -> Result<Vec<&Sender>, CandidateError> {
        if let Some(name) = header {
            let name = name.trim();
            return self
                .list
                .iter()
                .find(|s| s.scheme == scheme && s.name.as_str() == name)
                .map(|s| vec![s])
                .ok_or(CandidateError::UnknownSender);
        }
        let all: Vec<&Sender> = self.list.iter().filter(|s| s.scheme == scheme).collect();
        if all.is_empty() {
            return Err(CandidateError::NoSender);
        }
        if all.iter().map(|s| s.secret_names.len()).sum::<usize>() > MAX_HEADERLESS_KEYS {
            return Err(CandidateError::HeaderRequired);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(t: &TenantName) -> bool {
        matches!(t.as_str(), "contoso" | "fabrikam" | "tailspin")
    }

    fn tn(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    const DOC: &str = r#"[
        {"name": "siem-a", "secrets": ["a-whsec", "a-whsec-next"], "tenants": ["contoso"]},
        {"name": "soar", "scheme": "github", "secrets": ["soar-gh"], "tenants": ["contoso", "fabrikam"]}
    ]"#;

    #[test]
    fn a_sender_answers_only_for_its_tenants() {
        let s = Senders::from_json(DOC, known).unwrap();
        let a = s.iter().next().unwrap();
        assert_eq!(a.resolve(Some(&tn("contoso"))).unwrap().as_str(), "contoso");
        assert_eq!(a.resolve(None).unwrap().as_str(), "contoso", "one tenant: it is implied");
        assert_eq!(
            a.resolve(Some(&tn("fabrikam"))).unwrap_err().to_string(),
            "sender 'siem-a' may not ask about tenant 'fabrikam'"
        );
        assert!(matches!(a.resolve(Some(&tn("nowhere"))), Err(BindingError::NotBound { .. })));
        let soar = s.iter().nth(1).unwrap();
        assert_eq!(soar.scheme, Scheme::Github);
        assert_eq!(soar.resolve(Some(&tn("fabrikam"))).unwrap().as_str(), "fabrikam");
        assert_eq!(
            soar.resolve(None).unwrap_err().to_string(),
            "sender 'soar' may ask about several tenants: name one in `tenant`"
        );
    }

    #[test]
    fn documents_that_would_blur_the_binding_are_refused() {
        let err = |doc: &str| Senders::from_json(doc, known).unwrap_err().to_string();
        assert_eq!(
            err(
                r#"[{"name":"a","secrets":["k"],"tenants":["contoso"]},{"name":"b","secrets":["k"],"tenants":["fabrikam"]}]"#
            ),
            "senders[1] (b): secrets: 'k' is also the secret of sender 'a': each sender needs keys of its own, or one could ask about the other's tenants"
        );
        assert!(err(r#"[{"name":"a","secrets":["k"],"tenants":[]}]"#).contains("at least one tenant"));
        assert!(err(r#"[{"name":"a","secrets":["k"],"tenants":["wingtip"]}]"#).contains("'wingtip' is not a tenant"));
        assert!(err(r#"[{"name":"a","secrets":["k","l","m"],"tenants":["contoso"]}]"#).contains("3 names"));
        assert!(err(r#"[{"name":"a","secrets":[],"tenants":["contoso"]}]"#).contains("0 names"));
        assert!(
            err(r#"[{"name":"a","secrets":["bad name"],"tenants":["contoso"]}]"#).contains("Key Vault secret name")
        );
        assert!(err(r#"[{"name":"a","secrets":["k"],"tenants":["contoso","contoso"]}]"#).contains("listed twice"));
        assert!(
            err(r#"[{"name":"a","secrets":["k"],"tenants":["contoso"]},{"name":"a","secrets":["l"],"tenants":["contoso"]}]"#)
                .contains("used by an earlier sender")
        );
        assert!(
            err(r#"[{"name":"a","secrets":["k"],"tenants":["contoso"],"all_tenants":true}]"#).contains("unknown field")
        );
        assert!(err(r#"[{"name":"a b","secrets":["k"],"tenants":["contoso"]}]"#).contains("name:"));
        assert!(err(r#"[{"name":"a","scheme":"slack","secrets":["k"],"tenants":["contoso"]}]"#).contains("slack"));
        assert_eq!(err("[]"), "senders: the list is empty");
        assert_eq!(err("{}"), "senders: expected a list of senders");
    }

    #[test]
    fn unauthenticated_work_is_bounded_by_the_header_or_a_key_cap() {
        let s = Senders::from_json(DOC, known).unwrap();
        assert_eq!(s.candidates(Scheme::Standard, None).unwrap().len(), 1);
        assert_eq!(s.candidates(Scheme::Github, Some("soar")).unwrap()[0].name.as_str(), "soar");
        assert_eq!(s.candidates(Scheme::Standard, Some("soar")), Err(CandidateError::UnknownSender), "scheme too");
        assert_eq!(s.candidates(Scheme::Standard, Some("nobody")), Err(CandidateError::UnknownSender));
        // Nine senders with two keys each: 18 keys, more than a header-less request may make us try.
        let many: Vec<String> = (0..9)
            .map(|i| format!(r#"{{"name":"s{i}","secrets":["k{i}","k{i}-next"],"tenants":["contoso"]}}"#))
            .collect();
        let s = Senders::from_json(&format!("[{}]", many.join(",")), known).unwrap();
        assert_eq!(s.candidates(Scheme::Standard, None), Err(CandidateError::HeaderRequired));
        assert_eq!(s.candidates(Scheme::Standard, Some("s8")).unwrap().len(), 1);
        assert_eq!(s.candidates(Scheme::Github, None), Err(CandidateError::NoSender));
        let implicit = Senders::implicit(vec!["webhook-secret".into()], vec![], tn("default"));
        assert_eq!(implicit.candidates(Scheme::Standard, None).unwrap()[0].name.as_str(), "default");
        assert!(!implicit.uses(Scheme::Github));
    }
}
