//! The confirmation token carried by the confirm button: what is to be done, to which machine, by
//! whom and why, until when — sealed with an HMAC so the callback can trust it without storing it.
//!
//! Format: `base64url(JSON) "." base64url(HMAC-SHA256(key, base64url(JSON)))`, with the key derived
//! from the Slack signing secret (`HMAC(signing secret, "defender-chatops confirm v1")`, so a token's
//! MAC is never a valid Slack request signature). The content is readable but not forgeable; it holds
//! no secret. Verification is constant-time, checks the expiry and accepts any configured secret
//! (rotation).
//!
//! Two kinds are sealed, each under its own derived key (so one kind's token never opens as the
//! other): a machine action ([`Confirmation`], `"defender-chatops confirm v1"`) and any other change
//! — incident, alert, indicator — ([`ChangeConfirmation`], `"defender-chatops change v1"`). [`digest`] names the whole
//! sealed content; the idempotency store's claims carry it, so the worker can check that the job it
//! runs is the one that was confirmed ([`crate::actions::Claim`]).

use crate::command::{ChatUserId, Reason};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use defender_shared::{
    ids::{MachineId, TenantName},
    secret::SecretString,
    tenants::Action,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a confirmation token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Format version (1).
    pub v: u8,
    /// The tenant.
    pub tenant: TenantName,
    /// Who asked (chat user id).
    pub user_id: ChatUserId,
    /// Their display name.
    pub user_name: String,
    /// The action (`isolate`, ...).
    pub action: String,
    /// The machine, resolved exactly.
    pub machine_id: MachineId,
    /// Its host name, as shown on the button.
    pub machine_name: String,
    /// Why.
    pub reason: Reason,
    /// The request id (also the idempotency key and in the Defender comment).
    pub request_id: String,
    /// Expiry, unix seconds.
    pub exp: i64,
}

impl Confirmation {
    /// The action, typed.
    ///
    /// # Errors
    /// Only for a token sealed with an unknown action (not produced by this code).
    pub fn action(&self) -> Result<Action, TokenError> {
        self.action.parse().map_err(|_| TokenError::Malformed)
    }
}

/// A confirmed change that is not a machine action — an incident or alert change, an indicator
/// submitted or removed: the command (its canonical words, parsed again when it runs, so the worker
/// runs exactly what was sealed), by whom, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeConfirmation {
    /// Format version (1).
    pub v: u8,
    /// The tenant.
    pub tenant: TenantName,
    /// Who asked (chat user id).
    pub user_id: ChatUserId,
    /// Their display name.
    pub user_name: String,
    /// The command, as canonical words: `incident 42 resolve`, `alert da63…_-22 status resolved`,
    /// `block 45.137.21.9 block 30d <reason>`, `unblock 8030` (an `unblock` by value is sealed with
    /// the id it resolved to).
    pub command: String,
    /// What the prompt and the answers call it (`incident `42` resolve`); built from typed values,
    /// any text from outside marked untrusted.
    pub summary: String,
    /// The request id (the idempotency key).
    pub request_id: String,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// The former name of [`ChangeConfirmation`] (incident changes were the first kind).
pub type IncidentConfirmation = ChangeConfirmation;

/// A sealable content: its key's domain tag and its expiry.
pub trait Sealed: Serialize + serde::de::DeserializeOwned {
    /// The derivation tag of this kind's key.
    const TAG: &'static [u8];
    /// Expiry, unix seconds.
    fn exp(&self) -> i64;
    /// The format version.
    fn version(&self) -> u8;
}

/// `Sealed` for a content with a `v` (version) and an `exp` field, under its key's tag.
macro_rules! sealed {
    ($($t:ty => $tag:literal),+ $(,)?) => {$(
        impl Sealed for $t {
            const TAG: &'static [u8] = $tag;
            fn exp(&self) -> i64 {
                self.exp
            }
            fn version(&self) -> u8 {
                self.v
            }
        }
    )+};
}

sealed! {
    Confirmation => b"defender-chatops confirm v1",
    ChangeConfirmation => b"defender-chatops change v1",
}

/// The hex SHA-256 of a sealed content (its canonical JSON): what a claim in the idempotency store
/// binds (action, machine or incident, tenant, requester, reason, request id, expiry).
pub fn digest<T: Sealed>(c: &T) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(serde_json::to_vec(c).unwrap_or_default()))
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not in the token format.
    #[error("malformed confirmation")]
    Malformed,
    /// No secret produces the MAC.
    #[error("confirmation signature does not match")]
    Mismatch,
    /// Past its expiry.
    #[error("the confirmation expired {0} s ago")]
    Expired(i64),
    /// No secret configured.
    #[error("no signing secret")]
    NoSecret,
}

fn key(secret: &SecretString, tag: &[u8]) -> Result<HmacSha256, TokenError> {
    let mut k = HmacSha256::new_from_slice(secret.expose().as_bytes()).map_err(|_| TokenError::NoSecret)?;
    k.update(tag);
    HmacSha256::new_from_slice(&k.finalize().into_bytes()).map_err(|_| TokenError::NoSecret)
}

/// Seals a confirmation.
///
/// # Errors
/// [`TokenError::NoSecret`] for an unusable key (not expected with HMAC).
pub fn seal<T: Sealed>(c: &T, secret: &SecretString) -> Result<String, TokenError> {
    let body = B64.encode(serde_json::to_vec(c).map_err(|_| TokenError::Malformed)?);
    let mut m = key(secret, T::TAG)?;
    m.update(body.as_bytes());
    Ok(format!("{body}.{}", B64.encode(m.finalize().into_bytes())))
}

/// Opens a token: MAC (constant time, any secret), then format, then expiry.
///
/// # Errors
/// [`TokenError`].
pub fn open<T: Sealed>(token: &str, secrets: &[SecretString], now: i64) -> Result<T, TokenError> {
    let c: T = open_sealed(token, secrets)?;
    if now > c.exp() {
        return Err(TokenError::Expired(now - c.exp()));
    }
    Ok(c)
}

/// Opens a token without looking at its expiry (MAC, format, version): for the worker, which
/// checks the expiry against the time the claim in the idempotency store was made, not against a
/// time the queue message says.
///
/// # Errors
/// [`TokenError`] but `Expired`.
pub fn open_sealed<T: Sealed>(token: &str, secrets: &[SecretString]) -> Result<T, TokenError> {
    if token.len() > 2000 {
        return Err(TokenError::Malformed);
    }
    let (body, mac) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let mac = B64.decode(mac).map_err(|_| TokenError::Malformed)?;
    if secrets.is_empty() {
        return Err(TokenError::NoSecret);
    }
    let mut ok = false;
    for s in secrets {
        let mut m = key(s, T::TAG)?;
        m.update(body.as_bytes());
        ok |= m.verify_slice(&mac).is_ok();
    }
    if !ok {
        return Err(TokenError::Mismatch);
    }
    let c: T = serde_json::from_slice(&B64.decode(body).map_err(|_| TokenError::Malformed)?)
        .map_err(|_| TokenError::Malformed)?;
    if c.version() != 1 {
        return Err(TokenError::Malformed);
    }
    Ok(c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An isolate of the demo machine by `U1`, expiring at `exp` (other modules' tests change fields).
    pub(crate) fn sample(exp: i64) -> Confirmation {
        Confirmation {
            v: 1,
            tenant: "default".parse().unwrap(),
            user_id: "U1".parse().unwrap(),
            user_name: "road".into(),
            action: "isolate".into(),
            machine_id: "bf44e1ec1d7163de5cf81d93982ed19d185f80d2".parse().unwrap(),
            machine_name: "ws-fin-011.contoso.com".into(),
            reason: Reason::try_from("c2 beacon".to_string()).unwrap(),
            request_id: "r-1".into(),
            exp,
        }
    }

    #[test]
    fn round_trip_rotation_tamper_and_expiry() {
        let s = SecretString::new("signing");
        let t = seal(&sample(1000), &s).unwrap();
        assert_eq!(open::<Confirmation>(&t, &[SecretString::new("new"), s.clone()], 1000).unwrap(), sample(1000));
        assert_eq!(open::<Confirmation>(&t, std::slice::from_ref(&s), 1001), Err(TokenError::Expired(1)));
        assert_eq!(open::<Confirmation>(&t, &[SecretString::new("other")], 0), Err(TokenError::Mismatch));
        // A changed machine (re-encoded body, old MAC) is refused.
        let (_, mac) = t.split_once('.').unwrap();
        let mut forged = sample(1000);
        forged.machine_id = "6e3b0baec64e73af66d665c28fe736f1ee55080a".parse().unwrap();
        let body = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            open::<Confirmation>(&format!("{body}.{mac}"), std::slice::from_ref(&s), 0),
            Err(TokenError::Mismatch)
        );
        assert_eq!(open::<Confirmation>("nodot", std::slice::from_ref(&s), 0), Err(TokenError::Malformed));
        assert_eq!(open::<Confirmation>(&t, &[], 0), Err(TokenError::NoSecret));
        // A machine token never opens as a change (and back): the keys differ by kind.
        assert_eq!(open::<ChangeConfirmation>(&t, std::slice::from_ref(&s), 0), Err(TokenError::Mismatch));
        // The token's MAC is not the Slack signature of anything under the same secret.
        assert!(!t.contains("v0="));
    }
}
