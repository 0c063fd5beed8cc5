//! End to end: the compiled function binaries, attached to cargo-lambda's Lambda emulator
//! (`cargo lambda watch --only-lambda-apis`), driven with real event JSON — a signed function-URL
//! request, an EventBridge Scheduler event through the invoke API, signed Slack requests, an SQS
//! event — against the simulated tenant and moto. Each test asserts what an observer sees:
//! the response, the S3 objects, the chat replies, the calls Defender received (`/_sim/requests`).
//!
//! The AWS side is `infra/template.yaml`'s own, enforced: moto holds the template's bucket, queues,
//! table and log groups under the physical names `scripts/cfn_resolve.py` gives, and each function runs
//! with the assumed-role credentials of its role, which has exactly the template's resolved policies
//! ([`TemplateAws`]). What Lambda does with the role — shipping the output to the log group, the SQS
//! event source mapping, the dead-letter queue — is played with the role's credentials too.
//! `tests/tests/iam.rs` shows that removing any one statement breaks a path.
//!
//! The binaries are those `make bins` builds (debug, under `$CARGO_TARGET_DIR` or `target/`); `make
//! test` builds them before `cargo test`. A missing binary fails with the command to build it; a
//! broken one fails here because every test goes through its `main` and the Runtime API.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use defender_shared::secret::SecretString;
use local_runner::{
    env::{self, ANALYST},
    events,
    moto::{EventSource, TemplateAws},
    stack::{Answer, Function, send},
};
use serde_json::{Value, json};
use std::{io::Read, time::Duration};
use tenant_sim::{RunningSim, SimOptions};
use testkit::sim::requests as sim_requests;

const T: Duration = Duration::from_secs(90);

/// The shared stack and the template's AWS side it runs against.
struct Stack {
    st: common::Stack,
    aws: TemplateAws,
}

impl std::ops::Deref for Stack {
    type Target = common::Stack;
    fn deref(&self) -> &common::Stack {
        &self.st
    }
}

impl std::ops::DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut common::Stack {
        &mut self.st
    }
}

/// The template's AWS side in a fresh moto, IAM enforced.
async fn template_aws() -> TemplateAws {
    TemplateAws::start(common::resolved("kv-e2e", &[]), None).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The simulator, the emulator and `functions`, each with its local environment on the Microsoft
/// side and the template's on the AWS side.
async fn stack(tag: &str, functions: &[&str]) -> Stack {
    stack_with(tag, functions, SimOptions::demo().unwrap(), |_, _| Vec::new()).await
}

/// [`stack`] with the simulator started from `opts` and `extra` variables for every function (given
/// the simulator and the stack's directory, e.g. to write a tenant registry there).
async fn stack_with(
    tag: &str,
    functions: &[&str],
    opts: SimOptions,
    extra: impl Fn(&RunningSim, &std::path::Path) -> Vec<(String, String)>,
) -> Stack {
    let aws = template_aws().await;
    let st = common::stack(tag, &aws, functions, opts, |sim, dir, _| extra(sim, dir)).await;
    Stack { st, aws }
}

/// Lambda's log agent ships every function's output to its log group with its role.
async fn ship_logs(st: &Stack) {
    for f in &st.functions {
        st.aws.ship_logs(&f.name, &f.log).await.unwrap_or_else(|e| panic!("{}: {e}", f.name));
    }
}

/// The function's output lines: every one a JSON object (the template's `LogFormat: JSON`).
fn json_lines(f: &Function) -> Vec<Value> {
    let text = std::fs::read_to_string(&f.log).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", f.name)))
        .collect()
}

fn secret(sim: &RunningSim, name: &str) -> SecretString {
    SecretString::new(sim.sim.tenant.lock().unwrap().seed.secrets.get(name).cloned().unwrap())
}

async fn go(st: &mut Stack, what: &str, req: reqwest::RequestBuilder) -> Answer {
    match send(what, req, &mut st.functions[0], T).await {
        Ok(a) => a,
        Err(e) => panic!("{e}\nfunction log:\n{}", local_runner::tail(&st.functions[0].log, 30)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_enrich_answers_a_signed_function_url_request_and_refuses_a_forged_one() {
    let mut st = stack("webhook", &["webhook-enrich"]).await;
    let machine = st.sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
    let host = machine["computerDnsName"].as_str().unwrap().to_string();
    let body = json!({"indicators": {"hostnames": [host], "ips": ["300.1.1.1"]}}).to_string();
    let whsec = secret(&st.sim, "webhook-secret");
    let url = st.watch.function_url("webhook-enrich", "/");
    let signed = |id: &str, forge: bool| {
        let mut req = reqwest::Client::new().post(&url).header("content-type", "application/json").body(body.clone());
        for (k, v) in events::webhook_headers(&whsec, id, &body).unwrap() {
            let v = if forge && k == "webhook-signature" {
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()
            } else {
                v
            };
            req = req.header(k, v);
        }
        req
    };
    let before = sim_requests(&st.sim).await.len();
    let a = go(&mut st, "signed webhook", signed("msg_e2e_1", false)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let results = a.body["results"].as_array().unwrap();
    let hostname = results.iter().find(|r| r["kind"] == "hostname").unwrap();
    assert_eq!(hostname["status"], "found", "{}", a.body);
    assert_eq!(hostname["machines"][0]["id"], machine["id"]);
    let ip = results.iter().find(|r| r["kind"] == "ip").unwrap();
    assert_eq!(ip["status"], "invalid");
    let calls = sim_requests(&st.sim).await;
    assert!(
        calls[before..]
            .iter()
            .any(|c| c["method"] == "GET" && c["path"].as_str().unwrap_or("").starts_with("/api/machines")),
        "the function asked Defender about the machine: {:?}",
        &calls[before..]
    );

    let n = sim_requests(&st.sim).await.len();
    let forged = go(&mut st, "forged webhook", signed("msg_e2e_2", true)).await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let after = sim_requests(&st.sim).await;
    assert!(
        !after[n..].iter().any(|c| c["path"].as_str().unwrap_or("").starts_with("/api/")),
        "a forged request reaches no Defender API: {:?}",
        &after[n..]
    );
    ship_logs(&st).await;
}

/// MSSP tenant binding through the real binary: two tenants in the registry, each webhook sender with
/// its own key bound to one of them. Sender A's correctly signed request for sender B's tenant is
/// refused (403) and Defender sees no call for it; a request naming no tenant is answered for the
/// sender's one tenant.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_enrich_refuses_a_senders_request_for_another_senders_tenant() {
    let key = |c: u8| format!("whsec_{}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [c; 32]));
    let (key_a, key_b) = (key(b'a'), key(b'b'));
    let mut opts = SimOptions::demo().unwrap();
    opts.seed.secrets.insert("siem-a-whsec".into(), key_a.clone());
    opts.seed.secrets.insert("siem-b-whsec".into(), key_b.clone());
    let mut st = stack_with("mssp-webhook", &["webhook-enrich"], opts, |sim, dir| {
        let tenant = |name: &str| {
            json!({"name": name, "tenant_id": sim.tenant_id(), "client_id": env::APP,
                "credential": {"kind": "client_secret", "secret_name": "defender-client-secret"}})
        };
        let registry = json!({"tenants": [tenant("contoso"), tenant("fabrikam")], "senders": [
            {"name": "siem-a", "secrets": ["siem-a-whsec"], "tenants": ["contoso"]},
            {"name": "siem-b", "secrets": ["siem-b-whsec"], "tenants": ["fabrikam"]}]});
        let path = dir.join("tenants.json");
        std::fs::write(&path, registry.to_string()).unwrap();
        vec![("DEFENDER_TENANTS_FILE".into(), path.display().to_string())]
    })
    .await;
    let machine = st.sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
    let host = machine["computerDnsName"].as_str().unwrap().to_string();
    let url = st.watch.function_url("webhook-enrich", "/");
    let signed = |key: &str, id: &str, tenant: Option<&str>| {
        let mut doc = json!({"indicators": {"hostnames": [host]}});
        if let Some(t) = tenant {
            doc["tenant"] = json!(t);
        }
        let body = doc.to_string();
        let mut req = reqwest::Client::new().post(&url).header("content-type", "application/json").body(body.clone());
        for (k, v) in events::webhook_headers(&SecretString::new(key.to_string()), id, &body).unwrap() {
            req = req.header(k, v);
        }
        req
    };
    let defender_calls = |log: &[Value]| {
        log.iter()
            .filter(|c| c["path"].as_str().is_some_and(|p| p.starts_with("/api/") || p.starts_with("/v1.0/")))
            .count()
    };

    let a = go(&mut st, "A for its own tenant", signed(&key_a, "a-1", Some("contoso"))).await;
    assert_eq!((a.status, a.body["tenant"].as_str()), (200, Some("contoso")), "{}", a.body);
    let n = sim_requests(&st.sim).await.len();
    let refused = go(&mut st, "A for B's tenant", signed(&key_a, "a-2", Some("fabrikam"))).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "TenantNotAllowed");
    assert_eq!(refused.body["error"]["message"], "sender 'siem-a' may not ask about tenant 'fabrikam'");
    let after = sim_requests(&st.sim).await;
    assert_eq!(defender_calls(&after[n..]), 0, "a refused tenant costs no Defender call: {:?}", &after[n..]);
    let b = go(&mut st, "B naming no tenant", signed(&key_b, "b-1", None)).await;
    assert_eq!((b.status, b.body["tenant"].as_str()), (200, Some("fabrikam")), "{}", b.body);
    let unknown = go(&mut st, "a key of no sender", signed(&key(b'c'), "c-1", Some("contoso"))).await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    ship_logs(&st).await;
}

async fn s3_keys(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_export_writes_the_tenant_to_s3_on_a_scheduler_event_then_only_the_change() {
    let http = reqwest::Client::new();
    let mut st = stack("export", &["scheduled-export"]).await;
    let s3 = common::s3_admin(&st.aws);
    let bucket = st.aws.reference("ExportBucket").unwrap().to_string();
    let (alerts, incidents) = {
        let t = st.sim.sim.tenant.lock().unwrap();
        (t.seed.alerts.len(), t.seed.incidents.len())
    };
    let event: Value = serde_json::from_str(include_str!(
        "../../functions/scheduled-export/tests/fixtures/eventbridge-scheduler-input.json"
    ))
    .unwrap();
    let invoke = st.watch.invoke_url("scheduled-export");
    let a = go(&mut st, "scheduler event", http.post(&invoke).json(&event)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["failures"].as_array().unwrap().is_empty(), "{}", a.body);

    // The first run found no cursor: under the template's role S3 answers 403 for the missing key
    // (strict moto: its ListBucket is prefix-scoped), which the export confirmed by a listing.
    let keys = s3_keys(&s3, &bucket).await;
    let data: Vec<&String> = keys.iter().filter(|k| k.ends_with(".jsonl.gz")).collect();
    assert!(keys.iter().any(|k| k == "_state/tenant=default/stream=mde-alerts/cursor.json"), "{keys:?}");
    assert!(keys.iter().any(|k| k == "_state/tenant=default/stream=xdr-incidents/cursor.json"), "{keys:?}");
    let mut lines = (0, 0);
    for k in &data {
        let object = s3.get_object().bucket(&bucket).key(k.as_str()).send().await.unwrap();
        let bytes = object.body.collect().await.unwrap().to_vec();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{k}: {e}; {} bytes: {:?}", bytes.len(), &bytes[..bytes.len().min(64)]));
        // Every line is the envelope of its key's tenant and stream around the record.
        let stream = k.split('/').find_map(|p| p.strip_prefix("stream=")).unwrap_or_default();
        let mut n = 0;
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{k}: not JSON ({e}): {l}"));
            assert_eq!((v["tenant"].as_str(), v["stream"].as_str()), (Some("default"), Some(stream)), "{k}: {l}");
            assert!(v["record"].is_object(), "{k}: {l}");
            n += 1;
        }
        if stream == "mde-alerts" {
            lines.0 += n;
        } else if stream == "xdr-incidents" {
            lines.1 += n;
        }
    }
    assert_eq!(lines, (alerts, incidents), "every alert and incident once, as JSON lines in gzip objects: {data:?}");

    // Nothing changed in Defender: the next scheduled run resumes from the cursor and writes nothing.
    let again = go(&mut st, "second scheduler event", http.post(&invoke).json(&event)).await;
    let records: u64 = again.body["streams"].as_array().unwrap().iter().map(|s| s["records"].as_u64().unwrap()).sum();
    assert_eq!(records, 0, "{}", again.body);
    assert_eq!(s3_keys(&s3, &bucket).await.len(), keys.len(), "no new object");

    // An event the export cannot process fails; Lambda then sends it to the function's dead-letter
    // queue with the function's role (after its retries), where the alarm sees it.
    let bad = json!("not a scheduler event");
    let refused = go(&mut st, "malformed event", http.post(&invoke).json(&bad)).await;
    assert_ne!(refused.status, 200, "{}", refused.body);
    assert!(refused.body.to_string().contains("Export.BadEvent"), "{}", refused.body);
    st.aws.dead_letter("scheduled-export", "ExportDeadLetterQueue", &bad).await.unwrap();
    let dlq = st.aws.reference("ExportDeadLetterQueue").unwrap();
    let got = st.aws.admin_sqs().unwrap().receive_message().queue_url(dlq).send().await.unwrap();
    assert_eq!(got.messages().len(), 1, "the event is in the DLQ");

    let lines = json_lines(&st.functions[0]);
    assert!(lines.iter().any(|l| l["_aws"]["CloudWatchMetrics"].is_array()), "EMF documents stay top-level JSON");
    ship_logs(&st).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chatops_callback_answers_slack_and_a_confirmed_isolate_runs_once() {
    let mut st = stack("chatops", &["chatops-callback", "chatops-worker"]).await;
    // The template's SQS event source: the callback hands jobs to the queue, the worker takes them.
    let invoke = st.watch.invoke_url("chatops-worker");
    let esm = EventSource::start(&st.aws, "chatops-worker", "ChatOpsQueue", invoke).await.unwrap();
    let signing = secret(&st.sim, "slack-signing-secret");
    let url = st.watch.function_url("chatops-callback", "/chatops/slack");
    let hooks = st.hooks.base.clone();
    let slack = |body: String| events::slack_request(&url, &signing, body).unwrap();
    let host = "ws-fin-011.contoso.com";
    let ack = go(
        &mut st,
        "slash command",
        slack(events::slack_slash(ANALYST, &format!("machine {host}"), &format!("{hooks}m"))),
    )
    .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let reply = st.hooks.wait_for("m", 1, T).await;
    let text = reply.last().map(|r| r["text"].as_str().unwrap_or("").to_string()).unwrap_or_default();
    assert!(
        text.contains(host) && text.contains("Isolation: not isolated"),
        "machine details posted: {reply:?}; event source: {:?}",
        esm.errors()
    );

    // A forged request is refused and posts nothing.
    let mut forged = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", events::now_unix().to_string())
        .header("x-slack-signature", "v0=00");
    forged = forged.body(events::slack_slash(ANALYST, "machine x", &format!("{hooks}forged")));
    let refused = go(&mut st, "forged slash command", forged).await;
    assert_eq!(refused.status, 401, "{}", refused.body);

    go(&mut st, "isolate", slack(events::slack_slash(ANALYST, &format!("isolate {host} e2e"), &format!("{hooks}ask"))))
        .await;
    let prompt = st.hooks.wait_for("ask", 1, T).await.pop().expect("a confirmation prompt");
    let token = prompt["blocks"][1]["elements"][0]["value"].as_str().expect("a confirm button").to_string();
    for _ in 0..2 {
        let a =
            go(&mut st, "confirm click", slack(events::slack_click(ANALYST, &token, &format!("{hooks}confirm")))).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let done = st.hooks.wait_for("confirm", 1, T).await;
    assert!(
        done.iter().any(|p| p["text"].as_str().unwrap_or("").contains("accepted by Defender")),
        "the result was posted: {done:?}"
    );
    let isolates = sim_requests(&st.sim)
        .await
        .iter()
        .filter(|c| c["method"] == "POST" && c["path"].as_str().unwrap_or("").ends_with("/isolate"))
        .count();
    assert_eq!(isolates, 1, "two clicks, one isolate at Defender");
    assert!(st.hooks.posted("forged").is_empty());

    // The worker follows the action: it re-queues a re-check (its role's sqs:SendMessage), which the
    // event source delivers; once Defender says the action is done, the outcome is posted.
    let clock = st.sim.client().unwrap().post(format!("{}/_sim/clock", st.sim.url)).json(&json!({"advance_s": 120}));
    clock.send().await.unwrap();
    let all = st.hooks.wait_for("confirm", done.len() + 1, T).await;
    assert!(
        all.iter().any(|p| p["text"].as_str().unwrap_or("").contains("Succeeded")),
        "the follow-up posted the outcome: {all:?}; event source: {:?}",
        esm.errors()
    );
    assert!(esm.errors().is_empty(), "{:?}", esm.errors());

    // JSON logs: the audit lines carry their fields as one `audit` object (issue 15; they were
    // top-level keys before), next to the context keys.
    let audit: Vec<Value> = st.functions.iter().flat_map(json_lines).filter(|l| l["target"] == "audit").collect();
    assert!(
        audit.iter().any(|l| l["audit"]["decision"] == "executed"
            && l["audit"]["user_id"] == ANALYST
            && l["service"] == "chatops-worker"
            && l["tenant"] == "default"),
        "an audit line with an audit object: {audit:?}"
    );
    ship_logs(&st).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chatops_worker_runs_a_job_from_an_sqs_event_and_posts_the_answer() {
    let mut st = stack("worker", &["chatops-worker"]).await;
    let alert = st.sim.sim.tenant.lock().unwrap().seed.alerts[0].clone();
    let job = json!({"kind": "command", "tenant": "default", "user": {"id": ANALYST, "name": "analyst"},
        "origin": {"team": "T0001", "channel": "C2147483705"}, "text": format!("alert {}", alert["id"].as_str().unwrap()),
        "response_url": format!("{}sqs", st.hooks.base)});
    let event = events::sqs_event(&[job.to_string()]);
    let url = st.watch.invoke_url("chatops-worker");
    let a = go(&mut st, "SQS event", reqwest::Client::new().post(&url).json(&event)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let posted = st.hooks.wait_for("sqs", 1, T).await;
    let text = posted.last().map(|p| p["text"].as_str().unwrap_or("").to_string()).unwrap_or_default();
    assert!(text.contains(alert["title"].as_str().unwrap()), "the alert was posted: {posted:?}");
    assert!(
        sim_requests(&st.sim)
            .await
            .iter()
            .any(|c| c["method"] == "GET" && c["path"].as_str().unwrap_or("").contains(alert["id"].as_str().unwrap())),
        "the worker read the alert from Defender"
    );
    ship_logs(&st).await;
}
