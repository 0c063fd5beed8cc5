//! Why a token could not be had, and what to fix.
//!
//! Entra's refusals keep what Entra said (the OAuth `error`, the AADSTS code list, the trace and
//! correlation ids) plus who asked (tenant, app, scope, which credential), and `Display` turns the
//! AADSTS code into the fix: "update secret 'x' in the vault", "grant admin consent", "wrong cloud?".
//! No error carries a secret, an assertion or a token.

use crate::vault::VaultError;
use serde::Deserialize;
use std::fmt;

/// Which credential a request used, by name only (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialRef {
    /// A client secret; `vault` is the secret's name when it lives in the vault.
    ClientSecret {
        /// Vault secret name, or `None` for inline configuration.
        vault: Option<String>,
    },
    /// A certificate; `vault` is the secret's name when it lives in the vault.
    Certificate {
        /// Vault secret name, or `None` for inline configuration.
        vault: Option<String>,
    },
    /// A federated assertion from this source (a file path, "aws sts", ...).
    Federated {
        /// Where the assertion came from.
        source: String,
    },
    /// A user's refresh token in this vault secret.
    User {
        /// The vault secret holding the refresh token.
        refresh_token_secret: String,
    },
    /// The device-code sign-in itself.
    DeviceCode,
}

/// What an Entra refusal means, decided from its AADSTS codes and OAuth error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntraCause {
    /// AADSTS7000215: the client secret is wrong.
    WrongSecret,
    /// AADSTS7000222: the client secret has expired.
    SecretExpired,
    /// AADSTS700027 / 50012: the certificate is not registered on the app, or the signature fails
    /// (for a federated token: its key is not among the issuer's published keys).
    CertificateNotRegistered,
    /// AADSTS700024: the client assertion is outside its validity window.
    AssertionExpired,
    /// AADSTS700211/700212/700213: no federated credential matches the issuer, audience or subject.
    FederationMismatch,
    /// AADSTS70021: no federated credential matches the presented assertion — a wrong
    /// issuer/subject/audience, or a credential added moments ago that has not propagated yet
    /// (Microsoft: retry after a short wait). Retried a bounded number of times.
    FederatedCredentialNotFound,
    /// AADSTS50166: Entra could not fetch the federated issuer's keys.
    IssuerUnreachable,
    /// AADSTS700016: the app is not in this tenant (or this cloud).
    AppNotFound,
    /// AADSTS65001 / 500011: admin consent missing, or the API is not in the tenant.
    ConsentMissing,
    /// AADSTS90002: the tenant does not exist (in this cloud).
    TenantNotFound,
    /// AADSTS1002012 / 70011 / 700022: the scope is not valid (client credentials need exactly
    /// `<resource>/.default`).
    InvalidScope,
    /// AADSTS7000218: no credential was sent (the app is confidential).
    NoCredential,
    /// AADSTS700025: the app is a public client and must not send a credential.
    PublicClient,
    /// `invalid_grant` / `interaction_required` on a refresh: the stored sign-in is no longer valid.
    SignInExpired,
    /// `expired_token`: the device code expired before the user signed in.
    DeviceCodeExpired,
    /// `authorization_declined` / `access_denied`: the user declined the sign-in.
    Declined,
    /// 429, 5xx or `temporarily_unavailable`: try again later.
    Unavailable,
    /// Anything else.
    Other,
}

/// Entra ID refused a token request.
#[derive(Debug, Clone)]
pub struct EntraRefusal {
    /// HTTP status.
    pub status: u16,
    /// OAuth `error` (`invalid_client`, `invalid_grant`, ...).
    pub error: String,
    /// The AADSTS codes (`error_codes`).
    pub codes: Vec<u32>,
    /// Entra's `error_description` (no secrets: Entra never echoes them).
    pub description: Option<String>,
    /// `trace_id`, for a support case.
    pub trace_id: Option<String>,
    /// `correlation_id`.
    pub correlation_id: Option<String>,
    /// Who asked: the tenant, the app, the scope, the authority and the credential.
    pub who: RequestContext,
}

/// Who asked for a token (what a refusal names so an operator can find the app and tenant).
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The tenant's name in the registry.
    pub tenant: String,
    /// The tenant id.
    pub tenant_id: String,
    /// The app's client id.
    pub client_id: String,
    /// The requested scope.
    pub scope: String,
    /// The authority host.
    pub authority: String,
    /// Which credential was used.
    pub credential: CredentialRef,
}

/// Entra's error body.
#[derive(Debug, Deserialize)]
struct EntraErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// `AADSTSnnnn` numbers in a text, in order.
fn codes_in(text: &str) -> Vec<u32> {
    text.match_indices("AADSTS")
        .filter_map(|(i, m)| {
            let digits: String = text[i + m.len()..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// AADSTS codes and what they mean, first match wins (in this order: a refusal naming both a wrong
/// secret and a missing consent is a wrong secret).
const CAUSE_BY_CODE: &[(&[u32], EntraCause)] = &[
    (&[7_000_215], EntraCause::WrongSecret),
    (&[7_000_222], EntraCause::SecretExpired),
    (&[700_024], EntraCause::AssertionExpired),
    (&[700_027, 50_012], EntraCause::CertificateNotRegistered),
    (&[70_021], EntraCause::FederatedCredentialNotFound),
    (&[700_211, 700_212, 700_213], EntraCause::FederationMismatch),
    (&[50_166], EntraCause::IssuerUnreachable),
    (&[700_016], EntraCause::AppNotFound),
    (&[65_001, 500_011], EntraCause::ConsentMissing),
    (&[90_002], EntraCause::TenantNotFound),
    (&[1_002_012, 70_011, 700_022], EntraCause::InvalidScope),
    (&[7_000_218], EntraCause::NoCredential),
    (&[700_025], EntraCause::PublicClient),
];

impl EntraRefusal {
    /// Builds a refusal from an HTTP status and body; `None` when the body is not Entra's error shape.
    pub(crate) fn from_body(status: u16, body: &[u8], ctx: &RequestContext) -> Option<Self> {
        let parsed: EntraErrorBody = serde_json::from_slice(body).ok()?;
        let error = parsed.error?;
        let mut codes = parsed.error_codes;
        if codes.is_empty() {
            codes = parsed.error_description.as_deref().map(codes_in).unwrap_or_default();
        }
        // The description's "Trace ID: ..." tail duplicates `trace_id`; keep only the first sentence block.
        let description = parsed.error_description.map(|d| match d.find(" Trace ID:") {
            Some(i) => d[..i].to_string(),
            None => d,
        });
        Some(Self {
            status,
            error,
            codes,
            description,
            trace_id: parsed.trace_id,
            correlation_id: parsed.correlation_id,
            who: ctx.clone(),
        })
    }

    /// The first AADSTS code.
    pub fn aadsts(&self) -> Option<u32> {
        self.codes.first().copied()
    }

    /// Whether Entra named this AADSTS code.
    pub fn has_code(&self, code: u32) -> bool {
        self.codes.contains(&code)
    }

    /// What the refusal means.
    pub fn cause(&self) -> EntraCause {
        let any = |list: &[u32]| list.iter().any(|c| self.has_code(*c));
        if self.status == 429 || self.status >= 500 || self.error == "temporarily_unavailable" {
            return EntraCause::Unavailable;
        }
        match self.error.as_str() {
            "expired_token" => return EntraCause::DeviceCodeExpired,
            "authorization_declined" | "access_denied" => return EntraCause::Declined,
            _ => {}
        }
        if let Some((_, cause)) = CAUSE_BY_CODE.iter().find(|(codes, _)| any(codes)) {
            *cause
        } else if self.error == "invalid_grant" || self.error == "interaction_required" {
            EntraCause::SignInExpired
        } else {
            EntraCause::Other
        }
    }

    /// Whether Microsoft documents this refusal as possibly transient for a correct configuration
    /// (a federated credential still propagating): worth a few bounded retries, unlike
    /// [`EntraRefusal::cause`]`() == Unavailable`, which is an outage.
    pub fn may_be_propagating(&self) -> bool {
        self.cause() == EntraCause::FederatedCredentialNotFound
    }

    /// Whether the client secret or certificate was refused as invalid: the material may have been
    /// rotated in the vault since it was read.
    pub fn credential_invalid(&self) -> bool {
        matches!(
            self.cause(),
            EntraCause::WrongSecret | EntraCause::SecretExpired | EntraCause::CertificateNotRegistered
        )
    }

    fn code_text(&self) -> String {
        match self.codes.as_slice() {
            [] => self.error.clone(),
            codes => codes.iter().map(|c| format!("AADSTS{c}")).collect::<Vec<_>>().join(", "),
        }
    }

    fn where_material(&self) -> String {
        match &self.who.credential {
            CredentialRef::ClientSecret { vault: Some(n) } | CredentialRef::Certificate { vault: Some(n) } => {
                format!("update secret '{n}' in the vault")
            }
            CredentialRef::ClientSecret { vault: None } => "update the client secret in the configuration".into(),
            CredentialRef::Certificate { vault: None } => "update the certificate in the configuration".into(),
            CredentialRef::Federated { source } => format!("check the federated token from {source}"),
            CredentialRef::User { refresh_token_secret } => {
                format!("run `defender-functions login` again (secret '{refresh_token_secret}')")
            }
            CredentialRef::DeviceCode => "run `defender-functions login` again".into(),
        }
    }
}

impl fmt::Display for EntraRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app = &self.who.client_id;
        let tenant = format!("{} ({})", self.who.tenant, self.who.tenant_id);
        let codes = self.code_text();
        match self.cause() {
            EntraCause::WrongSecret | EntraCause::SecretExpired => write!(
                f,
                "the client secret for app {app} in tenant {tenant} is wrong or expired ({codes}); {}",
                self.where_material()
            ),
            EntraCause::CertificateNotRegistered if matches!(self.who.credential, CredentialRef::Federated { .. }) => {
                write!(
                    f,
                    "the federated token for app {app} in tenant {tenant} failed signature validation ({codes}): its signing key is not among the keys the issuer publishes; {}, and check that the issuer's JWKS is current",
                    self.where_material()
                )
            }
            EntraCause::CertificateNotRegistered => write!(
                f,
                "the certificate for app {app} in tenant {tenant} is not registered on the app or does not match its key ({codes}); upload the certificate's public part under the app registration's \"Certificates & secrets\", or {}",
                self.where_material()
            ),
            EntraCause::AssertionExpired => match &self.who.credential {
                CredentialRef::Federated { source } => write!(
                    f,
                    "the federated token from {source} for app {app} in tenant {tenant} has expired or is not yet valid ({codes}); check that the platform keeps rotating it"
                ),
                _ => write!(
                    f,
                    "the client assertion for app {app} in tenant {tenant} is outside its validity window ({codes}); check this machine's clock"
                ),
            },
            EntraCause::FederationMismatch => write!(
                f,
                "no federated credential on app {app} in tenant {tenant} matches the presented token's issuer, subject or audience ({codes}); compare the app's federated credential with the token's iss/sub/aud"
            ),
            EntraCause::FederatedCredentialNotFound => write!(
                f,
                "no federated credential on app {app} in tenant {tenant} matches the presented token ({codes}); a credential added in the last minutes may not have propagated yet (retried), otherwise compare the app's federated credential issuer, subject and audience with the token's iss, sub and aud{}",
                match &self.who.credential {
                    CredentialRef::Federated { source } => format!(" (token from {source})"),
                    _ => String::new(),
                }
            ),
            EntraCause::IssuerUnreachable => write!(
                f,
                "entra id could not fetch the signing keys of the federated issuer for app {app} in tenant {tenant} ({codes}); the issuer's OIDC metadata must be publicly reachable"
            ),
            EntraCause::AppNotFound => write!(
                f,
                "app {app} was not found in tenant {tenant} ({codes}): wrong client id, the app is not installed in this tenant, or the wrong tenant or cloud (authority {})",
                self.who.authority
            ),
            EntraCause::ConsentMissing => write!(
                f,
                "admin consent is missing for app {app} in tenant {tenant}, or the API for scope '{}' is not in the tenant ({codes}); grant admin consent for the app's API permissions",
                self.who.scope
            ),
            EntraCause::TenantNotFound => write!(
                f,
                "tenant {tenant} was not found ({codes}): wrong tenant id, or wrong cloud? (authority {})",
                self.who.authority
            ),
            EntraCause::InvalidScope => write!(
                f,
                "the scope '{}' is not valid for app {app} in tenant {tenant} ({codes}); application tokens need exactly '<resource>/.default'",
                self.who.scope
            ),
            EntraCause::NoCredential => write!(
                f,
                "app {app} in tenant {tenant} is a confidential client and needs a secret, certificate or federated credential ({codes})"
            ),
            EntraCause::PublicClient => write!(
                f,
                "app {app} in tenant {tenant} is a public client: it must not send a secret or assertion ({codes})"
            ),
            EntraCause::SignInExpired => write!(
                f,
                "the stored sign-in for app {app} in tenant {tenant} is no longer valid ({codes}); run `defender-functions login` again"
            ),
            EntraCause::DeviceCodeExpired => write!(
                f,
                "the device code expired before the sign-in for app {app} in tenant {tenant} was completed ({codes}); run `defender-functions login` again"
            ),
            EntraCause::Declined => {
                write!(f, "the user declined the sign-in for app {app} in tenant {tenant} ({codes})")
            }
            EntraCause::Unavailable => write!(
                f,
                "entra id is unavailable for app {app} in tenant {tenant} (HTTP {}, {codes}); try again later",
                self.status
            ),
            EntraCause::Other => write!(
                f,
                "entra id refused the token request for app {app} in tenant {tenant}, scope '{}': {} ({codes})",
                self.who.scope, self.error
            ),
        }?;
        if let Some(trace) = &self.trace_id {
            write!(f, " [trace id {trace}]")?;
        }
        Ok(())
    }
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Entra refused the request; `Display` says what to fix.
    #[error("{0}")]
    Entra(Box<EntraRefusal>),
    /// The tenant is not in the registry.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// Transport failure.
    #[error("token request failed")]
    Http(#[source] reqwest::Error),
    /// The token endpoint answered something that is neither a token nor an Entra error.
    #[error("the token endpoint for tenant {tenant} answered HTTP {status} with an unreadable body")]
    InvalidResponse {
        /// The tenant's name.
        tenant: String,
        /// HTTP status.
        status: u16,
    },
    /// Secret material could not be read from the store.
    #[error("cannot read secret '{name}' for app {client_id} in tenant {tenant}")]
    Vault {
        /// The tenant's name.
        tenant: String,
        /// The app.
        client_id: String,
        /// The secret's name.
        name: String,
        /// What the store said.
        #[source]
        source: Box<VaultError>,
    },
    /// No refresh token is stored: nobody signed in yet.
    #[error(
        "no sign-in is stored for tenant {tenant} (secret '{secret}' not found); run `defender-functions login` first"
    )]
    LoginRequired {
        /// The tenant's name.
        tenant: String,
        /// The vault secret that should hold the refresh token.
        secret: String,
    },
    /// The rotated refresh token could not be written back (the next refresh would fail).
    #[error("cannot store the rotated refresh token in secret '{secret}' for tenant {tenant}")]
    StoreRefreshToken {
        /// The tenant's name.
        tenant: String,
        /// The vault secret.
        secret: String,
        /// What the store said.
        #[source]
        source: Box<VaultError>,
    },
    /// The certificate or key material is unusable (not PEM, not RSA, encrypted, ...).
    #[error("the credential for app {client_id} in tenant {tenant} is unusable: {reason}")]
    Credential {
        /// The tenant's name.
        tenant: String,
        /// The app.
        client_id: String,
        /// What is wrong (never the material itself).
        reason: String,
    },
    /// A federated assertion could not be obtained.
    #[error("cannot get the federated assertion from {source_name}: {reason}")]
    Assertion {
        /// Where it should have come from (a path, "aws sts").
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The configuration cannot work (an http authority, a bad URL).
    #[error("invalid auth configuration for tenant {tenant}: {reason}")]
    Config {
        /// The tenant's name.
        tenant: String,
        /// What is wrong.
        reason: String,
    },
    /// The token does not carry a permission the call needs (from [`super::AccessToken::require_permission`]).
    #[error(
        "the token for app {app} in tenant {tenant} ({resource}) lacks the {} permission '{permission}' (it has: {}); {}",
        permission_kind(.delegated),
        held_list(.held),
        permission_fix(.delegated)
    )]
    MissingPermission {
        /// The permission that is missing.
        permission: String,
        /// The app (`appid`).
        app: String,
        /// The tenant id (`tid`).
        tenant: String,
        /// The token's audience.
        resource: String,
        /// Delegated (`scp`) rather than application (`roles`).
        delegated: bool,
        /// What the token holds.
        held: Vec<String>,
    },
    /// The token is not a JWT with readable claims.
    #[error("the access token is not a readable JWT")]
    TokenUnreadable,
}

fn permission_kind(delegated: &bool) -> &'static str {
    if *delegated { "delegated" } else { "application" }
}

fn held_list(held: &[String]) -> String {
    if held.is_empty() { "none".to_string() } else { held.join(", ") }
}

fn permission_fix(delegated: &bool) -> &'static str {
    if *delegated {
        "add it to the app's delegated permissions, consent, and sign in again"
    } else {
        "add it to the app registration's API permissions and grant admin consent"
    }
}

impl AuthError {
    /// The Entra refusal, if that is what this is.
    pub fn entra(&self) -> Option<&EntraRefusal> {
        match self {
            Self::Entra(r) => Some(r),
            _ => None,
        }
    }

    /// Whether trying again later may help (throttling, outages, transport errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Entra(r) => r.cause() == EntraCause::Unavailable,
            Self::Http(e) => e.is_timeout() || e.is_connect(),
            Self::InvalidResponse { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Logs a refusal (codes and ids only) and wraps it: the one place the token endpoint's refusals (client
/// credentials, refresh and device-code grants alike) become an [`AuthError`].
pub(crate) fn refused(r: EntraRefusal) -> AuthError {
    tracing::warn!(
        tenant = %r.who.tenant, client_id = %r.who.client_id, scope = %r.who.scope, status = r.status, error = %r.error,
        aadsts = ?r.codes, trace_id = r.trace_id.as_deref().unwrap_or(""), "entra id refused a token request"
    );
    AuthError::Entra(Box::new(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(credential: CredentialRef) -> RequestContext {
        RequestContext {
            tenant: "contoso".into(),
            tenant_id: "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f".into(),
            client_id: "11111111-1111-4111-8111-111111111111".into(),
            scope: "https://graph.microsoft.com/.default".into(),
            authority: "https://login.microsoftonline.com/".into(),
            credential,
        }
    }

    fn refusal(status: u16, error: &str, code: u32, credential: CredentialRef) -> EntraRefusal {
        let body = serde_json::json!({
            "error": error,
            "error_description": format!("AADSTS{code}: something. Trace ID: t-1 Correlation ID: c-1 Timestamp: x"),
            "error_codes": [code],
            "trace_id": "t-1",
            "correlation_id": "c-1",
        });
        EntraRefusal::from_body(status, body.to_string().as_bytes(), &ctx(credential)).unwrap()
    }

    #[test]
    fn wrong_secret_names_app_tenant_code_and_vault_secret() {
        let r =
            refusal(401, "invalid_client", 7_000_215, CredentialRef::ClientSecret { vault: Some("mde-secret".into()) });
        assert_eq!(r.cause(), EntraCause::WrongSecret);
        assert!(r.credential_invalid());
        assert_eq!(
            r.to_string(),
            "the client secret for app 11111111-1111-4111-8111-111111111111 in tenant contoso \
             (4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f) is wrong or expired (AADSTS7000215); update secret \
             'mde-secret' in the vault [trace id t-1]"
        );
        assert_eq!(r.description.as_deref(), Some("AADSTS7000215: something."));
    }

    #[test]
    fn each_code_says_what_to_fix() {
        let s = CredentialRef::ClientSecret { vault: None };
        let cases: [(u16, &str, u32, EntraCause, &str); 10] = [
            (400, "invalid_scope", 1_002_012, EntraCause::InvalidScope, "/.default"),
            (400, "invalid_request", 70_021, EntraCause::FederatedCredentialNotFound, "propagated"),
            (400, "unauthorized_client", 700_016, EntraCause::AppNotFound, "wrong tenant or cloud"),
            (400, "invalid_grant", 65_001, EntraCause::ConsentMissing, "admin consent"),
            (400, "invalid_resource", 500_011, EntraCause::ConsentMissing, "not in the tenant"),
            (400, "invalid_request", 90_002, EntraCause::TenantNotFound, "wrong cloud?"),
            (401, "invalid_client", 700_027, EntraCause::CertificateNotRegistered, "not registered"),
            (401, "invalid_client", 50_012, EntraCause::CertificateNotRegistered, "not registered"),
            (400, "invalid_scope", 70_011, EntraCause::InvalidScope, "/.default"),
            (503, "temporarily_unavailable", 90_055, EntraCause::Unavailable, "try again later"),
        ];
        for (status, error, code, cause, text) in cases {
            let r = refusal(status, error, code, s.clone());
            assert_eq!(r.cause(), cause, "{code}");
            let shown = r.to_string();
            assert!(shown.contains(text) && shown.contains(&format!("AADSTS{code}")), "{code}: {shown}");
        }
        let grant = refusal(400, "invalid_grant", 70_008, CredentialRef::User { refresh_token_secret: "rt".into() });
        assert_eq!(grant.cause(), EntraCause::SignInExpired);
        assert!(grant.to_string().contains("run `defender-functions login` again"));
        assert!(!grant.credential_invalid());
    }

    #[test]
    fn codes_are_read_from_the_description_when_the_list_is_missing() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys are expired."}"#;
        let r = EntraRefusal::from_body(401, body, &ctx(CredentialRef::ClientSecret { vault: None })).unwrap();
        assert_eq!(r.codes, vec![7_000_222]);
        assert_eq!(r.cause(), EntraCause::SecretExpired);
        assert!(EntraRefusal::from_body(500, b"<html>", &ctx(CredentialRef::DeviceCode)).is_none());
    }

    #[test]
    fn todays_codes_are_recognised_with_what_to_do() {
        let fed = CredentialRef::Federated { source: "aws sts".into() };
        // AADSTS70021: no matching federated credential, or one still propagating.
        let r = refusal(400, "invalid_request", 70_021, fed.clone());
        assert_eq!(r.cause(), EntraCause::FederatedCredentialNotFound);
        assert!(r.may_be_propagating());
        let shown = r.to_string();
        assert!(
            shown.contains("propagated") && shown.contains("iss, sub and aud") && shown.contains("aws sts"),
            "{shown}"
        );
        // AADSTS1002012: a client-credentials scope without /.default.
        let r = refusal(400, "invalid_scope", 1_002_012, CredentialRef::ClientSecret { vault: None });
        assert_eq!(r.cause(), EntraCause::InvalidScope);
        assert!(!r.may_be_propagating());
        // AADSTS700027 on a federated token names the issuer's keys, not a certificate upload.
        let r = refusal(401, "invalid_client", 700_027, fed);
        let shown = r.to_string();
        assert!(shown.contains("issuer publishes") && !shown.contains("upload the certificate"), "{shown}");
        let r = refusal(401, "invalid_client", 700_027, CredentialRef::Certificate { vault: Some("cert".into()) });
        assert!(r.to_string().contains("upload the certificate"));
        // AADSTS7000218 now comes as 401: still "no credential", not an outage.
        let r = refusal(401, "invalid_client", 7_000_218, CredentialRef::ClientSecret { vault: None });
        assert_eq!(r.cause(), EntraCause::NoCredential);
        assert!(!AuthError::Entra(Box::new(r)).is_retryable());
    }
}
