//! Access tokens: minted as RS256 JWTs by the simulator's own key (published as JWKS), and verified on
//! every API call against the simulated clock.
//!
//! Resources are identified by their App ID URI, as Entra does; a token carries the `roles` (application)
//! or `scp` (delegated) the caller holds *on that resource only*.

use crate::spec::Api;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::Jwk};
use serde::{Deserialize, Serialize};

/// Token lifetime: Entra's default of about an hour.
pub const LIFETIME_S: i64 = 3599;

/// The resources the simulator issues tokens for: (App ID URI, what it admits).
pub const RESOURCES: &[(&str, Resource)] = &[
    ("https://api.securitycenter.microsoft.com", Resource::Api(Api::Mde)),
    ("https://api.securitycenter.windows.com", Resource::Api(Api::Mde)),
    ("https://securitycenter.onmicrosoft.com/windowsatpservice", Resource::Api(Api::Mde)),
    ("https://api.security.microsoft.com", Resource::Api(Api::Xdr)),
    ("https://graph.microsoft.com", Resource::Api(Api::Graph)),
    ("https://vault.azure.net", Resource::Vault),
    ("https://vault.localhost", Resource::Vault),
    ("https://api.botframework.com", Resource::BotConnector),
];

/// What a token's audience gives access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A Defender or Graph API family.
    Api(Api),
    /// Key Vault.
    Vault,
    /// The Bot Connector (a bot's token for its conversations, [`crate::botframework`]).
    BotConnector,
}

/// The resource behind an audience, if the simulator knows it.
pub fn resource_of(aud: &str) -> Option<Resource> {
    let aud = aud.trim_end_matches('/');
    RESOURCES.iter().find(|(uri, _)| uri.eq_ignore_ascii_case(aud)).map(|(_, r)| *r)
}

/// The claims of a simulator-issued access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Audience: the resource's App ID URI.
    pub aud: String,
    /// Issuer: `{base}/{tenant}/v2.0`.
    pub iss: String,
    /// Issued at (simulated clock).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// The client application.
    pub appid: String,
    /// `app` for application tokens, `user` for delegated ones.
    pub idtyp: String,
    /// Application permissions on this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Delegated permissions on this resource, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// The signed-in user (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Object id of the principal.
    pub oid: String,
    /// Subject.
    pub sub: String,
    /// Token id.
    pub uti: String,
    /// Version.
    pub ver: String,
}

impl Claims {
    /// Who made the call, for logs and quotas: the user's UPN or the client id.
    pub fn caller(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.appid)
    }

    /// Whether any of `permissions` is held (roles for apps, scp for users).
    pub fn holds_any(&self, application: &[String], delegated: &[String]) -> bool {
        match &self.scp {
            Some(scp) => scp.split(' ').any(|s| delegated.iter().any(|p| p.eq_ignore_ascii_case(s))),
            None => self.roles.iter().any(|r| application.iter().any(|p| p.eq_ignore_ascii_case(r))),
        }
    }
}

/// The simulator's signing key.
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Key id (`kid`), the JWK thumbprint.
    pub kid: String,
    /// The public key as a JWK, with `kid`, `use` and `alg`.
    pub jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Why a key or token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Key generation failed.
    #[error("signing key generation failed")]
    Key(#[from] rcgen::Error),
    /// JWT encoding/decoding failed.
    #[error("jwt operation failed")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// JWK serialisation failed.
    #[error("jwk serialisation failed")]
    Json(#[from] serde_json::Error),
}

impl SigningKey {
    /// A fresh 2048-bit RSA key.
    ///
    /// # Errors
    /// Key generation failure.
    pub fn generate() -> Result<Self, TokenError> {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
        let encoding = EncodingKey::from_rsa_pem(kp.serialize_pem().as_bytes())?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)?;
        let decoding = DecodingKey::from_jwk(&jwk)?;
        let kid = jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256);
        let mut jwk = serde_json::to_value(&jwk)?;
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), kid.clone().into());
            o.insert("use".into(), "sig".into());
            o.insert("alg".into(), "RS256".into());
        }
        Ok(Self { encoding, decoding, kid, jwk })
    }

    /// Signs claims into a JWT.
    ///
    /// # Errors
    /// Serialisation failure.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Signs an arbitrary claim set with a given header (the test issuer's tokens).
    ///
    /// # Errors
    /// Serialisation failure.
    pub fn sign_value(&self, header: &Header, claims: &serde_json::Value) -> Result<String, TokenError> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }

    /// Verifies the signature and decodes; expiry is checked by the caller against the simulated clock.
    ///
    /// # Errors
    /// A bad signature or a malformed token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)?.claims)
    }
}
