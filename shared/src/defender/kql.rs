//! KQL from typed values: escaped literals and allow-listed query templates.
//!
//! A [`HuntingQuery`] is a query text fixed in the code (`&'static str`) with named placeholders
//! (`{sha256}`, `{device}`, `{since}`); each placeholder is replaced by a typed [`KqlValue`] rendered
//! as a KQL literal — strings double-quoted with `\`, `"`, line breaks and tabs escaped, so no input
//! (quotes, `|`, `//`, newlines, backslashes) can end the literal. Placeholders inside the template's
//! own string literals or comments are refused, every placeholder must be bound and every binding
//! used. The only way to a [`KqlQuery`] — what the hunting calls send — is [`HuntingQuery::render`].
//!
//! ```
//! use defender_shared::defender::kql::HuntingQuery;
//! let q = HuntingQuery::new("DeviceFileEvents | where SHA256 == {sha256} | take {n}")
//!     .bind("sha256", "a\"b")
//!     .bind("n", 10_i64)
//!     .render()
//!     .unwrap();
//! assert_eq!(q.as_str(), r#"DeviceFileEvents | where SHA256 == "a\"b" | take 10"#);
//! ```

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Serialize, Serializer};

/// Why a query could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KqlError {
    /// The template is malformed (a stray brace, a placeholder in a string or comment).
    #[error("bad query template at byte {pos}: {reason}")]
    Template {
        /// Byte offset in the template.
        pos: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A placeholder has no value.
    #[error("placeholder {{{0}}} is not bound")]
    Unbound(String),
    /// A value was bound to a name the template does not use.
    #[error("parameter '{0}' is not used by the template")]
    Unused(String),
    /// A value cannot be written as a KQL literal.
    #[error("parameter '{param}' cannot be a KQL literal: {reason}")]
    Value {
        /// The parameter.
        param: String,
        /// Why.
        reason: &'static str,
    },
}

/// A typed KQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum KqlValue {
    /// A string: `"..."` with escapes.
    Str(String),
    /// A `long`.
    Long(i64),
    /// A `real` (finite only).
    Real(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `datetime(2026-11-28T10:00:00Z)`.
    DateTime(DateTime<Utc>),
    /// A non-negative timespan: `7d`, `12h`, `30m`, `10s`, `250ms` (millisecond precision).
    Timespan(TimeDelta),
    /// A parenthesised list for `in (...)`: `("a", "b")`; must not be empty.
    List(Vec<KqlValue>),
}

/// Writes `s` as a double-quoted KQL string literal.
///
/// `\` → `\\`, `"` → `\"`, line feed → `\n`, carriage return → `\r`, tab → `\t`.
///
/// # Errors
/// The reason, for any other control character (no escape for it is read alike by the service and
/// the simulator).
pub fn string_literal(s: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => return Err("contains a control character"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

impl KqlValue {
    fn render(&self, out: &mut String) -> Result<(), &'static str> {
        match self {
            Self::Str(s) => out.push_str(&string_literal(s)?),
            Self::Long(n) => out.push_str(&n.to_string()),
            Self::Real(x) if x.is_finite() => out.push_str(&format!("{x:?}")),
            Self::Real(_) => return Err("not a finite number"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::DateTime(d) => {
                out.push_str("datetime(");
                out.push_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true));
                out.push(')');
            }
            Self::Timespan(t) => {
                let ms = t.num_milliseconds();
                if ms < 0 {
                    return Err("negative timespan");
                }
                let (n, unit) = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")]
                    .into_iter()
                    .find(|(u, _)| ms > 0 && ms % u == 0)
                    .map_or((ms, "ms"), |(u, unit)| (ms / u, unit));
                out.push_str(&format!("{n}{unit}"));
            }
            Self::List(vs) => {
                if vs.is_empty() {
                    return Err("empty list");
                }
                out.push('(');
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if matches!(v, Self::List(_)) {
                        return Err("nested list");
                    }
                    v.render(out)?;
                }
                out.push(')');
            }
        }
        Ok(())
    }
}

super::literal::literal_from!(KqlValue {
    String => Str,
    i64 => Long,
    f64 => Real,
    bool => Bool,
    DateTime<Utc> => DateTime,
    TimeDelta => Timespan,
});
super::literal::literal_from_text!(KqlValue);

impl<V: Into<KqlValue>> From<Vec<V>> for KqlValue {
    fn from(vs: Vec<V>) -> Self {
        Self::List(vs.into_iter().map(Into::into).collect())
    }
}

impl From<&crate::ids::UrlIndicator> for KqlValue {
    fn from(u: &crate::ids::UrlIndicator) -> Self {
        Self::Str(u.as_str().to_string())
    }
}

/// A query ready to send: only [`HuntingQuery::render`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlQuery(String);

crate::ids::text_newtype!(KqlQuery, "The query text.", text);

impl Serialize for KqlQuery {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// An allow-listed query template and its typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntingQuery {
    template: &'static str,
    params: Vec<(&'static str, KqlValue)>,
}

/// Where the template scanner is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    Code,
    Str { quote: char, verbatim: bool },
    Comment,
}

impl HuntingQuery {
    /// A template fixed in the code. `{name}` (`[a-z_][a-z0-9_]*`) is a placeholder; `{{` and `}}`
    /// are literal braces.
    pub fn new(template: &'static str) -> Self {
        Self { template, params: Vec::new() }
    }

    /// Binds `name` (replacing an earlier binding of it).
    #[must_use]
    pub fn bind(mut self, name: &'static str, value: impl Into<KqlValue>) -> Self {
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name, value.into()));
        self
    }

    /// The query with every placeholder replaced by its escaped literal.
    ///
    /// # Errors
    /// [`KqlError`]: a malformed template, a placeholder inside a string literal or comment of the
    /// template, an unbound placeholder, an unused binding, or a value with no literal form.
    pub fn render(&self) -> Result<KqlQuery, KqlError> {
        let t = self.template;
        let bytes: Vec<(usize, char)> = t.char_indices().collect();
        let mut out = String::with_capacity(t.len() + 64);
        let mut used: Vec<&str> = Vec::new();
        let mut state = Scan::Code;
        let mut i = 0;
        let at = |j: usize| bytes.get(j).map(|&(_, c)| c);
        while let Some(&(pos, c)) = bytes.get(i) {
            match state {
                Scan::Str { quote, verbatim } => {
                    out.push(c);
                    if c == '\\' && !verbatim {
                        if let Some(n) = at(i + 1) {
                            out.push(n);
                            i += 1;
                        }
                    } else if c == quote {
                        state = Scan::Code;
                    } else if c == '{' || c == '}' {
                        return Err(KqlError::Template { pos, reason: "brace inside a string literal" });
                    }
                    i += 1;
                }
                Scan::Comment => {
                    if c == '{' || c == '}' {
                        return Err(KqlError::Template { pos, reason: "brace inside a comment" });
                    }
                    out.push(c);
                    if c == '\n' {
                        state = Scan::Code;
                    }
                    i += 1;
                }
                Scan::Code => match c {
                    '"' | '\'' => {
                        state = Scan::Str { quote: c, verbatim: false };
                        out.push(c);
                        i += 1;
                    }
                    '@' if matches!(at(i + 1), Some('"' | '\'')) => {
                        state = Scan::Str { quote: at(i + 1).unwrap_or('"'), verbatim: true };
                        out.push(c);
                        out.push(at(i + 1).unwrap_or('"'));
                        i += 2;
                    }
                    '/' if at(i + 1) == Some('/') => {
                        state = Scan::Comment;
                        out.push_str("//");
                        i += 2;
                    }
                    '{' if at(i + 1) == Some('{') => {
                        out.push('{');
                        i += 2;
                    }
                    '}' if at(i + 1) == Some('}') => {
                        out.push('}');
                        i += 2;
                    }
                    '}' => return Err(KqlError::Template { pos, reason: "unmatched '}'" }),
                    '{' => {
                        let start = pos + 1;
                        let end = t[start..]
                            .find('}')
                            .map(|e| start + e)
                            .ok_or(KqlError::Template { pos, reason: "unterminated placeholder" })?;
                        let name = &t[start..end];
                        let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                        if !valid {
                            return Err(KqlError::Template { pos, reason: "bad placeholder name" });
                        }
                        let value = self
                            .params
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| v)
                            .ok_or_else(|| KqlError::Unbound(name.to_string()))?;
                        value.render(&mut out).map_err(|reason| KqlError::Value { param: name.to_string(), reason })?;
                        used.push(name);
                        // Skip past the closing brace (the name is ASCII, so byte and char counts agree).
                        i += name.len() + 2;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                },
            }
        }
        if let Some((n, _)) = self.params.iter().find(|(n, _)| !used.contains(n)) {
            return Err(KqlError::Unused((*n).to_string()));
        }
        Ok(KqlQuery(out))
    }
}

/// A few ready templates for the common hunts.
pub mod templates {
    /// Devices and processes that touched a file: binds `{sha256}` (a `Sha256`) and `{since}` (a
    /// `DateTime<Utc>`).
    pub const FILE_BY_SHA256: &str = "DeviceFileEvents | where Timestamp > {since} | where SHA256 =~ {sha256} \
        | project Timestamp, DeviceId, DeviceName, FileName, FolderPath, InitiatingProcessFileName";
    /// Processes on one device: binds `{device}` (a `Hostname`) and `{since}`.
    pub const PROCESSES_ON_DEVICE: &str = "DeviceProcessEvents | where Timestamp > {since} \
        | where DeviceName =~ {device} | project Timestamp, FileName, ProcessCommandLine, AccountName";
    /// Network connections to a remote address: binds `{ip}` (an `IpAddr`) and `{since}`.
    pub const CONNECTIONS_TO_IP: &str = "DeviceNetworkEvents | where Timestamp > {since} \
        | where RemoteIP == {ip} | project Timestamp, DeviceId, DeviceName, RemotePort, InitiatingProcessFileName";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    const HOSTILE: &[&str] = &[
        "\"",
        "'",
        "x\" | take 100000 | where \"1\" == \"1",
        "a | b",
        "line\nbreak | union *",
        "// comment",
        "trailing \\",
        "\\\" or true //",
        "@\"verbatim\"",
        "{sha256}",
        "tab\there\r\n",
        "ünïcödé ☃",
        "",
    ];

    /// Runs `text` with the simulator's independent KQL engine over one table whose `Name` column holds
    /// `row_values`; returns the names that matched.
    fn run(text: &str, row_values: &[&str]) -> Vec<String> {
        let q = tenant_sim::kql::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let rows: Vec<_> = row_values
            .iter()
            .map(|v| json!({ "Name": v, "Timestamp": "2026-11-28T10:00:00Z" }).as_object().cloned().unwrap())
            .map(|m| m.into_iter().collect())
            .collect();
        let tables = BTreeMap::from([("T".to_string(), rows)]);
        let out = q.run(&tables, Utc::now(), 1000).unwrap();
        out.rows.iter().map(|r| r.get("Name").and_then(Value::as_str).unwrap_or_default().to_string()).collect()
    }

    #[test]
    fn hostile_strings_stay_one_literal() {
        for input in HOSTILE {
            let q = HuntingQuery::new("T | where Name == {name}").bind("name", *input).render().unwrap();
            assert_eq!(q.as_str(), format!("T | where Name == {}", string_literal(input).unwrap()));
            // The rendered text parses as one comparison and matches exactly the row holding the input.
            assert_eq!(run(q.as_str(), &[input, "other", "x"]), vec![input.to_string()], "{q}");
        }
        let q = HuntingQuery::new("T | where Name in ({names})").bind("names", vec!["a\"", "b\\"]).render().unwrap();
        assert_eq!(q.as_str(), r#"T | where Name in (("a\"", "b\\"))"#);
    }

    #[test]
    fn escapes_are_exact() {
        assert_eq!(string_literal("a\"b\\c\nd").unwrap(), r#""a\"b\\c\nd""#);
        assert!(string_literal("nul\0").is_err());
        assert!(string_literal("esc\u{1b}[0m").is_err());
    }

    #[test]
    fn typed_values_render() {
        let since: DateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let sha: crate::ids::Sha256 = "A".repeat(64).parse().unwrap();
        let q =
            HuntingQuery::new(templates::FILE_BY_SHA256).bind("sha256", &sha).bind("since", since).render().unwrap();
        assert!(q.as_str().contains("Timestamp > datetime(2026-11-28T10:00:00Z)"));
        // The hash as received (not lower-cased); the template compares case-insensitively (`=~`).
        assert!(q.as_str().contains(&format!("SHA256 =~ \"{}\"", "A".repeat(64))), "{}", q.as_str());
        let q = HuntingQuery::new("T | where Timestamp > ago({w}) | take {n} | where Name != {s}")
            .bind("w", TimeDelta::days(7))
            .bind("n", 5_i64)
            .bind("s", "x")
            .render()
            .unwrap();
        assert_eq!(q.as_str(), "T | where Timestamp > ago(7d) | take 5 | where Name != \"x\"");
        let ms = HuntingQuery::new("{t}").bind("t", TimeDelta::milliseconds(1500)).render().unwrap();
        assert_eq!(ms.as_str(), "1500ms");
        assert!(matches!(
            HuntingQuery::new("{t}").bind("t", TimeDelta::seconds(-1)).render(),
            Err(KqlError::Value { .. })
        ));
        assert!(matches!(HuntingQuery::new("{x}").bind("x", f64::NAN).render(), Err(KqlError::Value { .. })));
        assert!(matches!(
            HuntingQuery::new("{x}").bind("x", Vec::<String>::new()).render(),
            Err(KqlError::Value { .. })
        ));
    }

    #[test]
    fn templates_are_checked() {
        assert_eq!(HuntingQuery::new("T | take {n}").render(), Err(KqlError::Unbound("n".into())));
        assert_eq!(
            HuntingQuery::new("T").bind("n", 1_i64).render(),
            Err(KqlError::Unused("n".into())),
            "a binding the template does not use is refused"
        );
        for bad in ["T | where Name == \"{n}\"", "T // {n}", "T | where Name == @'{n}'", "T {N}", "T {n", "T }"] {
            assert!(
                matches!(HuntingQuery::new(bad).bind("n", 1_i64).render(), Err(KqlError::Template { .. })),
                "{bad}"
            );
        }
        let braces = HuntingQuery::new("T | extend b = dynamic({{\"k\": {v}}})").bind("v", 1_i64).render().unwrap();
        assert_eq!(braces.as_str(), "T | extend b = dynamic({\"k\": 1})");
        // A template's own string may contain a quote escape and a pipe.
        let q = HuntingQuery::new("T | where Name != \"a\\\"|b\" and Name == {n}").bind("n", "x").render().unwrap();
        assert_eq!(q.as_str(), "T | where Name != \"a\\\"|b\" and Name == \"x\"");
    }
}
