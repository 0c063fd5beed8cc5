//! The template's own environment, started. For the default deploy, for every `CredentialMode` the
//! template offers (read from its `AllowedValues`) and for MSSP mode (`TenantsSecretName` set), each
//! function's `Environment` is resolved from `infra/template.yaml` by `scripts/cfn_resolve.py` (AWS's
//! SAM transform, then CloudFormation's intrinsics) — never copied by hand — and every function binary
//! is started with it under cargo-lambda's emulator. Each must start and answer: a signed webhook,
//! an export run, a Slack `help`, a worker job from an SQS event.
//!
//! The stand-ins: the simulated tenant (Entra, Key Vault, Defender), moto (S3, SQS, DynamoDB,
//! Secrets Manager), and tenant-sim's strict STS `GetWebIdentityToken`, which evaluates each role's
//! policies as the template resolves them (a request without `DurationSeconds` is denied by the
//! role's `NumericLessThanEquals sts:DurationSeconds 3600`, as IAM would) and which the simulated
//! Entra trusts only through a federated credential per role (issuer, subject = role ARN, audience).
//!
//! # What is overridden, and why
//! Only where the stand-ins are, never the credential settings the template produces:
//! - template variables: `KEY_VAULT_URL` (the vault is the simulator; the template's pattern only
//!   admits `*.vault.azure.net`), `CHATOPS_RESPONSE_URL_PREFIXES` (Slack's `hooks.slack.com` is a local
//!   receiver here);
//! - added endpoints: `AZURE_AUTHORITY_HOST` (Entra), `MDE_API_URL`, `XDR_API_URL`, `GRAPH_API_URL`
//!   (Defender and Graph), `AWS_ENDPOINT_URL_STS` (the STS stand-in), `AWS_ENDPOINT_URL_S3`,
//!   `_SQS`, `_DYNAMODB`, `_SECRETS_MANAGER` (moto); `EXPORT_S3_PATH_STYLE=1` (moto on 127.0.0.1 has no
//!   virtual-host buckets); `DEFENDER_EXTRA_CA_FILE` + `DEFENDER_LOCAL_MODE=1` (trust the simulator's
//!   test CA, allow its loopback vault URL);
//! - what Lambda itself gives a function: `AWS_REGION`, and the execution role's temporary
//!   credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), one set per role.
//!
//! The parameters passed are what a deployer must pass (`TenantId`, `ClientId`, `KeyVaultUrl`), the
//! mode under test, and a `ChatOpsRbac` granting the test's analyst `read` (the default lets nobody
//! read). Physical names are the resolver's defaults, except the Secrets Manager secret, whose ARN
//! (with the random suffix) is the one moto gave it — as CloudFormation would only know after creating it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::secret::SecretString;
use local_runner::{
    env::{ANALYST, APP, APP_SECRET, RESPONDER_APP, RESPONDER_SECRET},
    events,
    paths::Paths,
    stack::{Answer, Function, LambdaWatch, send},
    template::{self, Resolved},
};
use serde_json::json;
use std::{path::PathBuf, time::Duration};
use tenant_sim::{
    RunningSim, SimOptions, start,
    sts::{self, RunningSts, StsPrincipal},
};
use testkit::Moto;
use testkit::Receiver;

const T: Duration = Duration::from_secs(90);
const VAULT_PARAM: &str = "https://defender-kv.vault.azure.net";
const READ_POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read"]}}}"#;

/// One stack at a time: four binaries, cargo-lambda, moto and the simulator per stack on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test's own (administrator) client configuration for moto.
async fn aws_conf(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(template::REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(url)
        .load()
        .await
}

/// Creates in moto what the resolved stack has of the types the functions use, under its physical names.
async fn create_aws_resources(r: &Resolved, moto: &str) {
    let conf = aws_conf(moto).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    for (id, res) in &r.resources {
        let name = res.reference.clone().unwrap_or_default();
        match res.kind.as_str() {
            "AWS::S3::Bucket" => {
                s3.create_bucket().bucket(&name).send().await.unwrap();
            }
            "AWS::SQS::Queue" => {
                let queue = name.rsplit('/').next().unwrap().to_string();
                let url = sqs.create_queue().queue_name(&queue).send().await.unwrap().queue_url.unwrap();
                assert!(url.ends_with(&format!("/{queue}")), "{id}: {url}");
            }
            "AWS::DynamoDB::Table" => testkit::aws::create_idempotency_table(&ddb, &name).await,
            _ => {}
        }
    }
}

/// A certificate and its RSA key (PEM), as an operator would make for the Entra app.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["defender-functions".into()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// The documented endpoints a function binary may call (what its app is granted for).
fn endpoints_of(binary: &str) -> &'static [defender_shared::defender::Endpoint] {
    match binary {
        "webhook-enrich" => webhook_enrich::ENDPOINTS,
        "scheduled-export" => scheduled_export::ENDPOINTS,
        _ => chatops::ENDPOINTS,
    }
}

/// The vault secrets a function's environment names: what its app gets "Key Vault Secrets User" on,
/// each secret on its own (docs/deploy.md), and nothing else.
fn vault_secrets_of(env: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let lists = [
        "WEBHOOK_SECRET_NAMES",
        "WEBHOOK_GITHUB_SECRET_NAMES",
        "WEBHOOK_CALLBACK_SECRET_NAME",
        "DEFENDER_TENANTS_SECRET",
        "CHATOPS_SLACK_SECRET_NAMES",
        "CHATOPS_TEAMS_SECRET_NAMES",
        "CHATOPS_SLACK_BOT_TOKEN_NAME",
        "CHATOPS_BOT_SECRET_NAME",
        "CHATOPS_BOT_CERT_NAME",
    ];
    lists
        .iter()
        .filter_map(|k| env.get(*k))
        .flat_map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from))
        .collect()
}

/// The Entra apps as docs/deploy.md has the operator register them: one per distinct
/// `AZURE_CLIENT_ID` of the resolved functions, granted what the grant script grants the functions
/// it serves (`permissions::application_grant` of their endpoints) and "Key Vault Secrets User" on
/// exactly the secrets those functions name. Each app keeps its own client secret; credentials for
/// the mode are set by the caller. Built from the template, so one app for every function (as before
/// the split) gets every right.
fn register_apps(r: &Resolved, opts: &mut SimOptions) {
    let mut by_app: std::collections::BTreeMap<String, Vec<&local_runner::template::Function>> = Default::default();
    for f in r.functions.values() {
        by_app.entry(f.environment["AZURE_CLIENT_ID"].clone()).or_default().push(f);
    }
    let template_apps: Vec<String> = by_app.keys().cloned().collect();
    opts.seed.apps.retain(|a| !template_apps.contains(&a.client_id));
    for (client_id, functions) in by_app {
        let endpoints: Vec<defender_shared::defender::Endpoint> =
            functions.iter().flat_map(|f| endpoints_of(&f.binary).iter().copied()).collect();
        let mut secrets: Vec<String> = functions.iter().flat_map(|f| vault_secrets_of(&f.environment)).collect();
        secrets.sort();
        secrets.dedup();
        let secret = if client_id == APP { APP_SECRET } else { RESPONDER_SECRET };
        let app: tenant_sim::seed::AppReg = serde_json::from_value(json!({
            "client_id": client_id,
            "display_name": functions.iter().map(|f| f.binary.as_str()).collect::<Vec<_>>().join(", "),
            "client_secret": secret,
            "roles": defender_shared::defender::permissions::application_grant(&endpoints),
            "vault_access": true,
            "vault_secrets": secrets,
        }))
        .unwrap();
        opts.seed.apps.push(app);
    }
}

/// The deployment of one parameter set, running.
struct Deployed {
    sim: RunningSim,
    sts: RunningSts,
    _moto: Moto,
    watch: LambdaWatch,
    hooks: Receiver,
    functions: Vec<Function>,
    resolved: Resolved,
    dir: PathBuf,
}

impl Drop for Deployed {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// What the operator's Entra app and AWS account hold for the credential the environment names.
enum Bootstrap {
    /// `DEFENDER_FEDERATED_SOURCE=aws-sts`: a federated credential per role, federation enabled.
    FederatedSts,
    /// `DEFENDER_CLIENT_SECRET_ARN`: each app's client secret in its Secrets Manager secret.
    SecretArn,
    /// `DEFENDER_CLIENT_CERTIFICATE_ARN`: each app's certificate + key PEM in its Secrets Manager secret.
    CertificateArn,
    /// Anything else: the app keeps its demo client secret and nothing is prepared.
    Other,
}

/// The `federated-sts` set-up of docs/deploy.md: each function's Entra app (the one its
/// `AZURE_CLIENT_ID` names) loses its client secret and trusts that function's role, as the STS
/// stand-in's web identity tokens name it; the stand-in then issues them.
fn federate(r: &Resolved, opts: &mut SimOptions, sts: &RunningSts) {
    for f in r.functions.values() {
        let app = opts.seed.apps.iter_mut().find(|a| a.client_id == f.environment["AZURE_CLIENT_ID"]).unwrap();
        app.client_secret = None;
        app.federated_credentials.push(tenant_sim::seed::Federated {
            issuer: sts.issuer().to_string(),
            subject: f.role_arn.clone(),
            audience: "api://AzureADTokenExchange".into(),
            jwks_url: None,
            jwks: None,
            visible_from: None,
        });
    }
    sts.enable_federation();
}

fn bootstrap_of(r: &Resolved) -> Bootstrap {
    let env = &r.functions.values().next().unwrap().environment;
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    if get("DEFENDER_FEDERATED_SOURCE").as_deref() == Some("aws-sts") {
        Bootstrap::FederatedSts
    } else if get("DEFENDER_CLIENT_SECRET_ARN").is_some() {
        Bootstrap::SecretArn
    } else if get("DEFENDER_CLIENT_CERTIFICATE_ARN").is_some() {
        Bootstrap::CertificateArn
    } else {
        Bootstrap::Other
    }
}

async fn deploy(tag: &str, extra: &[(&str, &str)]) -> Deployed {
    let paths = Paths::discover();
    let dir = std::env::temp_dir().join(format!("df-template-env-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let moto = Moto::start().await.unwrap_or_else(|e| panic!("{e}"));
    let sts = sts::start(template::ACCOUNT, template::REGION).await.unwrap();
    let demo = SimOptions::demo().unwrap();
    let tenant_id = demo.seed.tenant_id.clone();
    let mut params: Vec<(&str, &str)> = vec![
        ("TenantId", &tenant_id),
        ("ReaderClientId", APP),
        ("ResponderClientId", RESPONDER_APP),
        ("KeyVaultUrl", VAULT_PARAM),
        ("ChatOpsRbac", READ_POLICY),
    ];
    params.extend_from_slice(extra);

    // Resolve; then create the Secrets Manager secrets in moto and resolve again with their ARNs.
    let first = template::resolve(&params, &[]).unwrap_or_else(|e| panic!("{e}"));
    let sm = aws_sdk_secretsmanager::Client::new(&aws_conf(&moto.url).await);
    // One certificate per app registration (split identities: never one credential for both).
    let certs: std::collections::BTreeMap<&str, (String, String)> =
        [(APP, certificate()), (RESPONDER_APP, certificate())].into_iter().collect();
    let pem_cert_of = |client_id: &str| certs[client_id].0.clone();
    let mut physical: Vec<(String, String)> = Vec::new();
    // Each Secrets Manager secret gets the credential of the app whose functions name it.
    let value_for = |arn: &str| {
        let f = first.functions.values().find(|f| {
            [&f.environment["DEFENDER_CLIENT_SECRET_ARN"], &f.environment["DEFENDER_CLIENT_CERTIFICATE_ARN"]]
                .iter()
                .any(|v| v.as_str() == arn)
        })?;
        let client_id = f.environment["AZURE_CLIENT_ID"].as_str();
        let secret = if client_id == APP { APP_SECRET } else { RESPONDER_SECRET };
        match bootstrap_of(&first) {
            Bootstrap::SecretArn => Some(secret.to_string()),
            Bootstrap::CertificateArn => certs.get(client_id).map(|(c, k)| format!("{c}{k}")),
            _ => None,
        }
    };
    for (id, res) in &first.resources {
        if res.kind != "AWS::SecretsManager::Secret" {
            continue;
        }
        let arn = res.reference.clone().unwrap();
        let name = arn.split(":secret:").nth(1).unwrap().rsplit_once('-').unwrap().0.to_string();
        // CloudFormation creates it with a generated placeholder; the operator then puts the value.
        let created = sm
            .create_secret()
            .name(&name)
            .secret_string("placeholder-from-generate-secret-string")
            .send()
            .await
            .unwrap();
        let moto_arn = created.arn.unwrap();
        if let Some(v) = value_for(&arn) {
            sm.put_secret_value().secret_id(&moto_arn).secret_string(v).send().await.unwrap();
        }
        physical.push((id.clone(), moto_arn));
    }
    let physical_ref: Vec<(&str, &str)> = physical.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let resolved = template::resolve(&params, &physical_ref).unwrap_or_else(|e| panic!("{e}"));
    create_aws_resources(&resolved, &moto.url).await;

    // The Entra apps as docs/deploy.md has the operator set them up for this credential: each
    // function's app is the one its AZURE_CLIENT_ID names, and gets that function's role's federated
    // credential, or the certificate in its own Secrets Manager secret.
    let mut opts = demo;
    register_apps(&resolved, &mut opts);
    let mode = bootstrap_of(&resolved);
    match &mode {
        Bootstrap::FederatedSts => federate(&resolved, &mut opts, &sts),
        Bootstrap::CertificateArn => {
            for f in resolved.functions.values() {
                let app = opts.seed.apps.iter_mut().find(|a| a.client_id == f.environment["AZURE_CLIENT_ID"]).unwrap();
                app.client_secret = None;
                app.certificate_pem = Some(pem_cert_of(&app.client_id));
            }
        }
        Bootstrap::SecretArn | Bootstrap::Other => {}
    }
    if let Some(name) = extra.iter().find(|(k, _)| *k == "TenantsSecretName").map(|(_, v)| *v) {
        // MSSP: the registry lives in the vault; each identity's per-tenant credential too — the
        // reader's at the top level, the responder's under `responder` (shared/src/tenants.rs).
        opts.seed.secrets.insert(
            name.to_string(),
            json!({"tenants": [{"name": "default", "tenant_id": tenant_id, "client_id": APP,
                "credential": {"kind": "client_secret", "secret_name": "defender-client-secret"},
                "responder": {"client_id": RESPONDER_APP,
                    "credential": {"kind": "client_secret", "secret_name": "responder-client-secret"}}}]})
            .to_string(),
        );
        opts.seed.secrets.insert("responder-client-secret".into(), RESPONDER_SECRET.into());
        for app in &mut opts.seed.apps {
            let (secret, own) = match app.client_id.as_str() {
                APP => (APP_SECRET, "defender-client-secret"),
                RESPONDER_APP => (RESPONDER_SECRET, "responder-client-secret"),
                _ => continue,
            };
            // Each app keeps its client secret for its per-tenant credential, and may read it.
            app.client_secret = Some(secret.into());
            app.vault_secrets.get_or_insert_with(Vec::new).push(own.into());
        }
    }
    let sim = start(opts).await.unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let hooks = Receiver::start().await.unwrap();
    let watch = LambdaWatch::start(&paths, &dir).await.unwrap_or_else(|e| panic!("{e}"));

    let mut functions = Vec::new();
    for (i, (id, f)) in resolved.functions.iter().enumerate() {
        // The execution role's temporary credentials, as Lambda gives them.
        let (key, secret, token) = (format!("ASIA{i:016}"), format!("secret-{id}"), format!("session-{id}"));
        sts.register(StsPrincipal {
            access_key_id: key.clone(),
            secret_access_key: secret.clone(),
            session_token: Some(token.clone()),
            role_arn: f.role_arn.clone(),
            policies: f.policies.iter().map(|p| p.document.clone()).collect(),
        });
        let mut env: Vec<(String, String)> = f.environment.clone().into_iter().collect();
        let mut set = |k: &str, v: &str| {
            env.retain(|(n, _)| n != k);
            env.push((k.to_string(), v.to_string()));
        };
        set("KEY_VAULT_URL", &sim.url);
        set("CHATOPS_RESPONSE_URL_PREFIXES", &hooks.base);
        for k in ["AZURE_AUTHORITY_HOST", "MDE_API_URL", "XDR_API_URL", "GRAPH_API_URL"] {
            set(k, &sim.url);
        }
        set("AWS_ENDPOINT_URL_STS", &sts.url);
        for k in [
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL_SQS",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ] {
            set(k, &moto.url);
        }
        set("EXPORT_S3_PATH_STYLE", "1");
        set("DEFENDER_EXTRA_CA_FILE", &ca.display().to_string());
        set("DEFENDER_LOCAL_MODE", "1");
        set("AWS_REGION", template::REGION);
        set("AWS_ACCESS_KEY_ID", &key);
        set("AWS_SECRET_ACCESS_KEY", &secret);
        set("AWS_SESSION_TOKEN", &token);
        set("RUST_LOG", "info");
        functions.push(Function::start(&paths, &watch, &f.binary, &env, &dir).unwrap_or_else(|e| panic!("{e}")));
    }
    Deployed { sim, sts, _moto: moto, watch, hooks, functions, resolved, dir }
}

impl Deployed {
    fn function(&mut self, binary: &str) -> &mut Function {
        self.functions.iter_mut().find(|f| f.name == binary).unwrap()
    }

    async fn go(&mut self, binary: &str, what: &str, req: reqwest::RequestBuilder) -> Answer {
        let f = self.function(binary);
        match send(what, req, f, T).await {
            Ok(a) => a,
            Err(e) => panic!("{e}\n{binary} log:\n{}", local_runner::tail(&f.log, 30)),
        }
    }

    fn secret(&self, name: &str) -> SecretString {
        SecretString::new(self.sim.sim.tenant.lock().unwrap().seed.secrets.get(name).cloned().unwrap())
    }

    /// Every function starts and answers what it is for.
    async fn every_function_answers(&mut self, mode: &str) {
        // webhook-enrich: a signed webhook.
        let machine = self.sim.sim.tenant.lock().unwrap().seed.machines[0].clone();
        let body = json!({"indicators": {"hostnames": [machine["computerDnsName"]]}}).to_string();
        let mut req = reqwest::Client::new()
            .post(self.watch.function_url("webhook-enrich", "/"))
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in events::webhook_headers(&self.secret("webhook-secret"), "msg_template_env", &body).unwrap() {
            req = req.header(k, v);
        }
        let a = self.go("webhook-enrich", "signed webhook", req).await;
        assert_eq!(a.status, 200, "{mode}: {}", a.body);
        assert_eq!(a.body["results"][0]["status"], "found", "{mode}: {}", a.body);

        // scheduled-export: a scheduler event, every stream exported.
        let event = events::scheduler_event("template-env-run");
        let invoke = self.watch.invoke_url("scheduled-export");
        let a = self.go("scheduled-export", "scheduler event", reqwest::Client::new().post(invoke).json(&event)).await;
        assert_eq!(a.status, 200, "{mode}: {}", a.body);
        assert!(a.body["failures"].as_array().is_some_and(Vec::is_empty), "{mode}: {}", a.body);
        let records: u64 = a.body["streams"].as_array().unwrap().iter().filter_map(|s| s["records"].as_u64()).sum();
        assert!(records > 0, "{mode}: the export wrote the tenant: {}", a.body);

        // chatops-callback: a signed Slack `help`.
        let signing = self.secret("slack-signing-secret");
        let form = events::slack_slash(ANALYST, "help", &format!("{}help", self.hooks.base));
        let mut req = reqwest::Client::new()
            .post(self.watch.function_url("chatops-callback", "/chatops/slack"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone());
        for (k, v) in events::slack_headers(&signing, &form).unwrap() {
            req = req.header(k, v);
        }
        let a = self.go("chatops-callback", "slack help", req).await;
        assert_eq!(a.status, 200, "{mode}: {}", a.body);
        assert!(a.body.to_string().contains("Usage: /defender"), "{mode}: {}", a.body);

        // chatops-worker: a job from an SQS event, answered to its response_url.
        let alert = self.sim.sim.tenant.lock().unwrap().seed.alerts[0].clone();
        let job = json!({"kind": "command", "tenant": "default", "user": {"id": ANALYST, "name": "analyst"},
            "origin": {"team": "T0001", "channel": "C2147483705"},
            "text": format!("alert {}", alert["id"].as_str().unwrap()),
            "response_url": format!("{}sqs", self.hooks.base)});
        let event = events::sqs_event(&[job.to_string()]);
        let invoke = self.watch.invoke_url("chatops-worker");
        let a = self.go("chatops-worker", "SQS event", reqwest::Client::new().post(invoke).json(&event)).await;
        assert_eq!(a.status, 200, "{mode}: {}", a.body);
        assert_eq!(a.body["batchItemFailures"], json!([]), "{mode}: {}", a.body);
        let posted = self.hooks.wait_for("sqs", 1, T).await;
        let text = posted.last().map(|p| p["text"].as_str().unwrap_or("").to_string()).unwrap_or_default();
        assert!(text.contains(alert["title"].as_str().unwrap()), "{mode}: the alert was posted: {posted:?}");

        // The bootstrap credential is the one the mode names (nothing else would have worked).
        match bootstrap_of(&self.resolved) {
            Bootstrap::FederatedSts => {
                let issued = self.sts.issued();
                for f in self.resolved.functions.values() {
                    let mine: Vec<_> = issued.iter().filter(|t| t.subject == f.role_arn).collect();
                    assert!(!mine.is_empty(), "{mode}: {} got a web identity token: {issued:?}", f.binary);
                    assert!(mine.iter().all(|t| t.audience == ["api://AzureADTokenExchange"] && t.duration_s <= 3600));
                }
                assert!(self.sts.refused().is_empty(), "{mode}: {:?}", self.sts.refused());
            }
            Bootstrap::SecretArn | Bootstrap::CertificateArn => {
                assert!(self.sts.issued().is_empty(), "{mode}: no STS in a stored-credential mode");
            }
            Bootstrap::Other => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_deploy_starts_and_every_function_answers() {
    let _one = SERIAL.lock().await;
    let mut d = deploy("default", &[]).await;
    let mode = d.resolved.parameters["CredentialMode"].value.as_str().unwrap().to_string();
    d.every_function_answers(&format!("default ({mode})")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_credential_mode_the_template_offers_starts_and_every_function_answers() {
    let offered = template::resolve(
        &[
            ("TenantId", "00000000-0000-0000-0000-000000000000"),
            ("ReaderClientId", APP),
            ("ResponderClientId", RESPONDER_APP),
            ("KeyVaultUrl", VAULT_PARAM),
        ],
        &[],
    )
    .unwrap()
    .parameters["CredentialMode"]
        .allowed_values
        .clone()
        .unwrap();
    assert!(offered.len() >= 2, "{offered:?}");
    for mode in &offered {
        let _one = SERIAL.lock().await;
        let mut d = deploy(mode, &[("CredentialMode", mode)]).await;
        d.every_function_answers(mode).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mssp_mode_starts_and_every_function_answers() {
    let _one = SERIAL.lock().await;
    let mut d = deploy("mssp", &[("TenantsSecretName", "tenants")]).await;
    assert_eq!(d.resolved.functions.values().next().unwrap().environment["DEFENDER_TENANTS_SECRET"], "tenants");
    d.every_function_answers("mssp").await;
}

/// The STS stand-in through the real AWS SDK, with the statements the template gives a role: what
/// the role's condition denies is denied, a bad signature is refused, federation must be enabled.
#[tokio::test(flavor = "multi_thread")]
async fn the_sts_stand_in_refuses_what_the_roles_statement_denies() {
    let r = template::resolve(
        &[
            ("TenantId", "00000000-0000-0000-0000-000000000000"),
            ("ReaderClientId", APP),
            ("ResponderClientId", RESPONDER_APP),
            ("KeyVaultUrl", VAULT_PARAM),
            ("CredentialMode", "federated-sts"),
        ],
        &[],
    )
    .unwrap();
    let f = r.by_binary("webhook-enrich").unwrap().1;
    let sts = sts::start(template::ACCOUNT, template::REGION).await.unwrap();
    sts.register(StsPrincipal {
        access_key_id: "ASIAENRICH".into(),
        secret_access_key: "right".into(),
        session_token: Some("session".into()),
        role_arn: f.role_arn.clone(),
        policies: f.policies.iter().map(|p| p.document.clone()).collect(),
    });
    let client = |secret: &str| {
        let conf = aws_sdk_sts::config::Builder::new()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(template::REGION))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "ASIAENRICH",
                secret,
                Some("session".into()),
                None,
                "role",
            ))
            .endpoint_url(&sts.url)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    };
    let ask = |c: aws_sdk_sts::Client, aud: &'static str, duration: Option<i32>| async move {
        c.get_web_identity_token().audience(aud).signing_algorithm("RS256").set_duration_seconds(duration).send().await
    };
    let code = |e: aws_sdk_sts::error::SdkError<_, _>| {
        use aws_sdk_sts::error::ProvideErrorMetadata;
        let e: aws_sdk_sts::operation::get_web_identity_token::GetWebIdentityTokenError = e.into_service_error();
        e.code().unwrap_or_default().to_string()
    };
    const ENTRA: &str = "api://AzureADTokenExchange";
    assert_eq!(
        code(ask(client("right"), ENTRA, Some(300)).await.unwrap_err()),
        "OutboundWebIdentityFederationDisabledException"
    );
    sts.enable_federation();
    let ok = ask(client("right"), ENTRA, Some(300)).await.unwrap();
    assert!(ok.web_identity_token().is_some_and(|t| t.split('.').count() == 3));
    assert_eq!(sts.issued().last().unwrap().subject, f.role_arn);
    assert_eq!(
        code(ask(client("right"), ENTRA, None).await.unwrap_err()),
        "AccessDenied",
        "no DurationSeconds: the role's condition denies"
    );
    assert_eq!(code(ask(client("right"), "https://example.com", Some(300)).await.unwrap_err()), "AccessDenied");
    assert_eq!(code(ask(client("right"), ENTRA, Some(7200)).await.unwrap_err()), "ValidationError");
    assert_eq!(code(ask(client("wrong"), ENTRA, Some(300)).await.unwrap_err()), "SignatureDoesNotMatch");
}

// ------------------------------------------------------------------------------------------------
// Split identities (docs/security.md).

/// What `binary`'s AWS role gets from STS for Entra (its web identity token), then from Entra for
/// `client_id` and `resource`: the access token, or Entra's refusal (status, body).
async fn token_via_role(
    sts: &RunningSts,
    sim: &RunningSim,
    r: &Resolved,
    binary: &str,
    client_id: &str,
    resource: &str,
) -> Result<String, (u16, serde_json::Value)> {
    let f = r.by_binary(binary).unwrap().1;
    let key = format!("ASIA{}", binary.replace('-', "").to_uppercase());
    sts.register(StsPrincipal {
        access_key_id: key.clone(),
        secret_access_key: "role-secret".into(),
        session_token: Some("role-session".into()),
        role_arn: f.role_arn.clone(),
        policies: f.policies.iter().map(|p| p.document.clone()).collect(),
    });
    let conf = aws_sdk_sts::config::Builder::new()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(template::REGION))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &key,
            "role-secret",
            Some("role-session".into()),
            None,
            "role",
        ))
        .endpoint_url(&sts.url)
        .build();
    let jwt = aws_sdk_sts::Client::from_conf(conf)
        .get_web_identity_token()
        .audience("api://AzureADTokenExchange")
        .signing_algorithm("RS256")
        .duration_seconds(300)
        .send()
        .await
        .unwrap()
        .web_identity_token()
        .unwrap()
        .to_string();
    let resp = sim
        .client()
        .unwrap()
        .post(format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", &format!("{resource}/.default")),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &jwt),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    match body["access_token"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => Err((status, body)),
    }
}

/// With the template's default environment (`federated-sts`) and the apps registered as
/// docs/deploy.md says, the enrichment's identity — the only token its AWS role can obtain — cannot
/// isolate a machine (403, as Defender answers) nor read the chat-ops signing secrets (403, Key
/// Vault), and its role's web identity token is refused by the responder app; the worker's identity
/// isolates. Before the split, the template gave every function one app holding every right.
#[tokio::test(flavor = "multi_thread")]
async fn the_enrichment_identity_cannot_isolate_nor_read_chatops_secrets_and_the_worker_can() {
    const MDE: &str = "https://api.securitycenter.microsoft.com";
    const VAULT: &str = "https://vault.azure.net";
    let mut opts = SimOptions::demo().unwrap();
    let tenant_id = opts.seed.tenant_id.clone();
    let r = template::resolve(
        &[
            ("TenantId", tenant_id.as_str()),
            ("ReaderClientId", APP),
            ("ResponderClientId", RESPONDER_APP),
            ("KeyVaultUrl", VAULT_PARAM),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(r.parameters["CredentialMode"].value, "federated-sts", "the default mode");
    let sts = sts::start(template::ACCOUNT, template::REGION).await.unwrap();
    register_apps(&r, &mut opts);
    federate(&r, &mut opts, &sts);
    let sim = start(opts).await.unwrap();
    let http = sim.client().unwrap();
    let machine = sim.sim.tenant.lock().unwrap().seed.machines[0]["id"].as_str().unwrap().to_string();
    let isolate = |token: String| {
        let (http, url) = (http.clone(), format!("{}/api/machines/{machine}/isolate", sim.url));
        async move {
            let resp = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"Comment": "split identities", "IsolationType": "Full"}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let secret = |token: String, name: &'static str| {
        let (http, url) = (http.clone(), format!("{}/secrets/{name}?api-version=7.4", sim.url));
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    let app_of = |binary: &str| r.by_binary(binary).unwrap().1.environment["AZURE_CLIENT_ID"].clone();

    // The enrichment: its own app, read-only.
    let enrich_app = app_of("webhook-enrich");
    let reader = token_via_role(&sts, &sim, &r, "webhook-enrich", &enrich_app, MDE).await.unwrap();
    let (status, body) = isolate(reader).await;
    assert_eq!(status, 403, "the enrichment's token isolated a machine: {body}");
    assert!(body.contains("Machine.Isolate"), "{body}");
    let vault = token_via_role(&sts, &sim, &r, "webhook-enrich", &enrich_app, VAULT).await.unwrap();
    assert_eq!(secret(vault.clone(), "webhook-secret").await, 200, "its own secret");
    for chatops in ["slack-signing-secret", "teams-outgoing-secret"] {
        assert_eq!(secret(vault.clone(), chatops).await, 403, "{chatops} is readable by the enrichment");
    }
    // Its role's token is no credential for the responder app (no federated credential for it there).
    let worker_app = app_of("chatops-worker");
    assert_ne!(enrich_app, worker_app, "the enrichment and the worker share an app registration");
    let (status, body) = token_via_role(&sts, &sim, &r, "webhook-enrich", &worker_app, MDE).await.unwrap_err();
    assert!(status == 400 || status == 401, "{status} {body}");
    assert!(body["error_description"].as_str().unwrap_or_default().contains("AADSTS70021"), "{body}");
    // Nor does its environment name anything of the responder's.
    let enrich_env = &r.by_binary("webhook-enrich").unwrap().1.environment;
    assert!(enrich_env.values().all(|v| !v.contains(&worker_app) && !v.contains("slack")), "{enrich_env:?}");

    // The worker isolates; it reads the chat-ops secrets and not the webhook's.
    let responder = token_via_role(&sts, &sim, &r, "chatops-worker", &worker_app, MDE).await.unwrap();
    let (status, body) = isolate(responder).await;
    assert_eq!(status, 201, "the worker could not isolate: {body}");
    let vault = token_via_role(&sts, &sim, &r, "chatops-worker", &worker_app, VAULT).await.unwrap();
    assert_eq!(secret(vault.clone(), "slack-signing-secret").await, 200);
    assert_eq!(secret(vault, "webhook-secret").await, 403);
}

/// In the stored-credential modes each app's credential is its own Secrets Manager secret, and only
/// the roles of that app's functions may read it: the enrichment's role has no statement on the
/// responder's.
#[test]
fn each_role_reads_only_its_own_apps_stored_credential() {
    for mode in ["secret", "certificate"] {
        let r = template::resolve(
            &[
                ("TenantId", "00000000-0000-0000-0000-000000000000"),
                ("ReaderClientId", APP),
                ("ResponderClientId", RESPONDER_APP),
                ("KeyVaultUrl", VAULT_PARAM),
                ("CredentialMode", mode),
            ],
            &[],
        )
        .unwrap();
        let arn_of = |id: &str| r.resources[id].reference.clone().unwrap();
        let (reader, responder) = (arn_of("ReaderCredentialSecret"), arn_of("ResponderCredentialSecret"));
        assert_ne!(reader, responder);
        for f in r.functions.values() {
            let own = if f.environment["AZURE_CLIENT_ID"] == APP { &reader } else { &responder };
            let other = if own == &reader { &responder } else { &reader };
            let policies = serde_json::to_string(&f.policies.iter().map(|p| &p.document).collect::<Vec<_>>()).unwrap();
            assert!(policies.contains(own.as_str()), "{mode} {}: cannot read its own credential", f.binary);
            assert!(!policies.contains(other.as_str()), "{mode} {}: may read the other app's credential", f.binary);
            assert!(!f.environment.values().any(|v| v == other), "{mode} {}: names the other credential", f.binary);
        }
        let enrich = r.by_binary("webhook-enrich").unwrap().1;
        assert_eq!(enrich.environment["AZURE_CLIENT_ID"], APP);
        assert_eq!(r.by_binary("chatops-worker").unwrap().1.environment["AZURE_CLIENT_ID"], RESPONDER_APP);
    }
}
