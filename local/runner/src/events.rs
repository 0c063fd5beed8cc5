//! Real event shapes and signed request headers.

use defender_shared::{secret::SecretString, webhook};
use serde_json::{Value, json};

pub use defender_shared::clock::now_unix;

/// Standard Webhooks headers for `body` (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
///
/// # Errors
/// The secret is not a `whsec_` base64 key.
pub fn webhook_headers(
    secret: &SecretString,
    id: &str,
    body: &str,
) -> Result<Vec<(&'static str, String)>, webhook::SignatureError> {
    let ts = now_unix();
    let sig = webhook::sign_standard(secret, id, ts, body.as_bytes())?;
    Ok(vec![("webhook-id", id.to_string()), ("webhook-timestamp", ts.to_string()), ("webhook-signature", sig)])
}

/// Slack request-signing headers for `body`.
///
/// # Errors
/// Signing failed.
pub fn slack_headers(
    secret: &SecretString,
    body: &str,
) -> Result<Vec<(&'static str, String)>, webhook::SignatureError> {
    let ts = now_unix();
    let sig = webhook::sign_slack(secret, ts, body.as_bytes())?;
    Ok(vec![("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", sig)])
}

/// A form post of `body` to `url` signed as Slack signs it (what Slack sends a chat-ops function URL).
///
/// # Errors
/// The signature cannot be computed.
pub fn slack_request(
    url: &str,
    secret: &SecretString,
    body: String,
) -> Result<reqwest::RequestBuilder, webhook::SignatureError> {
    let mut req =
        reqwest::Client::new().post(url).header("content-type", "application/x-www-form-urlencoded").body(body.clone());
    for (k, v) in slack_headers(secret, &body)? {
        req = req.header(k, v);
    }
    Ok(req)
}

/// A Slack slash command (`application/x-www-form-urlencoded`), as Slack posts it.
pub fn slack_slash(user: &str, text: &str, response_url: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "deprecated-verification-token")
        .append_pair("team_id", "T0001")
        .append_pair("team_domain", "contoso")
        .append_pair("channel_id", "C2147483705")
        .append_pair("channel_name", "soc")
        .append_pair("user_id", user)
        .append_pair("user_name", "analyst")
        .append_pair("command", "/defender")
        .append_pair("text", text)
        .append_pair("api_app_id", "A0DEFENDER")
        .append_pair("response_url", response_url)
        .append_pair("trigger_id", "13345224609.738474920.8088930838d88f008e0")
        .finish()
}

/// A Slack button click (`block_actions` in the `payload` form field).
pub fn slack_click(user: &str, value: &str, response_url: &str) -> String {
    let payload = json!({"type": "block_actions", "user": {"id": user, "username": "analyst"}, "team": {"id": "T0001"}, "api_app_id": "A0DEFENDER",
        "channel": {"id": "C2147483705"}, "trigger_id": "1.2.3", "response_url": response_url,
        "actions": [{"action_id": "confirm", "block_id": "b", "type": "button", "value": value}]});
    url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
}

/// The EventBridge Scheduler event the template's ScheduleV2 `Input` produces (its context attributes
/// filled in as the scheduler does).
pub fn scheduler_event(execution_id: &str) -> Value {
    json!({
        "schedule_arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/defender-export",
        "scheduled_time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "execution_id": execution_id,
        "attempt_number": "1"
    })
}

/// An SQS event with one record per body, as Lambda's event source mapping delivers it.
pub fn sqs_event(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("00000000-0000-4000-8000-{i:012}"),
                "receiptHandle": format!("AQEB-local-{i}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": (now_unix() * 1000).to_string(),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": (now_unix() * 1000).to_string()
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:defender-chatops",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signed_headers_verify() {
        let s = SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let h = webhook_headers(&s, "msg_1", "{}").unwrap();
        assert_eq!(h[0], ("webhook-id", "msg_1".to_string()));
        assert!(h[2].1.starts_with("v1,"));
        let slack = slack_headers(&SecretString::new("x"), "a=b").unwrap();
        assert!(slack[1].1.starts_with("v0="));
    }
}
