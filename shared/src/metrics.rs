//! CloudWatch metrics through the Embedded Metric Format (EMF): one JSON document per line on
//! stdout, which Lambda's log agent turns into metrics without an API call (no `PutMetricData`, no
//! extra latency, no permission).
//!
//! Two ways in:
//! - [`count`] adds to a counter of the current invocation, from anywhere (the Defender client, the
//!   token and vault caches, a use case). [`crate::telemetry::invocation`] counts `Invocations` and
//!   [`flush`]es at the end: one document in [`NAMESPACE`] with the dimension set `[service]`, plus
//!   `[service, tenant]` when the invocation's tenant is known (tenants come from the configured
//!   registry, so the dimension is bounded); one document per tenant seen.
//! - [`Document`] builds a document of its own (the export's per-stream one) and [`emit`] prints it.
//!
//! Every document also carries the log context (`service`, `cold_start`, `request_id`, `tenant`,
//! `correlation_id`) as properties, so it is a log line like the others.
//!
//! The format (docs.aws.amazon.com, "Specification: Embedded metric format"): a root `_aws` with
//! `Timestamp` (ms) and `CloudWatchMetrics`, an array of directives `{Namespace, Dimensions: [[..]],
//! Metrics: [{Name, Unit}]}`; every dimension a top-level string, every metric a top-level number.
//! [`validate`] checks a line against it (the tests run it on every line each binary prints).

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

/// The namespace of every function's counters.
pub const NAMESPACE: &str = "DefenderFunctions";

/// A metric's unit (the EMF names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    /// A count.
    Count,
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
}

/// One EMF document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    namespace: String,
    sets: Vec<Vec<String>>,
    dimensions: Map<String, Value>,
    metrics: Vec<(String, Unit, f64)>,
    properties: Map<String, Value>,
}

impl Document {
    /// An empty document in `namespace`.
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            sets: Vec::new(),
            dimensions: Map::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// Adds a dimension set: each `(name, value)` becomes a top-level string, the names one set.
    #[must_use]
    pub fn dimensions(mut self, set: &[(&str, &str)]) -> Self {
        for (k, v) in set {
            self.dimensions.insert((*k).to_string(), Value::from(*v));
        }
        self.sets.push(set.iter().map(|(k, _)| (*k).to_string()).collect());
        self
    }

    /// Adds a metric (a top-level number, declared in the directive).
    #[must_use]
    pub fn metric(mut self, name: &str, unit: Unit, value: f64) -> Self {
        self.metrics.push((name.to_string(), unit, value));
        self
    }

    /// Adds a property: logged with the document, not a metric.
    #[must_use]
    pub fn property(mut self, name: &str, value: impl Serialize) -> Self {
        self.properties.insert(name.to_string(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// The document as JSON, stamped `timestamp_ms`.
    pub fn to_value(&self, timestamp_ms: i64) -> Value {
        let metrics: Vec<Value> = self.metrics.iter().map(|(n, u, _)| json!({"Name": n, "Unit": u})).collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": self.namespace, "Dimensions": self.sets, "Metrics": metrics}]
            }),
        );
        doc.extend(self.dimensions.clone());
        for (n, _, v) in &self.metrics {
            // A whole number stays an integer in the line (`"Records": 3`, not `3.0`).
            let value = if v.fract() == 0.0 && v.abs() < 9.0e15 { json!(*v as i64) } else { json!(v) };
            doc.insert(n.clone(), value);
        }
        for (k, v) in &self.properties {
            doc.entry(k.clone()).or_insert_with(|| v.clone());
        }
        doc.into()
    }
}

/// The log context as properties of a document (see [`crate::telemetry`]).
fn with_context(mut doc: Map<String, Value>) -> Map<String, Value> {
    let (request_id, cold_start, tenant, correlation_id) = crate::telemetry::with_context(|c| {
        let tenant = c.tenant.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let correlation = c.correlation_id.lock().unwrap_or_else(PoisonError::into_inner).clone();
        (c.request_id.clone(), c.cold_start, tenant, correlation)
    })
    .unwrap_or((None, false, None, None));
    let mut out = Map::new();
    if let Some(aws) = doc.shift_remove("_aws") {
        out.insert("_aws".into(), aws);
    }
    out.insert("service".into(), Value::from(crate::telemetry::service()));
    out.insert("cold_start".into(), Value::from(cold_start));
    out.insert("request_id".into(), request_id.map_or(Value::Null, Value::from));
    out.insert("tenant".into(), tenant.map_or(Value::Null, Value::from));
    out.insert("correlation_id".into(), correlation_id.map_or(Value::Null, Value::from));
    for (k, v) in doc {
        out.insert(k, v);
    }
    out
}

/// Prints `doc` (stamped now, with the log context) as one line on stdout, where Lambda's log agent
/// reads it — whatever the log format, so a text-mode run prints the same metrics.
pub fn emit(doc: &Document) {
    let mut value = doc.to_value(chrono::Utc::now().timestamp_millis());
    if let Value::Object(m) = value {
        value = Value::Object(with_context(m));
    }
    println!("{value}");
}

/// Counters per tenant (`None`: not known when counted), per name.
pub(crate) type Counters = BTreeMap<Option<String>, BTreeMap<&'static str, u64>>;

/// Counts made outside an invocation (the init phase): flushed with the next invocation's.
static PENDING: Mutex<Counters> = Mutex::new(BTreeMap::new());

/// Adds `n` to the counter `name` of the current invocation (and of its tenant, once known).
pub fn count(name: &'static str, n: u64) {
    let add = |counters: &mut Counters, tenant: Option<String>| {
        *counters.entry(tenant).or_default().entry(name).or_default() += n;
    };
    let counted = crate::telemetry::with_context(|c| {
        let tenant = c.tenant.lock().unwrap_or_else(PoisonError::into_inner).clone();
        add(&mut c.counters.lock().unwrap_or_else(PoisonError::into_inner), tenant);
    });
    if counted.is_none() {
        add(&mut PENDING.lock().unwrap_or_else(PoisonError::into_inner), None);
    }
}

/// The documents [`flush`] would print now (the invocation's counters and those of the init
/// phase), emptying the counters.
pub fn take() -> Vec<Document> {
    let mut counters = std::mem::take(&mut *PENDING.lock().unwrap_or_else(PoisonError::into_inner));
    let own = crate::telemetry::with_context(|c| {
        std::mem::take(&mut *c.counters.lock().unwrap_or_else(PoisonError::into_inner))
    })
    .unwrap_or_default();
    for (tenant, metrics) in own {
        let into = counters.entry(tenant).or_default();
        for (name, v) in metrics {
            *into.entry(name).or_default() += v;
        }
    }
    let service = crate::telemetry::service();
    counters
        .into_iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(tenant, metrics)| {
            let mut doc = Document::new(NAMESPACE).dimensions(&[("service", service)]);
            if let Some(t) = &tenant {
                doc = doc.dimensions(&[("service", service), ("tenant", t)]);
            }
            metrics.into_iter().fold(doc, |d, (n, v)| d.metric(n, Unit::Count, v as f64))
        })
        .collect()
}

/// Counts an HTTP answer by class: `Responses2xx`, `Responses4xx` or `Responses5xx` (the outcome
/// of an API Gateway / function-URL invocation, which Lambda counts as a success either way).
pub fn response(status: u16) {
    count(
        match status {
            500.. => "Responses5xx",
            400..=499 => "Responses4xx",
            _ => "Responses2xx",
        },
        1,
    );
}

/// Prints the invocation's counters (one document per tenant) and empties them.
pub fn flush() {
    for doc in take() {
        emit(&doc);
    }
}

/// Why a line is not a valid EMF document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid EMF document: {0}")]
pub struct Invalid(pub String);

/// Checks `line` against the EMF specification: `_aws.Timestamp` a number, `CloudWatchMetrics` a
/// non-empty array of directives with a `Namespace` (1–255 characters), `Dimensions` (sets of at
/// most 30 names, each a top-level string), `Metrics` (at most 100, each with a `Name` whose value
/// is a top-level number or array of numbers, and a known `Unit` when present).
///
/// # Errors
/// The first rule the line breaks.
pub fn validate(line: &Value) -> Result<(), Invalid> {
    let bad = |s: String| Err(Invalid(s));
    let Some(aws) = line.get("_aws") else { return bad("no _aws".into()) };
    if !aws.get("Timestamp").is_some_and(Value::is_i64) && !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return bad("_aws.Timestamp is not an integer".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return bad("_aws.CloudWatchMetrics is not an array".into());
    };
    if directives.is_empty() {
        return bad("no metric directive".into());
    }
    for d in directives {
        let ns = d.get("Namespace").and_then(Value::as_str).unwrap_or_default();
        if ns.is_empty() || ns.len() > 255 {
            return bad(format!("namespace '{ns}'"));
        }
        let Some(sets) = d.get("Dimensions").and_then(Value::as_array) else {
            return bad("Dimensions is not an array".into());
        };
        for set in sets {
            let Some(names) = set.as_array() else { return bad("a dimension set is not an array".into()) };
            if names.len() > 30 {
                return bad("more than 30 dimensions in a set".into());
            }
            for n in names {
                let n = n.as_str().unwrap_or_default();
                if !line.get(n).is_some_and(Value::is_string) {
                    return bad(format!("dimension '{n}' is not a top-level string"));
                }
            }
        }
        let Some(metrics) = d.get("Metrics").and_then(Value::as_array) else {
            return bad("Metrics is not an array".into());
        };
        if metrics.len() > 100 {
            return bad("more than 100 metrics".into());
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return bad("a metric without a name".into());
            }
            let ok = match line.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_number),
                _ => false,
            };
            if !ok {
                return bad(format!("metric '{name}' has no numeric value"));
            }
            if let Some(unit) = m.get("Unit") {
                const UNITS: [&str; 27] = [
                    "Seconds",
                    "Microseconds",
                    "Milliseconds",
                    "Bytes",
                    "Kilobytes",
                    "Megabytes",
                    "Gigabytes",
                    "Terabytes",
                    "Bits",
                    "Kilobits",
                    "Megabits",
                    "Gigabits",
                    "Terabits",
                    "Percent",
                    "Count",
                    "Bytes/Second",
                    "Kilobytes/Second",
                    "Megabytes/Second",
                    "Gigabytes/Second",
                    "Terabytes/Second",
                    "Bits/Second",
                    "Kilobits/Second",
                    "Megabits/Second",
                    "Gigabits/Second",
                    "Terabits/Second",
                    "Count/Second",
                    "None",
                ];
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    return bad(format!("metric '{name}' has unit {unit}"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_valid_emf_and_a_broken_one_is_not() {
        let doc = Document::new("NS")
            .dimensions(&[("service", "svc")])
            .dimensions(&[("service", "svc"), ("tenant", "contoso")])
            .metric("Calls", Unit::Count, 3.0)
            .metric("Lag", Unit::Seconds, 1.5)
            .property("note", "x")
            .to_value(7);
        validate(&doc).unwrap();
        assert_eq!(doc["Calls"], 3, "integers stay integers: {doc}");
        assert_eq!(doc["Lag"], 1.5);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["service"], ["service", "tenant"]]));
        let mut broken = doc.clone();
        broken.as_object_mut().unwrap().remove("Calls");
        assert!(validate(&broken).unwrap_err().0.contains("'Calls'"));
        let mut broken = doc.clone();
        broken["tenant"] = json!(1);
        assert!(validate(&broken).is_err());
        let mut broken = doc;
        broken["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Things");
        assert!(validate(&broken).is_err());
        assert!(validate(&json!({"message": "x"})).is_err());
    }

    #[tokio::test]
    async fn counters_go_per_tenant_once_it_is_known() {
        crate::telemetry::invocation("r-m", async {
            count("DefenderCalls", 1);
            crate::telemetry::tenant("contoso");
            count("DefenderCalls", 2);
            count("DefenderThrottles", 1);
            let docs: Vec<Value> = take().iter().map(|d| d.to_value(0)).collect();
            let untenanted = docs.iter().find(|d| d.get("tenant").is_none()).unwrap();
            assert!(untenanted["Invocations"].as_u64() >= Some(1), "{docs:?}");
            assert!(untenanted["DefenderCalls"].as_u64() >= Some(1), "{docs:?}");
            let contoso = docs.iter().find(|d| d["tenant"] == "contoso").unwrap();
            assert_eq!((contoso["DefenderCalls"].as_u64(), contoso["DefenderThrottles"].as_u64()), (Some(2), Some(1)));
            for d in &docs {
                validate(d).unwrap();
            }
            count("Refused", 1);
            crate::telemetry::scope(Some("job"), async {
                crate::telemetry::tenant("fabrikam");
                count("Refused", 1);
            })
            .await;
            let docs: Vec<Value> = take().iter().map(|d| d.to_value(0)).collect();
            let refused = |t: &str| docs.iter().find(|d| d["tenant"] == t).map(|d| d["Refused"].as_u64());
            assert_eq!((refused("contoso"), refused("fabrikam")), (Some(Some(1)), Some(Some(1))), "{docs:?}");
        })
        .await;
    }
}
