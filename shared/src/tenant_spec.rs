//! What one tenant is: the response actions it allows, the identity the functions act as, the
//! credential that proves it, and API host overrides. Both readers describe tenants with these types:
//! [`crate::config`] (single-tenant settings from the environment) and [`crate::tenants`] (the
//! registry document, which also takes process-wide settings from the config). Here, apart from
//! both, so neither module has to use the other's types in both directions.

use crate::{
    cloud::{self, ApiFamily},
    ids::ClientId,
    secret::SecretString,
};
use serde::Deserialize;
use std::path::PathBuf;
use url::Url;

/// A response action a tenant may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Isolate a machine.
    Isolate,
    /// Release a machine from isolation.
    Unisolate,
    /// Run an antivirus scan.
    Scan,
    /// Restrict app execution.
    Restrict,
    /// Remove the app execution restriction.
    Unrestrict,
    /// Collect an investigation package.
    Collect,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] =
        [Action::Isolate, Action::Unisolate, Action::Scan, Action::Restrict, Action::Unrestrict, Action::Collect];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Isolate => "isolate",
            Action::Unisolate => "unisolate",
            Action::Scan => "scan",
            Action::Restrict => "restrict",
            Action::Unrestrict => "unrestrict",
            Action::Collect => "collect",
        }
    }
}

crate::cloud::text_via_as_str!(Action, String, |s| format!(
    "'{s}' is not one of isolate, unisolate, scan, restrict, unrestrict, collect"
));

/// Which of a tenant's two app registrations a function authenticates as (split identities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identity {
    /// Read-only: webhook-enrich, scheduled-export (and the default).
    #[default]
    Reader,
    /// Response actions: the chat-ops functions.
    Responder,
}

/// Where a federated credential's incoming assertion comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederatedSource {
    /// A token file rewritten by the platform (`AZURE_FEDERATED_TOKEN_FILE`: Kubernetes, GitHub, ...).
    File {
        /// The file.
        token_file: PathBuf,
    },
    /// A web identity token from AWS STS for the function's own role.
    AwsSts,
}

/// What an AWS Secrets Manager bootstrap credential holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsSecretKind {
    /// The app's client secret.
    ClientSecret,
    /// The app's certificate and private key, PEM.
    Certificate,
}

/// How a tenant authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSpec {
    /// A client secret stored in the secret store under this name.
    ClientSecret {
        /// The secret's name in the store.
        secret_name: String,
    },
    /// A client secret given inline (`AZURE_CLIENT_SECRET`; environment only, local/dev).
    ClientSecretValue(SecretString),
    /// A certificate (PEM: certificate + private key) stored in the secret store under this name.
    Certificate {
        /// The secret's name in the store.
        secret_name: String,
    },
    /// A certificate PEM file (`AZURE_CLIENT_CERTIFICATE_PATH`; environment only).
    CertificateFile {
        /// The PEM file: certificate and private key.
        path: PathBuf,
    },
    /// A federated assertion (workload identity).
    Federated(FederatedSource),
    /// The bootstrap credential in AWS Secrets Manager (`DEFENDER_CLIENT_SECRET_ARN`,
    /// `DEFENDER_CLIENT_CERTIFICATE_ARN`; environment only), read once per cold start with the
    /// function's own IAM role: it opens Key Vault without living in it.
    AwsSecret {
        /// The secret's ARN.
        arn: String,
        /// What it holds.
        kind: AwsSecretKind,
    },
    /// User context: a rotating refresh token kept in the store, for a public client.
    User {
        /// The refresh token's name in the store.
        refresh_token_secret: String,
        /// The public client the refresh token belongs to.
        client_id: ClientId,
    },
}

impl CredentialSpec {
    /// The name of the store secret this credential reads, if any.
    pub fn store_secret(&self) -> Option<&str> {
        match self {
            CredentialSpec::ClientSecret { secret_name } | CredentialSpec::Certificate { secret_name } => {
                Some(secret_name)
            }
            CredentialSpec::User { refresh_token_secret, .. } => Some(refresh_token_secret),
            CredentialSpec::ClientSecretValue(_)
            | CredentialSpec::CertificateFile { .. }
            | CredentialSpec::Federated(_)
            | CredentialSpec::AwsSecret { .. } => None,
        }
    }
}

/// Per-API base URL overrides (the simulator in local mode and tests; a private endpoint in production).
/// An override replaces the table's base; the scope and authority stay. A Graph override is the host
/// root: `/v1.0` is appended when resolving.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiOverrides {
    /// Defender for Endpoint.
    pub mde: Option<Url>,
    /// Defender XDR.
    pub xdr: Option<Url>,
    /// Microsoft Graph (host root, without `/v1.0`).
    pub graph: Option<Url>,
}

impl ApiOverrides {
    /// The override for `api`, if any (Key Vault has none: its URL is `KEY_VAULT_URL`).
    pub fn get(&self, api: ApiFamily) -> Option<&Url> {
        match api {
            ApiFamily::Mde => self.mde.as_ref(),
            ApiFamily::Xdr => self.xdr.as_ref(),
            ApiFamily::Graph => self.graph.as_ref(),
            ApiFamily::KeyVault => None,
        }
    }
}

/// Checks a configured override: https, and for Graph the host root (no `/v1.0`).
pub(crate) fn parse_override(api: ApiFamily, s: &str) -> Result<Url, &'static str> {
    let u = cloud::parse_https_url(s)?;
    if api == ApiFamily::Graph && u.path().trim_end_matches('/').ends_with("/v1.0") {
        return Err("the Graph host root without /v1.0 (it is appended)");
    }
    Ok(u)
}
