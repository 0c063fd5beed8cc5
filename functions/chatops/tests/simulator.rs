//! The chat-ops functions end to end against the simulated tenant: signed Slack/Teams events through
//! the handler, the hand-off to the worker, typed Defender calls, replies posted to a local
//! `response_url` receiver, and what the simulator's request log says was done.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::{Json, Router, extract::Path, routing::post};
use chatops::{
    command::Reason,
    config::ChatOpsConfig,
    confirm::{self, Confirmation},
    handler::{self, State},
    handoff::{ChannelHandOff, Job},
    idempotency::MemoryStore,
    state::{self, Wiring},
    worker::Worker,
};
use defender_shared::{
    config::Config,
    runtime::Runtime,
    secret::SecretString,
    vault::{SecretStore, VaultError},
    webhook,
};
use futures::future::BoxFuture;
use lambda_http::{Body, http::StatusCode};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tenant_sim::{RunningSim, SimOptions, start};
use tokio::sync::mpsc::UnboundedReceiver;

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const ANALYST: &str = "U0ANALYST";
const READER: &str = "U0READER";
const ISOLATED: &str = "ws-fin-014.contoso.com";
const SHARED_IP: &str = "10.20.30.66";
const POLICY: &str = r#"{"default_tenant":"default","tenants":{"default":{
    "U0ANALYST":["read","hunt","incident","isolate","unisolate","scan","restrict"],
    "U0READER":["read"]}}}"#;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

type Posts = Arc<Mutex<Vec<(String, Value)>>>;

struct Rig {
    sim: RunningSim,
    state: State,
    worker: Arc<Worker>,
    jobs: UnboundedReceiver<(Job, Duration)>,
    posts: Posts,
    hooks: String,
    slack_secret: String,
    teams_secret: String,
    idem: Arc<MemoryStore>,
}

/// A local `response_url` receiver: every POST to `/hook/{id}` is kept.
async fn receiver() -> (String, Posts) {
    let posts: Posts = Arc::new(Mutex::new(Vec::new()));
    let p = posts.clone();
    let app = Router::new().route(
        "/hook/{id}",
        post(move |Path(id): Path<String>, Json(v): Json<Value>| {
            let p = p.clone();
            async move {
                p.lock().unwrap().push((id, v));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook/"), posts)
}

async fn rig() -> Rig {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let dir =
        std::env::temp_dir().join(format!("df-chatops-{}-{}", std::process::id(), sim.url.replace([':', '/'], "")));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let (hooks, posts) = receiver().await;
    let env: HashMap<&str, String> = [
        ("AZURE_TENANT_ID", sim.tenant_id()),
        ("AZURE_CLIENT_ID", APP.to_string()),
        ("AZURE_CLIENT_SECRET", SECRET.to_string()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".to_string()),
        ("DEFENDER_ALLOWED_ACTIONS", "isolate,unisolate,scan".to_string()),
        ("CHATOPS_RBAC", POLICY.to_string()),
        ("CHATOPS_RESPONSE_URL_PREFIXES", hooks.clone()),
    ]
    .into_iter()
    .collect();
    let rt = Runtime::from_config(Config::from_lookup(|k| env.get(k).cloned()).unwrap()).await.unwrap();
    let cfg = ChatOpsConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    let (handoff, jobs) = ChannelHandOff::new();
    let idem = Arc::new(MemoryStore::with_clock(now));
    let wiring = Wiring { idempotency: idem.clone(), handoff: Arc::new(handoff), responder: None, clock: now };
    let (state, worker) = state::build(&rt, cfg, wiring);
    let secrets = sim.sim.tenant.lock().unwrap().seed.secrets.clone();
    let slack_secret = secrets["slack-signing-secret"].to_string();
    let teams_secret = secrets["teams-outgoing-secret"].to_string();
    Rig { sim, state, worker, jobs, posts, hooks, slack_secret, teams_secret, idem }
}

fn event(fixture: &str, body: &str, headers: &[(&str, String)], base64: bool) -> lambda_http::Request {
    let text = match fixture {
        "slack" => include_str!("fixtures/apigw-v2-slack.json"),
        _ => include_str!("fixtures/apigw-v2-teams.json"),
    };
    let mut v: Value = serde_json::from_str(text).unwrap();
    if base64 {
        use base64::Engine;
        v["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        v["isBase64Encoded"] = json!(true);
    } else {
        v["body"] = json!(body);
    }
    for (k, val) in headers {
        v["headers"][*k] = json!(val);
    }
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

async fn call(state: &State, req: lambda_http::Request) -> (StatusCode, Value) {
    let r = handler::handle(state, req).await;
    let status = r.status();
    let Body::Text(t) = r.body() else { panic!("no text body") };
    (status, serde_json::from_str(t).unwrap())
}

impl Rig {
    fn slack_headers(&self, body: &str, extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
        let ts = now();
        let sig = webhook::sign_slack(&SecretString::new(self.slack_secret.clone()), ts, body.as_bytes()).unwrap();
        let mut h = vec![("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", sig)];
        for (k, v) in extra {
            h.push((if *k == "x-slack-retry-num" { "x-slack-retry-num" } else { "x-other" }, v.clone()));
        }
        h
    }

    fn slash_body(&self, user: &str, text: &str, hook: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
            .append_pair("team_id", "T0001")
            .append_pair("team_domain", "contoso")
            .append_pair("channel_id", "C2147483705")
            .append_pair("channel_name", "soc")
            .append_pair("user_id", user)
            .append_pair("user_name", &user.to_lowercase())
            .append_pair("command", "/defender")
            .append_pair("text", text)
            .append_pair("response_url", &format!("{}{hook}", self.hooks))
            .append_pair("trigger_id", "13345224609.738474920.8088930838d88f008e0")
            .finish()
    }

    async fn slash(&self, user: &str, text: &str, hook: &str) -> (StatusCode, Value) {
        let body = self.slash_body(user, text, hook);
        call(&self.state, event("slack", &body, &self.slack_headers(&body, &[]), true)).await
    }

    fn button_body(&self, user: &str, action_id: &str, value: &str, hook: &str) -> String {
        let payload = json!({"type": "block_actions", "user": {"id": user, "username": user.to_lowercase()},
            "team": {"id": "T0001"}, "channel": {"id": "C2147483705"}, "trigger_id": "1.2.3",
            "response_url": format!("{}{hook}", self.hooks),
            "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}]});
        url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
    }

    async fn press(&self, user: &str, action_id: &str, value: &str, retry: Option<u32>) -> (StatusCode, Value) {
        let body = self.button_body(user, action_id, value, "confirm");
        let extra: Vec<(&str, String)> = retry.map(|n| vec![("x-slack-retry-num", n.to_string())]).unwrap_or_default();
        call(&self.state, event("slack", &body, &self.slack_headers(&body, &extra), false)).await
    }

    /// Runs every job due now (delay zero); answers the delayed ones, not run.
    async fn drain(&mut self) -> Vec<Job> {
        let mut delayed = Vec::new();
        while let Ok((job, delay)) = self.jobs.try_recv() {
            if delay.is_zero() {
                self.worker.run(job).await;
            } else {
                delayed.push(job);
            }
        }
        delayed
    }

    fn posted(&self, hook: &str) -> Vec<Value> {
        self.posts.lock().unwrap().iter().filter(|(h, _)| h == hook).map(|(_, v)| v.clone()).collect()
    }

    fn machine(&self, host: &str) -> Value {
        self.sim.sim.tenant.lock().unwrap().seed.machines.iter().find(|m| m["computerDnsName"] == host).unwrap().clone()
    }

    async fn requests(&self) -> Vec<Value> {
        let v: Value = self
            .sim
            .client()
            .unwrap()
            .get(format!("{}/_sim/requests", self.sim.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["value"].as_array().unwrap().clone()
    }

    async fn action_posts(&self) -> Vec<Value> {
        let verbs = [
            "/isolate",
            "/unisolate",
            "/runAntiVirusScan",
            "/restrictCodeExecution",
            "/unrestrictCodeExecution",
            "/collectInvestigationPackage",
        ];
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["method"] == "POST" && verbs.iter().any(|v| r["path"].as_str().unwrap().ends_with(v)))
            .collect()
    }

    async fn sim_post(&self, path: &str, body: Value) {
        let r = self.sim.client().unwrap().post(format!("{}{path}", self.sim.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
}

fn text(v: &Value) -> &str {
    v["text"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unauthorised_user_cannot_start_any_action() {
    let mut rig = rig().await;
    for verb in ["isolate", "unisolate", "scan", "restrict", "unrestrict", "collect"] {
        let (status, out) = rig.slash(READER, &format!("{verb} ws-fin-011.contoso.com containment test"), "r").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text(&out), format!("Refused: you are not allowed to {verb} in this tenant."), "{out}");
    }
    let (_, out) = rig.slash("U0STRANGER", "machine ws-fin-011.contoso.com", "r").await;
    assert_eq!(text(&out), "Refused: you are not allowed to look things up in this tenant.");
    // The analyst may restrict by policy, but the tenant does not allow it.
    let (_, out) = rig.slash(ANALYST, "restrict ws-fin-011.contoso.com ransomware", "r").await;
    assert_eq!(text(&out), "Refused: tenant 'default' does not allow restrict.");
    assert!(rig.drain().await.is_empty());
    assert!(rig.jobs.try_recv().is_err(), "nothing was handed to the worker");

    // A real confirmation made for the analyst, pressed by the reader: refused, nothing queued.
    let m = rig.machine("ws-fin-011.contoso.com");
    let token = confirm::seal(
        &Confirmation {
            v: 1,
            tenant: "default".parse().unwrap(),
            user_id: ANALYST.into(),
            user_name: "analyst".into(),
            action: "isolate".into(),
            machine_id: m["id"].as_str().unwrap().parse().unwrap(),
            machine_name: "ws-fin-011.contoso.com".into(),
            reason: Reason::try_from("c2 beacon".to_string()).unwrap(),
            request_id: "req-reader".into(),
            exp: now() + 300,
        },
        &SecretString::new(rig.slack_secret.clone()),
    )
    .unwrap();
    let (_, out) = rig.press(READER, "confirm", &token, None).await;
    assert_eq!(text(&out), "Refused: only the analyst who asked can confirm this action.");
    // A forged token (signed with another key) and an expired one.
    let forged = confirm::seal(
        &confirm::open(&token, &[SecretString::new(rig.slack_secret.clone())], now()).unwrap(),
        &SecretString::new("guess"),
    )
    .unwrap();
    let (_, out) = rig.press(ANALYST, "confirm", &forged, None).await;
    assert!(text(&out).starts_with("Refused: confirmation signature does not match"), "{out}");
    assert!(rig.jobs.try_recv().is_err());
    assert!(rig.action_posts().await.is_empty(), "no action reached Defender");
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_unknown_and_conflicting_machines_are_refused() {
    let mut rig = rig().await;
    let cases = [
        (format!("isolate {SHARED_IP} lateral movement"), "Refused: 2 machines match `10.20.30.66`"),
        (
            "isolate ghost.contoso.com lateral movement".to_string(),
            "Refused: no machine matches `ghost.contoso.com` exactly.",
        ),
        (
            "isolate 0000000000000000000000000000000000000000 lateral movement".to_string(),
            "Refused: no machine matches",
        ),
        (
            format!("isolate {ISOLATED} lateral movement"),
            "Refused: ws-fin-014.contoso.com: the machine is already isolated.",
        ),
        (
            "unisolate ws-fin-011.contoso.com all clear".to_string(),
            "Refused: ws-fin-011.contoso.com: the machine is not isolated.",
        ),
    ];
    for (i, (cmd, want)) in cases.iter().enumerate() {
        let hook = format!("amb{i}");
        let (status, out) = rig.slash(ANALYST, cmd, &hook).await;
        assert_eq!((status, text(&out)), (StatusCode::OK, "Working on it…"), "{cmd}");
        rig.drain().await;
        let posted = rig.posted(&hook);
        assert_eq!(posted.len(), 1, "{cmd}");
        assert!(text(&posted[0]).starts_with(want), "{cmd}: {}", posted[0]);
        assert!(posted[0].get("blocks").is_none(), "no confirm button: {cmd}");
    }
    let both = rig.posted("amb0");
    for m in rig.sim.sim.tenant.lock().unwrap().seed.machines.iter().filter(|m| m["lastIpAddress"] == SHARED_IP) {
        assert!(text(&both[0]).contains(m["id"].as_str().unwrap()), "names both candidates");
    }
    assert!(text(&both[0]).ends_with("use the machine id."), "{}", text(&both[0]));
    {}
    assert!(rig.action_posts().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn five_concurrent_confirms_and_a_retry_make_one_isolate_which_is_followed_to_success() {
    let mut rig = rig().await;
    let host = "ws-fin-011.contoso.com";
    let m = rig.machine(host);
    let mid = m["id"].as_str().unwrap().to_string();
    let (_, out) = rig.slash(ANALYST, &format!("isolate {} suspected C2 beacon", host.to_uppercase()), "ask").await;
    assert_eq!(text(&out), "Working on it…");
    rig.drain().await;
    let prompt = rig.posted("ask").pop().unwrap();
    let msg = text(&prompt);
    assert!(msg.contains(host) && msg.contains(&mid) && msg.contains("suspected C2 beacon"), "{msg}");
    assert!(msg.contains("expires in 5 min"), "{msg}");
    let button = &prompt["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "confirm");
    let token = button["value"].as_str().unwrap().to_string();
    assert!(rig.action_posts().await.is_empty(), "nothing happens before the confirmation");

    // Five concurrent presses and a Slack retry.
    let presses = (0..5).map(|_| rig.press(ANALYST, "confirm", &token, None));
    let results = futures::future::join_all(presses).await;
    let retry = rig.press(ANALYST, "confirm", &token, Some(1)).await;
    let answers: Vec<String> = results
        .iter()
        .chain([&retry])
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::OK);
            text(v).to_string()
        })
        .collect();
    let confirmed: Vec<&String> = answers.iter().filter(|a| a.starts_with("Confirmed: isolate")).collect();
    assert_eq!(confirmed.len(), 1, "{answers:#?}");
    assert_eq!(answers.iter().filter(|a| a.contains("was already confirmed")).count(), 5, "{answers:#?}");

    // Exactly one execution job; delivering it twice (an SQS redelivery) still acts once.
    let mut execs = Vec::new();
    while let Ok((job, delay)) = rig.jobs.try_recv() {
        assert!(delay.is_zero());
        execs.push(job);
    }
    assert_eq!(execs.len(), 1);
    let first = rig.worker.run(execs[0].clone()).await.unwrap();
    let again = rig.worker.run(execs[0].clone()).await.unwrap();
    assert!(first.text.contains("accepted by Defender — action `"), "{}", first.text);
    assert!(again.text.contains("was already handled"), "{}", again.text);
    let isolates = rig.action_posts().await;
    assert_eq!(isolates.len(), 1, "{isolates:#?}");
    assert_eq!(isolates[0]["path"], format!("/api/machines/{mid}/isolate"));
    assert_eq!(rig.posted("confirm").len(), 2, "both runs answered the thread");

    // The Defender comment names the chat user and the request id.
    let request_id = confirm::open(&token, &[SecretString::new(rig.slack_secret.clone())], now()).unwrap().request_id;
    let action = rig
        .sim
        .sim
        .tenant
        .lock()
        .unwrap()
        .actions
        .iter()
        .rev()
        .find(|a| a["machineId"] == mid.as_str())
        .unwrap()
        .clone();
    let comment = action["requestorComment"].as_str().unwrap();
    assert!(comment.contains("u0analyst (U0ANALYST)") && comment.contains(&request_id), "{comment}");
    assert!(rig.idem.get(&format!("exec:{request_id}")).unwrap().starts_with("machine action "));

    // Follow-up: one delayed re-check; still pending now, re-queued; after the clock moves, Succeeded.
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1);
    assert!(matches!(&due[0], Job::Recheck { pending } if pending.len() == 1));
    rig.worker.run(due.remove(0)).await;
    assert_eq!(rig.posted("confirm").len(), 2, "nothing final yet, nothing posted");
    let mut due = rig.drain().await;
    assert_eq!(due.len(), 1, "re-queued");
    rig.sim_post("/_sim/clock", json!({"advance_s": 40})).await;
    rig.worker.run(due.remove(0)).await;
    let outcome = rig.posted("confirm").pop().unwrap();
    assert!(text(&outcome).starts_with(&format!("Isolate of `{host}` (request `{request_id}`")), "{outcome}");
    assert!(text(&outcome).ends_with("*Succeeded*."), "{outcome}");
    assert!(rig.drain().await.is_empty(), "nothing more to follow");

    // Now isolated: a new isolate is refused; the machine command says so.
    rig.slash(ANALYST, &format!("isolate {host} again"), "after").await;
    rig.slash(ANALYST, &format!("machine {host}"), "info").await;
    rig.drain().await;
    assert!(text(&rig.posted("after")[0]).contains("already isolated"));
    let info = text(&rig.posted("info")[0]).to_string();
    assert!(info.contains("Isolation: isolated") && info.contains(&mid), "{info}");
    assert_eq!(rig.action_posts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_isolate_while_one_is_pending_is_refused_before_defender() {
    let mut rig = rig().await;
    let host = "ws-fin-017.contoso.com";
    let mut tokens = Vec::new();
    for hook in ["p1", "p2"] {
        rig.slash(ANALYST, &format!("isolate {host} incident 12"), hook).await;
        rig.drain().await;
        tokens.push(rig.posted(hook)[0]["blocks"][1]["elements"][0]["value"].as_str().unwrap().to_string());
    }
    for t in &tokens {
        let (_, out) = rig.press(ANALYST, "confirm", t, None).await;
        assert!(text(&out).starts_with("Confirmed"), "two distinct requests: {out}");
    }
    rig.drain().await;
    let replies: Vec<String> = rig.posted("confirm").iter().map(|v| text(v).to_string()).collect();
    assert_eq!(replies.iter().filter(|r| r.contains("accepted by Defender")).count(), 1, "{replies:#?}");
    assert_eq!(replies.iter().filter(|r| r.contains("still pending")).count(), 1, "{replies:#?}");
    assert_eq!(rig.action_posts().await.len(), 1);
    // Cancel answers and does nothing.
    let (_, out) = rig.press(ANALYST, "cancel", "req", None).await;
    assert_eq!(text(&out), "Cancelled; nothing was done.");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callback_answers_in_under_3_s_while_defender_is_delayed_10_s() {
    let mut rig = rig().await;
    // Warm the vault cache and the token first, as a warm instance would be.
    rig.slash(ANALYST, "help", "warm").await;
    rig.sim_post("/_sim/faults", json!({"path_prefix": "/api/", "delay_ms": 10000})).await;
    let t = Instant::now();
    let (status, out) = rig.slash(ANALYST, "isolate ws-fin-022.contoso.com phishing follow-up", "slow").await;
    let slash = t.elapsed();
    assert_eq!((status, text(&out)), (StatusCode::OK, "Working on it…"));
    assert!(slash < Duration::from_secs(3), "slash command answered in {slash:?}");

    let m = rig.machine("ws-fin-022.contoso.com");
    let token = confirm::seal(
        &Confirmation {
            v: 1,
            tenant: "default".parse().unwrap(),
            user_id: ANALYST.into(),
            user_name: "u0analyst".into(),
            action: "isolate".into(),
            machine_id: m["id"].as_str().unwrap().parse().unwrap(),
            machine_name: "ws-fin-022.contoso.com".into(),
            reason: Reason::try_from("phishing follow-up".to_string()).unwrap(),
            request_id: "req-slow".into(),
            exp: now() + 300,
        },
        &SecretString::new(rig.slack_secret.clone()),
    )
    .unwrap();
    let t = Instant::now();
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    let press = t.elapsed();
    assert!(text(&out).starts_with("Confirmed: isolate"), "{out}");
    assert!(press < Duration::from_secs(3), "confirmation answered in {press:?}");
    eprintln!("ack with Defender delayed 10 s: slash {slash:?}, confirm {press:?}");
    // The work is queued, not done: the worker would take the 10 s, not the callback.
    let mut queued = 0;
    while rig.jobs.try_recv().is_ok() {
        queued += 1;
    }
    assert_eq!(queued, 2);
    rig.drain().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_lookup_command_is_answered_from_the_tenant() {
    let mut rig = rig().await;
    let (seed_alert, seed_incident, action) = {
        let t = rig.sim.sim.tenant.lock().unwrap();
        (t.seed.alerts[0].clone(), t.seed.incidents[0].clone(), t.seed.machine_actions[0].clone())
    };
    let cmds = [
        ("m", "machine ws-fin-011.contoso.com".to_string()),
        ("ip", "machine 10.20.20.27".to_string()),
        ("a", format!("alert {}", seed_alert["id"].as_str().unwrap())),
        ("i", format!("incident {}", seed_incident["incidentId"])),
        ("act", format!("action {}", action["id"].as_str().unwrap())),
        ("h", "hunt processes-on-host ws-fin-011.contoso.com 168".to_string()),
        ("upd", format!("incident {} assign alice@contoso.com", seed_incident["incidentId"])),
    ];
    for (hook, c) in &cmds {
        let (_, out) = rig.slash(ANALYST, c, hook).await;
        assert_eq!(text(&out), "Working on it…", "{c}");
    }
    rig.drain().await;
    let got = |h: &str| text(&rig.posted(h)[0]).to_string();
    assert!(
        got("m").starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec1d7163de5cf81d93982ed19d185f80d2`)"),
        "{}",
        got("m")
    );
    assert!(got("m").contains("Isolation: not isolated"), "{}", got("m"));
    assert!(got("ip").starts_with("*ws-fin-011.contoso.com*"), "{}", got("ip"));
    assert!(got("a").contains(seed_alert["title"].as_str().unwrap()), "{}", got("a"));
    assert!(got("i").contains(seed_incident["incidentName"].as_str().unwrap()), "{}", got("i"));
    assert!(got("act").contains("Isolate on `ws-fin-014.contoso.com` — *Succeeded*"), "{}", got("act"));
    assert!(got("h").starts_with("*Hunt* `processes-on-host`:"), "{}", got("h"));
    assert!(
        got("upd").starts_with("Updated.") && got("upd").contains("assigned to: alice@contoso.com"),
        "{}",
        got("upd")
    );
    // Help and usage are answered at once, without the worker.
    let (_, out) = rig.slash(READER, "", "x").await;
    assert!(text(&out).starts_with("Usage: /defender"));
    let (_, out) = rig.slash(READER, "frobnicate", "x").await;
    assert!(text(&out).starts_with("unknown command 'frobnicate'\nUsage:"));
    assert!(rig.jobs.try_recv().is_err());
}

/// A store holding fixed secrets (for the published Slack example's secret).
struct Fixed(HashMap<String, String>);

impl SecretStore for Fixed {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move {
            self.0.get(name).map(|v| SecretString::new(v.clone())).ok_or_else(|| VaultError::NotFound(name.into()))
        })
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(name)
    }
    fn set<'a>(&'a self, _: &'a str, _: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async { Err(VaultError::Store("read-only".into())) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_slack_published_example_tampered_stale_unsigned_and_teams() {
    let mut rig = rig().await;
    let v: Value = serde_json::from_str(include_str!("../../../contract/vectors/signatures.json")).unwrap();
    let vec = &v["slack_v0"];
    let body = vec["body"].as_str().unwrap();
    let ts: i64 = vec["timestamp"].as_str().unwrap().parse().unwrap();
    rig.state.store = Arc::new(Fixed(
        [("slack-signing-secret".to_string(), vec["signing_secret"].as_str().unwrap().to_string())].into(),
    ));
    let good = vec![
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", vec["header_x_slack_signature"].as_str().unwrap().to_string()),
    ];
    rig.state.clock = || 1_531_420_618 + 299;
    let (status, out) = call(&rig.state, event("slack", body, &good, false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert!(text(&out).starts_with("Usage: /defender"), "the example's empty text is help: {out}");
    let (status, _) = call(&rig.state, event("slack", body, &good, true)).await;
    assert_eq!(status, StatusCode::OK, "base64-encoded API Gateway body");
    let tampered = body.replace("roadrunner", "coyote");
    assert_eq!(call(&rig.state, event("slack", &tampered, &good, false)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&rig.state, event("slack", body, &good[..1], false)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&rig.state, event("slack", body, &[], false)).await.0, StatusCode::UNAUTHORIZED);
    rig.state.clock = || 1_531_420_618 + 301;
    let (status, out) = call(&rig.state, event("slack", body, &good, false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(out["error"]["code"], "Unauthorized");

    // Teams, with the vault's secret (the real store again).
    let mut rig = self::rig().await;
    let activity = json!({"type": "message", "id": "1485983408511",
        "text": "<at>Defender</at> machine ws-fin-011.contoso.com",
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw", "name": "Analyst", "aadObjectId": ANALYST},
        "conversation": {"id": "19:253b1f341670408fb6fcb7c5d2e8a8d6@thread.skype;messageid=1485983408511"},
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}})
    .to_string();
    let sig = webhook::sign_teams(&SecretString::new(rig.teams_secret.clone()), activity.as_bytes()).unwrap();
    let (status, out) = call(&rig.state, event("teams", &activity, &[("authorization", sig.clone())], false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out["type"], "message");
    assert!(text(&out).starts_with("*ws-fin-011.contoso.com* (id `bf44e1ec"), "{out}");
    let tampered = activity.replace("ws-fin-011", "ws-fin-014");
    assert_eq!(
        call(&rig.state, event("teams", &tampered, &[("authorization", sig)], false)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&rig.state, event("teams", &activity, &[], false)).await.0, StatusCode::UNAUTHORIZED);
    let isolate = activity.replace("machine ws-fin-011.contoso.com", "isolate ws-fin-011.contoso.com c2 beacon");
    let sig = webhook::sign_teams(&SecretString::new(rig.teams_secret.clone()), isolate.as_bytes()).unwrap();
    let (_, out) = call(&rig.state, event("teams", &isolate, &[("authorization", sig)], false)).await;
    assert!(text(&out).starts_with("Machine actions need a confirmation button"), "{out}");
    assert!(rig.drain().await.is_empty());
    assert!(rig.action_posts().await.is_empty());
}
