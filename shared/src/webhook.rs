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
//! | Teams outgoing webhook | `Authorization: HMAC <b64>` | body, whose activity `timestamp` and `id` are held to the window and returned for de-duplication | base64-decoded shared secret |
//!
//! Several secrets may be configured for each scheme so keys can be rotated without downtime.
//!
//! # Cost before authentication
//!
//! Everything here runs for callers nobody has authenticated yet, so the work is bounded by the
//! configuration, not by the request: the body is hashed **once per configured secret** (never once
//! per signature a header offers — each candidate is compared against that one tag, in constant time),
//! a signature header longer than [`MAX_SIGNATURE_HEADER`] or offering more than [`MAX_CANDIDATES`]
//! signatures is refused before any hashing, and timestamp arithmetic saturates instead of overflowing.
//!
//! # Unusable secrets
//!
//! A secret that is empty, shorter than [`MIN_KEY_BYTES`] once decoded, or not in the scheme's format
//! is never used as a key: it is skipped with an error log naming its position (never its value), so
//! one malformed secret in a rotation does not break verification with the others. When no usable
//! secret remains the answer is [`SignatureError::NoSecret`].

use crate::secret::SecretString;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// The default replay window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// Most signatures one header may offer. Standard Webhooks senders send one per active key (two during
/// a rotation); anything beyond a handful is an attempt to multiply the verifier's work.
pub const MAX_CANDIDATES: usize = 8;

/// Longest signature header accepted, bytes: [`MAX_CANDIDATES`] `v1,<base64 of 32 bytes>` entries with
/// room for separators and another version's longer signatures.
pub const MAX_SIGNATURE_HEADER: usize = 1024;

/// Shortest usable HMAC key, bytes. Standard Webhooks keys are 24-64 bytes, Slack signing secrets 32,
/// Teams security tokens 32+; an empty or token-length value is a placeholder left in the vault.
pub const MIN_KEY_BYTES: usize = 16;

/// HMAC-SHA256 output length: every candidate of another length is refused without hashing.
const TAG_BYTES: usize = 32;

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

#[cfg(test)]
thread_local! {
    /// HMACs started over request content in this thread (tests count the verifier's work with it).
    static MACS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Result<HmacSha256, SignatureError> {
    #[cfg(test)]
    MACS.with(|c| c.set(c.get() + 1));
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| SignatureError::BadSecret)?;
    for p in parts {
        m.update(p);
    }
    Ok(m)
}

/// `true` when `tag` equals one of `candidates`. The tag was computed once; each comparison is
/// constant-time (`hmac`'s `verify_slice` on a clone of the finished state costs one outer-hash
/// finalisation, independent of the body's length).
fn matches_any(m: &HmacSha256, candidates: &[Vec<u8>]) -> bool {
    let mut found = false;
    for sig in candidates {
        // No early return: the position of a matching candidate is not leaked either.
        found |= m.clone().verify_slice(sig).is_ok();
    }
    found
}

/// A configured secret as key bytes, or `None` (logged by position, never by value) when it is
/// unusable: not in the scheme's format, empty, or shorter than [`MIN_KEY_BYTES`].
fn usable_key(index: usize, scheme: &'static str, decoded: Option<Vec<u8>>) -> Option<Vec<u8>> {
    match decoded {
        Some(k) if k.len() >= MIN_KEY_BYTES => Some(k),
        Some(k) => {
            tracing::error!(scheme, secret_index = index, key_bytes = k.len(), "signing secret too short: skipped");
            None
        }
        None => {
            tracing::error!(scheme, secret_index = index, "signing secret not in the scheme's format: skipped");
            None
        }
    }
}

/// The usable keys among `secrets`, in order; [`SignatureError::NoSecret`] when none is.
fn keys(
    secrets: &[SecretString],
    scheme: &'static str,
    decode: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, SignatureError> {
    let keys: Vec<Vec<u8>> =
        secrets.iter().enumerate().filter_map(|(i, s)| usable_key(i, scheme, decode(s.expose()))).collect();
    if keys.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    Ok(keys)
}

/// `Ok` when one of the usable keys among `secrets` signs `parts` with one of `expected` (each
/// compared in constant time, [`matches_any`]); [`SignatureError::Mismatch`] when none does.
fn signed_by_one_of(
    secrets: &[SecretString],
    scheme: &'static str,
    decode: impl Fn(&str) -> Option<Vec<u8>>,
    parts: &[&[u8]],
    expected: &[Vec<u8>],
) -> Result<(), SignatureError> {
    for key in keys(secrets, scheme, decode)? {
        if matches_any(&mac(&key, parts)?, expected) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn whsec_key(raw: &str) -> Option<Vec<u8>> {
    B64.decode(raw.trim().strip_prefix("whsec_").unwrap_or(raw.trim())).ok()
}

fn raw_key(raw: &str) -> Option<Vec<u8>> {
    Some(raw.as_bytes().to_vec())
}

fn teams_key(raw: &str) -> Option<Vec<u8>> {
    B64.decode(raw.trim()).ok()
}

/// Checks that a signed timestamp is within `window` of now. The distance saturates, so no value a
/// caller sends can overflow it.
///
/// # Errors
/// [`SignatureError::Malformed`] for a timestamp that is not an integer, [`SignatureError::Stale`]
/// outside the window.
pub fn fresh(timestamp: &str, now_unix: i64, window: Duration, header: &'static str) -> Result<i64, SignatureError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::Malformed(header))?;
    let age = now_unix.saturating_sub(ts);
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
    if sigs.len() > MAX_SIGNATURE_HEADER || sigs.split_whitespace().nth(MAX_CANDIDATES).is_some() {
        return Err(SignatureError::Malformed("webhook-signature"));
    }
    let candidates: Vec<Vec<u8>> = sigs
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| B64.decode(b).ok())
        .filter(|c| c.len() == TAG_BYTES)
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("webhook-signature"));
    }
    let signed = [id.as_bytes(), b".", ts_text.trim().as_bytes(), b".", body];
    signed_by_one_of(secrets, "standard-webhooks", whsec_key, &signed, &candidates)?;
    Ok(Verified { id: Some(id.to_string()), timestamp: Some(ts) })
}

/// Signs a Standard Webhooks v1 request (senders, tests, `make run`): the `webhook-signature` value.
///
/// # Errors
/// [`SignatureError::BadSecret`] for a secret that is not base64 after `whsec_`.
pub fn sign_standard(secret: &SecretString, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let key = whsec_key(secret.expose()).ok_or(SignatureError::BadSecret)?;
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
    if hex_sig.len() != 2 * TAG_BYTES {
        return Err(SignatureError::Malformed("x-hub-signature-256"));
    }
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed("x-hub-signature-256"))?;
    signed_by_one_of(secrets, "github", raw_key, &[body], &[expected])?;
    Ok(Verified { id: None, timestamp: None })
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
        .filter(|h| h.len() == 2 * TAG_BYTES)
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Malformed("x-slack-signature"))?;
    signed_by_one_of(secrets, "slack", raw_key, &[b"v0:", ts_text.trim().as_bytes(), b":", body], &[expected])?;
    Ok(Verified { id: None, timestamp: Some(ts) })
}

/// Signs a Slack v0 request (tests, `make run`): the `X-Slack-Signature` value.
///
/// # Errors
/// Only for an unusable key (not expected with HMAC).
pub fn sign_slack(secret: &SecretString, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let m = mac(secret.expose().as_bytes(), &[b"v0:", timestamp.to_string().as_bytes(), b":", body])?;
    Ok(format!("v0={}", hex::encode(m.finalize().into_bytes())))
}

/// Longest activity id accepted (Teams message ids are a few dozen characters).
const MAX_ACTIVITY_ID: usize = 256;

#[derive(serde::Deserialize)]
struct ActivityStamp {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

/// Verifies a Teams outgoing webhook (`Authorization: HMAC <base64>`; key = base64-decoded secret),
/// then holds the signed activity to the replay window ([`teams_activity_stamp`]). Teams sends no
/// timestamp header, but the activity it signs carries its own `timestamp` and `id`: an activity
/// outside the window is refused, and the returned id lets the caller refuse a second delivery.
///
/// # Errors
/// [`SignatureError`] when the header is missing or malformed, no secret matches, or the signed
/// activity's `timestamp` or `id` is missing, malformed or outside the window.
pub fn verify_teams(
    authorization: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now_unix: i64,
    window: Duration,
) -> Result<Verified, SignatureError> {
    let auth = authorization.ok_or(SignatureError::Missing("authorization"))?;
    let b64 = auth.trim().strip_prefix("HMAC ").ok_or(SignatureError::Malformed("authorization"))?;
    // 44 base64 characters for a 32-byte tag: a longer header is refused before it is decoded.
    if b64.trim().len() > 4 * TAG_BYTES.div_ceil(3) {
        return Err(SignatureError::Malformed("authorization"));
    }
    let expected = B64.decode(b64.trim()).map_err(|_| SignatureError::Malformed("authorization"))?;
    signed_by_one_of(secrets, "teams", teams_key, &[body], &[expected])?;
    // Only an authenticated body is parsed.
    teams_activity_stamp(body, now_unix, window)
}

/// The replay-window half of [`verify_teams`], for a body whose signature is already checked: the
/// activity's `id` (1 to 256 characters) and its RFC 3339 `timestamp`, which must be within `window`
/// of now either way.
///
/// # Errors
/// [`SignatureError::Missing`] / [`SignatureError::Malformed`] (`"timestamp"`, `"id"`) for an
/// activity without them, [`SignatureError::Stale`] outside the window.
pub fn teams_activity_stamp(body: &[u8], now_unix: i64, window: Duration) -> Result<Verified, SignatureError> {
    let stamp: ActivityStamp = serde_json::from_slice(body).map_err(|_| SignatureError::Malformed("activity"))?;
    let id = stamp.id.filter(|i| !i.is_empty()).ok_or(SignatureError::Missing("id"))?;
    if id.len() > MAX_ACTIVITY_ID || id.chars().any(char::is_control) {
        return Err(SignatureError::Malformed("id"));
    }
    let text = stamp.timestamp.ok_or(SignatureError::Missing("timestamp"))?;
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| SignatureError::Malformed("timestamp"))?;
    let ts = at.timestamp();
    let age = now_unix.saturating_sub(ts);
    if age.unsigned_abs() > window.as_secs() {
        return Err(SignatureError::Stale { age_s: age });
    }
    Ok(Verified { id: Some(id), timestamp: Some(ts) })
}

/// Signs a Teams outgoing-webhook body (tests, `make run`): the `Authorization` value.
///
/// # Errors
/// [`SignatureError::BadSecret`] for a secret that is not base64.
pub fn sign_teams(secret: &SecretString, body: &[u8]) -> Result<String, SignatureError> {
    let key = teams_key(secret.expose()).ok_or(SignatureError::BadSecret)?;
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
        let rotated = [SecretString::new(format!("whsec_{}", B64.encode([9u8; 32]))), secrets[0].clone()];
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
        let body = br#"{"type":"message","id":"1485983408511","timestamp":"2026-11-26T22:10:00.318Z","text":"<at>Defender</at> machine ws-fin-014"}"#;
        let now = 1_795_731_000;
        let auth = sign_teams(&secret, body).unwrap();
        assert!(verify_teams(Some(&auth), body, std::slice::from_ref(&secret), now, DEFAULT_WINDOW).is_ok());
        let other = SecretString::new(B64.encode([8u8; 32]));
        assert_eq!(verify_teams(Some(&auth), body, &[other], now, DEFAULT_WINDOW), Err(SignatureError::Mismatch));
        assert_eq!(
            verify_teams(Some("Bearer x"), body, &[secret], now, DEFAULT_WINDOW),
            Err(SignatureError::Malformed("authorization"))
        );
    }

    /// Runs `f` and counts the HMACs it started over request content.
    fn counting<T>(f: impl FnOnce() -> T) -> (T, usize) {
        MACS.with(|c| c.set(0));
        let out = f();
        (out, MACS.with(std::cell::Cell::get))
    }

    fn standard(
        sigs: &str,
        ts: &str,
        body: &[u8],
        secrets: &[SecretString],
        now: i64,
    ) -> Result<Verified, SignatureError> {
        let h = |k: &str| match k {
            "webhook-id" => Some("msg_amp"),
            "webhook-timestamp" => Some(ts),
            "webhook-signature" => Some(sigs),
            _ => None,
        };
        verify_standard(h, body, secrets, now, DEFAULT_WINDOW)
    }

    fn whsec(byte: u8) -> SecretString {
        SecretString::new(format!("whsec_{}", B64.encode([byte; 32])))
    }

    fn bogus(n: usize) -> String {
        (0..n).map(|i| format!("v1,{}", B64.encode([(i % 251) as u8; 32]))).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_body_is_hashed_once_per_secret_whatever_the_header_offers() {
        const NOW: i64 = 1_795_757_400;
        let body = vec![b'x'; 256 * 1024];
        let secrets = [whsec(5), whsec(6)];
        // A few bogus candidates, two secrets: two HMACs over the body (one per secret), not one per pair.
        let (r, n) = counting(|| standard(&bogus(MAX_CANDIDATES), &NOW.to_string(), &body, &secrets, NOW));
        assert_eq!(r, Err(SignatureError::Mismatch));
        assert_eq!(n, secrets.len(), "HMACs over the body for {MAX_CANDIDATES} candidates");
        // 1,000 candidates (about 48 KB of header) are refused before anything is hashed.
        let (r, n) = counting(|| standard(&bogus(1000), &NOW.to_string(), &body, &secrets, NOW));
        assert_eq!(r, Err(SignatureError::Malformed("webhook-signature")));
        assert_eq!(n, 0);
        // One too many short candidates, or an oversize header of a single token: refused, no hashing.
        let many_short = ["v1,AAAA"; MAX_CANDIDATES + 1].join(" ");
        let (r, n) = counting(|| standard(&many_short, &NOW.to_string(), &body, &secrets, NOW));
        assert_eq!((r, n), (Err(SignatureError::Malformed("webhook-signature")), 0));
        let long = format!("v1,{}", "A".repeat(MAX_SIGNATURE_HEADER));
        let (r, n) = counting(|| standard(&long, &NOW.to_string(), &body, &secrets, NOW));
        assert_eq!((r, n), (Err(SignatureError::Malformed("webhook-signature")), 0));
        // The genuine signature still verifies last among the most candidates allowed, with the
        // signing key second in the rotation.
        let good = sign_standard(&secrets[1], "msg_amp", NOW, &body).unwrap();
        let offered = format!("{} {good}", bogus(MAX_CANDIDATES - 1));
        let (r, n) = counting(|| standard(&offered, &NOW.to_string(), &body, &secrets, NOW));
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(n, 2);
    }

    #[test]
    fn the_other_schemes_hash_the_body_once_per_secret_and_refuse_oversize_headers() {
        let body = vec![b'y'; 64 * 1024];
        let teams = [SecretString::new(B64.encode([3u8; 32])), SecretString::new(B64.encode([4u8; 32]))];
        let huge = format!("HMAC {}", B64.encode(vec![0u8; 6000]));
        let (r, n) = counting(|| verify_teams(Some(&huge), &body, &teams, 0, DEFAULT_WINDOW));
        assert_eq!((r, n), (Err(SignatureError::Malformed("authorization")), 0));
        let (r, n) = counting(|| {
            verify_teams(Some(&format!("HMAC {}", B64.encode([1u8; 32]))), &body, &teams, 0, DEFAULT_WINDOW)
        });
        assert_eq!((r, n), (Err(SignatureError::Mismatch), 2));
        let slack = [SecretString::new("8f742231b10e8888abcd99yyyzzz85a5")];
        let long = format!("v0={}", "ab".repeat(4096));
        let (r, n) = counting(|| verify_slack(Some("100"), Some(&long), &body, &slack, 100, DEFAULT_WINDOW));
        assert_eq!((r, n), (Err(SignatureError::Malformed("x-slack-signature")), 0));
        let gh = [SecretString::new("It's a Secret to Everybody")];
        let long = format!("sha256={}", "ab".repeat(4096));
        let (r, n) = counting(|| verify_github(Some(&long), &body, &gh));
        assert_eq!((r, n), (Err(SignatureError::Malformed("x-hub-signature-256")), 0));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        const NOW: i64 = 1_795_757_400;
        let secrets = [whsec(5)];
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
            let r = standard(&bogus(1), &ts.to_string(), b"{}", &secrets, NOW);
            assert!(matches!(r, Err(SignatureError::Stale { .. })), "{ts}: {r:?}");
            let r = verify_slack(
                Some(&ts.to_string()),
                Some(&format!("v0={}", "00".repeat(32))),
                b"",
                &[],
                NOW,
                DEFAULT_WINDOW,
            );
            assert!(matches!(r, Err(SignatureError::Stale { .. })), "{ts}: {r:?}");
        }
        // and a clock at the far end does not overflow either
        assert!(matches!(
            fresh("-9223372036854775808", i64::MAX, DEFAULT_WINDOW, "t"),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn empty_or_placeholder_secrets_are_never_keys_and_a_bad_one_does_not_break_a_rotation() {
        const NOW: i64 = 1_795_757_400;
        let body = b"{\"alert\":1}";
        // A signature anyone can make with an empty key is refused: the empty secret is no key.
        let forged = format!(
            "v1,{}",
            B64.encode(
                mac(&[], &[b"msg_amp.", NOW.to_string().as_bytes(), b".", body]).unwrap().finalize().into_bytes()
            )
        );
        for unusable in ["", "whsec_", "whsec_dGVzdA==", "   "] {
            let r = standard(&forged, &NOW.to_string(), body, &[SecretString::new(unusable)], NOW);
            assert_eq!(r, Err(SignatureError::NoSecret), "{unusable:?}");
        }
        let teams_forged = format!("HMAC {}", B64.encode(mac(&[], &[body]).unwrap().finalize().into_bytes()));
        assert_eq!(
            verify_teams(Some(&teams_forged), body, &[SecretString::new("")], NOW, DEFAULT_WINDOW),
            Err(SignatureError::NoSecret)
        );
        let gh_forged = format!("sha256={}", hex::encode(mac(&[], &[body]).unwrap().finalize().into_bytes()));
        assert_eq!(verify_github(Some(&gh_forged), body, &[SecretString::new("")]), Err(SignatureError::NoSecret));
        let slack_forged = format!(
            "v0={}",
            hex::encode(mac(&[], &[b"v0:", NOW.to_string().as_bytes(), b":", body]).unwrap().finalize().into_bytes())
        );
        assert_eq!(
            verify_slack(
                Some(&NOW.to_string()),
                Some(&slack_forged),
                body,
                &[SecretString::new("")],
                NOW,
                DEFAULT_WINDOW
            ),
            Err(SignatureError::NoSecret)
        );
        // A malformed secret first in a rotation is skipped; the good one still verifies.
        let good = whsec(9);
        let sig = sign_standard(&good, "msg_amp", NOW, body).unwrap();
        let rotation = [SecretString::new("whsec_not*base64!"), good.clone()];
        assert!(standard(&sig, &NOW.to_string(), body, &rotation, NOW).is_ok());
        let teams_good = SecretString::new(B64.encode([2u8; 32]));
        let activity = br#"{"id":"1","timestamp":"2026-11-27T05:30:00Z"}"#;
        let auth = sign_teams(&teams_good, activity).unwrap();
        assert!(
            verify_teams(Some(&auth), activity, &[SecretString::new("%%%"), teams_good], NOW, DEFAULT_WINDOW).is_ok()
        );
    }

    #[test]
    fn a_signed_teams_activity_is_held_to_the_window_and_names_its_id() {
        let secret = SecretString::new(B64.encode([7u8; 32]));
        // 2026-11-26T22:10:00Z
        let now = 1_795_731_000;
        let run = |activity: &str, now: i64| {
            let auth = sign_teams(&secret, activity.as_bytes()).unwrap();
            verify_teams(Some(&auth), activity.as_bytes(), std::slice::from_ref(&secret), now, DEFAULT_WINDOW)
        };
        let activity = r#"{"type":"message","id":"1485983408511","timestamp":"2026-11-26T22:10:00.318Z"}"#;
        assert_eq!(run(activity, now), Ok(Verified { id: Some("1485983408511".into()), timestamp: Some(now) }));
        assert!(run(activity, now + 299).is_ok());
        assert!(run(activity, now - 299).is_ok(), "a little clock skew either way");
        // A signed activity replayed an hour later, or stamped in the future, is refused.
        assert_eq!(run(activity, now + 3600), Err(SignatureError::Stale { age_s: 3600 }));
        assert_eq!(run(activity, now - 301), Err(SignatureError::Stale { age_s: -301 }));
        // Other offsets are the same instant.
        assert!(run(r#"{"id":"a","timestamp":"2026-11-26T14:10:00-08:00"}"#, now).is_ok());
        // Without a timestamp or an id there is nothing to hold it to: refused, not waved through.
        assert_eq!(run(r#"{"type":"message","id":"a"}"#, now), Err(SignatureError::Missing("timestamp")));
        assert_eq!(
            run(r#"{"type":"message","timestamp":"2026-11-26T22:10:00Z"}"#, now),
            Err(SignatureError::Missing("id"))
        );
        assert_eq!(run(r#"{"id":"a","timestamp":"yesterday"}"#, now), Err(SignatureError::Malformed("timestamp")));
        let long = format!(r#"{{"id":"{}","timestamp":"2026-11-26T22:10:00Z"}}"#, "9".repeat(257));
        assert_eq!(run(&long, now), Err(SignatureError::Malformed("id")));
        assert!(matches!(
            run(r#"{"id":"a","timestamp":"+262142-12-31T23:59:59Z"}"#, now),
            Err(SignatureError::Stale { .. } | SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn errors_never_carry_secret_or_signature_material() {
        let secret = SecretString::new("super-secret-signing-key");
        let err = verify_github(Some("sha256=00"), b"x", std::slice::from_ref(&secret)).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
    }
}
