//! Readers for the functions' own settings (webhook-enrich's, the export's, chat-ops'), over the same
//! lookup [`crate::config::Config::from_lookup`] takes, with the one error type they all report:
//! [`SettingError`], the variable and what is wrong. As in [`crate::config`], a value that is empty
//! (or only whitespace) counts as unset.

use std::{ops::RangeInclusive, time::Duration};

/// A function's setting is wrong: the variable and what is wrong (never a secret value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct SettingError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl SettingError {
    /// `var` is wrong because of `reason`.
    pub fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self { var, reason: reason.into() }
    }
}

/// `var`'s value, trimmed; `None` when unset or blank.
pub fn nonempty(get: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    get(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A comma-separated list (items trimmed, empty items dropped); `default` when unset or blank.
pub fn list(raw: Option<String>, default: &[&str]) -> Vec<String> {
    match raw.filter(|r| !r.trim().is_empty()) {
        Some(r) => r.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// A comma-separated list of vault secret names ([`crate::vault::is_secret_name`]); `default` when
/// unset or blank.
///
/// # Errors
/// The first item that is not a secret name.
pub fn secret_names(var: &'static str, raw: Option<String>, default: &[&str]) -> Result<Vec<String>, SettingError> {
    let names = list(raw, default);
    match names.iter().find(|n| !crate::vault::is_secret_name(n)) {
        Some(bad) => Err(SettingError::new(var, format!("'{bad}' is not {}", crate::vault::SECRET_NAME_RULE))),
        None => Ok(names),
    }
}

/// A whole number; `default` when unset or blank.
///
/// # Errors
/// Anything else.
pub fn number(get: &impl Fn(&str) -> Option<String>, var: &'static str, default: u64) -> Result<u64, SettingError> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| SettingError::new(var, format!("'{v}' is not a whole number"))),
    }
}

/// Whole seconds within `range`; `default` when unset.
///
/// # Errors
/// Anything else (a blank value too: the variable is set to nothing).
pub fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    range: RangeInclusive<u64>,
    default: u64,
) -> Result<Duration, SettingError> {
    match get(var) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => {
            v.trim().parse::<u64>().ok().filter(|s| range.contains(s)).map(Duration::from_secs).ok_or_else(|| {
                SettingError::new(var, format!("'{v}' is not {}-{} seconds", range.start(), range.end()))
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn lists_numbers_and_seconds_read_blank_as_unset_and_name_the_variable() {
        let get = env(&[("L", " a, ,b "), ("B", "  "), ("N", "12"), ("X", "12s"), ("S", "901")]);
        assert_eq!(list(get("L"), &["d"]), ["a", "b"]);
        assert_eq!(list(get("B"), &["d"]), ["d"]);
        assert_eq!(nonempty(&get, "B"), None);
        assert_eq!(number(&get, "N", 1).unwrap(), 12);
        assert_eq!(number(&get, "B", 7).unwrap(), 7);
        assert_eq!(number(&get, "X", 1).unwrap_err().to_string(), "X: '12s' is not a whole number");
        assert_eq!(seconds(&get, "U", 0..=900, 30).unwrap(), Duration::from_secs(30));
        assert_eq!(seconds(&get, "S", 0..=900, 30).unwrap_err().var, "S");
    }

    #[test]
    fn secret_names_follow_the_vault_rule() {
        assert_eq!(secret_names("V", Some("a-1,b2".into()), &[]).unwrap(), ["a-1", "b2"]);
        assert_eq!(secret_names("V", None, &["dflt"]).unwrap(), ["dflt"]);
        let e = secret_names("V", Some("ok,not_ok".into()), &[]).unwrap_err();
        assert_eq!(e.var, "V");
        assert!(e.reason.starts_with("'not_ok' is not a Key Vault secret name"), "{e}");
        assert!(secret_names("V", Some("a".repeat(128)), &[]).is_err());
    }
}
