//! IAM as `infra/template.yaml` grants it, enforced by the AWS stand-in (strict moto,
//! `local/testkit/strict_moto.py`; what it checks and what it cannot is in docs/security.md).
//!
//! - S3's rule for a missing key — 403 `AccessDenied` unless the caller may list the bucket — and the
//!   export's answer to it: under the template's role its first run finds "no cursor" (confirmed by a
//!   listing of the cursor's own key), and without `s3:ListBucket` it fails loudly instead of starting
//!   over; a cursor it may not read is a denial, never "empty".
//! - Every statement of every function's role is needed: with the template's policies each function's
//!   path works, and with any one statement removed that function's path fails. The paths are the
//!   real binaries under cargo-lambda against the simulated tenant, with Lambda's own uses of the role
//!   (log shipping, the SQS event source mapping, the dead-letter queue) played with the role too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use defender_shared::secret::SecretString;
use local_runner::{
    env::{self, ANALYST},
    events,
    moto::{EventSource, Statement, TemplateAws, statements},
    paths::Paths,
    stack::{Function, LambdaWatch, send},
};
use scheduled_export::{s3::S3Sink, sink::Sink};
use serde_json::{Value, json};
use std::{path::PathBuf, sync::Arc, time::Duration};
use tenant_sim::{
    RunningSim, SimOptions, start,
    sts::{self, RunningSts, StsPrincipal},
};
use testkit::Receiver;

/// How long a path waits for an outcome (a removed statement makes it wait this long once).
const W: Duration = Duration::from_secs(30);
const CURSOR: &str = "_state/tenant=default/stream=xdr-incidents/cursor.json";

fn resolved() -> Value {
    resolved_with(&[])
}

fn statement(resolved: &Value, sid: &str) -> Statement {
    statements(resolved).into_iter().find(|s| s.binary == "scheduled-export" && s.sid == sid).unwrap()
}

/// The export's S3 sink under the role of `binary` (`scheduled-export`, or `export-worker` in fan-out
/// mode), a client under moto's admin and the bucket.
fn export_sink(aws: &TemplateAws, binary: &str) -> (S3Sink, aws_sdk_s3::Client, String) {
    let bucket = aws.reference("ExportBucket").unwrap().to_string();
    let role = common::s3(aws, aws.credentials(binary).unwrap());
    let admin = common::s3(aws, aws.moto.admin.as_ref().unwrap());
    (S3Sink::new(role, bucket.clone(), ""), admin, bucket)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_cursor_is_a_403_under_the_template_role_and_the_export_reads_it_as_none() {
    let aws = TemplateAws::start(resolved(), None).await.unwrap_or_else(|e| panic!("{e}"));
    let (sink, admin, bucket) = export_sink(&aws, "scheduled-export");
    let role = common::s3(&aws, aws.credentials("scheduled-export").unwrap());

    // The stand-in answers as S3 does: 403 for a missing key to a caller whose ListBucket is scoped
    // by a prefix condition, 404 to one that may list the whole bucket.
    let denied = role.get_object().bucket(&bucket).key(CURSOR).send().await.unwrap_err();
    assert_eq!(denied.raw_response().map(|r| r.status().as_u16()), Some(403), "{denied:?}");
    let missing = admin.get_object().bucket(&bucket).key(CURSOR).send().await.unwrap_err();
    assert!(missing.as_service_error().is_some_and(|e| e.is_no_such_key()), "{missing:?}");

    assert!(sink.get_cursor(CURSOR).await.unwrap().is_none(), "first run: no cursor yet");
    let tag = sink.put_cursor(CURSOR, b"{\"g\":1}".to_vec(), None).await.unwrap();
    let (body, read) = sink.get_cursor(CURSOR).await.unwrap().unwrap();
    assert_eq!((body.as_slice(), read), (b"{\"g\":1}".as_slice(), tag));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_list_bucket_or_get_object_the_export_fails_loudly_instead_of_starting_over() {
    let resolved = resolved();
    let aws = TemplateAws::start(resolved.clone(), Some(&statement(&resolved, "FindCursors"))).await.unwrap();
    let (sink, _, _) = export_sink(&aws, "scheduled-export");
    let e = sink.get_cursor(CURSOR).await.unwrap_err().to_string();
    assert!(e.contains("403") && e.contains("s3:ListBucket"), "{e}");

    // With ListBucket but not GetObject: an existing cursor that cannot be read is a denial.
    let aws = TemplateAws::start(resolved.clone(), Some(&statement(&resolved, "ReadCursors"))).await.unwrap();
    let (sink, admin, bucket) = export_sink(&aws, "scheduled-export");
    admin.put_object().bucket(&bucket).key(CURSOR).body(b"{}".to_vec().into()).send().await.unwrap();
    let e = sink.get_cursor(CURSOR).await.unwrap_err().to_string();
    assert!(e.contains("the cursor exists") && e.contains("s3:GetObject"), "{e}");
}

/// The template with `action` taken out of the statement `sid` of `binary`'s role.
fn without_action(resolved: &Value, binary: &str, sid: &str, action: &str) -> Value {
    let mut r = resolved.clone();
    for f in r["functions"].as_object_mut().unwrap().values_mut().filter(|f| f["binary"] == binary) {
        for p in f["policies"].as_array_mut().unwrap() {
            for st in p["PolicyDocument"]["Statement"].as_array_mut().unwrap() {
                if st["Sid"] == sid {
                    let actions: Vec<Value> = match &st["Action"] {
                        Value::Array(a) => a.clone(),
                        one => vec![one.clone()],
                    };
                    assert!(actions.iter().any(|a| a == action), "{sid} grants {action}: {actions:?}");
                    st["Action"] = Value::Array(actions.into_iter().filter(|a| a != action).collect());
                }
            }
        }
    }
    r
}

/// A multipart upload that fails part-way is aborted under the template's role; without
/// `s3:AbortMultipartUpload` the abort is refused (403, as S3 does) and its parts stay behind for the
/// bucket's lifecycle rule — so the role needs the action. Both roles that write the objects are
/// checked: the single-mode export's and, with `ExportFanOut=sqs-fifo`, the fan-out worker's. (Parts
/// under S3's 5 MiB minimum make the completion fail.)
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_multipart_upload_is_aborted_and_that_needs_the_abort_grant() {
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let key = "tenant=default/stream=mde-alerts/date=2026-12-06/torn.jsonl.gz";

    for (fan_out, binary) in [("single", "scheduled-export"), ("sqs-fifo", "export-worker")] {
        let resolved = resolved_with(&[("ExportFanOut", fan_out)]);
        let aws = TemplateAws::start(resolved.clone(), None).await.unwrap_or_else(|e| panic!("{e}"));
        let (sink, admin, bucket) = export_sink(&aws, binary);
        let e = sink.with_part_size(1024 * 1024).put_object(key, data.clone()).await.unwrap_err().to_string();
        assert!(e.contains("CompleteMultipartUpload"), "{binary}: the upload's own error: {e}");
        let left = admin.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
        assert!(left.uploads().is_empty(), "{binary}: aborted: {left:?}");

        let without = without_action(&resolved, binary, "WriteObjects", "s3:AbortMultipartUpload");
        let aws = TemplateAws::start(without, None).await.unwrap_or_else(|e| panic!("{e}"));
        let (sink, admin, bucket) = export_sink(&aws, binary);
        let e = sink.with_part_size(1024 * 1024).put_object(key, data.clone()).await.unwrap_err().to_string();
        assert!(e.contains("AbortMultipartUpload") && e.contains("403"), "{binary}: the abort is refused: {e}");
        let left = admin.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
        assert_eq!(left.uploads().len(), 1, "{binary}: the parts stay behind: {left:?}");
    }
}

// ------------------------------------------------------------------------------------------------
// Every statement is needed.

struct Rig {
    sim: RunningSim,
    /// The STS stand-in the functions get their Entra assertion from (the template's default,
    /// `federated-sts`), evaluating each role's statements as enforced here.
    _sts: RunningSts,
    watch: LambdaWatch,
    hooks: Receiver,
    dir: PathBuf,
    functions: Vec<Function>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

async fn rig(tag: &str, aws: &TemplateAws, functions: &[&str]) -> Result<Rig, String> {
    let paths = Paths::discover();
    let dir = std::env::temp_dir().join(format!("df-iam-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The Entra credential as the template gives it: by default (`federated-sts`) no secret at all,
    // an STS web identity token for the function's role, which the role's own statements must allow
    // — so the federation statement is on a tested path too.
    let sts = sts::start(
        aws.resolved["account"].as_str().unwrap_or("123456789012"),
        aws.resolved["region"].as_str().unwrap_or("us-east-1"),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut opts = SimOptions::demo().map_err(|e| e.to_string())?;
    let mut federated = Vec::new();
    for f in functions {
        let fun = aws.function(f).ok_or_else(|| format!("{f} is not in the template"))?;
        if fun["environment"]["DEFENDER_FEDERATED_SOURCE"] != "aws-sts" {
            continue;
        }
        let role_arn = fun["role_arn"].as_str().ok_or_else(|| format!("{f}: no role_arn"))?.to_string();
        let c = aws.credentials(f).ok_or_else(|| format!("{f}: no role session"))?;
        sts.register(StsPrincipal {
            access_key_id: c.access_key_id.clone(),
            secret_access_key: c.secret_access_key.clone(),
            session_token: c.session_token.clone(),
            role_arn: role_arn.clone(),
            policies: aws.policies(f),
        });
        federated.push((*f, role_arn));
    }
    if !federated.is_empty() {
        let app = opts.seed.apps.iter_mut().find(|a| a.client_id == env::APP).ok_or("no demo app")?;
        for (_, role_arn) in &federated {
            app.federated_credentials.push(tenant_sim::seed::Federated {
                issuer: sts.issuer().to_string(),
                subject: role_arn.clone(),
                audience: "api://AzureADTokenExchange".into(),
                jwks_url: None,
                jwks: None,
                visible_from: None,
            });
        }
        sts.enable_federation();
    }
    let sim = start(opts).await.map_err(|e| e.to_string())?;
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).map_err(|e| e.to_string())?;
    let hooks = Receiver::start().await.map_err(|e| e.to_string())?;
    let watch = LambdaWatch::start(&paths, &dir).await.map_err(|e| e.to_string())?;
    let base = env::base(&sim.url, &sim.tenant_id(), &ca);
    let mut started = Vec::new();
    for f in functions {
        let mut e = env::for_function(&base, f, &hooks.base, &[]);
        if federated.iter().any(|(b, _)| b == f) {
            e.retain(|(k, _)| k != "AZURE_CLIENT_SECRET");
            e.push(("DEFENDER_FEDERATED_SOURCE".into(), "aws-sts".into()));
            e.push(("AWS_ENDPOINT_URL_STS".into(), sts.url.clone()));
        }
        e.extend(aws.env(f));
        // The follow-up's re-check at its minimum (5 s), so the path sees it.
        e.push(("CHATOPS_RECHECK_S".into(), "5".into()));
        started.push(Function::start(&paths, &watch, f, &e, &dir).map_err(|e| e.to_string())?);
    }
    Ok(Rig { sim, _sts: sts, watch, hooks, dir, functions: started })
}

impl Rig {
    fn secret(&self, name: &str) -> SecretString {
        SecretString::new(self.sim.sim.tenant.lock().unwrap().seed.secrets.get(name).cloned().unwrap())
    }

    async fn go(&mut self, what: &str, req: reqwest::RequestBuilder) -> Result<local_runner::stack::Answer, String> {
        send(what, req, &mut self.functions[0], W).await.map_err(|e| format!("{what}: {e}"))
    }

    async fn ship_logs(&self, aws: &TemplateAws) -> Result<(), String> {
        for f in &self.functions {
            aws.ship_logs(&f.name, &f.log).await.map_err(|e| format!("logs of {}: {e}", f.name))?;
        }
        Ok(())
    }

    async fn posted(&self, id: &str, n: usize, needle: &str) -> Result<(), String> {
        let got = self.hooks.wait_for(id, n, W).await;
        if got.iter().any(|p| p["text"].as_str().unwrap_or("").contains(needle)) {
            Ok(())
        } else {
            let logs: Vec<String> =
                self.functions.iter().map(|f| format!("{}:\n{}", f.name, local_runner::tail(&f.log, 12))).collect();
            Err(format!("no post containing '{needle}' to {id}: {got:?}\n{}", logs.join("\n")))
        }
    }
}

/// webhook-enrich: a signed request answered from Defender; its logs shipped.
async fn enrich_path(tag: &str, aws: &TemplateAws) -> Result<(), String> {
    let mut r = rig(tag, aws, &["webhook-enrich"]).await?;
    let host = r.sim.sim.tenant.lock().unwrap().seed.machines[0]["computerDnsName"].as_str().unwrap().to_string();
    let body = json!({"indicators": {"hostnames": [host]}}).to_string();
    let mut req = reqwest::Client::new()
        .post(r.watch.function_url("webhook-enrich", "/"))
        .header("content-type", "application/json")
        .body(body.clone());
    for (k, v) in events::webhook_headers(&r.secret("webhook-secret"), "msg_iam_1", &body).map_err(|e| e.to_string())? {
        req = req.header(k, v);
    }
    let a = r.go("signed webhook", req).await?;
    if a.status != 200 || a.body["results"][0]["status"] != "found" {
        return Err(format!("enrich answered {} {}", a.status, a.body));
    }
    r.ship_logs(aws).await
}

/// scheduled-export: a first run, a second that resumes from the cursor, a bad event dead-lettered;
/// its logs shipped.
async fn export_path(tag: &str, aws: &TemplateAws) -> Result<(), String> {
    let mut r = rig(tag, aws, &["scheduled-export"]).await?;
    let http = reqwest::Client::new();
    let invoke = r.watch.invoke_url("scheduled-export");
    let event = events::scheduler_event("iam-1");
    for run in ["first run", "second run"] {
        let a = r.go(run, http.post(&invoke).json(&event)).await?;
        if a.status != 200 || !a.body["failures"].as_array().is_some_and(Vec::is_empty) {
            return Err(format!("{run}: {} {}", a.status, a.body));
        }
    }
    let bad = json!("not a scheduler event");
    let refused = r.go("malformed event", http.post(&invoke).json(&bad)).await?;
    if refused.status == 200 {
        return Err(format!("a malformed event was accepted: {}", refused.body));
    }
    aws.dead_letter("scheduled-export", "ExportDeadLetterQueue", &bad).await?;
    r.ship_logs(aws).await
}

/// chat-ops: a slash command through the queue to the worker (the event source mapping), a confirmed
/// isolate executed, its follow-up re-queued and posted; both functions' logs shipped.
async fn chatops_path(tag: &str, aws: &TemplateAws) -> Result<(), String> {
    let mut r = rig(tag, aws, &["chatops-callback", "chatops-worker"]).await?;
    let esm = EventSource::start(aws, "chatops-worker", "ChatOpsQueue", r.watch.invoke_url("chatops-worker")).await?;
    let signing = r.secret("slack-signing-secret");
    let url = r.watch.function_url("chatops-callback", "/chatops/slack");
    let hooks = r.hooks.base.clone();
    let slack = |body: String| -> Result<reqwest::RequestBuilder, String> {
        let mut req = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        for (k, v) in events::slack_headers(&signing, &body).map_err(|e| e.to_string())? {
            req = req.header(k, v);
        }
        Ok(req)
    };
    let host = "ws-fin-011.contoso.com";
    r.go("slash command", slack(events::slack_slash(ANALYST, &format!("machine {host}"), &format!("{hooks}m")))?)
        .await?;
    r.posted("m", 1, "Isolation: not isolated").await.map_err(|e| format!("{e}; {:?}", esm.errors()))?;
    r.go("isolate", slack(events::slack_slash(ANALYST, &format!("isolate {host} iam"), &format!("{hooks}ask")))?)
        .await?;
    let prompt = r.hooks.wait_for("ask", 1, W).await.pop().ok_or("no confirmation prompt")?;
    let token = prompt["blocks"][1]["elements"][0]["value"].as_str().ok_or(format!("no button: {prompt}"))?.to_string();
    r.go("confirm click", slack(events::slack_click(ANALYST, &token, &format!("{hooks}confirm")))?).await?;
    r.posted("confirm", 1, "accepted by Defender").await.map_err(|e| format!("{e}; {:?}", esm.errors()))?;
    let clock = r.sim.client().map_err(|e| e.to_string())?;
    clock
        .post(format!("{}/_sim/clock", r.sim.url))
        .json(&json!({"advance_s": 120}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    r.posted("confirm", 2, "Succeeded").await.map_err(|e| format!("follow-up: {e}; {:?}", esm.errors()))?;
    r.ship_logs(aws).await
}

async fn path(resolved: Value, binary: String, without: Option<Statement>, tag: String) -> Result<(), String> {
    let aws = TemplateAws::start(resolved, without.as_ref()).await.map_err(|e| e.to_string())?;
    match binary.as_str() {
        "webhook-enrich" => enrich_path(&tag, &aws).await,
        "scheduled-export" => export_path(&tag, &aws).await,
        _ => chatops_path(&tag, &aws).await,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_any_one_statement_from_a_function_role_breaks_that_functions_path() {
    let resolved = resolved();
    let all = statements(&resolved);
    let binaries = ["webhook-enrich", "scheduled-export", "chatops-callback", "chatops-worker"];
    for b in binaries {
        assert!(all.iter().any(|s| s.binary == b), "{b} has a role with statements: {all:?}");
    }
    // Paths are mostly waiting (the simulator, moto, the functions): a few at a time.
    let slots = Arc::new(tokio::sync::Semaphore::new(3));
    let mut runs = tokio::task::JoinSet::new();
    let baselines = ["webhook-enrich", "scheduled-export", "chatops-callback"];
    let cases =
        baselines.iter().map(|b| (b.to_string(), None)).chain(all.iter().map(|s| (s.binary.clone(), Some(s.clone()))));
    for (i, (binary, without)) in cases.enumerate() {
        let (resolved, slots) = (resolved.clone(), slots.clone());
        runs.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let outcome = path(resolved, binary.clone(), without.clone(), format!("{i}")).await;
            (binary, without, outcome)
        });
    }
    let (mut broken_baseline, mut survived, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(done) = runs.join_next().await {
        match done.unwrap() {
            (binary, None, Err(e)) => broken_baseline.push(format!("{binary}: {e}")),
            (_, Some(s), Ok(())) => survived.push(s.to_string()),
            (_, Some(s), Err(e)) => failures.push(format!("{s} → {}", e.chars().take(160).collect::<String>())),
            (_, None, Ok(())) => {}
        }
    }
    assert!(
        broken_baseline.is_empty(),
        "with the template's policies every path works:\n{}",
        broken_baseline.join("\n")
    );
    assert!(survived.is_empty(), "removing these statements broke nothing (unneeded, or untested): {survived:#?}");
    assert_eq!(failures.len(), all.len(), "{failures:#?}");
    eprintln!("each removal broke its function's path:\n{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// The template on a new account, and every setting reachable from a parameter.

fn resolved_with(extra: &[(&str, &str)]) -> Value {
    common::resolved("kv-iam", extra)
}

fn env_of(r: &Value, binary: &str) -> std::collections::HashMap<String, String> {
    let f = r["functions"].as_object().unwrap().values().find(|f| f["binary"] == binary).unwrap();
    f["environment"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

#[test]
fn by_default_nothing_is_reserved_and_every_function_logs_json() {
    // A new account's quota is 10 and Lambda keeps 10 unreserved: any reservation fails there.
    let r = resolved_with(&[]);
    for (id, f) in r["functions"].as_object().unwrap() {
        assert!(f["reserved_concurrency"].is_null(), "{id}: {}", f["reserved_concurrency"]);
        assert_eq!(f["log_format"], "JSON", "{id}");
    }
    let r = resolved_with(&[("ReservedConcurrency", "5")]);
    for (id, f) in r["functions"].as_object().unwrap() {
        let want = if f["binary"] == "scheduled-export" { 1 } else { 5 };
        assert_eq!(f["reserved_concurrency"], want, "{id}");
    }
}

#[test]
fn graph_streams_hunting_exports_and_user_linking_are_reachable_from_parameters() {
    let queries =
        r#"[{"name":"proc","query":"DeviceProcessEvents | project Timestamp, FileName","time_column":"Timestamp"}]"#;
    let r = resolved_with(&[
        ("ExportStreams", "graph-alerts,graph-incidents,hunting:proc"),
        ("ExportHuntingQueries", queries),
        ("ExportHuntingMaxRows", "500"),
        ("UserLinkClientId", "33333333-3333-4333-8333-333333333333"),
        ("FollowupRecheckSeconds", "60"),
    ]);
    let export = env_of(&r, "scheduled-export");
    let c = scheduled_export::config::ExportConfig::from_lookup(|k| export.get(k).cloned()).unwrap();
    let streams: Vec<String> = c.streams.iter().map(ToString::to_string).collect();
    assert_eq!(streams, ["graph-alerts", "graph-incidents", "hunting:proc"]);
    for binary in ["chatops-callback", "chatops-worker"] {
        let chat = env_of(&r, binary);
        let c = chatops::config::ChatOpsConfig::from_lookup(|k| chat.get(k).cloned()).unwrap();
        assert_eq!(c.user_client_id.map(|id| id.to_string()).as_deref(), Some("33333333-3333-4333-8333-333333333333"));
        assert_eq!(c.recheck_after, Duration::from_secs(60));
    }
    // The defaults parse too (empty values count as unset).
    let r = resolved_with(&[]);
    let export = env_of(&r, "scheduled-export");
    scheduled_export::config::ExportConfig::from_lookup(|k| export.get(k).cloned()).unwrap();
    let chat = env_of(&r, "chatops-worker");
    let c = chatops::config::ChatOpsConfig::from_lookup(|k| chat.get(k).cloned()).unwrap();
    assert!(c.user_client_id.is_none());
}
