//! The one HTTP client: reqwest 0.13 over rustls (AWS-LC), redirects off (a token or a bearer header
//! must never follow a redirect to another host), bounded timeouts, HTTP/2 by ALPN.
//!
//! # Which roots are trusted
//! - Normally Mozilla's root programme, compiled in (`webpki-roots`): the roots Microsoft's and the
//!   clouds' endpoints chain to, with nothing read from disk. Reading and parsing the platform's
//!   bundle (`/etc/ssl/certs`, ~150 certificates, twice: the bundle and the hashed directory) was most
//!   of the function's init CPU, on every cold start, before the first poll.
//! - In local mode, the PEM bundle `DEFENDER_EXTRA_CA_FILE` names (the simulated tenant's CA) and
//!   nothing else: local mode is loopback-only inside Lambda (`config`), so no public root is needed
//!   there, and trusting fewer roots is the stricter choice.
//!
//! Certificate and host-name verification are always on: the TLS configuration is rustls's own
//! WebPKI verifier over that root store.

use rustls::pki_types::{CertificateDer, pem::PemObject};
use std::{sync::Arc, time::Duration};

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The extra CA file is not a PEM bundle of certificates rustls accepts as roots.
    #[error("the extra CA bundle is not valid PEM: {0}")]
    Ca(String),
    /// The TLS provider refused the protocol versions.
    #[error("cannot configure TLS")]
    Tls(#[source] rustls::Error),
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// The roots: `extra_ca_pem`'s certificates when given, else Mozilla's (compiled in).
fn roots(extra_ca_pem: Option<&str>) -> Result<rustls::RootCertStore, HttpError> {
    let Some(pem) = extra_ca_pem else {
        return Ok(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| HttpError::Ca(e.to_string()))?;
        store.add(cert).map_err(|e| HttpError::Ca(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(HttpError::Ca("no certificate in it".into()));
    }
    Ok(store)
}

/// The TLS configuration every connection uses: AWS-LC, TLS 1.2 and 1.3, the roots of [`roots`],
/// ALPN `h2` then `http/1.1` (as reqwest offers them itself).
fn tls(extra_ca_pem: Option<&str>) -> Result<rustls::ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(HttpError::Tls)?
        .with_root_certificates(roots(extra_ca_pem)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Builds the shared client. `extra_ca_pem`: in local mode, the PEM bundle to trust instead of the
/// public roots.
///
/// # Errors
/// An unreadable PEM bundle, or a TLS backend that cannot start.
pub fn client(extra_ca_pem: Option<&str>) -> Result<reqwest::Client, HttpError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls(extra_ca_pem)?)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("defender-functions/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(HttpError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_roots_are_compiled_in_and_an_extra_bundle_replaces_them() {
        assert!(roots(None).unwrap().len() > 100, "Mozilla's roots");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let only = roots(Some(&ca.cert.pem())).unwrap();
        assert_eq!(only.len(), 1, "local mode trusts the named bundle alone");
    }

    #[test]
    fn a_bundle_without_a_certificate_is_refused() {
        for bad in ["", "not pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"] {
            assert!(matches!(roots(Some(bad)), Err(HttpError::Ca(_))), "{bad:?}");
            assert!(client(Some(bad)).is_err());
        }
    }
}
