//! Indicators found in a free-form alert payload (whatever a SIEM sends).
//!
//! The walk is conservative, so a payload never floods Defender with noise:
//! - a string value that *is* an indicator (the whole value) is taken, its kind decided by the value
//!   (64/32 hex → SHA-256/MD5; an IP; an http(s) URL) or, for ambiguous shapes, by the key it sits
//!   under (40 hex under a `machine`/`device` key → machine id, otherwise SHA-1; a dotted name under a
//!   `host`/`computer`/`device` key → host name, under a `domain` key → domain; under a `user`/`account`
//!   key → user);
//! - inside longer text only hashes, IPs and URLs are picked out (whitespace/punctuation separated);
//! - each extracted item records the JSON path it came from (`alert.entities[2].ip`).
//!
//! Extracted values go through the same validation as explicit ones.

use crate::request::{Indicator, Item, Kind};
use serde_json::Value;

/// Extracts indicators from an alert payload.
pub fn indicators(alert: &Value) -> Vec<Item> {
    let mut out = Vec::new();
    walk(alert, "alert", "", &mut out);
    out
}

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn key_has(key: &str, words: &[&str]) -> bool {
    let k = key.to_ascii_lowercase();
    words.iter().any(|w| k.contains(w))
}

fn push(out: &mut Vec<Item>, kind: Kind, value: &str, path: &str) {
    let parsed = Indicator::parse(kind, value).map_err(|e| e.to_string());
    out.push(Item { kind, input: value.to_string(), source: path.to_string(), parsed });
}

fn classify_whole(key: &str, s: &str) -> Option<Kind> {
    let t = s.trim();
    if t.is_empty() || t.len() > 2048 {
        return None;
    }
    if is_hex(t, 64) {
        return Some(Kind::Sha256);
    }
    if is_hex(t, 32) {
        return Some(Kind::Md5);
    }
    if is_hex(t, 40) {
        return Some(if key_has(key, &["machine", "device"]) { Kind::MachineId } else { Kind::Sha1 });
    }
    if t.parse::<std::net::IpAddr>().is_ok() {
        return Some(Kind::Ip);
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        return Some(Kind::Url);
    }
    if key_has(key, &["host", "computer", "devicename", "dnsname"]) && !t.contains(' ') {
        return Some(Kind::Hostname);
    }
    if key_has(key, &["domain"]) && t.contains('.') && !t.contains(' ') {
        return Some(Kind::Domain);
    }
    if key_has(key, &["user", "account"]) && !t.contains(' ') && !key_has(key, &["agent"]) {
        return Some(Kind::User);
    }
    None
}

fn scan_text(s: &str, path: &str, out: &mut Vec<Item>) {
    for token in s.split(|c: char| c.is_whitespace() || "\"'<>()[]{},;|".contains(c)) {
        let t = token.trim_end_matches(['.', ':']);
        if is_hex(t, 64) {
            push(out, Kind::Sha256, t, path);
        } else if is_hex(t, 40) {
            push(out, Kind::Sha1, t, path);
        } else if is_hex(t, 32) {
            push(out, Kind::Md5, t, path);
        } else if t.contains('.') && t.parse::<std::net::Ipv4Addr>().is_ok() {
            push(out, Kind::Ip, t, path);
        } else if t.starts_with("http://") || t.starts_with("https://") {
            push(out, Kind::Url, t, path);
        }
    }
}

/// The key and its parent's key (`device.id`), which is what decides an ambiguous value's kind.
fn hint(path: &str, key: &str) -> String {
    let segments: Vec<&str> = path.split(['.', '[']).filter(|s| !s.ends_with(']')).collect();
    let parent = segments.len().checked_sub(2).and_then(|i| segments.get(i)).copied().unwrap_or_default();
    format!("{parent}.{key}")
}

fn walk(v: &Value, path: &str, key: &str, out: &mut Vec<Item>) {
    match v {
        Value::String(s) => match classify_whole(&hint(path, key), s) {
            Some(kind) => push(out, kind, s.trim(), path),
            None => scan_text(s, path, out),
        },
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{path}[{i}]"), key, out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                walk(x, &format!("{path}.{k}"), k, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_indicators_by_value_and_by_key_with_their_paths() {
        let alert = json!({
            "title": "Beacon from ws-fin-014",
            "description": "powershell downloaded from https://cdn.evil.example/a.ps1 and talked to 45.137.21.9; dropped e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.",
            "device": {"id": "abcdef0123456789abcdef0123456789abcdef01", "hostName": "ws-fin-014.contoso.com"},
            "file": {"sha1": "87662bc3d60e4200ceaf7aae249d1c343f4b83c9", "md5": "d41d8cd98f00b204e9800998ecf8427e"},
            "entities": [{"ip": "10.1.2.3"}, {"domain": "evil.example"}, {"userName": "alice"}],
            "severity": "High", "count": 3
        });
        let items = indicators(&alert);
        let find = |k: Kind| {
            items.iter().filter(|i| i.kind == k).map(|i| (i.input.as_str(), i.source.as_str())).collect::<Vec<_>>()
        };
        assert_eq!(find(Kind::MachineId), vec![("abcdef0123456789abcdef0123456789abcdef01", "alert.device.id")]);
        assert_eq!(find(Kind::Hostname), vec![("ws-fin-014.contoso.com", "alert.device.hostName")]);
        assert_eq!(find(Kind::Sha1), vec![("87662bc3d60e4200ceaf7aae249d1c343f4b83c9", "alert.file.sha1")]);
        assert_eq!(find(Kind::Md5).len(), 1);
        assert_eq!(find(Kind::Sha256).len(), 1);
        assert_eq!(find(Kind::Url), vec![("https://cdn.evil.example/a.ps1", "alert.description")]);
        let ips: Vec<&str> = find(Kind::Ip).into_iter().map(|(v, _)| v).collect();
        assert_eq!(ips, vec!["45.137.21.9", "10.1.2.3"]);
        assert_eq!(find(Kind::Domain), vec![("evil.example", "alert.entities[1].domain")]);
        assert_eq!(find(Kind::User), vec![("alice", "alert.entities[2].userName")]);
        assert!(items.iter().all(|i| i.parsed.is_ok()), "{items:?}");
        assert!(indicators(&json!({"title": "nothing here", "n": 1})).is_empty());
    }
}
