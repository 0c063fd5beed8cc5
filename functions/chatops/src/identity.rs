//! Whose Entra identity a `/defender link` may bind to a chat user.
//!
//! A device-code sign-in proves who typed the code at Microsoft, not who asked in chat: anyone who
//! sees the code (or is handed it) could sign in as themselves — or an analyst could sign in as a
//! colleague with wider rights. So before the refresh token is stored, the signed-in identity (the
//! ID token's `oid` and `preferred_username`/`upn`, [`SignedInUser`]) must be the one expected for the
//! chat user, in this order:
//!
//! 1. an administrator's mapping in the policy (`links`: chat user → UPN or object id), which takes
//!    precedence ([`crate::config::Rbac::linked_identity`]);
//! 2. Teams: the activity's `from.aadObjectId` (the chat user's id) must equal the token's `oid`;
//! 3. Slack: the member's e-mail from `users.info` (scopes `users:read`, `users:read.email`) must equal
//!    the sign-in name — a deactivated member, a bot, an e-mail Slack says is unconfirmed, or no e-mail
//!    at all is refused.
//!
//! Anything that cannot be checked is refused ([`Refusal`]): nothing is stored then.

use crate::{command::ChatUser, thread::SlackApi};
use defender_shared::auth::SignedInUser;

/// What the signed-in identity must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// This sign-in name (UPN), compared case-insensitively with `upn` / `preferred_username`.
    Upn(String),
    /// This object id (`oid`).
    Oid(String),
}

/// Where the expectation came from (for the audit line and the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The policy's `links`.
    AdminMapping,
    /// The Slack member's e-mail (`users.info`).
    SlackEmail,
    /// The Teams activity's `from.aadObjectId`.
    TeamsObjectId,
}

impl Source {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AdminMapping => "admin-mapping",
            Self::SlackEmail => "slack-email",
            Self::TeamsObjectId => "teams-object-id",
        }
    }
}

/// Why a sign-in may not be linked to the chat user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Entra's answer named nobody we can check (no usable ID token).
    #[error("the sign-in did not say who signed in, so it cannot be checked")]
    NoIdentity,
    /// The chat user's own identity could not be established.
    #[error("your chat account's identity cannot be verified ({0})")]
    Unverifiable(String),
    /// Someone else signed in.
    #[error("you signed in as {signed_in}, but {expected}")]
    Mismatch {
        /// The identity that signed in (its sign-in name, or object id).
        signed_in: String,
        /// What was expected, in words.
        expected: String,
    },
}

/// Whether `s` is shaped as a GUID (an Entra object id, a Teams `aadObjectId`).
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// Whether the signed-in identity is the expected one.
pub fn matches(expected: &Expected, s: &SignedInUser) -> bool {
    let eq = |a: Option<&str>, b: &str| a.is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()));
    match expected {
        Expected::Oid(oid) => eq(s.oid.as_deref(), oid),
        Expected::Upn(upn) => eq(s.upn.as_deref(), upn) || eq(s.preferred_username.as_deref(), upn),
    }
}

/// The identity check of one chat user's sign-in.
pub struct IdentityCheck<'a> {
    /// The administrator's mapping for this user and tenant, if any.
    pub mapping: Option<&'a str>,
    /// `users.info` (`None`: no bot token configured — a Slack user then needs a mapping).
    pub slack: Option<&'a dyn SlackApi>,
}

impl std::fmt::Debug for IdentityCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityCheck").field("mapping", &self.mapping).field("slack", &self.slack.is_some()).finish()
    }
}

impl IdentityCheck<'_> {
    /// Who `user` must sign in as.
    ///
    /// # Errors
    /// [`Refusal::Unverifiable`] when Slack cannot say (no bot token, `users.info` refused, no
    /// confirmed e-mail, a deactivated member or a bot).
    pub async fn expected(&self, user: &ChatUser) -> Result<(Expected, Source), Refusal> {
        if let Some(who) = self.mapping {
            let who = who.trim();
            let e = if is_guid(who) { Expected::Oid(who.to_string()) } else { Expected::Upn(who.to_string()) };
            return Ok((e, Source::AdminMapping));
        }
        if is_guid(user.id.as_str()) {
            // Teams: the chat user's id is the activity's `from.aadObjectId` (a Slack member id never
            // has this shape).
            return Ok((Expected::Oid(user.id.to_string()), Source::TeamsObjectId));
        }
        let Some(slack) = self.slack else {
            return Err(Refusal::Unverifiable(
                "no Slack bot token is configured to look your e-mail up; ask an administrator to map your account"
                    .into(),
            ));
        };
        let member = slack.users_info(user.id.as_str()).await.map_err(|e| Refusal::Unverifiable(e.to_string()))?;
        if !member.id.eq_ignore_ascii_case(user.id.as_str()) {
            return Err(Refusal::Unverifiable("Slack described another member".into()));
        }
        if member.deleted || member.is_bot {
            return Err(Refusal::Unverifiable("the Slack account is deactivated or a bot".into()));
        }
        if member.is_email_confirmed == Some(false) {
            return Err(Refusal::Unverifiable("Slack has not confirmed your e-mail address".into()));
        }
        match member.profile.email.as_deref().map(str::trim) {
            Some(email) if !email.is_empty() => Ok((Expected::Upn(email.to_string()), Source::SlackEmail)),
            _ => Err(Refusal::Unverifiable(
                "Slack gave no e-mail address (the app needs the users:read.email scope)".into(),
            )),
        }
    }

    /// Checks a sign-in against [`IdentityCheck::expected`]; answers where the expectation came from.
    ///
    /// # Errors
    /// [`Refusal`].
    pub async fn verify(&self, user: &ChatUser, signed_in: Option<&SignedInUser>) -> Result<Source, Refusal> {
        let Some(s) = signed_in else { return Err(Refusal::NoIdentity) };
        let (expected, source) = self.expected(user).await?;
        if matches(&expected, s) {
            return Ok(source);
        }
        let signed_in = s.name().or(s.oid.as_deref()).unwrap_or("an unnamed account").to_string();
        let expected = match (&expected, source) {
            (Expected::Upn(u), Source::SlackEmail) => format!("your Slack e-mail address is {u}"),
            (Expected::Upn(u), _) => format!("an administrator bound your chat account to {u}"),
            (Expected::Oid(_), Source::TeamsObjectId) => "your Teams account is another Entra user".into(),
            (Expected::Oid(o), _) => format!("an administrator bound your chat account to object id {o}"),
        };
        Err(Refusal::Mismatch { signed_in, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(oid: &str, name: &str) -> SignedInUser {
        SignedInUser { oid: Some(oid.into()), tid: None, preferred_username: Some(name.into()), upn: None }
    }

    const ALICE_OID: &str = "0d5a7d2e-1111-4a4a-8b8b-123456789abc";

    #[test]
    fn guids_are_recognised() {
        assert!(is_guid(ALICE_OID));
        assert!(!is_guid("U0ANALYST"));
        assert!(!is_guid("29:1XJK-Mv"));
        assert!(!is_guid("0d5a7d2e11114a4a8b8b123456789abc"));
    }

    #[test]
    fn a_name_matches_case_insensitively_and_an_oid_exactly() {
        let alice = who(ALICE_OID, "Alice@Contoso.com");
        assert!(matches(&Expected::Upn("alice@contoso.com".into()), &alice));
        assert!(!matches(&Expected::Upn("bob@contoso.com".into()), &alice));
        assert!(matches(&Expected::Oid(ALICE_OID.to_uppercase()), &alice));
        assert!(!matches(&Expected::Oid("0d5a7d2e-1111-4a4a-8b8b-000000000000".into()), &alice));
        let nameless = SignedInUser::default();
        assert!(!matches(&Expected::Upn(String::new()), &nameless), "nothing matches an absent claim");
    }

    #[tokio::test]
    async fn teams_needs_the_activity_object_id_and_a_mapping_wins() {
        let teams = ChatUser { id: ALICE_OID.parse().unwrap(), name: "Alice".into() };
        let check = IdentityCheck { mapping: None, slack: None };
        assert_eq!(check.verify(&teams, Some(&who(ALICE_OID, "alice@contoso.com"))).await, Ok(Source::TeamsObjectId));
        let other = who("7f000000-2222-4b4b-8c8c-000000000001", "bob@contoso.com");
        let e = check.verify(&teams, Some(&other)).await.unwrap_err();
        assert!(matches!(e, Refusal::Mismatch { .. }), "{e:?}");
        assert!(e.to_string().contains("bob@contoso.com"), "{e}");
        assert_eq!(check.verify(&teams, None).await, Err(Refusal::NoIdentity));

        // An administrator's mapping takes precedence, by name or by object id.
        let mapped = IdentityCheck { mapping: Some("bob@contoso.com"), slack: None };
        assert_eq!(mapped.verify(&teams, Some(&other)).await, Ok(Source::AdminMapping));
        let slack_user = ChatUser { id: "U0ANALYST".parse().unwrap(), name: "analyst".into() };
        let by_oid = IdentityCheck { mapping: Some(ALICE_OID), slack: None };
        assert_eq!(by_oid.verify(&slack_user, Some(&who(ALICE_OID, "x@contoso.com"))).await, Ok(Source::AdminMapping));
        // A Slack user without a mapping and without a bot token cannot be checked.
        let e = check.verify(&slack_user, Some(&who(ALICE_OID, "alice@contoso.com"))).await.unwrap_err();
        assert!(matches!(e, Refusal::Unverifiable(_)), "{e:?}");
    }
}
