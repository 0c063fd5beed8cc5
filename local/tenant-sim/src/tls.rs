//! TLS for the simulator: a CA and a leaf certificate generated at start.
//!
//! The official Azure SDK refuses bearer tokens over plain http, so the simulator serves HTTPS only.
//! The leaf covers `localhost`, `127.0.0.1`, `vault.localhost` and `*.vault.localhost` (so a vault can be
//! addressed as `https://<name>.vault.localhost:<port>`). Clients trust the CA through the one local-mode
//! setting that carries its PEM; nothing trusts it by default.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation failed")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("tls configuration refused")]
    Rustls(#[from] rustls::Error),
}

/// The generated CA and the server configuration built on it.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    /// rustls server configuration with the leaf certificate.
    pub server: Arc<rustls::ServerConfig>,
}

/// Generates a fresh CA and leaf certificate.
///
/// # Errors
/// Key or certificate generation failure, or a configuration rustls refuses.
pub fn generate() -> Result<TlsMaterial, TlsError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "tenant-sim local CA (test only)");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "vault.localhost".to_string(),
        "*.vault.localhost".to_string(),
    ])?;
    leaf.distinguished_name.push(DnType::CommonName, "tenant-sim");
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf_cert.der().to_vec()), CertificateDer::from(ca_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial { ca_pem: ca_cert.pem(), server: Arc::new(server) })
}
