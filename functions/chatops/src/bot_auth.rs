//! Inbound authentication of the Teams bot: every activity the Bot Connector sends carries a JWT in
//! `Authorization: Bearer …`, verified as Microsoft documents it ("Authentication with the Bot
//! Connector API", *Authenticate requests from the Bot Connector service to your bot*):
//!
//! 1. the OpenID metadata of the bot's cloud ([`BotCloud::metadata_url`]) names the `jwks_uri`; the
//!    keys are cached ([`KEYS_MAX_AGE`]) and fetched again when a token names an unknown `kid` — at
//!    most once per `min_refresh`, so a stream of made-up `kid`s cannot make the bot hammer the
//!    metadata endpoint;
//! 2. the token is a JWS signed with **RS256** (any other `alg`, `none` included, is refused) by a key
//!    of that set;
//! 3. `iss` is the cloud's Bot Framework issuer (`https://api.botframework.com`, or
//!    `https://api.botframework.us` in GCC High and DoD), `aud` the bot's Microsoft App ID;
//! 4. `exp` (required) and `nbf` (when present) hold with the documented 5-minute clock skew
//!    ([`CLOCK_SKEW_S`]), against an injected clock;
//! 5. the `serviceurl` claim equals the activity's `serviceUrl`;
//! 6. the signing key's `endorsements` include the activity's `channelId` (the docs: refuse with
//!    403 when a required endorsement is missing); this bot serves only `msteams`.
//!
//! Anything else is refused before the activity is read further ([`BotAuthError::status`]: 401, or
//! 403 for a missing endorsement). The activity's `serviceUrl` is where the bot will send its
//! bearer token later, so it is also held to [`ServiceUrlPolicy`]: https, and a host the Bot
//! Framework documents for Teams in that cloud (or a configured loopback stand-in).

use serde::Deserialize;
use serde_json::Value;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use tokio::sync::Mutex;

/// The documented clock skew allowed on `exp` and `nbf`.
pub const CLOCK_SKEW_S: i64 = 300;
/// Keys older than this are fetched again before use (the SDK keeps them 5 days; a day is safer).
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The only channel this bot serves.
pub const TEAMS_CHANNEL: &str = "msteams";
/// Largest metadata or key document read.
const MAX_DOC: usize = 256 * 1024;

/// The Bot Framework cloud of the bot: decides the metadata, issuer, token scope and Teams hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCloud {
    /// Commercial.
    Public,
    /// GCC (Entra and the Bot Framework in the commercial cloud, Teams on its GCC host).
    Gcc,
    /// GCC High.
    GccHigh,
    /// DoD.
    Dod,
}

impl BotCloud {
    /// The cloud of the functions' own configuration.
    pub fn of(cloud: defender_shared::cloud::Cloud) -> Self {
        use defender_shared::cloud::Cloud;
        match cloud {
            Cloud::Commercial => Self::Public,
            Cloud::Gcc => Self::Gcc,
            Cloud::GccHigh => Self::GccHigh,
            Cloud::Dod => Self::Dod,
        }
    }

    fn government(self) -> bool {
        matches!(self, Self::GccHigh | Self::Dod)
    }

    /// The Bot Connector's OpenID metadata document (channel → bot).
    pub fn metadata_url(self) -> &'static str {
        if self.government() {
            "https://login.botframework.azure.us/v1/.well-known/openidconfiguration"
        } else {
            "https://login.botframework.com/v1/.well-known/openidconfiguration"
        }
    }

    /// The `iss` of the Bot Connector's tokens.
    pub fn issuer(self) -> &'static str {
        if self.government() { "https://api.botframework.us" } else { "https://api.botframework.com" }
    }

    /// The scope of the bot's own token for the Bot Connector (bot → channel).
    pub fn connector_scope(self) -> &'static str {
        if self.government() { "https://api.botframework.us/.default" } else { "https://api.botframework.com/.default" }
    }

    /// The Teams service hosts of this cloud (Teams SDK "Service URL validation").
    pub fn teams_hosts(self) -> &'static [&'static str] {
        match self {
            Self::Public => &["smba.trafficmanager.net", "smba.onyx.prod.teams.trafficmanager.net"],
            Self::Gcc => &["smba.infra.gcc.teams.microsoft.com"],
            Self::GccHigh => &["smba.infra.gov.teams.microsoft.us"],
            Self::Dod => &["smba.infra.dod.teams.microsoft.us"],
        }
    }
}

/// Which `serviceUrl`s the bot may send its token to: https on a documented Teams host of its cloud,
/// or one of the configured prefixes (a loopback stand-in; each pins a whole origin and path start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrlPolicy {
    /// The cloud.
    pub cloud: BotCloud,
    /// Extra accepted prefixes (`CHATOPS_BOT_SERVICE_URL_PREFIXES`).
    pub extra_prefixes: Vec<String>,
}

impl ServiceUrlPolicy {
    /// Whether the bot may post to `service_url`.
    pub fn allows(&self, service_url: &str) -> bool {
        if service_url.len() > 512 {
            return false;
        }
        if self.extra_prefixes.iter().any(|p| service_url.starts_with(p.as_str())) {
            return true;
        }
        let Ok(u) = url::Url::parse(service_url) else { return false };
        u.scheme() == "https"
            && u.username().is_empty()
            && u.password().is_none()
            && u.port().is_none()
            && u.query().is_none()
            && u.fragment().is_none()
            && matches!(u.host(), Some(url::Host::Domain(h)) if self.cloud.teams_hosts().iter().any(|t| h.eq_ignore_ascii_case(t)))
    }
}

/// Why an activity's token is refused. Messages name the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotAuthError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, or a header that cannot be read.
    #[error("malformed token")]
    Malformed,
    /// An algorithm other than RS256.
    #[error("algorithm {0} is not accepted (RS256 only)")]
    Algorithm(String),
    /// No key with the token's `kid`, even after a refresh.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature, issuer or audience wrong.
    #[error("token refused: {0}")]
    Invalid(String),
    /// Past `exp` + skew.
    #[error("token expired")]
    Expired,
    /// Before `nbf` − skew.
    #[error("token not yet valid")]
    NotYetValid,
    /// The `serviceurl` claim is missing or differs from the activity's.
    #[error("the serviceurl claim does not match the activity")]
    ServiceUrl,
    /// The activity's `serviceUrl` is not a Teams host of the bot's cloud.
    #[error("the activity's serviceUrl is not an allowed Teams service host")]
    ServiceHost,
    /// The signing key does not endorse the activity's channel.
    #[error("the signing key does not endorse channel '{0}'")]
    Endorsement(String),
    /// The keys could not be fetched (the bot cannot verify anything now).
    #[error("the Bot Framework keys cannot be fetched: {0}")]
    Keys(String),
}

impl BotAuthError {
    /// The HTTP status: 403 for a missing endorsement (as documented), 503 when the keys cannot be
    /// fetched, 401 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::Endorsement(_) => 403,
            Self::Keys(_) => 503,
            _ => 401,
        }
    }
}

/// The verified token's claims the bot uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BotClaims {
    /// The bot's app id.
    pub aud: String,
    /// The Bot Framework issuer.
    pub iss: String,
    /// Expiry.
    pub exp: i64,
    /// The service URL the token was issued for.
    #[serde(default)]
    pub serviceurl: Option<String>,
}

/// One cached key.
#[derive(Clone)]
struct Key {
    decoding: jsonwebtoken::DecodingKey,
    endorsements: Vec<String>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Key>,
    fetched: Option<Instant>,
}

/// The verifier of one bot (one app id, one cloud).
pub struct BotAuth {
    http: reqwest::Client,
    app_id: String,
    issuer: String,
    metadata_url: String,
    min_refresh: Duration,
    /// The `serviceUrl`s the bot may post to.
    pub service_urls: ServiceUrlPolicy,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for BotAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotAuth").field("app_id", &self.app_id).field("metadata_url", &self.metadata_url).finish()
    }
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
    #[serde(default)]
    endorsements: Vec<String>,
}

#[derive(Deserialize)]
struct RawKeys {
    keys: Vec<RawKey>,
}

impl BotAuth {
    /// A verifier for the bot `app_id` in `cloud`, reading the metadata at `metadata_url` (the
    /// cloud's, or a stand-in's) through `http`.
    pub fn new(
        http: reqwest::Client,
        app_id: impl Into<String>,
        cloud: BotCloud,
        metadata_url: Option<String>,
        service_urls: ServiceUrlPolicy,
        min_refresh: Duration,
    ) -> Self {
        Self {
            http,
            app_id: app_id.into(),
            issuer: cloud.issuer().to_string(),
            metadata_url: metadata_url.unwrap_or_else(|| cloud.metadata_url().to_string()),
            min_refresh,
            service_urls,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The bot's app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    async fn get_json(&self, url: &str) -> Result<Value, BotAuthError> {
        let parsed = url::Url::parse(url).map_err(|e| BotAuthError::Keys(format!("bad URL: {e}")))?;
        let loopback = matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || parsed.host_str() == Some("localhost");
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(BotAuthError::Keys("the metadata and keys must be served over https".into()));
        }
        let r = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| BotAuthError::Keys(e.without_url().to_string()))?;
        if !r.status().is_success() {
            return Err(BotAuthError::Keys(format!("answered {}", r.status().as_u16())));
        }
        let bytes = r.bytes().await.map_err(|e| BotAuthError::Keys(e.without_url().to_string()))?;
        if bytes.len() > MAX_DOC {
            return Err(BotAuthError::Keys("document too large".into()));
        }
        serde_json::from_slice(&bytes).map_err(|e| BotAuthError::Keys(format!("not JSON: {e}")))
    }

    /// Metadata → `jwks_uri` → the RSA keys, with their endorsements.
    async fn fetch_keys(&self) -> Result<HashMap<String, Key>, BotAuthError> {
        let meta: Metadata = serde_json::from_value(self.get_json(&self.metadata_url).await?)
            .map_err(|e| BotAuthError::Keys(format!("metadata: {e}")))?;
        if !meta.id_token_signing_alg_values_supported.is_empty()
            && !meta.id_token_signing_alg_values_supported.iter().any(|a| a == "RS256")
        {
            return Err(BotAuthError::Keys("the metadata offers no RS256".into()));
        }
        let raw: RawKeys = serde_json::from_value(self.get_json(&meta.jwks_uri).await?)
            .map_err(|e| BotAuthError::Keys(format!("keys: {e}")))?;
        let mut keys = HashMap::new();
        for k in raw.keys {
            if k.kty != "RSA" || k.kid.is_empty() {
                continue;
            }
            if let Ok(decoding) = jsonwebtoken::DecodingKey::from_rsa_components(&k.n, &k.e) {
                keys.insert(k.kid, Key { decoding, endorsements: k.endorsements });
            }
        }
        if keys.is_empty() {
            return Err(BotAuthError::Keys("no RSA signing key published".into()));
        }
        Ok(keys)
    }

    /// The key `kid`: from the cache while it is fresh; fetched again when the cache is old, or when
    /// the kid is unknown and the last fetch is at least `min_refresh` ago (single flight: the lock
    /// is held across the fetch).
    async fn key(&self, kid: &str) -> Result<Key, BotAuthError> {
        let mut cache = self.cache.lock().await;
        let age = cache.fetched.map(|t| t.elapsed());
        let stale = age.is_none_or(|a| a >= KEYS_MAX_AGE);
        let unknown = !cache.keys.contains_key(kid);
        let may_refresh = age.is_none_or(|a| a >= self.min_refresh);
        if stale || (unknown && may_refresh) {
            match self.fetch_keys().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                // A failed refresh of a cache that still holds the key is not fatal.
                Err(e) if cache.keys.contains_key(kid) => {
                    tracing::warn!(error = %e, "Bot Framework keys not refreshed; using the cached ones");
                }
                Err(e) => return Err(e),
            }
        } else if unknown {
            tracing::warn!(kid, "unknown Bot Framework key id; refresh rate-limited");
        }
        cache.keys.get(kid).cloned().ok_or(BotAuthError::UnknownKey)
    }

    /// Verifies an activity's `Authorization` header at `now` (unix seconds) against the activity's
    /// `serviceUrl` and `channelId`.
    ///
    /// # Errors
    /// [`BotAuthError`]: the request must be refused with [`BotAuthError::status`].
    pub async fn verify(
        &self,
        authorization: Option<&str>,
        service_url: &str,
        channel_id: &str,
        now: i64,
    ) -> Result<BotClaims, BotAuthError> {
        let token = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(BotAuthError::Missing)?;
        if token.len() > 16 * 1024 {
            return Err(BotAuthError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| BotAuthError::Malformed)?;
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            return Err(BotAuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(BotAuthError::Malformed)?;
        let key = self.key(&kid).await?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // Time is checked below against the injected clock, with the documented skew.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_audience(&[self.app_id.as_str()]);
        let data = jsonwebtoken::decode::<Value>(token, &key.decoding, &v)
            .map_err(|e| BotAuthError::Invalid(format!("{:?}", e.kind())))?;
        let exp = data.claims.get("exp").and_then(Value::as_i64).ok_or(BotAuthError::Malformed)?;
        if now > exp.saturating_add(CLOCK_SKEW_S) {
            return Err(BotAuthError::Expired);
        }
        if let Some(nbf) = data.claims.get("nbf") {
            let nbf = nbf.as_i64().ok_or(BotAuthError::Malformed)?;
            if now < nbf.saturating_sub(CLOCK_SKEW_S) {
                return Err(BotAuthError::NotYetValid);
            }
        }
        let claims: BotClaims = serde_json::from_value(data.claims).map_err(|_| BotAuthError::Malformed)?;
        if claims.serviceurl.as_deref() != Some(service_url) {
            return Err(BotAuthError::ServiceUrl);
        }
        if channel_id != TEAMS_CHANNEL || !key.endorsements.iter().any(|e| e == channel_id) {
            return Err(BotAuthError::Endorsement(channel_id.chars().take(32).collect()));
        }
        if !self.service_urls.allows(service_url) {
            return Err(BotAuthError::ServiceHost);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_are_held_to_the_clouds_teams_hosts() {
        let p = ServiceUrlPolicy { cloud: BotCloud::Public, extra_prefixes: vec!["http://127.0.0.1:9/smba/".into()] };
        assert!(p.allows("https://smba.trafficmanager.net/amer/"));
        assert!(p.allows("https://smba.trafficmanager.net/emea/"));
        assert!(p.allows("http://127.0.0.1:9/smba/amer/"));
        for bad in [
            "http://smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net.evil.example/amer/",
            "https://evil.example/smba.trafficmanager.net/",
            "https://user@smba.trafficmanager.net/amer/",
            "https://smba.trafficmanager.net:8443/amer/",
            "https://smba.infra.gov.teams.microsoft.us/",
            "http://127.0.0.1:10/smba/",
            "https://169.254.169.254/latest/",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        let gov = ServiceUrlPolicy { cloud: BotCloud::GccHigh, extra_prefixes: vec![] };
        assert!(gov.allows("https://smba.infra.gov.teams.microsoft.us/"));
        assert!(!gov.allows("https://smba.trafficmanager.net/amer/"));
        assert_eq!(BotCloud::Dod.issuer(), "https://api.botframework.us");
        assert_eq!(BotCloud::Gcc.metadata_url(), "https://login.botframework.com/v1/.well-known/openidconfiguration");
        assert_eq!(BotCloud::GccHigh.connector_scope(), "https://api.botframework.us/.default");
    }
}
