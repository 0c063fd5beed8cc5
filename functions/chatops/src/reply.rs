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
    /// A second person's approval (an `approve` button in the channel), not the requester's confirm.
    pub approval: bool,
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
        let mut v = json!({"response_type": kind, "text": self.text});
        if self.replace_original {
            v["replace_original"] = json!(true);
        }
        if let Some(p) = &self.prompt {
            let (id, verb) = if p.approval { ("approve", "Approve") } else { ("confirm", "Confirm") };
            v["blocks"] = json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": self.text}},
                {"type": "actions", "block_id": format!("{id}-{}", p.request_id), "elements": [
                    {"type": "button", "action_id": id, "style": "danger", "value": p.token,
                     "text": {"type": "plain_text", "text": format!("{verb} {}", p.action)},
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
