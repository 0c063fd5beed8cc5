//! The AWS side of `infra/template.yaml`, stood in by moto with IAM enforced.
//!
//! The one moto starter lives in the test kit, `testkit::moto` (re-exported here). [`TemplateAws`] takes the
//! template as `scripts/cfn_resolve.py` resolves it and creates every bucket, queue, table and log
//! group under the physical name the resolver gives, and each function's role with **exactly** its
//! resolved inline policies (optionally less one statement, [`Statement`]); each function then runs
//! with its role's assumed-role credentials ([`TemplateAws::env`]). What Lambda itself does with the
//! execution role is played here with that role's credentials too, so those statements are exercised
//! as well: shipping the function's output to its log group ([`TemplateAws::ship_logs`]), the SQS
//! event source mapping ([`EventSource`]) and the dead-letter queue of an asynchronous invocation
//! ([`TemplateAws::dead_letter`]).

pub use testkit::moto::{Credentials, Moto, MotoError, Plan, Role};

use crate::paths::Paths;
use serde_json::{Value, json};
use std::{path::Path, time::Duration};

/// The template resolved by `scripts/cfn_resolve.py` with `params` (`Name=Value`) — its JSON, as
/// [`crate::template::resolve`] reads it (the same venv: `.venv/cfn`, else `.venv/lint`), kept whole
/// here because the stand-in is built from it generically.
///
/// # Errors
/// The resolver is missing, refused the template or printed something else (its message).
pub fn resolve_template(paths: &Paths, params: &[(&str, &str)]) -> Result<Value, String> {
    let python = ["cfn", "lint"]
        .iter()
        .map(|v| paths.root.join(".venv").join(v).join("bin/python"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| paths.root.join(".venv/cfn/bin/python"));
    let mut cmd = std::process::Command::new(&python);
    cmd.current_dir(&paths.root).arg("scripts/cfn_resolve.py").arg("infra/template.yaml");
    for (k, v) in params {
        cmd.arg("--param").arg(format!("{k}={v}"));
    }
    let out = cmd.output().map_err(|e| format!("{}: {e} (make cfn-venv)", python.display()))?;
    if !out.status.success() {
        return Err(format!("cfn_resolve failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cfn_resolve printed no JSON: {e}"))
}

/// One statement of a function role's inline policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The function's binary (`webhook-enrich`, ...).
    pub binary: String,
    /// The inline policy's name.
    pub policy: String,
    /// The statement's `Sid`.
    pub sid: String,
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}/{}", self.binary, self.policy, self.sid)
    }
}

fn functions(resolved: &Value) -> impl Iterator<Item = &Value> {
    resolved["functions"].as_object().into_iter().flat_map(|m| m.values())
}

/// Every statement of every function's role, in template order (each needs a `Sid`).
pub fn statements(resolved: &Value) -> Vec<Statement> {
    let mut out = Vec::new();
    for f in functions(resolved) {
        for p in f["policies"].as_array().into_iter().flatten() {
            for st in p["PolicyDocument"]["Statement"].as_array().into_iter().flatten() {
                out.push(Statement {
                    binary: f["binary"].as_str().unwrap_or_default().to_string(),
                    policy: p["PolicyName"].as_str().unwrap_or_default().to_string(),
                    sid: st["Sid"].as_str().unwrap_or("(no Sid)").to_string(),
                });
            }
        }
    }
    out
}

fn role_name(resolved: &Value, f: &Value) -> String {
    let logical = f["role"].as_str().unwrap_or_default();
    resolved["resources"][logical]["ref"].as_str().unwrap_or(logical).to_string()
}

/// The stand-in of the template's AWS resources: every bucket, queue, table and log group by its
/// physical name, and each function's role with its resolved inline policies — less `without`.
pub fn plan(resolved: &Value, without: Option<&Statement>) -> Plan {
    let mut plan = Plan { region: resolved["region"].as_str().map(str::to_string), ..Plan::default() };
    for r in resolved["resources"].as_object().into_iter().flat_map(|m| m.values()) {
        let Some(name) = r["ref"].as_str() else { continue };
        match r["type"].as_str().unwrap_or_default() {
            "AWS::S3::Bucket" => plan.buckets.push(name.to_string()),
            "AWS::SQS::Queue" => {
                plan.queues.push((name.rsplit('/').next().unwrap_or(name).to_string(), fifo_attributes(r)));
            }
            "AWS::DynamoDB::Table" => plan.tables.push(name.to_string()),
            "AWS::Logs::LogGroup" => plan.log_groups.push(name.to_string()),
            _ => {}
        }
    }
    // A queue's dead-letter queue must exist before the queue that names it.
    plan.queues.sort_by_key(|(_, a)| a.get("RedrivePolicy").is_some());
    for f in functions(resolved) {
        let binary = f["binary"].as_str().unwrap_or_default();
        let mut policies = Vec::new();
        for p in f["policies"].as_array().into_iter().flatten() {
            let mut p = p.clone();
            let name = p["PolicyName"].as_str().unwrap_or_default().to_string();
            if let (Some(w), Some(list)) = (without, p["PolicyDocument"]["Statement"].as_array_mut())
                && w.binary == binary
                && w.policy == name
            {
                list.retain(|st| st["Sid"].as_str() != Some(w.sid.as_str()));
            }
            if p["PolicyDocument"]["Statement"].as_array().is_some_and(|l| !l.is_empty()) {
                policies.push(p);
            }
        }
        plan.roles.push(Role { name: role_name(resolved, f), policies });
    }
    plan
}

/// A FIFO queue's attributes as the template sets them (FIFO, content-based deduplication, its
/// redrive policy to its FIFO dead-letter queue): what makes a FIFO queue behave as one. Standard
/// queues keep moto's defaults (their tests play visibility and redrive themselves).
fn fifo_attributes(r: &Value) -> Value {
    let p = &r["properties"];
    if p["FifoQueue"] != json!(true) {
        return json!({});
    }
    let mut a = json!({"FifoQueue": "true"});
    if let Some(c) = p["ContentBasedDeduplication"].as_bool() {
        a["ContentBasedDeduplication"] = json!(c.to_string());
    }
    if p["RedrivePolicy"].is_object() {
        a["RedrivePolicy"] = json!(p["RedrivePolicy"].to_string());
    }
    a
}

/// An SQS error with its HTTP status (moto answers an IAM refusal of a JSON-protocol call with an XML
/// body the SDK cannot parse; the status still says 403).
fn sqs_err<E: std::error::Error + 'static>(
    op: &str,
    e: aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> String {
    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
    format!("{op}: HTTP {status}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

/// moto holding the template's resources and roles, IAM enforced.
#[derive(Debug)]
pub struct TemplateAws {
    /// The server (its `admin` credentials are for a test's own inspection).
    pub moto: Moto,
    /// The resolved template.
    pub resolved: Value,
    /// The statement left out of its role, if any.
    pub without: Option<Statement>,
}

impl TemplateAws {
    /// Creates [`plan`]`(resolved, without)` in a fresh moto and enforces IAM from then on.
    ///
    /// # Errors
    /// [`MotoError`].
    pub async fn start(resolved: Value, without: Option<&Statement>) -> Result<Self, MotoError> {
        let moto = Moto::start_with_iam(&plan(&resolved, without)).await?;
        Ok(Self { moto, resolved, without: without.cloned() })
    }

    /// The policy documents of `binary`'s role as this stand-in enforces them (less `without`): what
    /// another AWS stand-in (the simulator's STS) must evaluate for that role.
    pub fn policies(&self, binary: &str) -> Vec<Value> {
        let Some(f) = self.function(binary) else { return Vec::new() };
        let mut out = Vec::new();
        for p in f["policies"].as_array().into_iter().flatten() {
            let name = p["PolicyName"].as_str().unwrap_or_default();
            let mut doc = p["PolicyDocument"].clone();
            if let Some(list) = doc["Statement"].as_array_mut() {
                list.retain(|st| {
                    !self.without.as_ref().is_some_and(|w| {
                        w.binary == binary && w.policy == name && st["Sid"].as_str().unwrap_or("(no Sid)") == w.sid
                    })
                });
            }
            out.push(doc);
        }
        out
    }

    /// The resolved function built from `binary`.
    pub fn function(&self, binary: &str) -> Option<&Value> {
        functions(&self.resolved).find(|f| f["binary"] == binary)
    }

    /// What `Ref` gives for the resource `logical_id`.
    pub fn reference(&self, logical_id: &str) -> Option<&str> {
        self.resolved["resources"][logical_id]["ref"].as_str()
    }

    /// The assumed-role credentials of `binary`'s execution role.
    pub fn credentials(&self, binary: &str) -> Option<&Credentials> {
        self.function(binary).and_then(|f| self.moto.role(&role_name(&self.resolved, f)))
    }

    /// What Lambda gives `binary` on the AWS side: the template's variables that name an AWS resource
    /// (bucket, queue URL, table: the physical names), `AWS_LAMBDA_LOG_FORMAT` from its
    /// `LoggingConfig`, its role's credentials, and — the only override — the endpoint (moto) and
    /// path-style S3 addressing.
    pub fn env(&self, binary: &str) -> Vec<(String, String)> {
        let Some(f) = self.function(binary) else { return Vec::new() };
        let aws_names: Vec<&str> = self.resolved["resources"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|r| {
                matches!(r["type"].as_str(), Some("AWS::S3::Bucket" | "AWS::SQS::Queue" | "AWS::DynamoDB::Table"))
            })
            .filter_map(|r| r["ref"].as_str())
            .collect();
        let mut env: Vec<(String, String)> = f["environment"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().filter(|v| aws_names.contains(v)).map(|v| (k.clone(), v.to_string())))
            .collect();
        if env.iter().any(|(k, _)| k == "EXPORT_BUCKET") {
            env.push(("EXPORT_S3_PATH_STYLE".into(), "1".into()));
        }
        if let Some(format) = f["log_format"].as_str() {
            env.push(("AWS_LAMBDA_LOG_FORMAT".into(), format.to_string()));
        }
        if let Some(c) = self.credentials(binary) {
            env.extend(self.moto.env(c));
        }
        env
    }

    /// The SDK settings of a client of the stand-in with credentials `c` (a role session's, or the
    /// administrator's): any AWS SDK client's `Client::new` or `config::Builder::from` takes them.
    pub fn sdk_config(&self, c: &Credentials) -> aws_config::SdkConfig {
        let creds = aws_sdk_sqs::config::Credentials::new(
            &c.access_key_id,
            &c.secret_access_key,
            c.session_token.clone(),
            None,
            "stand-in",
        );
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(creds))
            .endpoint_url(&self.moto.url)
            .build()
    }

    /// An SQS client of the stand-in with credentials `c` (a role session's, or the administrator's).
    pub fn sqs(&self, c: &Credentials) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config(c))
    }

    /// An SQS client of the administrator (for a test's inspection).
    pub fn admin_sqs(&self) -> Option<aws_sdk_sqs::Client> {
        self.moto.admin.as_ref().map(|c| self.sqs(c))
    }

    /// Lambda's log agent: `binary`'s output (`log`) sent to its log group with its execution role
    /// (`logs:CreateLogStream`, `logs:PutLogEvents`).
    ///
    /// # Errors
    /// The role may not, or the stand-in failed (its answer).
    pub async fn ship_logs(&self, binary: &str, log: &Path) -> Result<(), String> {
        let f = self.function(binary).ok_or_else(|| format!("no function {binary}"))?;
        let group = f["log_group"].as_str().ok_or_else(|| format!("{binary} has no log group"))?;
        let c = self.credentials(binary).ok_or_else(|| format!("no role session for {binary}"))?;
        let out = tokio::process::Command::new(testkit::moto::python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("ship_logs.py"))
            .args(["--endpoint", &self.moto.url, "--group", group, "--stream", binary])
            .arg(log)
            .env_clear()
            .envs(c.env())
            .output()
            .await
            .map_err(|e| format!("ship_logs.py: {e}"))?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
    }

    /// Lambda's dead-letter queue of a failed asynchronous invocation: `event` sent to the queue of
    /// the resource `queue` with `binary`'s execution role (`sqs:SendMessage`).
    ///
    /// # Errors
    /// The role may not (the stand-in's answer).
    pub async fn dead_letter(&self, binary: &str, queue: &str, event: &Value) -> Result<(), String> {
        let c = self.credentials(binary).ok_or_else(|| format!("no role session for {binary}"))?;
        let url = self.reference(queue).ok_or_else(|| format!("no queue {queue}"))?;
        self.sqs(c)
            .send_message()
            .queue_url(url)
            .message_body(event.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sqs_err(&format!("SendMessage to {queue}"), e))
    }
}

/// Lambda's SQS event source mapping: polls the queue with the function's execution role
/// (`sqs:GetQueueAttributes` when the mapping is created, then `ReceiveMessage`), invokes the function
/// with each batch through `invoke_url` and deletes what it did not report failed (`DeleteMessage`;
/// `ReportBatchItemFailures`). Stops when dropped; its errors are kept in [`EventSource::errors`].
#[derive(Debug)]
pub struct EventSource {
    task: tokio::task::JoinHandle<()>,
    errors: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for EventSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventSource {
    /// Creates the mapping from the queue `queue` (logical id) to `binary` at `invoke_url`.
    ///
    /// # Errors
    /// The role may not read the queue's attributes (Lambda refuses the mapping then).
    pub async fn start(aws: &TemplateAws, binary: &str, queue: &str, invoke_url: String) -> Result<Self, String> {
        let c = aws.credentials(binary).ok_or_else(|| format!("no role session for {binary}"))?;
        let url = aws.reference(queue).ok_or_else(|| format!("no queue {queue}"))?.to_string();
        let arn = aws.resolved["resources"][queue]["arn"].as_str().unwrap_or_default().to_string();
        let sqs = aws.sqs(c);
        sqs.get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| sqs_err("GetQueueAttributes", e))?;
        let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let errs = errors.clone();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                if let Err(e) = poll_once(&sqs, &http, &url, &arn, &invoke_url).await
                    && let Ok(mut v) = errs.lock()
                {
                    v.push(e);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Ok(Self { task, errors })
    }

    /// What went wrong so far (receive, invoke or delete).
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

async fn poll_once(
    sqs: &aws_sdk_sqs::Client,
    http: &reqwest::Client,
    url: &str,
    arn: &str,
    invoke_url: &str,
) -> Result<(), String> {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(1)
        .wait_time_seconds(1)
        .visibility_timeout(60)
        .send()
        .await
        .map_err(|e| sqs_err("ReceiveMessage", e))?;
    for m in got.messages() {
        let now = chrono::Utc::now().timestamp_millis().to_string();
        let event = json!({"Records": [{
            "messageId": m.message_id().unwrap_or_default(),
            "receiptHandle": m.receipt_handle().unwrap_or_default(),
            "body": m.body().unwrap_or_default(),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now,
                "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": now},
            "messageAttributes": {}, "md5OfBody": m.md5_of_body().unwrap_or_default(),
            "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"}]});
        let resp = http
            .post(invoke_url)
            .json(&event)
            .timeout(Duration::from_secs(90))
            .send()
            .await
            .map_err(|e| format!("invoke: {e}"))?;
        // A function error leaves the message to come back after its visibility timeout.
        let ok = resp.status().is_success();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        let id = m.message_id().unwrap_or_default();
        let failed =
            !ok || answer["batchItemFailures"].as_array().is_some_and(|f| f.iter().any(|i| i["itemIdentifier"] == id));
        if !failed && let Some(handle) = m.receipt_handle() {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| sqs_err("DeleteMessage", e))?;
        }
    }
    Ok(())
}
