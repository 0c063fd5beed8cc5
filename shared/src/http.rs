//! The one HTTP client: reqwest 0.13 over rustls, redirects off (a token or a bearer header must never
//! follow a redirect to another host), bounded timeouts, and — in local mode only — one extra trusted
//! CA (the simulated tenant's), read from the file named by `DEFENDER_EXTRA_CA_FILE`.

use std::time::Duration;

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The extra CA file is not a PEM bundle reqwest can read.
    #[error("the extra CA bundle is not valid PEM")]
    Ca(#[source] reqwest::Error),
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Builds the shared client. `extra_ca_pem`: a PEM bundle to trust in addition to the system roots.
///
/// # Errors
/// An unreadable PEM bundle, or a TLS backend that cannot start.
pub fn client(extra_ca_pem: Option<&str>) -> Result<reqwest::Client, HttpError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("defender-functions/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(HttpError::Ca)?;
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(HttpError::Build)
}
