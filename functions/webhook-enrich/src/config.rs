//! The function's own settings (the shared ones — tenant, credential, vault, cloud — are read by
//! `defender_shared::config`). Read once at cold start from a lookup, never from `std::env` elsewhere.

use defender_shared::settings::{SettingError, secret_names};

/// Settings of the webhook-enrichment function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichConfig {
    /// Vault secret names of the Standard Webhooks secrets (`whsec_...`), current first.
    pub standard_secret_names: Vec<String>,
    /// Vault secret names of GitHub-style secrets; empty disables that weaker scheme.
    pub github_secret_names: Vec<String>,
    /// Where to POST each result as well (https; plain http only to a loopback host, for local runs).
    pub callback_url: Option<url::Url>,
    /// Vault secret name of the outbound `whsec_` key the callback is signed with — its own key, never
    /// an inbound one, so a callback receiver cannot forge requests to this function.
    pub callback_secret_name: String,
    /// Allow-listed hunting queries to run per matching indicator.
    pub hunting: Vec<&'static crate::hunting::NamedQuery>,
}

/// A setting is wrong (the variable and why).
pub type EnrichConfigError = SettingError;

fn hunting(raw: Option<String>) -> Result<Vec<&'static crate::hunting::NamedQuery>, EnrichConfigError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(Vec::new()) };
    raw.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            crate::hunting::find(n).ok_or_else(|| {
                let known: Vec<&str> = crate::hunting::QUERIES.iter().map(|q| q.name).collect();
                EnrichConfigError {
                    var: "ENRICH_HUNTING_QUERIES",
                    reason: format!("'{n}' is not an allow-listed query ({})", known.join(", ")),
                }
            })
        })
        .collect()
}

fn callback(raw: Option<String>) -> Result<Option<url::Url>, EnrichConfigError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else { return Ok(None) };
    let bad = |reason: String| EnrichConfigError { var: "WEBHOOK_CALLBACK_URL", reason };
    let u = url::Url::parse(raw.trim()).map_err(|e| bad(format!("'{raw}' is not a URL: {e}")))?;
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match u.scheme() {
        "https" => Ok(Some(u)),
        "http" if loopback => Ok(Some(u)),
        _ => Err(bad(format!("expected an https URL (http only to a loopback host), got '{raw}'"))),
    }
}

/// Default vault secret name of the callback's outbound key.
pub const DEFAULT_CALLBACK_SECRET_NAME: &str = "webhook-callback-secret";

fn callback_secret_name(raw: Option<String>) -> Result<String, EnrichConfigError> {
    let list = secret_names("WEBHOOK_CALLBACK_SECRET_NAME", raw, &[DEFAULT_CALLBACK_SECRET_NAME])?;
    match list.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(EnrichConfigError {
            var: "WEBHOOK_CALLBACK_SECRET_NAME",
            reason: "one vault secret name (the callback is signed with one key)".into(),
        }),
    }
}

impl EnrichConfig {
    /// Reads `WEBHOOK_SECRET_NAMES` (default `webhook-secret`), `WEBHOOK_GITHUB_SECRET_NAMES`
    /// (default: none — the GitHub scheme is off) and `WEBHOOK_CALLBACK_URL` (default: none).
    ///
    /// # Errors
    /// A name that is not a valid vault secret name, named with its variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, EnrichConfigError> {
        Ok(Self {
            standard_secret_names: secret_names(
                "WEBHOOK_SECRET_NAMES",
                get("WEBHOOK_SECRET_NAMES"),
                &["webhook-secret"],
            )?,
            github_secret_names: secret_names("WEBHOOK_GITHUB_SECRET_NAMES", get("WEBHOOK_GITHUB_SECRET_NAMES"), &[])?,
            callback_url: callback(get("WEBHOOK_CALLBACK_URL"))?,
            callback_secret_name: callback_secret_name(get("WEBHOOK_CALLBACK_SECRET_NAME"))?,
            hunting: hunting(get("ENRICH_HUNTING_QUERIES"))?,
        })
        .and_then(Self::distinct_keys)
    }

    /// The callback's key must not be one of the inbound keys.
    fn distinct_keys(self) -> Result<Self, EnrichConfigError> {
        if self.standard_secret_names.contains(&self.callback_secret_name)
            || self.github_secret_names.contains(&self.callback_secret_name)
        {
            return Err(EnrichConfigError {
                var: "WEBHOOK_CALLBACK_SECRET_NAME",
                reason: format!(
                    "'{}' is also an inbound signing secret; the callback needs a key of its own",
                    self.callback_secret_name
                ),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lists_and_errors() {
        let c = EnrichConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.standard_secret_names, vec!["webhook-secret"]);
        assert!(c.github_secret_names.is_empty());
        let c = EnrichConfig::from_lookup(|k| (k == "WEBHOOK_SECRET_NAMES").then(|| "a-next, a".to_string())).unwrap();
        assert_eq!(c.standard_secret_names, vec!["a-next", "a"]);
        let e = EnrichConfig::from_lookup(|k| (k == "WEBHOOK_GITHUB_SECRET_NAMES").then(|| "bad name".to_string()))
            .unwrap_err();
        assert_eq!(e.var, "WEBHOOK_GITHUB_SECRET_NAMES");
        let cb = |v: &str| EnrichConfig::from_lookup(|k| (k == "WEBHOOK_CALLBACK_URL").then(|| v.to_string()));
        assert_eq!(
            cb("https://soar.example/hook").unwrap().callback_url.unwrap().as_str(),
            "https://soar.example/hook"
        );
        assert!(cb("http://127.0.0.1:9/x").is_ok());
        let h = |v: &str| EnrichConfig::from_lookup(|k| (k == "ENRICH_HUNTING_QUERIES").then(|| v.to_string()));
        assert_eq!(h("network_by_ip, process_by_sha256").unwrap().hunting.len(), 2);
        assert!(h("anything | take 1").unwrap_err().reason.contains("not an allow-listed query"));
        assert_eq!(cb("http://soar.example/hook").unwrap_err().var, "WEBHOOK_CALLBACK_URL");
        // The callback's key is its own: default name, and never an inbound key.
        assert_eq!(EnrichConfig::from_lookup(|_| None).unwrap().callback_secret_name, "webhook-callback-secret");
        let k = |v: &str| EnrichConfig::from_lookup(|k| (k == "WEBHOOK_CALLBACK_SECRET_NAME").then(|| v.to_string()));
        assert_eq!(k("soar-out").unwrap().callback_secret_name, "soar-out");
        assert!(k("webhook-secret").unwrap_err().reason.contains("also an inbound signing secret"));
        assert_eq!(k("a,b").unwrap_err().var, "WEBHOOK_CALLBACK_SECRET_NAME");
    }
}
