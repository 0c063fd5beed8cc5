//! What the functions say back, independent of the chat system, and its Slack and Teams renderings.
//!
//! # Untrusted text
//! Text the functions do not control — what an endpoint reports (machine names, alert titles,
//! hunting rows, file paths), incident fields, chat display names and a requester's reason — is
//! marked where it enters a reply with [`untrusted`] and escaped when the reply is rendered, with
//! one function per format: [`escape_slack`] (Slack's `&`, `<`, `>`, so `<https://evil|Open in
//! Defender>` is shown as typed, never as a link) and [`escape_teams`] (HTML and Markdown: entities
//! for `&`, `<`, `>`, quotes and the Markdown characters, so neither a tag nor `[text](url)` is
//! formed). The marks are private-use characters, removed from the untrusted text itself first, so
//! it cannot close its own span.

use serde_json::{Value, json};

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Marks text the functions do not control, to be escaped by the renderer of each format.
pub fn untrusted(s: impl AsRef<str>) -> String {
    let inner: String = s.as_ref().chars().filter(|c| *c != OPEN && *c != CLOSE).collect();
    format!("{OPEN}{inner}{CLOSE}")
}

/// Escapes text for Slack mrkdwn (and the `text` of a message): `&`, `<`, `>` as Slack documents.
pub fn escape_slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Teams message (Markdown with HTML): numeric entities for the HTML characters
/// (`&`, `<`, `>`, quotes) and for the Markdown characters that form a link or an image (`[`, `]`,
/// `(`, `)`), close a code span (`` ` ``), escape (`\`) or emphasise (`*`); an entity is shown as its
/// character and never parsed as syntax. (`_` is left: ids and host names hold it, and it forms no
/// link.)
pub fn escape_teams(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '<' | '>' | '"' | '\'' | '\\' | '`' | '*' | '[' | ']' | '(' | ')' => {
                out.push_str(&format!("&#{};", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Renders a reply text: marked spans through `escape`, the rest as written.
fn render(text: &str, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len_utf8()..]),
            None => (after, ""),
        };
        out.push_str(&escape(inner));
        rest = next;
    }
    out.push_str(&rest.replace(CLOSE, ""));
    out
}

/// The text as `(untrusted, piece)` pieces, marks removed: for renderers of other formats (the
/// Adaptive Cards of [`crate::cards`]).
pub fn segments(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push((false, rest[..start].replace(CLOSE, "")));
        let after = &rest[start + OPEN.len_utf8()..];
        let (inner, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len_utf8()..]),
            None => (after, ""),
        };
        out.push((true, inner.to_string()));
        rest = next;
    }
    out.push((false, rest.replace(CLOSE, "")));
    out.retain(|(_, s)| !s.is_empty());
    out
}

/// The reply text without marks and unescaped (plain-text fields, logs, tests).
pub fn plain(text: &str) -> String {
    text.chars().filter(|c| *c != OPEN && *c != CLOSE).collect()
}

/// The buttons of a prompt: Slack's `action_id` and the Adaptive Card's `verb` are these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Confirm a machine action (the requester).
    Confirm,
    /// Approve a machine action under the two-person rule (another authorised user).
    Approve,
    /// Confirm a change that is not a machine action (incident, alert, indicator).
    ConfirmChange,
    /// Cancel the pending request (the requester or an approver).
    Cancel,
}

impl ButtonAction {
    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Approve => "approve",
            Self::ConfirmChange => "confirm-incident",
            Self::Cancel => "cancel",
        }
    }

    /// The button a pressed `action_id`/`verb` names (`None`: not ours; nothing is done).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Confirm, Self::Approve, Self::ConfirmChange, Self::Cancel].into_iter().find(|b| b.as_str() == name)
    }

    /// The button that goes ahead with `p`.
    pub const fn go_ahead(p: &Prompt) -> Self {
        match (p.approval, p.incident) {
            (true, _) => Self::Approve,
            (false, true) => Self::ConfirmChange,
            (false, false) => Self::Confirm,
        }
    }
}

/// A confirmation prompt: the machine's name and id, the action and reason, and the sealed token the
/// confirm button carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// `isolate`, ...
    pub action: String,
    /// The machine's host name.
    pub machine_name: String,
    /// The machine's id.
    pub machine_id: String,
    /// Why.
    pub reason: String,
    /// The request id.
    pub request_id: String,
    /// Seconds until the button expires.
    pub expires_in_s: u64,
    /// The sealed confirmation token.
    pub token: String,
    /// A second person's approval (an `approve` button in the channel), not the requester's confirm.
    pub approval: bool,
    /// An incident change (`confirm-incident` button), not a machine action.
    pub incident: bool,
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The message (Slack mrkdwn subset: `*bold*`, `` `code` ``).
    pub text: String,
    /// A confirmation to ask for.
    pub prompt: Option<Prompt>,
    /// Replace the message the button was on (Slack).
    pub replace_original: bool,
    /// Shown to the channel (`in_channel`), not only to the requester: a second person must see an
    /// approval request.
    pub in_channel: bool,
}

impl Reply {
    /// A plain message.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: false, in_channel: false }
    }

    /// A message replacing the one the button was on.
    pub fn replacing(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: true, in_channel: false }
    }

    /// Slack's message JSON (ephemeral — only the requester sees it — unless `in_channel`).
    pub fn to_slack(&self) -> Value {
        let kind = if self.in_channel { "in_channel" } else { "ephemeral" };
        let text = self.slack_text();
        let mut v = json!({"response_type": kind, "text": text});
        if self.replace_original {
            v["replace_original"] = json!(true);
        }
        if let Some(p) = &self.prompt {
            let button = ButtonAction::go_ahead(p);
            let id = button.as_str();
            let verb = if button == ButtonAction::Approve { "Approve" } else { "Confirm" };
            v["blocks"] = json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "actions", "block_id": format!("{id}-{}", p.request_id), "elements": [
                    {"type": "button", "action_id": id, "style": "danger", "value": p.token,
                     "text": {"type": "plain_text", "text": plain(&format!("{verb} {}", p.action))},
                     "confirm": {"title": {"type": "plain_text", "text": "Are you sure?"},
                                 "text": {"type": "plain_text",
                                          "text": plain(&format!("{} {} ({})", p.action, p.machine_name, p.machine_id))},
                                 "confirm": {"type": "plain_text", "text": "Yes"},
                                 "deny": {"type": "plain_text", "text": "No"}}},
                    // The cancel button carries the token: only the requester or an approver may cancel.
                    {"type": "button", "action_id": ButtonAction::Cancel.as_str(), "value": p.token,
                     "text": {"type": "plain_text", "text": "Cancel"}}
                ]}
            ]);
        }
        v
    }

    /// The text as Slack mrkdwn, untrusted spans escaped.
    pub fn slack_text(&self) -> String {
        render(&self.text, escape_slack)
    }

    /// The text as Teams Markdown, untrusted spans escaped.
    pub fn teams_text(&self) -> String {
        render(&self.text, escape_teams).replace('\n', "<br>")
    }

    /// A Teams outgoing-webhook reply (a message activity).
    pub fn to_teams(&self) -> Value {
        json!({"type": "message", "text": self.teams_text()})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_is_read_back_from_its_wire_name_and_nothing_else_is_a_button() {
        for b in [ButtonAction::Confirm, ButtonAction::Approve, ButtonAction::ConfirmChange, ButtonAction::Cancel] {
            assert_eq!(ButtonAction::parse(b.as_str()), Some(b));
        }
        for other in ["", "Confirm", "confirm ", "delete", "approve-all"] {
            assert_eq!(ButtonAction::parse(other), None, "{other:?}");
        }
    }

    const PLANTED: &str =
        "<https://evil.example/x|Open in Defender> [Open in Defender](https://evil.example/y) <b>x</b> & *y*";

    #[test]
    fn planted_links_are_inert_in_both_formats_and_cannot_close_their_span() {
        let r = Reply::text(format!("*Alert* `{}`: done", untrusted(PLANTED)));
        let slack = r.slack_text();
        assert!(!slack.contains('<') && !slack.contains('>'), "{slack}");
        assert!(slack.starts_with("*Alert* `&lt;https://evil.example/x|Open in Defender&gt;"), "{slack}");
        assert!(slack.contains("&amp; *y*") && slack.ends_with("`: done"), "{slack}");
        let teams = r.teams_text();
        assert!(!teams.contains('<') && !teams.contains('[') && !teams.contains("]("), "{teams}");
        assert!(teams.starts_with("*Alert* `&#60;https://evil.example/x|Open in Defender&#62;"), "{teams}");
        assert!(teams.ends_with("`: done"), "our own formatting is kept: {teams}");
        // A planted closing mark does not end the span early.
        let sneaky = Reply::text(untrusted(format!("a{CLOSE}<https://evil|x>")));
        assert_eq!(sneaky.slack_text(), "a&lt;https://evil|x&gt;");
        assert_eq!(plain(&sneaky.text), "a<https://evil|x>");
    }
}
