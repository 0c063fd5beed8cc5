//! The user's side of the SOC bus on moto, and what a published event must be: the bus with a rule
//! for our source delivering to an SQS queue, that queue drained, each event checked against its
//! documented schema (`docs/events/*.schema.json`).

use super::eventbridge;
use defender_shared::events::DetailType;
use local_runner::{
    moto::{Credentials, TemplateAws},
    paths::Paths,
};
use serde_json::{Value, json};
use std::time::Duration;

/// The bus the tests name (`EventBusName`).
pub const BUS: &str = "soc-bus";
/// The user's queue behind the bus's rule.
pub const EVENTS_QUEUE: &str = "soc-events";

/// An event of our source with an empty detail, for `bus`.
pub fn empty_event(bus: &str, detail_type: &str) -> aws_sdk_eventbridge::types::PutEventsRequestEntry {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder().event_bus_name(bus);
    entry.source("defender-functions").detail_type(detail_type).detail("{}").build()
}

/// A `PutEvents` with the role `c` on a bus other than [`BUS`] is refused (403).
pub async fn assert_may_not_publish_elsewhere(aws: &TemplateAws, c: &Credentials) {
    let other = empty_event("other-bus", "Export Run Summary");
    let denied = eventbridge(aws, c).put_events().entries(other).send().await.unwrap_err();
    assert_eq!(denied.raw_response().map(|r| r.status().as_u16()), Some(403), "{denied:?}");
}

/// What the user does on their side of the bus: the bus, a queue, a rule for our source targeting it.
pub async fn bus_to_queue(aws: &TemplateAws) -> String {
    let eb = eventbridge(aws, aws.moto.admin.as_ref().unwrap());
    eb.create_event_bus().name(BUS).send().await.unwrap();
    let sqs = aws.admin_sqs().unwrap();
    let url = sqs.create_queue().queue_name(EVENTS_QUEUE).send().await.unwrap().queue_url.unwrap();
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{EVENTS_QUEUE}");
    eb.put_rule()
        .name("defender-functions-all")
        .event_bus_name(BUS)
        .event_pattern(json!({"source": ["defender-functions"]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn).build().unwrap();
    eb.put_targets().rule("defender-functions-all").event_bus_name(BUS).targets(target).send().await.unwrap();
    url
}

/// Messages of the queue at `url` (deleted once read) until `n` arrived or `within` passed.
pub async fn drain(aws: &TemplateAws, url: &str, n: usize, within: Duration) -> Vec<Value> {
    let sqs = aws.admin_sqs().unwrap();
    let until = tokio::time::Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n && tokio::time::Instant::now() < until {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await;
        for m in got.unwrap().messages() {
            out.push(serde_json::from_str(m.body().unwrap_or_default()).unwrap());
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
    out
}

/// The event's envelope is ours and its detail validates against its detail-type's documented schema.
pub fn assert_documented(event: &Value) -> DetailType {
    assert_eq!(event["source"], "defender-functions", "{event}");
    let kind = DetailType::ALL
        .into_iter()
        .find(|d| event["detail-type"] == d.as_str())
        .unwrap_or_else(|| panic!("an undocumented detail-type: {event}"));
    let errors = schema_errors(kind, &event["detail"]);
    assert!(errors.is_empty(), "{} does not match {}: {errors:?}", event["detail"], kind.schema_file());
    kind
}

/// What the documented schema of `kind` finds wrong with `detail`.
pub fn schema_errors(kind: DetailType, detail: &Value) -> Vec<String> {
    let path = Paths::discover().root.join("docs/events").join(kind.schema_file());
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let v = jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v.iter_errors(detail).map(|e| format!("{} at {}", e, e.instance_path)).collect()
}
