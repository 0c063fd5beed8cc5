//! Observability of the real binaries, as Lambda runs them with `LoggingConfig.LogFormat: JSON`
//! (`AWS_LAMBDA_LOG_FORMAT=JSON`): each of the four functions is spawned under the Runtime API
//! emulator, invoked twice (a cold and a warm invocation) with real event JSON — including requests
//! that carry every secret the product handles — and everything it prints is read back.
//!
//! - every stdout line is a JSON object with `service`, `cold_start`, `request_id`, `tenant` and
//!   `correlation_id`; `cold_start` is true on the first invocation's lines only; `request_id` is null
//!   only on the init lines; the correlation id is the inbound one (the worker's: the one the
//!   callback carried through SQS);
//! - audit lines nest their fields in an `audit` object;
//! - every EMF line is valid EMF ([`defender_shared::metrics::validate`]) and the counters are there;
//! - no secret (webhook secret, Slack signing secret, client secret, access and refresh tokens) is in
//!   any line of stdout or stderr;
//! - docs/operations.md shows a line of each kind exactly as emitted (the block between the
//!   `golden-log-lines` markers; `UPDATE_GOLDEN=1` rewrites it from this run).
//!
//! The binaries are those `make bins` builds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{metrics, secret::SecretString};
use lambda_emu::Emulator;
use local_runner::{
    env::{ANALYST, APP_SECRET, POLICY},
    events,
    paths::Paths,
};
use serde_json::{Value, json};
use std::{collections::BTreeSet, process::Stdio, time::Duration};
use tenant_sim::{SimOptions, start};
use testkit::Moto;
use testkit::Receiver;

const T: Duration = Duration::from_secs(60);
/// A refresh token as Entra issues them (a stand-in value), sent in requests to see it is not logged.
const REFRESH_TOKEN: &str = "1.AXoAobs-refresh-token-value-never-logged-0123456789abcdefABCDEF";

/// One spawned function binary.
struct Running {
    name: &'static str,
    emu: Emulator,
    child: tokio::process::Child,
}

impl Running {
    fn spawn(paths: &Paths, name: &'static str, emu: Emulator, env: &[(String, String)]) -> Self {
        let child = tokio::process::Command::new(paths.binary(name).unwrap_or_else(|e| panic!("{e}")))
            .env_clear()
            .envs(emu.env(name))
            .envs(env.iter().cloned())
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self { name, emu, child }
    }

    async fn invoke(&mut self, event: &Value) -> Value {
        match self.emu.invoke(event, T).await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(e) => panic!("{}: {e}", self.name),
        }
    }

    /// Stops the process; its stdout lines and its stderr.
    async fn output(mut self) -> (Vec<String>, String) {
        self.child.start_kill().ok();
        let out = self.child.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        (stdout, String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// What one function printed.
struct Printed {
    service: &'static str,
    lines: Vec<Value>,
    raw: String,
}

impl Printed {
    fn logs(&self) -> impl Iterator<Item = &Value> {
        self.lines.iter().filter(|l| l.get("_aws").is_none())
    }
    fn emf(&self) -> impl Iterator<Item = &Value> {
        self.lines.iter().filter(|l| l.get("_aws").is_some())
    }
    /// The metric names of the documents in `namespace`.
    fn metric_names(&self, namespace: &str) -> BTreeSet<String> {
        self.emf()
            .flat_map(|d| d["_aws"]["CloudWatchMetrics"].as_array().cloned().unwrap_or_default())
            .filter(|d| d["Namespace"] == namespace)
            .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
            .filter_map(|m| m["Name"].as_str().map(str::to_string))
            .collect()
    }
}

/// Checks the context keys of every line; answers the parsed lines.
fn check_lines(service: &'static str, stdout: Vec<String>, stderr: String, invocations: usize) -> Printed {
    let mut lines = Vec::new();
    for l in stdout.iter().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{service}: not JSON ({e}): {l}"));
        assert!(v.is_object(), "{service}: not an object: {l}");
        for k in ["service", "cold_start", "request_id", "tenant", "correlation_id"] {
            assert!(v.get(k).is_some(), "{service}: no {k}: {l}");
        }
        assert_eq!(v["service"], service, "{l}");
        assert!(v["cold_start"].is_boolean(), "{l}");
        if v.get("_aws").is_some() {
            metrics::validate(&v).unwrap_or_else(|e| panic!("{service}: {e}: {l}"));
        } else {
            for k in ["timestamp", "level", "target", "message"] {
                assert!(v.get(k).is_some(), "{service}: no {k}: {l}");
            }
            if v["target"] == "audit" {
                assert!(v["audit"]["decision"].is_string(), "{service}: an audit object: {l}");
                assert!(v.get("decision").is_none(), "{service}: the audit fields are nested: {l}");
            }
        }
        lines.push(v);
    }
    // request_id: null on the init lines only (before the first invocation, or from the cold start's
    // background warm-up and self-check, marked `init`, which may finish during the first invocation),
    // then one per invocation; cold_start: true on the init and first invocation's lines, false after.
    let all = lines;
    let (init, lines): (Vec<Value>, Vec<Value>) = all.iter().cloned().partition(|l| l["init"] == true);
    assert!(
        init.iter().all(|l| l["cold_start"] == true && l["request_id"].is_null()),
        "{service}: background init lines are the cold start's: {init:?}"
    );
    let first =
        lines.iter().position(|l| !l["request_id"].is_null()).unwrap_or_else(|| panic!("{service}: {stdout:?}"));
    if let Some(l) = lines[first..].iter().find(|l| !l["request_id"].is_string()) {
        panic!("{service}: a line outside an invocation: {l}");
    }
    assert!(lines[..first].iter().all(|l| l["cold_start"] == true), "{service}: init lines are the cold start's");
    let mut ids: Vec<&str> = Vec::new();
    for l in &lines[first..] {
        let id = l["request_id"].as_str().unwrap();
        if ids.last() != Some(&id) {
            assert!(!ids.contains(&id), "{service}: request ids interleave");
            ids.push(id);
        }
        assert_eq!(l["cold_start"], id == ids[0], "{service}: cold_start on the first invocation only: {l}");
    }
    assert_eq!(ids.len(), invocations, "{service}: {ids:?}");
    Printed { service, lines: all, raw: format!("{}\n{stderr}", stdout.join("\n")) }
}

/// Asserts no secret is in anything a function printed.
fn assert_no_secret(printed: &[&Printed], secrets: &[(&str, String)]) {
    for p in printed {
        for (what, s) in secrets {
            assert!(!s.is_empty());
            assert!(!p.raw.contains(s.as_str()), "{}: the {what} is in its output", p.service);
        }
        // No bearer token of any kind: a JWT starts with the base64 of `{"`.
        assert!(!p.raw.contains("eyJ0eXAi") && !p.raw.contains("eyJhbGci"), "{}: a JWT in its output", p.service);
    }
}

/// Variable values out of a line: timestamps, request ids, the export's cursor times.
fn normalise(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["timestamp", "request_id", "xray_trace_id"] {
            if o.get(k).is_some_and(Value::is_string) {
                o.insert(k.into(), json!("…"));
            }
        }
        // An audit line's confirmation request id is a fresh UUID.
        if let Some(a) = o.get_mut("audit").and_then(Value::as_object_mut)
            && a.get("request_id").is_some_and(|r| r != "-")
        {
            a.insert("request_id".into(), json!("…"));
        }
        if o.contains_key("_aws") {
            o["_aws"]["Timestamp"] = json!(0);
        }
        for k in ["CursorBefore", "CursorAfter"] {
            if o.get(k).is_some_and(|c| !c.is_null()) {
                o.insert(k.into(), json!("…"));
            }
        }
    }
    v
}

const GOLDEN_START: &str =
    "<!-- golden-log-lines: written by tests/tests/observability.rs; UPDATE_GOLDEN=1 rewrites -->";
const GOLDEN_END: &str = "<!-- /golden-log-lines -->";

/// The docs' block of lines, compared with (or, with `UPDATE_GOLDEN=1`, written from) this run.
fn golden(picked: &[(&str, &Value)]) {
    let path = Paths::discover().root.join("docs/operations.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut block = String::from("```json\n");
    for (_, v) in picked {
        block.push_str(&serde_json::to_string(&normalise((*v).clone())).unwrap());
        block.push('\n');
    }
    block.push_str("```\n");
    let (Some(a), Some(b)) = (text.find(GOLDEN_START), text.find(GOLDEN_END)) else {
        panic!("docs/operations.md has no {GOLDEN_START} … {GOLDEN_END} block");
    };
    let current = &text[a + GOLDEN_START.len()..b];
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let new = format!("{}{GOLDEN_START}\n{block}{}", &text[..a], &text[b..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    let documented: Vec<Value> = current
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("docs/operations.md: {e}: {l}")))
        .collect();
    assert_eq!(documented.len(), picked.len(), "docs/operations.md: rerun with UPDATE_GOLDEN=1");
    for ((what, v), d) in picked.iter().zip(&documented) {
        assert_eq!(
            serde_json::to_string(&normalise((*v).clone())).unwrap(),
            serde_json::to_string(d).unwrap(),
            "docs/operations.md shows another {what} than the binary prints; rerun with UPDATE_GOLDEN=1"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_logs_json_lines_with_context_valid_emf_and_no_secret() {
    let paths = Paths::discover();
    let mut opts = SimOptions::demo().unwrap();
    opts.seed.secrets.insert("defender-refresh-token".into(), REFRESH_TOKEN.into());
    let sim = start(opts).await.unwrap();
    let moto = Moto::start().await.unwrap();
    let hooks = Receiver::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("df-obs-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let (whsec, signing) = {
        let t = sim.sim.tenant.lock().unwrap();
        (t.seed.secrets["webhook-secret"].clone(), t.seed.secrets["slack-signing-secret"].clone())
    };
    let http = sim.client().unwrap();
    let token = integration_tests::app_token(
        &http,
        &sim.url,
        &sim.tenant_id(),
        integration_tests::DEMO_APP,
        integration_tests::MDE,
    )
    .await;
    let secret_note = format!("{whsec} {signing} {APP_SECRET} {token} {REFRESH_TOKEN}");

    let mut base: Vec<(String, String)> =
        local_runner::env::base(&sim.url, &sim.tenant_id(), &ca).into_iter().filter(|(k, _)| k != "RUST_LOG").collect();
    base.sort();

    // --- webhook-enrich: a signed request (cold), a signed one with secrets in its body and an
    // Authorization header, a forged one carrying them too.
    let mut wh = Running::spawn(&paths, "webhook-enrich", Emulator::start().await.unwrap(), &base);
    let machine = sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
    let host = machine["computerDnsName"].as_str().unwrap().to_string();
    let request = |id: &str, body: String, forge: bool| {
        let mut event: Value =
            serde_json::from_str(include_str!("../../functions/webhook-enrich/tests/fixtures/function-url-post.json"))
                .unwrap();
        for (k, v) in events::webhook_headers(&SecretString::new(whsec.clone()), id, &body).unwrap() {
            event["headers"][k] = json!(v);
        }
        if forge {
            event["headers"]["webhook-signature"] = json!(format!("v1,{whsec}"));
        }
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event["headers"]["x-refresh-token"] = json!(REFRESH_TOKEN);
        event["body"] = json!(body);
        event
    };
    let body = json!({"indicators": {"hostnames": [host]}}).to_string();
    let a = wh.invoke(&request("msg_obs_1", body, false)).await;
    assert_eq!(a["statusCode"], 200, "{a}");
    let body =
        json!({"indicators": {"hostnames": [host], "ips": [secret_note.clone()]}, "note": secret_note}).to_string();
    let b = wh.invoke(&request("msg_obs_2", body.clone(), false)).await;
    assert!(b["statusCode"].as_u64().is_some_and(|s| s < 500), "{b}");
    let c = wh.invoke(&request("msg_obs_3", body, true)).await;
    assert_eq!(c["statusCode"], 401, "{c}");

    // --- scheduled-export: two scheduler events (the second with secrets in fields it ignores).
    let mut export_env = base.clone();
    export_env.push(("EXPORT_DIR".into(), dir.join("out").display().to_string()));
    export_env.push(("EXPORT_STREAMS".into(), "mde-alerts".into()));
    let mut ex = Running::spawn(&paths, "scheduled-export", Emulator::start().await.unwrap(), &export_env);
    let a = ex.invoke(&events::scheduler_event("exec-obs-1")).await;
    assert!(a["failures"].as_array().is_some_and(Vec::is_empty), "{a}");
    let mut event = events::scheduler_event("exec-obs-2");
    event["detail"] = json!({"token": token, "refresh_token": REFRESH_TOKEN, "client_secret": APP_SECRET});
    ex.invoke(&event).await;

    // --- chat-ops: the callback hands a signed slash command to SQS (moto), the worker binary runs it
    // from the SQS event; a forged command carries the secrets.
    let aws: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_ENDPOINT_URL_SQS", moto.url.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(&moto.url)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue = sqs.create_queue().queue_name("obs-jobs").send().await.unwrap().queue_url.unwrap();
    testkit::aws::create_idempotency_table(&aws_sdk_dynamodb::Client::new(&conf), "obs-idem").await;
    let mut chat_env = base.clone();
    chat_env.extend(aws);
    chat_env.push(("DEFENDER_ALLOWED_ACTIONS".into(), "isolate,unisolate,scan".into()));
    chat_env.push(("CHATOPS_RBAC".into(), POLICY.into()));
    chat_env.push(("CHATOPS_RESPONSE_URL_PREFIXES".into(), hooks.base.clone()));
    chat_env.push(("CHATOPS_QUEUE_URL".into(), queue.clone()));
    chat_env.push(("CHATOPS_IDEMPOTENCY_TABLE".into(), "obs-idem".into()));
    let mut cb = Running::spawn(&paths, "chatops-callback", Emulator::start().await.unwrap(), &chat_env);
    let mut wk = Running::spawn(&paths, "chatops-worker", Emulator::start().await.unwrap(), &chat_env);
    let slack_event = |body: String, forge: bool| {
        let mut event: Value =
            serde_json::from_str(include_str!("../../functions/chatops/tests/fixtures/apigw-v2-slack.json")).unwrap();
        for (k, v) in events::slack_headers(&SecretString::new(signing.clone()), &body).unwrap() {
            event["headers"][k] = json!(v);
        }
        if forge {
            event["headers"]["x-slack-signature"] = json!(format!("v0={signing}"));
        }
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event["body"] = json!(body);
        event
    };
    let trigger = "13345224609.738474920.8088930838d88f008e0";
    let slash = events::slack_slash(ANALYST, &format!("isolate {host} obs"), &format!("{}obs", hooks.base));
    let a = cb.invoke(&slack_event(slash, false)).await;
    assert_eq!(a["statusCode"], 200, "{a}");
    let forged = events::slack_slash(ANALYST, &format!("machine {secret_note}"), &format!("{}obs", hooks.base));
    let b = cb.invoke(&slack_event(forged, true)).await;
    assert_eq!(b["statusCode"], 401, "{b}");

    let msgs = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = msgs
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            // Lambda's SQS event spelling of the message attributes.
            let attrs: serde_json::Map<String, Value> = m
                .message_attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    (k, json!({"stringValue": v.string_value, "dataType": v.data_type, "stringListValues": [], "binaryListValues": []}))
                })
                .collect();
            json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "messageAttributes": attrs, "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
        })
        .collect();
    assert_eq!(records.len(), 1, "one job queued: {records:?}");
    assert_eq!(records[0]["messageAttributes"]["correlation_id"]["stringValue"], trigger, "{records:?}");
    let answer = wk.invoke(&json!({ "Records": records })).await;
    assert_eq!(answer, json!({"batchItemFailures": []}), "{answer}");
    let prompt = hooks.wait_for("obs", 1, T).await;
    assert!(!prompt.is_empty(), "the worker posted the isolate prompt");
    // A second batch: a record that is not a job, with the secrets in it.
    let mut bad = events::sqs_event(&[format!("not a job {secret_note}")]);
    bad["Records"][0]["messageId"] = json!("obs-bad-1");
    wk.invoke(&bad).await;

    let (wh_out, wh_err) = wh.output().await;
    let (ex_out, ex_err) = ex.output().await;
    let (cb_out, cb_err) = cb.output().await;
    let (wk_out, wk_err) = wk.output().await;
    let wh = check_lines("webhook-enrich", wh_out, wh_err, 3);
    let ex = check_lines("scheduled-export", ex_out, ex_err, 2);
    let cb = check_lines("chatops-callback", cb_out, cb_err, 2);
    let wk = check_lines("chatops-worker", wk_out, wk_err, 2);

    // Correlation ids from the inbound requests; the worker's carried through the queue; tenants.
    let with = |p: &Printed, k: &str, v: &str| p.logs().filter(|l| l[k] == v).count();
    assert!(with(&wh, "correlation_id", "msg_obs_1") > 0, "webhook-id: {:?}", wh.lines);
    assert!(with(&wh, "tenant", "default") > 0);
    assert!(with(&ex, "correlation_id", "exec-obs-1") > 0 && with(&ex, "correlation_id", "exec-obs-2") > 0);
    assert!(with(&cb, "correlation_id", trigger) > 0, "Slack trigger id: {:?}", cb.lines);
    assert!(with(&cb, "tenant", "default") > 0);
    assert!(with(&wk, "correlation_id", trigger) > 0, "carried through SQS: {:?}", wk.lines);
    assert!(with(&wk, "correlation_id", "obs-bad-1") > 0, "a record without one: its message id");
    assert!(with(&wk, "tenant", "default") > 0);
    let audit: Vec<&Value> = wk.logs().filter(|l| l["target"] == "audit").collect();
    assert!(audit.iter().any(|l| l["audit"]["decision"] == "prompted" && l["correlation_id"] == trigger), "{audit:?}");

    // Metrics: the counters of each function, and the export's per-stream document with its lag.
    for p in [&wh, &ex, &cb, &wk] {
        assert!(p.metric_names(metrics::NAMESPACE).contains("Invocations"), "{}: {:?}", p.service, p.lines);
    }
    let wh_metrics = wh.metric_names(metrics::NAMESPACE);
    for m in ["Responses2xx", "Responses4xx", "DefenderCalls", "TokenFetches", "VaultFetches", "VaultCacheHits"] {
        assert!(wh_metrics.contains(m), "webhook-enrich: {m} in {wh_metrics:?}");
    }
    assert!(wh.emf().any(|d| d["tenant"] == "default"
        && d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][1] == json!(["service", "tenant"])));
    assert!(wk.metric_names(metrics::NAMESPACE).contains("DefenderCalls"));
    let export = ex.metric_names(scheduled_export::handler::NAMESPACE);
    assert!(export.contains("Records") && export.contains("LagSeconds"), "{export:?}");

    let secrets = [
        ("webhook secret", whsec.clone()),
        ("webhook key", whsec.trim_start_matches("whsec_").to_string()),
        ("Slack signing secret", signing.clone()),
        ("client secret", APP_SECRET.to_string()),
        ("access token", token.clone()),
        ("refresh token", REFRESH_TOKEN.to_string()),
    ];
    assert_no_secret(&[&wh, &ex, &cb, &wk], &secrets);

    // docs/operations.md: one line of each kind, as printed.
    let namespace = |d: &Value, ns: &str| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == ns;
    let enriched = wh.logs().find(|l| l["message"] == "enriched").expect("an enriched line");
    let handed = cb.logs().find(|l| l["message"] == "command handed to the worker").expect("a hand-off line");
    let prompted = audit.iter().find(|l| l["audit"]["decision"] == "prompted").unwrap();
    let counters = wh
        .emf()
        .find(|d| {
            namespace(d, metrics::NAMESPACE)
                && d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][1] == json!(["service", "tenant"])
                && d["cold_start"] == true
        })
        .expect("the cold invocation's counters of the tenant");
    let stream = ex
        .emf()
        .find(|d| namespace(d, scheduled_export::handler::NAMESPACE) && d["cold_start"] == true)
        .expect("the first run's stream document");
    golden(&[
        ("log line", enriched),
        ("log line", handed),
        ("audit line", prompted),
        ("counters document", counters),
        ("export stream document", stream),
    ]);
    std::fs::remove_dir_all(&dir).ok();
}
