//! Adaptive Cards for the Teams bot, rendered from the same [`Reply`] every command produces, so a
//! new command gets its Teams card without code here:
//!
//! - a lookup (machine, alert, incident, action, hunt) becomes a card whose first line is the title
//!   and whose `Name: value · Name: value` lines become a `FactSet` (the machine card, the alert card);
//! - a reply with a [`Prompt`] becomes the **confirmation card**: `Action.Execute` buttons (Universal
//!   Actions, card version 1.4) with the verb `confirm` (or `confirm-incident`) and `cancel`, or, for
//!   a second person under the two-person rule, `approve` and `cancel`; each carries the sealed token
//!   in `data.token`, checked by [`crate::actions::Safety`] exactly as Slack's buttons are.
//!
//! Untrusted text (what endpoints and users wrote) is escaped for the cards' Markdown subset with a
//! backslash before every character CommonMark could read as syntax there ([`escape_card`]), so a planted
//! `[Open](https://evil)` shows as typed and forms no link; our own `*bold*` becomes `**bold**` and
//! code backticks are dropped (cards have no code spans).

use crate::reply::{Prompt, Reply, segments};
use serde_json::{Value, json};

/// The card content type.
pub const CARD: &str = "application/vnd.microsoft.card.adaptive";

/// Escapes untrusted text for an Adaptive Card `TextBlock`: a backslash before each character that
/// forms Markdown anywhere in a line (emphasis, links, code, HTML, entities, headings, tables,
/// strike-through), and before a `-` or `+` where a list could start (the piece's first character);
/// line breaks become spaces.
pub fn escape_card(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let syntax =
            matches!(c, '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' | '~' | '<' | '>' | '#' | '!' | '|' | '&');
        if syntax || (i == 0 && matches!(c, '-' | '+')) {
            out.push('\\');
        }
        if c == '\n' || c == '\r' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Our own formatting for a card: `*bold*` → `**bold**`, backticks dropped.
fn trusted(s: &str) -> String {
    s.replace('`', "").replace('*', "**")
}

/// One line of a reply as card Markdown.
fn line_markdown(pieces: &[(bool, String)]) -> String {
    pieces.iter().map(|(u, p)| if *u { escape_card(p) } else { trusted(p) }).collect()
}

/// The reply's pieces, line by line (untrusted pieces never hold a line break: it is escaped).
fn lines(text: &str) -> Vec<Vec<(bool, String)>> {
    let mut out: Vec<Vec<(bool, String)>> = vec![Vec::new()];
    for (u, piece) in segments(text) {
        if u {
            if let Some(last) = out.last_mut() {
                last.push((true, piece));
            }
            continue;
        }
        let mut parts = piece.split('\n');
        if let (Some(first), Some(last)) = (parts.next(), out.last_mut())
            && !first.is_empty()
        {
            last.push((false, first.to_string()));
        }
        for p in parts {
            out.push(if p.is_empty() { Vec::new() } else { vec![(false, p.to_string())] });
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// `Name: value · Name: value` → facts, when every part has a trusted `Name:` head.
fn facts(pieces: &[(bool, String)]) -> Option<Vec<Value>> {
    let md = line_markdown(pieces);
    let parts: Vec<&str> = md.split(" · ").collect();
    if parts.len() < 2 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            let (k, v) = p.split_once(": ")?;
            (!k.is_empty() && k.len() <= 40 && !k.contains('\\')).then(|| json!({"title": k, "value": v}))
        })
        .collect()
}

fn buttons(p: &Prompt) -> Vec<Value> {
    let button = crate::reply::ButtonAction::go_ahead(p);
    let verb = button.as_str();
    let title = match button {
        crate::reply::ButtonAction::Approve => format!("Approve {}", p.action),
        crate::reply::ButtonAction::ConfirmChange => "Confirm".to_string(),
        _ => format!("Confirm {}", p.action),
    };
    vec![
        json!({"type": "Action.Execute", "title": title, "verb": verb, "style": "destructive",
               "data": {"token": p.token}}),
        json!({"type": "Action.Execute", "title": "Cancel", "verb": crate::reply::ButtonAction::Cancel.as_str(), "data": {"token": p.token}}),
    ]
}

/// The Adaptive Card of a reply.
pub fn card(reply: &Reply) -> Value {
    let mut body = Vec::new();
    for (i, line) in lines(&reply.text).iter().enumerate() {
        if i == 0 {
            body.push(json!({"type": "TextBlock", "text": line_markdown(line), "weight": "Bolder", "size": "Medium", "wrap": true}));
        } else if let Some(f) = facts(line) {
            body.push(json!({"type": "FactSet", "facts": f}));
        } else {
            body.push(json!({"type": "TextBlock", "text": line_markdown(line), "wrap": true}));
        }
    }
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    });
    if let Some(p) = &reply.prompt {
        card["actions"] = Value::Array(buttons(p));
    }
    card
}

/// A message activity carrying the reply's card (and its plain text for notifications).
pub fn activity(reply: &Reply) -> Value {
    json!({
        "type": "message",
        "summary": crate::reply::plain(reply.text.lines().next().unwrap_or_default()).chars().take(120).collect::<String>(),
        "attachments": [{"contentType": CARD, "content": card(reply)}],
    })
}

/// The answer to an `adaptiveCard/action` invoke that replaces the card for the presser.
pub fn invoke_card(reply: &Reply) -> Value {
    json!({"statusCode": 200, "type": CARD, "value": card(reply)})
}

/// The answer to an `adaptiveCard/action` invoke that leaves the card and shows the presser a message
/// (plain text: our code backticks dropped, what others wrote kept as written).
pub fn invoke_message(text: &str) -> Value {
    let value: String = segments(text).into_iter().map(|(u, p)| if u { p } else { p.replace('`', "") }).collect();
    json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::untrusted;

    #[test]
    fn machine_facts_and_planted_links_render_inert() {
        let r = Reply::text(format!(
            "*{}* (id `abc`)\nOS: {} · health: Active\nAlerts: 1",
            untrusted("ws-1"),
            untrusted("[Open](https://evil.example) *x*")
        ));
        let c = card(&r);
        assert_eq!(c["body"][0]["text"], "**ws-1** (id abc)");
        assert_eq!(c["body"][1]["type"], "FactSet");
        let os = c["body"][1]["facts"][0]["value"].as_str().unwrap();
        assert_eq!(os, "\\[Open\\]\\(https://evil.example\\) \\*x\\*");
        assert!(c.get("actions").is_none());
    }

    #[test]
    fn prompts_get_confirm_and_cancel_approvals_approve_and_cancel() {
        let mut p = Prompt {
            action: "isolate".into(),
            machine_name: "ws-1".into(),
            machine_id: "m".into(),
            reason: "r".into(),
            request_id: "q".into(),
            expires_in_s: 300,
            token: "tok.en".into(),
            approval: false,
            incident: false,
        };
        let mut r = Reply::text("*Isolate* ws-1?");
        r.prompt = Some(p.clone());
        let c = card(&r);
        assert_eq!(c["actions"][0]["verb"], "confirm");
        assert_eq!(c["actions"][0]["type"], "Action.Execute");
        assert_eq!(c["actions"][0]["data"]["token"], "tok.en");
        assert_eq!(c["actions"][1]["verb"], "cancel");
        p.approval = true;
        r.prompt = Some(p);
        assert_eq!(card(&r)["actions"][0]["verb"], "approve");
    }
}
