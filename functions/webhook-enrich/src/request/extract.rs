//! Indicators found in a free-form alert payload (whatever a SIEM sends).
//!
//! The walk is conservative, so a payload never floods Defender with noise:
//! - a string value that *is* an indicator (the whole value) is taken, its kind decided by the value
//!   (64/32 hex → SHA-256/MD5; an IP; an http(s) URL) or, for ambiguous shapes, by the key it sits
//!   under (40 hex under a `machine`/`device` key → machine id, otherwise SHA-1; a dotted name under a
//!   `host`/`computer`/`device` key → host name, under a `domain` key → domain; under a `user`/`account`
//!   key → user);
//! - inside longer text only hashes, IPs and URLs are picked out (whitespace/punctuation separated);
//! - each extracted item records the JSON path it came from, rooted at `$` as infra/openapi.yaml
//!   documents: `$.alert.entities[2].ip`; a key that is not a plain name is quoted
//!   (`$.alert['user name']`, with `'` and `\\` escaped), as RFC 9535 writes them.
//!
//! Extracted values go through the same validation as explicit ones.

use super::{Indicator, Item, Kind, MAX_INDICATORS};
use serde_json::Value;
use std::collections::HashSet;

/// Longest JSON path recorded as an item's `source`, bytes; a longer one is cut and ends in `…`.
pub const MAX_SOURCE: usize = 256;

/// Extracts the distinct indicators from an alert payload, in document order, stopping as soon as
/// there are more than [`MAX_INDICATORS`] (the request is then refused as too many anyway): a
/// payload of any size costs at most `MAX_INDICATORS + 1` recorded items. Duplicates are skipped
/// before anything is copied, and the JSON path is rendered only for an item that is kept, at most
/// [`MAX_SOURCE`] bytes of it.
pub fn indicators(alert: &Value) -> Vec<Item> {
    let mut w = Walker { keys: vec!["alert"], segs: Vec::new(), out: Vec::new(), seen: HashSet::new() };
    w.walk(alert);
    w.out
}

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn key_has(key: &str, words: &[&str]) -> bool {
    let k = key.to_ascii_lowercase();
    words.iter().any(|w| k.contains(w))
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

/// A key written `.name` in a JSON path (RFC 9535 member-name shorthand); control characters and
/// other ASCII are quoted instead.
fn is_shorthand(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (!c.is_ascii() && !c.is_control()))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_control()))
}

/// One step of the path below `alert`.
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The walk's state: the path as a stack (rendered only for kept items), the items, and what was
/// already taken (by the same key [`super`] de-duplicates with).
struct Walker<'a> {
    /// `alert` and the object keys on the path (what decides an ambiguous value's kind).
    keys: Vec<&'a str>,
    segs: Vec<Seg<'a>>,
    out: Vec<Item>,
    seen: HashSet<String>,
}

impl<'a> Walker<'a> {
    fn full(&self) -> bool {
        self.out.len() > MAX_INDICATORS
    }

    /// The key and its parent's key (`device.id`).
    fn hint(&self) -> String {
        let key = if self.keys.len() > 1 { self.keys.last().copied().unwrap_or_default() } else { "" };
        let parent = self.keys.len().checked_sub(2).and_then(|i| self.keys.get(i)).copied().unwrap_or_default();
        format!("{parent}.{key}")
    }

    /// The JSON path of the value being walked: `$.alert` and each step, `.name` for a plain name
    /// (RFC 9535's member-name shorthand: a letter, `_` or non-ASCII, then those or digits),
    /// `['name']` for any other key, `[i]` for an index.
    fn path(&self) -> String {
        use std::fmt::Write;
        let mut p = String::from("$.alert");
        for seg in &self.segs {
            if p.len() > MAX_SOURCE {
                break;
            }
            let _ = match seg {
                Seg::Key(k) if is_shorthand(k) => write!(p, ".{k}"),
                Seg::Key(k) => {
                    p.push_str("['");
                    for c in k.chars() {
                        match c {
                            '\'' | '\\' => {
                                p.push('\\');
                                p.push(c);
                            }
                            c if c.is_control() => {
                                let _ = write!(p, "\\u{:04x}", u32::from(c));
                            }
                            c => p.push(c),
                        }
                    }
                    p.push_str("']");
                    Ok(())
                }
                Seg::Index(i) => write!(p, "[{i}]"),
            };
        }
        if p.len() > MAX_SOURCE {
            let mut cut = MAX_SOURCE;
            while !p.is_char_boundary(cut) {
                cut -= 1;
            }
            p.truncate(cut);
            p.push('…');
        }
        p
    }

    fn push(&mut self, kind: Kind, value: &str) {
        if self.full() {
            return;
        }
        let parsed = Indicator::parse(kind, value).map_err(|e| e.to_string());
        let key = match &parsed {
            Ok(ind) => format!("{kind:?}:{}", ind.value()),
            Err(_) => format!("{kind:?}!{value}"),
        };
        if self.seen.insert(key) {
            let source = self.path();
            self.out.push(Item { kind, input: value.to_string(), source, parsed });
        }
    }

    fn scan_text(&mut self, s: &str) {
        for token in s.split(|c: char| c.is_whitespace() || "\"'<>()[]{},;|".contains(c)) {
            if self.full() {
                return;
            }
            let t = token.trim_end_matches(['.', ':']);
            if is_hex(t, 64) {
                self.push(Kind::Sha256, t);
            } else if is_hex(t, 40) {
                self.push(Kind::Sha1, t);
            } else if is_hex(t, 32) {
                self.push(Kind::Md5, t);
            } else if t.contains('.') && t.parse::<std::net::Ipv4Addr>().is_ok() {
                self.push(Kind::Ip, t);
            } else if t.starts_with("http://") || t.starts_with("https://") {
                self.push(Kind::Url, t);
            }
        }
    }

    fn walk(&mut self, v: &'a Value) {
        if self.full() {
            return;
        }
        match v {
            Value::String(s) => match classify_whole(&self.hint(), s) {
                Some(kind) => self.push(kind, s.trim()),
                None => self.scan_text(s),
            },
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.segs.push(Seg::Index(i));
                    self.walk(x);
                    self.segs.pop();
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    self.segs.push(Seg::Key(k));
                    self.keys.push(k);
                    self.walk(x);
                    self.keys.pop();
                    self.segs.pop();
                }
            }
            _ => {}
        }
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
        assert_eq!(find(Kind::MachineId), vec![("abcdef0123456789abcdef0123456789abcdef01", "$.alert.device.id")]);
        assert_eq!(find(Kind::Hostname), vec![("ws-fin-014.contoso.com", "$.alert.device.hostName")]);
        assert_eq!(find(Kind::Sha1), vec![("87662bc3d60e4200ceaf7aae249d1c343f4b83c9", "$.alert.file.sha1")]);
        assert_eq!(find(Kind::Md5).len(), 1);
        assert_eq!(find(Kind::Sha256).len(), 1);
        assert_eq!(find(Kind::Url), vec![("https://cdn.evil.example/a.ps1", "$.alert.description")]);
        let ips: Vec<&str> = find(Kind::Ip).into_iter().map(|(v, _)| v).collect();
        assert_eq!(ips, vec!["45.137.21.9", "10.1.2.3"]);
        assert_eq!(find(Kind::Domain), vec![("evil.example", "$.alert.entities[1].domain")]);
        assert_eq!(find(Kind::User), vec![("alice", "$.alert.entities[2].userName")]);
        assert!(items.iter().all(|i| i.parsed.is_ok()), "{items:?}");
        assert!(indicators(&json!({"title": "nothing here", "n": 1})).is_empty());
    }

    #[test]
    fn a_huge_payload_costs_at_most_the_cap_and_no_path_copy_per_token() {
        // A 128 KB key above a text of 50,000 distinct IPs: the walk stops just past the cap, and no
        // recorded path is longer than MAX_SOURCE (plus the ellipsis).
        let key = "k".repeat(128 * 1024);
        let text: Vec<String> =
            (0..50_000).map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)).collect();
        let items = indicators(&json!({ key.clone(): { "notes": text.join(" ") } }));
        assert_eq!(items.len(), MAX_INDICATORS + 1);
        let recorded: usize = items.iter().map(|i| i.source.len()).sum();
        assert!(recorded <= (MAX_INDICATORS + 1) * (MAX_SOURCE + 3), "{recorded} bytes of paths");
        assert!(
            items[0].source.starts_with("$.alert.kkk") && items[0].source.ends_with('…'),
            "{}",
            &items[0].source[..20]
        );
        // The same indicator repeated 100,000 times is one item, under a long path too.
        let same = vec!["45.137.21.9"; 100_000].join(" ");
        let items = indicators(&json!({ key: same }));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].input, "45.137.21.9");
        // Short paths are kept whole.
        let items = indicators(&json!({"entities": [{"ip": "10.1.2.3"}]}));
        assert_eq!(items[0].source, "$.alert.entities[0].ip");
        // Keys that are not plain names are quoted, with `'` and `\\` escaped.
        let items = indicators(&json!({"it's \\ x": {"0ip": "10.1.2.3"}, "caf\u{e9}": [{"user_name": "bob"}]}));
        let items2 = indicators(&json!({"a\nb": {"sha1": "87662bc3d60e4200ceaf7aae249d1c343f4b83c9"}}));
        let mut sources: Vec<&str> = items.iter().chain(&items2).map(|i| i.source.as_str()).collect();
        sources.sort_unstable();
        assert_eq!(
            sources,
            vec!["$.alert.caf\u{e9}[0].user_name", r"$.alert['a\u000ab'].sha1", r"$.alert['it\'s \\ x']['0ip']"]
        );
    }
}
