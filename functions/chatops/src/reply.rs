//! What the functions say back, independent of the chat system, and its Slack and Teams renderings.

use serde_json::{Value, json};

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
}

impl Reply {
    /// A plain message.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: false }
    }

    /// A message replacing the one the button was on.
    pub fn replacing(text: impl Into<String>) -> Self {
        Self { text: text.into(), prompt: None, replace_original: true }
    }

    /// Slack's message JSON (ephemeral: only the requester sees it).
    pub fn to_slack(&self) -> Value {
        let mut v = json!({"response_type": "ephemeral", "text": self.text});
        if self.replace_original {
            v["replace_original"] = json!(true);
        }
        if let Some(p) = &self.prompt {
            v["blocks"] = json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": self.text}},
                {"type": "actions", "block_id": format!("confirm-{}", p.request_id), "elements": [
                    {"type": "button", "action_id": "confirm", "style": "danger", "value": p.token,
                     "text": {"type": "plain_text", "text": format!("Confirm {}", p.action)},
                     "confirm": {"title": {"type": "plain_text", "text": "Are you sure?"},
                                 "text": {"type": "plain_text",
                                          "text": format!("{} {} ({})", p.action, p.machine_name, p.machine_id)},
                                 "confirm": {"type": "plain_text", "text": "Yes"},
                                 "deny": {"type": "plain_text", "text": "No"}}},
                    {"type": "button", "action_id": "cancel", "value": p.request_id,
                     "text": {"type": "plain_text", "text": "Cancel"}}
                ]}
            ]);
        }
        v
    }

    /// A Teams outgoing-webhook reply (a message activity).
    pub fn to_teams(&self) -> Value {
        json!({"type": "message", "text": self.text.replace('\n', "<br>")})
    }
}
