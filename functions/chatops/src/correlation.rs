//! The correlation id of a chat request, for the logs ([`defender_shared::telemetry::correlate`]):
//! Slack's `trigger_id` (slash commands and block actions), else the action's message (`container`
//! `message_ts`); a Teams activity's `id`. The callback hands it to the worker as the SQS message
//! attribute [`ATTRIBUTE`], so the worker's lines of a job carry the id of the request that caused
//! it (a message without one: its SQS message id).

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::Value;
use std::collections::HashMap;

/// The SQS message attribute that carries the correlation id.
pub const ATTRIBUTE: &str = "correlation_id";

/// The correlation id of a Slack request body (a form: slash command, or `payload=` JSON).
pub fn slack(body: &[u8]) -> Option<String> {
    let mut payload = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "trigger_id" if !v.is_empty() => return Some(v.into_owned()),
            "payload" => payload = serde_json::from_str::<Value>(&v).ok(),
            _ => {}
        }
    }
    let p = payload?;
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    text(&p["trigger_id"]).or_else(|| text(&p["container"]["message_ts"])).or_else(|| text(&p["message"]["ts"]))
}

/// The correlation id of a Teams activity (its `id`).
pub fn teams(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["id"].as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The current correlation id as SQS message attributes (none outside a request that has one).
pub fn attributes() -> Option<HashMap<String, MessageAttributeValue>> {
    let id = defender_shared::telemetry::correlation_id()?;
    let value = MessageAttributeValue::builder().data_type("String").string_value(id).build().ok()?;
    Some(HashMap::from([(ATTRIBUTE.to_string(), value)]))
}

/// The correlation id a queued record carries, else its SQS message id.
pub fn of_record(record: &SqsMessage) -> String {
    record
        .message_attributes
        .get(ATTRIBUTE)
        .and_then(|a| a.string_value.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| record.message_id.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_teams_and_queue_ids() {
        assert_eq!(
            slack(b"command=%2Fdefender&trigger_id=13345224609.738474920.8088930838d&text=x").as_deref(),
            Some("13345224609.738474920.8088930838d")
        );
        let click = serde_json::json!({"type": "block_actions", "container": {"message_ts": "1548261231.000200"}});
        let body =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &click.to_string()).finish();
        assert_eq!(slack(body.as_bytes()).as_deref(), Some("1548261231.000200"));
        assert_eq!(slack(b"text=none"), None);
        assert_eq!(teams(br#"{"type":"message","id":"1485983408511"}"#).as_deref(), Some("1485983408511"));
        assert_eq!(teams(b"not json"), None);
        let mut record = SqsMessage::default();
        record.message_id = Some("m-1".into());
        assert_eq!(of_record(&record), "m-1");
        let mut attr = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
        attr.string_value = Some("T-1".into());
        record.message_attributes.insert(ATTRIBUTE.into(), attr);
        assert_eq!(of_record(&record), "T-1");
    }
}
