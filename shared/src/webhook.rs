//! Inbound request signatures: Standard Webhooks v1, GitHub-style `X-Hub-Signature-256`, Slack v0 and
//! Teams outgoing webhooks.
//!
//! Every comparison is constant-time (`hmac`'s `verify_slice`); every scheme that carries a timestamp
//! is held to a replay window (default 5 minutes, either direction) against an injected clock. A
//! failure says *what* was wrong (missing header, malformed, stale, mismatch) for the log, never the
//! secret or the expected signature; callers answer 401 for all of them alike.
//!
//! | scheme | headers | signed content | key |
//! |---|---|---|---|
//! | Standard Webhooks v1 | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> [v1,<b64> ...]` | `id.timestamp.body` | base64 of the `whsec_` secret |
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | body (no timestamp: weaker, no replay window) | the secret's bytes |
//! | Slack v0 | `X-Slack-Request-Timestamp`, `X-Slack-Signature: v0=<hex>` | `v0:timestamp:body` | the signing secret's bytes |
//! | Teams outgoing webhook | `Authorization: HMAC <b64>` | body | base64-decoded shared secret |
//!
//! Several secrets may be configured for each scheme so keys can be rotated without downtime.

use crate::secret::SecretString;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// The default replay window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent.
    #[error("missing header {0}")]
    Missing(&'static str),
    /// A header is present but not in the scheme's format.
    #[error("malformed header {0}")]
    Malformed(&'static str),
    /// The timestamp is outside the replay window.
    #[error("timestamp outside the replay window ({age_s} s away)")]
    Stale {
        /// Distance from now, seconds.
        age_s: i64,
    },
    /// No configured secret produces the signature.
    #[error("signature does not match")]
    Mismatch,
    /// A configured secret is unusable (e.g. a `whsec_` value that is not base64).
    #[error("a configured secret is not in the scheme's format")]
    BadSecret,
    /// No secret is configured.
    #[error("no secret configured")]
    NoSecret,
}

/// What a verified request told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The message id (Standard Webhooks), for de-duplication.
    pub id: Option<String>,
    /// The signed timestamp, unix seconds.
    pub timestamp: Option<i64>,
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Result<HmacSha256, SignatureError> {
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| SignatureError::BadSecret)?;
    for p in parts {
        m.update(p);
    }
    Ok(m)
}

fn fresh(timestamp: &str, now_unix: i64, window: Duration, header: &'static str) -> Result<i64, SignatureError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::Malformed(header))?;
    let age = now_unix - ts;
    if age.unsigned_abs() > window.as_secs() {
        return Err(SignatureError::Stale { age_s: age });
    }
    Ok(ts)
}

/// Verifies a Standard Webhooks v1 request. `header` looks a header up case-insensitively.
///
/// # Errors
/// [`SignatureError`] when a header is missing or malformed, the timestamp is stale, or no secret
/// matches any of the `v1,` signatures.
pub fn verify_standard<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    secrets: &[SecretString],
    now_unix: i64,
    window: Duration,
) -> Result<Verified, SignatureError> {
    let id = header("webhook-id").ok_or(SignatureError::Missing("webhook-id"))?;
    let ts_text = header("webhook-timestamp").ok_or(SignatureError::Missing("webhook-timestamp"))?;
    let sigs = header("webhook-signature").ok_or(SignatureError::Missing("webhook-signature"))?;
    if id.is_empty() || id.len() > 256 {
        return Err(SignatureError::Malformed("webhook-id"));
    }
    let ts = fresh(ts_text, now_unix, window, "webhook-timestamp")?;
    let candidates: Vec<Vec<u8>> =
        sigs.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).filter_map(|b| B64.decode(b).ok()).collect();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("webhook-signature"));
    }
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    for secret in secrets {
        let raw = secret.expose();
        let key = B64.decode(raw.strip_prefix("whsec_").unwrap_or(raw)).map_err(|_| SignatureError::BadSecret)?;
        for sig in &candidates {
            let m = mac(&key, &[id.as_bytes(), b".", ts_text.trim().as_bytes(), b".", body])?;
            if m.verify_slice(sig).is_ok() {
                return Ok(Verified { id: Some(id.to_string()), timestamp: Some(ts) });
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a Standard Webhooks v1 request (senders, tests, `make run`): the `webhook-signature` value.
///
/// # Errors
/// [`SignatureError::BadSecret`] for a secret that is not base64 after `whsec_`.
pub fn sign_standard(secret: &SecretString, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let raw = secret.expose();
    let key = B64.decode(raw.strip_prefix("whsec_").unwrap_or(raw)).map_err(|_| SignatureError::BadSecret)?;
    let m = mac(&key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body])?;
    Ok(format!("v1,{}", B64.encode(m.finalize().into_bytes())))
}

/// Verifies GitHub's `X-Hub-Signature-256: sha256=<hex>`. No timestamp, so no replay window: prefer
/// Standard Webhooks where the sender supports it.
///
/// # Errors
/// [`SignatureError`] when the header is missing or malformed or no secret matches.
pub fn verify_github(
    signature: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
) -> Result<Verified, SignatureError> {
    let sig = signature.ok_or(SignatureError::Missing("x-hub-signature-256"))?;
    let hex_sig = sig.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed("x-hub-signature-256"))?;
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed("x-hub-signature-256"))?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    for secret in secrets {
        if mac(secret.expose().as_bytes(), &[body])?.verify_slice(&expected).is_ok() {
            return Ok(Verified { id: None, timestamp: None });
        }
    }
    Err(SignatureError::Mismatch)
}

/// Verifies Slack's v0 signature (`X-Slack-Request-Timestamp`, `X-Slack-Signature`).
///
/// # Errors
/// [`SignatureError`] when a header is missing or malformed, the timestamp is stale, or no secret
/// matches.
pub fn verify_slack(
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now_unix: i64,
    window: Duration,
) -> Result<Verified, SignatureError> {
    let ts_text = timestamp.ok_or(SignatureError::Missing("x-slack-request-timestamp"))?;
    let sig = signature.ok_or(SignatureError::Missing("x-slack-signature"))?;
    let ts = fresh(ts_text, now_unix, window, "x-slack-request-timestamp")?;
    let expected = sig
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Malformed("x-slack-signature"))?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    for secret in secrets {
        let m = mac(secret.expose().as_bytes(), &[b"v0:", ts_text.trim().as_bytes(), b":", body])?;
        if m.verify_slice(&expected).is_ok() {
            return Ok(Verified { id: None, timestamp: Some(ts) });
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a Slack v0 request (tests, `make run`): the `X-Slack-Signature` value.
///
/// # Errors
/// Only for an unusable key (not expected with HMAC).
pub fn sign_slack(secret: &SecretString, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let m = mac(secret.expose().as_bytes(), &[b"v0:", timestamp.to_string().as_bytes(), b":", body])?;
    Ok(format!("v0={}", hex::encode(m.finalize().into_bytes())))
}

/// Verifies a Teams outgoing webhook (`Authorization: HMAC <base64>`; key = base64-decoded secret).
/// Teams sends no timestamp, so there is no replay window.
///
/// # Errors
/// [`SignatureError`] when the header is missing or malformed or no secret matches.
pub fn verify_teams(
    authorization: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
) -> Result<Verified, SignatureError> {
    let auth = authorization.ok_or(SignatureError::Missing("authorization"))?;
    let b64 = auth.trim().strip_prefix("HMAC ").ok_or(SignatureError::Malformed("authorization"))?;
    let expected = B64.decode(b64.trim()).map_err(|_| SignatureError::Malformed("authorization"))?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    for secret in secrets {
        let key = B64.decode(secret.expose()).map_err(|_| SignatureError::BadSecret)?;
        if mac(&key, &[body])?.verify_slice(&expected).is_ok() {
            return Ok(Verified { id: None, timestamp: None });
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a Teams outgoing-webhook body (tests, `make run`): the `Authorization` value.
///
/// # Errors
/// [`SignatureError::BadSecret`] for a secret that is not base64.
pub fn sign_teams(secret: &SecretString, body: &[u8]) -> Result<String, SignatureError> {
    let key = B64.decode(secret.expose()).map_err(|_| SignatureError::BadSecret)?;
    Ok(format!("HMAC {}", B64.encode(mac(&key, &[body])?.finalize().into_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../contract/vectors/signatures.json")).unwrap()
    }

    fn s(v: &Value, k: &str) -> String {
        v[k].as_str().unwrap().to_string()
    }

    #[test]
    fn standard_webhooks_published_vector_verifies_and_rejects_tampering() {
        let v = &vectors()["standard_webhooks_v1"];
        let (id, ts, sig, body) =
            (s(v, "webhook_id"), s(v, "webhook_timestamp"), s(v, "header_webhook_signature"), s(v, "body"));
        let secrets = [SecretString::new(s(v, "secret"))];
        let now: i64 = ts.parse().unwrap();
        let headers = |id: String, ts: String, sig: String| {
            move |k: &str| -> Option<String> {
                match k {
                    "webhook-id" => Some(id.clone()),
                    "webhook-timestamp" => Some(ts.clone()),
                    "webhook-signature" => Some(sig.clone()),
                    _ => None,
                }
            }
        };
        let run = |h: &dyn Fn(&str) -> Option<String>, body: &str, now: i64, secrets: &[SecretString]| {
            let owned: Vec<(String, Option<String>)> = ["webhook-id", "webhook-timestamp", "webhook-signature"]
                .iter()
                .map(|k| (k.to_string(), h(k)))
                .collect();
            verify_standard(
                |k| owned.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.as_deref()),
                body.as_bytes(),
                secrets,
                now,
                DEFAULT_WINDOW,
            )
        };
        let ok = run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now, &secrets).unwrap();
        assert_eq!(ok.id.as_deref(), Some(id.as_str()));
        assert_eq!(sign_standard(&secrets[0], &id, now, body.as_bytes()).unwrap(), sig);
        // several signatures, one valid; several secrets, one valid (rotation)
        let multi = format!("v1,AAAA {sig}");
        assert!(run(&headers(id.clone(), ts.clone(), multi), &body, now, &secrets).is_ok());
        let rotated = [SecretString::new("whsec_dGVzdA=="), secrets[0].clone()];
        assert!(run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now, &rotated).is_ok());
        // tampered body, wrong key, stale or future timestamp, missing header
        assert_eq!(
            run(&headers(id.clone(), ts.clone(), sig.clone()), "{\"test\": 2432232315}", now, &secrets),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now, &rotated[..1]),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now + 301, &secrets),
            Err(SignatureError::Stale { .. })
        ));
        assert!(matches!(
            run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now - 301, &secrets),
            Err(SignatureError::Stale { .. })
        ));
        assert!(run(&headers(id.clone(), ts.clone(), sig.clone()), &body, now + 299, &secrets).is_ok());
        assert_eq!(run(&|_| None, &body, now, &secrets), Err(SignatureError::Missing("webhook-id")));
        assert_eq!(
            run(&headers(id.clone(), ts.clone(), "v2,abc".into()), &body, now, &secrets),
            Err(SignatureError::Malformed("webhook-signature"))
        );
        // the id is signed: another id with the same signature fails
        assert_eq!(run(&headers("msg_other".into(), ts, sig), &body, now, &secrets), Err(SignatureError::Mismatch));
    }

    #[test]
    fn github_published_vector_verifies() {
        let v = &vectors()["github_sha256"];
        let secrets = [SecretString::new(s(v, "secret"))];
        let sig = s(v, "header_x_hub_signature_256");
        assert!(verify_github(Some(&sig), s(v, "body").as_bytes(), &secrets).is_ok());
        assert_eq!(verify_github(Some(&sig), b"Hello, World?", &secrets), Err(SignatureError::Mismatch));
        assert_eq!(verify_github(None, b"x", &secrets), Err(SignatureError::Missing("x-hub-signature-256")));
        assert_eq!(
            verify_github(Some("sha1=00"), b"x", &secrets),
            Err(SignatureError::Malformed("x-hub-signature-256"))
        );
    }

    #[test]
    fn slack_published_vector_verifies_within_the_window_only() {
        let v = &vectors()["slack_v0"];
        let secrets = [SecretString::new(s(v, "signing_secret"))];
        let (ts, sig, body) = (s(v, "timestamp"), s(v, "header_x_slack_signature"), s(v, "body"));
        let now: i64 = ts.parse().unwrap();
        assert!(verify_slack(Some(&ts), Some(&sig), body.as_bytes(), &secrets, now + 10, DEFAULT_WINDOW).is_ok());
        assert_eq!(sign_slack(&secrets[0], now, body.as_bytes()).unwrap(), sig);
        assert!(matches!(
            verify_slack(Some(&ts), Some(&sig), body.as_bytes(), &secrets, now + 3600, DEFAULT_WINDOW),
            Err(SignatureError::Stale { .. })
        ));
        let mut tampered = body.clone();
        tampered.push('x');
        assert_eq!(
            verify_slack(Some(&ts), Some(&sig), tampered.as_bytes(), &secrets, now, DEFAULT_WINDOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(Some("abc"), Some(&sig), body.as_bytes(), &secrets, now, DEFAULT_WINDOW),
            Err(SignatureError::Malformed("x-slack-request-timestamp"))
        );
    }

    #[test]
    fn teams_hmac_round_trips_and_rejects_other_keys() {
        let secret = SecretString::new(B64.encode([7u8; 32]));
        let body = br#"{"type":"message","text":"<at>Defender</at> machine ws-fin-014"}"#;
        let auth = sign_teams(&secret, body).unwrap();
        assert!(verify_teams(Some(&auth), body, std::slice::from_ref(&secret)).is_ok());
        let other = SecretString::new(B64.encode([8u8; 32]));
        assert_eq!(verify_teams(Some(&auth), body, &[other]), Err(SignatureError::Mismatch));
        assert_eq!(verify_teams(Some("Bearer x"), body, &[secret]), Err(SignatureError::Malformed("authorization")));
    }

    #[test]
    fn errors_never_carry_secret_or_signature_material() {
        let secret = SecretString::new("super-secret-signing-key");
        let err = verify_github(Some("sha256=00"), b"x", std::slice::from_ref(&secret)).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
    }
}
