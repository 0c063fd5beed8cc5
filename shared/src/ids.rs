//! Validated identifiers and indicators.
//!
//! Every value that reaches a URL path, an OData filter or a KQL query is parsed into one of these
//! first, so a malformed or hostile value (a quote, a pipe, a newline, `' or 1 eq 1`) is refused at the
//! edge with a reason instead of travelling further. Parsing is the only constructor.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Why a value is not a valid identifier or indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    /// What was being parsed (`machine id`, `sha256`, ...).
    pub kind: &'static str,
    /// Why it was refused.
    pub reason: String,
}

fn invalid(kind: &'static str, reason: impl Into<String>) -> InvalidId {
    InvalidId { kind, reason: reason.into() }
}

/// `.` or `..`: a value that, put in a URL path segment (`/api/users/{name}/alerts`), would name the
/// segment itself or its parent once the URL is normalised. No identifier or indicator is one: every
/// newtype refuses it when parsed, so it is reported invalid and never reaches the client (which
/// refuses such a path too, as a failed call).
fn is_dot_segment(s: &str) -> bool {
    s == "." || s == ".."
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `as_str` (documented as `$as_str`), `Display` and a validating `Deserialize` (through `FromStr`)
/// for a newtype over a `String`: what every text identifier here (and the models' local ids) shares.
macro_rules! text_newtype {
    ($name:ident, $as_str:literal) => {
        $crate::ids::text_newtype!($name, $as_str, text);

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
    // Only the text (`as_str`, `Display`): for a newtype that is never read from JSON.
    ($name:ident, $as_str:literal, text) => {
        impl $name {
            #[doc = $as_str]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use text_newtype;

/// Equality and hashing (and, with `ord`, order) that ignore ASCII case, for a newtype over text
/// (`String` or `Cow<str>`): hex digests here, the models' documented-value strings.
macro_rules! ascii_case_insensitive {
    ($name:ident) => {
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                for b in self.0.bytes() {
                    h.write_u8(b.to_ascii_lowercase());
                }
            }
        }
    };
    ($name:ident, ord) => {
        $crate::ids::ascii_case_insensitive!($name);

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.bytes().map(|b| b.to_ascii_lowercase()).cmp(other.0.bytes().map(|b| b.to_ascii_lowercase()))
            }
        }
    };
}
pub(crate) use ascii_case_insensitive;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        text_newtype!($name, "The validated value.");

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let s = s.trim();
                if is_dot_segment(s) {
                    return Err(invalid($kind, format!("'{s}' is a path dot segment, not a {}", $kind)));
                }
                let check: fn(&str) -> Result<String, String> = $check;
                check(s).map(Self).map_err(|r| invalid($kind, r))
            }
        }

    };
}

string_id!(
    /// A directory (tenant) id: a GUID.
    TenantId, "tenant id", |s| if is_guid(s) { Ok(s.to_ascii_lowercase()) } else { Err(format!("'{s}' is not a GUID")) }
);
string_id!(
    /// An application (client) id: a GUID.
    ClientId, "client id", |s| if is_guid(s) { Ok(s.to_ascii_lowercase()) } else { Err(format!("'{s}' is not a GUID")) }
);
string_id!(
    /// A tenant's name in the registry: 1–64 of `[A-Za-z0-9_.-]`.
    TenantName, "tenant name", |s| {
        let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if ok { Ok(s.to_string()) } else { Err(format!("'{s}' must be 1-64 letters, digits, '_', '.' or '-'")) }
    }
);
string_id!(
    /// An MDE machine (device) id: 40 hex characters.
    MachineId, "machine id", |s| if is_hex(s, 40) { Ok(s.to_ascii_lowercase()) } else { Err(format!("'{s}' is not 40 hex characters")) }
);
string_id!(
    /// An MDE alert id (`da637308392288907382_-880718168`, or the older numeric/GUID forms).
    AlertId, "alert id", |s| {
        let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if ok { Ok(s.to_string()) } else { Err(format!("'{s}' is not an alert id")) }
    }
);
string_id!(
    /// A machine action id: a GUID.
    ActionId, "machine action id", |s| if is_guid(s) { Ok(s.to_ascii_lowercase()) } else { Err(format!("'{s}' is not a GUID")) }
);
/// A file hash kept exactly as it was received (its case is the sender's: Defender's answers write
/// lower case, a user or a webhook may write upper case). Hex digests are case-insensitive by nature:
/// two hashes are equal, hash and order alike when they differ only in case, so a comparison never
/// needs a lower-cased copy, and what is shown or exported is the text as received.
macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $len:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        text_newtype!($name, "The hash as received.");
        ascii_case_insensitive!($name, ord);

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let s = s.trim();
                if is_hex(s, $len) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(invalid($kind, format!("'{s}' is not {} hex characters", $len)))
                }
            }
        }

    };
}

hash_id!(
    /// A SHA-1 file hash (40 hex characters, kept as received).
    Sha1, "sha1", 40
);
hash_id!(
    /// A SHA-256 file hash (64 hex characters, kept as received).
    Sha256, "sha256", 64
);
hash_id!(
    /// An MD5 file hash (32 hex characters, kept as received).
    Md5, "md5", 32
);
string_id!(
    /// A DNS domain name (RFC 1123 labels, at least two, lower-cased, no trailing dot).
    DomainName, "domain", |s| {
        let d = s.trim_end_matches('.').to_ascii_lowercase();
        let ok = d.len() <= 253
            && d.split('.').count() >= 2
            && d.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            && !d.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
        if ok { Ok(d) } else { Err(format!("'{s}' is not a domain name")) }
    }
);
string_id!(
    /// A host name as MDE records it (`computerDnsName`): a single label or a dotted DNS name. Labels
    /// may hold `_` (NetBIOS names do; real tenants have `h1mkn_PC`, `chat_Desk`), which is neither a
    /// quote nor an OData or KQL operator.
    Hostname, "hostname", |s| {
        let d = s.trim_end_matches('.').to_ascii_lowercase();
        let ok = !d.is_empty() && d.len() <= 253
            && d.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if ok { Ok(d) } else { Err(format!("'{s}' is not a host name")) }
    }
);
impl Hostname {
    /// Whether `recorded` — a machine's `computerDnsName` as Defender sent it — names this host.
    ///
    /// Defender keeps a device's name as the device reported it, trailing space included (a real
    /// tenant's machine list holds `"chat_Desk "`, contract/real-responses), and no Defender document
    /// says it trims one; a host name itself never ends in whitespace. So the comparison removes the
    /// recorded name's trailing whitespace — and nothing else: no leading or inner whitespace, no
    /// other character — then compares ASCII-case-insensitively, as Defender's `eq` does.
    pub fn names(&self, recorded: &str) -> bool {
        recorded.trim_end_matches(char::is_whitespace).eq_ignore_ascii_case(&self.0)
    }
}

string_id!(
    /// A user account as MDE names it (`accountName`, optionally `DOMAIN\name` or a UPN).
    AccountName, "user", |s| {
        let ok = !s.is_empty() && s.len() <= 256
            && s.chars().all(|c| c.is_alphanumeric() || "._-@\\ $".contains(c));
        if ok { Ok(s.to_string()) } else { Err(format!("'{s}' is not an account name")) }
    }
);

/// An XDR incident id (a positive integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub u64);

impl FromStr for IncidentId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Self)
            .ok_or_else(|| invalid("incident id", format!("'{s}' is not a positive integer")))
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A URL indicator: absolute http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UrlIndicator(String);

impl UrlIndicator {
    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Its host, lower-cased.
    pub fn host(&self) -> Option<String> {
        url::Url::parse(&self.0).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    }
}

impl FromStr for UrlIndicator {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        let s = s.trim();
        if s.chars().any(|c| c.is_control() || c == '\'' || c == '"' || c == ' ') {
            return Err(invalid("url", "contains a quote, a space or a control character"));
        }
        let u = url::Url::parse(s).map_err(|e| invalid("url", e.to_string()))?;
        if !(u.scheme() == "http" || u.scheme() == "https") || u.host_str().is_none() {
            return Err(invalid("url", "must be an absolute http(s) URL with a host"));
        }
        // The parser normalises (it percent-decodes the host, for one): check what is kept, not only the input.
        let normalised = u.to_string();
        if normalised.chars().any(|c| c.is_control() || c == '\'' || c == '"' || c == ' ') {
            return Err(invalid("url", "contains a quote, a space or a control character once decoded"));
        }
        Ok(Self(normalised))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_values_parse_and_normalise() {
        assert_eq!(
            "ABCDEF0123456789abcdef0123456789ABCDEF01".parse::<MachineId>().unwrap().as_str(),
            "abcdef0123456789abcdef0123456789abcdef01"
        );
        assert!("da637308392288907382_-880718168".parse::<AlertId>().is_ok());
        assert_eq!("Example.COM.".parse::<DomainName>().unwrap().as_str(), "example.com");
        assert_eq!("ws-fin-014.contoso.com".parse::<Hostname>().unwrap().as_str(), "ws-fin-014.contoso.com");
        assert_eq!("7587".parse::<IncidentId>().unwrap(), IncidentId(7587));
        assert!("4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f".parse::<TenantId>().is_ok());
        assert_eq!(
            "https://evil.example/x?y=1".parse::<UrlIndicator>().unwrap().host().as_deref(),
            Some("evil.example")
        );
    }

    #[test]
    fn hostile_values_are_refused_with_a_reason() {
        for bad in ["x' or 1 eq 1", "a|b", "line\nbreak", "", "abc\"", "da1'"] {
            assert!(bad.parse::<AlertId>().is_err(), "{bad:?}");
            assert!(bad.parse::<Hostname>().is_err(), "{bad:?}");
            assert!(bad.parse::<DomainName>().is_err(), "{bad:?}");
            assert!(bad.parse::<MachineId>().is_err(), "{bad:?}");
            assert!(bad.parse::<Sha256>().is_err(), "{bad:?}");
        }
        assert!("1.2.3.4".parse::<DomainName>().is_err(), "an IP is not a domain");
        // A percent-encoded quote in the host is decoded by the URL parser: refused after normalising.
        assert!("https:/300t87%27787.vt".parse::<UrlIndicator>().is_err());
        assert!("0".parse::<IncidentId>().is_err());
        assert!("javascript:alert(1)".parse::<UrlIndicator>().is_err());
        assert!("https://a.example/'x".parse::<UrlIndicator>().is_err());
        // Real tenants' host names (contract/real-responses): `_` in a label.
        assert_eq!("h1mkn_PC".parse::<Hostname>().unwrap().as_str(), "h1mkn_pc");
        assert_eq!("chat_Desk ".parse::<Hostname>().unwrap().as_str(), "chat_desk");
        // A recorded name with a trailing space names the host; other differences do not.
        let h: Hostname = "chat_Desk".parse().unwrap();
        assert!(h.names("chat_Desk ") && h.names("CHAT_DESK") && h.names("chat_Desk\t "));
        for other in [" chat_Desk", "chat Desk", "chat_Desk.", "chat_Desk1", "chat_Des", ""] {
            assert!(!h.names(other), "{other:?}");
        }
        let e = "zz".parse::<Sha1>().unwrap_err();
        assert_eq!(e.to_string(), "invalid sha1: 'zz' is not 40 hex characters");
    }

    #[test]
    fn dot_segments_are_refused_by_every_newtype() {
        // Issue 19.1: `.`/`..` passed the account-name and tenant-name character sets.
        for dots in [".", "..", " .. ", "\t.\n"] {
            assert!(dots.parse::<AccountName>().is_err(), "{dots:?}");
            assert!(dots.parse::<TenantName>().is_err(), "{dots:?}");
            assert!(dots.parse::<Hostname>().is_err(), "{dots:?}");
            assert!(dots.parse::<DomainName>().is_err(), "{dots:?}");
            assert!(dots.parse::<AlertId>().is_err(), "{dots:?}");
            assert!(dots.parse::<MachineId>().is_err(), "{dots:?}");
            assert!(dots.parse::<TenantId>().is_err(), "{dots:?}");
            assert!(dots.parse::<UrlIndicator>().is_err(), "{dots:?}");
            assert!(serde_json::from_str::<AccountName>(&format!("{:?}", dots.trim())).is_err(), "{dots:?}");
        }
        let e = "..".parse::<AccountName>().unwrap_err();
        assert_eq!(e.to_string(), "invalid user: '..' is a path dot segment, not a user");
        // Dots inside a value are not a dot segment.
        for ok in ["...", "a.b", ".hidden", "j.doe@contoso.com", "CONTOSO\\.."] {
            assert!(ok.parse::<AccountName>().is_ok(), "{ok:?}");
        }
        assert!("tenant.a".parse::<TenantName>().is_ok());
    }

    #[test]
    fn hashes_keep_the_case_they_were_received_in_and_compare_without_it() {
        use std::collections::HashSet;
        let upper = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
        let h: Sha1 = upper.parse().unwrap();
        assert_eq!(h.as_str(), upper);
        assert_eq!(h.to_string(), upper);
        assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{upper}\""));
        let de: Sha1 = serde_json::from_str(&format!("\"{upper}\"")).unwrap();
        assert_eq!(de.as_str(), upper, "deserialising keeps the case too");
        let lower: Sha1 = upper.to_ascii_lowercase().parse().unwrap();
        assert_eq!(h, lower, "a hex digest is the same hash in either case");
        assert_eq!(h.cmp(&lower), std::cmp::Ordering::Equal);
        assert_eq!(HashSet::from([h.clone(), lower.clone()]).len(), 1);
        let s256 = format!("{}{}", "AB".repeat(16), "cd".repeat(16));
        assert_eq!(s256.parse::<Sha256>().unwrap().as_str(), s256);
        assert_eq!(
            "D41D8CD98F00B204E9800998ECF8427E".parse::<Md5>().unwrap().as_str(),
            "D41D8CD98F00B204E9800998ECF8427E"
        );
        assert_ne!(h, "0000000000000000000000000000000000000000".parse::<Sha1>().unwrap());
    }

    #[test]
    fn deserialising_validates_too() {
        assert!(serde_json::from_str::<MachineId>("\"not-a-machine\"").is_err());
        assert!(serde_json::from_str::<Sha256>(&format!("\"{}\"", "a".repeat(64))).is_ok());
    }
}
