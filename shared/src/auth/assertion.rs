//! Client assertions: federated tokens from another issuer, and the certificate `private_key_jwt`
//! we sign ourselves.
//!
//! # Federated sources
//! - [`AssertionSource::File`] — a token file the platform rotates (Kubernetes projected service
//!   account token, `AZURE_FEDERATED_TOKEN_FILE`); read again for every token request.
//! - [`AssertionSource::AwsSts`] (cargo feature `aws-sts`) — AWS STS `GetWebIdentityToken` (IAM
//!   outbound identity federation, 2025): the Lambda's own IAM role obtains a JWT for the audience
//!   `api://AzureADTokenExchange`, signed by the account's AWS issuer; the app's federated credential
//!   names that issuer (`GetOutboundWebIdentityFederationInfo` tells it) and the role ARN as subject.
//!   Needs `iam:EnableOutboundWebIdentityFederation` once per account, `sts:GetWebIdentityToken` on the
//!   role, and a regional STS endpoint (the global one does not serve it).
//! - [`AssertionSource::Custom`] — anything implementing [`FetchAssertion`].
//!
//! # Certificate assertion
//! A JWT signed PS256 with the app's RSA key, header `x5t#S256` = base64url(SHA-256 of the certificate
//! DER); claims `aud` = the token URL, `iss` = `sub` = client id, a random `jti`, `nbf`/`iat` now and
//! `exp` now + 5 min. The PEM is split and the certificate decoded here (no OpenSSL); PFX is not read.

use super::error::AuthError;
use crate::secret::SecretString;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::Digest;
use std::{fmt, path::PathBuf, sync::Arc};

/// The audience Entra expects on federated tokens.
pub const ENTRA_TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The lifetime asked of STS for a web identity token (`DurationSeconds`), always sent: the token is
/// exchanged at once, and the execution role's condition `NumericLessThanEquals sts:DurationSeconds
/// 3600` in `infra/template.yaml` fails (denies) when the request carries no `DurationSeconds`.
pub const STS_TOKEN_LIFETIME_S: i32 = 300;

/// A source of federated assertions (the seam for sources this crate does not ship).
pub trait FetchAssertion: Send + Sync + fmt::Debug + 'static {
    /// A current assertion (a JWT from the trusted issuer).
    fn fetch(&self) -> BoxFuture<'_, Result<SecretString, AuthError>>;
    /// Where assertions come from, for messages (never the assertion itself).
    fn describe(&self) -> String;
}

/// Where a federated credential's assertion comes from.
#[derive(Debug, Clone)]
pub enum AssertionSource {
    /// A token file, re-read on every use (the platform rotates it).
    File(PathBuf),
    /// AWS STS `GetWebIdentityToken` (feature `aws-sts`).
    #[cfg(feature = "aws-sts")]
    AwsSts(AwsSts),
    /// Any other source.
    Custom(Arc<dyn FetchAssertion>),
}

impl AssertionSource {
    /// A current assertion.
    ///
    /// # Errors
    /// [`AuthError::Assertion`] when the file cannot be read or is empty, or the source fails.
    pub async fn fetch(&self) -> Result<SecretString, AuthError> {
        match self {
            Self::File(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|e| AuthError::Assertion {
                    source_name: self.describe(),
                    reason: format!("cannot read the token file: {}", e.kind()),
                })?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(AuthError::Assertion {
                        source_name: self.describe(),
                        reason: "the token file is empty".into(),
                    });
                }
                Ok(SecretString::new(token))
            }
            #[cfg(feature = "aws-sts")]
            Self::AwsSts(sts) => sts.fetch().await,
            Self::Custom(source) => source.fetch().await,
        }
    }

    /// Where assertions come from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => format!("file {}", path.display()),
            #[cfg(feature = "aws-sts")]
            Self::AwsSts(sts) => format!("aws sts GetWebIdentityToken (audience {})", sts.audience),
            Self::Custom(source) => source.describe(),
        }
    }
}

/// AWS STS `GetWebIdentityToken`: a JWT for this Lambda's IAM role, to present to Entra.
#[cfg(feature = "aws-sts")]
#[derive(Debug, Clone)]
pub struct AwsSts {
    /// An STS client for a regional endpoint (from `aws-config`).
    pub client: aws_sdk_sts::Client,
    /// The `aud` to ask for; Entra expects [`ENTRA_TOKEN_EXCHANGE_AUDIENCE`].
    pub audience: String,
    /// Token lifetime, 60–3600 s, sent as `DurationSeconds` when set (IAM conditions on
    /// `sts:DurationSeconds` deny a request without it).
    pub duration_seconds: Option<i32>,
}

#[cfg(feature = "aws-sts")]
impl AwsSts {
    /// For Entra: audience `api://AzureADTokenExchange`, `DurationSeconds` [`STS_TOKEN_LIFETIME_S`].
    pub fn for_entra(client: aws_sdk_sts::Client) -> Self {
        Self {
            client,
            audience: ENTRA_TOKEN_EXCHANGE_AUDIENCE.to_string(),
            duration_seconds: Some(STS_TOKEN_LIFETIME_S),
        }
    }

    async fn fetch(&self) -> Result<SecretString, AuthError> {
        let source_name = || format!("aws sts GetWebIdentityToken (audience {})", self.audience);
        let out = self
            .client
            .get_web_identity_token()
            .audience(self.audience.clone())
            // Entra verifies federated tokens signed RS256; STS also offers ES384.
            .signing_algorithm("RS256")
            .set_duration_seconds(self.duration_seconds)
            .send()
            .await
            .map_err(|e| AuthError::Assertion {
                source_name: source_name(),
                reason: aws_sdk_sts::error::DisplayErrorContext(&e).to_string(),
            })?;
        out.web_identity_token().filter(|t| !t.is_empty()).map(SecretString::new).ok_or_else(|| AuthError::Assertion {
            source_name: source_name(),
            reason: "STS answered without a token".into(),
        })
    }
}

/// A parsed certificate credential: the signing key and the certificate's SHA-256 thumbprint.
pub(crate) struct CertificateKey {
    key: EncodingKey,
    /// base64url(SHA-256(certificate DER)).
    pub(crate) x5t_s256: String,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey").field("x5t_s256", &self.x5t_s256).finish_non_exhaustive()
    }
}

/// The PEM blocks of a document: (label, base64 body with whitespace removed).
fn pem_blocks(pem: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in pem.lines().map(str::trim) {
        if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            current = Some((label.to_string(), String::new()));
        } else if line.starts_with("-----END ") {
            if let Some(block) = current.take() {
                blocks.push(block);
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    blocks
}

/// Reads a PEM document holding a certificate and its RSA private key.
///
/// Errors are reasons for [`AuthError::Credential`]; none quotes the material.
pub(crate) fn parse_certificate_pem(pem: &str) -> Result<CertificateKey, String> {
    let blocks = pem_blocks(pem);
    if blocks.is_empty() {
        return Err("not a PEM document (PFX/PKCS#12 is not supported: convert it to PEM)".into());
    }
    // The first certificate is the leaf; a chain may follow.
    let (_, cert_b64) =
        blocks.iter().find(|(label, _)| label == "CERTIFICATE").ok_or("the PEM has no CERTIFICATE block")?;
    let der = STANDARD.decode(cert_b64).map_err(|_| "the CERTIFICATE block is not valid base64")?;
    let x5t_s256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
    if blocks.iter().any(|(label, _)| label == "ENCRYPTED PRIVATE KEY") {
        return Err("the private key is encrypted; store it unencrypted in the vault".into());
    }
    let (label, key_b64) = blocks
        .iter()
        .find(|(label, _)| label == "PRIVATE KEY" || label == "RSA PRIVATE KEY")
        .ok_or("the PEM has no PRIVATE KEY or RSA PRIVATE KEY block")?;
    // `jsonwebtoken` reads the first block of what it is given: hand it the key block alone.
    let key_pem = format!("-----BEGIN {label}-----\n{key_b64}\n-----END {label}-----\n");
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|_| "the private key is not an RSA key")?;
    Ok(CertificateKey { key, x5t_s256 })
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

/// Lifetime of the assertions we sign.
pub(crate) const ASSERTION_LIFETIME_S: i64 = 300;

/// Signs a `client_assertion` for `client_id` at `token_url`, valid from `now` for 5 minutes.
pub(crate) fn sign_client_assertion(
    key: &CertificateKey,
    client_id: &str,
    token_url: &str,
    now: DateTime<Utc>,
) -> Result<SecretString, String> {
    let mut header = Header::new(Algorithm::PS256);
    header.x5t_s256 = Some(key.x5t_s256.clone());
    let now = now.timestamp();
    let claims = AssertionClaims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME_S,
    };
    jsonwebtoken::encode(&header, &claims, &key.key)
        .map(SecretString::new)
        .map_err(|_| "signing the client assertion failed".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_split_by_label() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nWFla\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_blocks(pem),
            vec![("CERTIFICATE".into(), "QUJDREVG".into()), ("PRIVATE KEY".into(), "WFla".into())]
        );
    }

    #[test]
    fn unusable_material_is_refused_with_a_reason_and_without_echoing_it() {
        let e = parse_certificate_pem("MIIKeAIBAzCCCj4GCSqGSIb3DQEHAaCC").unwrap_err();
        assert!(e.contains("PFX"), "{e}");
        let e = parse_certificate_pem("-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----").unwrap_err();
        assert!(e.contains("no CERTIFICATE"), "{e}");
        let e = parse_certificate_pem(
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nQUJD\n-----END ENCRYPTED PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
        let e = parse_certificate_pem(
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(e.contains("not an RSA key") && !e.contains("QUJD"), "{e}");
    }
}
