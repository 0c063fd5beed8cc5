//! `make run`, part 3: chat-ops. A signed Slack slash command (`/defender machine …`), an isolate with
//! its confirmation button pressed twice, and the follow-up that reports the action's final status —
//! through the chat-ops handler and worker, with Slack's `response_url` posts captured by a local
//! receiver. Slow work goes through the worker (in-process hand-off in local mode).

use axum::{Json, Router, extract::Path, routing::post};
use chatops::{
    config::ChatOpsConfig,
    handler,
    handoff::{ChannelHandOff, Job},
    idempotency::MemoryStore,
    state::{self, Wiring},
};
use defender_shared::{config::Config, runtime::Runtime, secret::SecretString, webhook};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tenant_sim::RunningSim;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Posts = Arc<Mutex<Vec<(String, Value)>>>;

const ANALYST: &str = "U0ANALYST";
const POLICY: &str = r#"{"default_tenant":"default","tenants":{"default":{"U0ANALYST":["read","hunt","incident","isolate","unisolate","scan"]}}}"#;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn event(body: &str, secret: &SecretString, base64: bool) -> Result<lambda_http::Request, BoxError> {
    let ts = now();
    let mut v: Value =
        serde_json::from_str(include_str!("../../../functions/chatops/tests/fixtures/apigw-v2-slack.json"))?;
    if base64 {
        use base64::Engine;
        v["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        v["isBase64Encoded"] = json!(true);
    } else {
        v["body"] = json!(body);
    }
    v["headers"]["x-slack-request-timestamp"] = json!(ts.to_string());
    v["headers"]["x-slack-signature"] = json!(webhook::sign_slack(secret, ts, body.as_bytes())?);
    Ok(lambda_http::request::from_str(&v.to_string())?)
}

fn slash(text: &str, hooks: &str, hook: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T0001")
        .append_pair("channel_id", "C2147483705")
        .append_pair("user_id", ANALYST)
        .append_pair("user_name", "analyst")
        .append_pair("command", "/defender")
        .append_pair("text", text)
        .append_pair("response_url", &format!("{hooks}{hook}"))
        .append_pair("trigger_id", "13345224609.738474920.8088930838d88f008e0")
        .finish()
}

fn press(value: &str, hooks: &str) -> String {
    let payload = json!({"type": "block_actions", "user": {"id": ANALYST, "username": "analyst"}, "team": {"id": "T0001"},
        "channel": {"id": "C2147483705"}, "trigger_id": "1.2.3", "response_url": format!("{hooks}confirm"),
        "actions": [{"action_id": "confirm", "block_id": "b", "type": "button", "value": value}]});
    url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
}

fn text(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().replace('\n', "\n     ")
}

/// Runs the chat-ops part of `make run`.
///
/// # Errors
/// Any step that does not answer as documented.
pub async fn run(sim: &RunningSim, base_env: &HashMap<&'static str, String>) -> Result<(), BoxError> {
    let posts: Posts = Arc::new(Mutex::new(Vec::new()));
    let p = posts.clone();
    let app = Router::new().route(
        "/hook/{id}",
        post(move |Path(id): Path<String>, Json(v): Json<Value>| {
            let p = p.clone();
            async move {
                p.lock().map(|mut g| g.push((id, v))).ok();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hooks = format!("http://{}/hook/", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut env = base_env.clone();
    env.insert("DEFENDER_ALLOWED_ACTIONS", "isolate,unisolate,scan".into());
    env.insert("CHATOPS_RBAC", POLICY.into());
    env.insert("CHATOPS_RESPONSE_URL_PREFIXES", hooks.clone());
    let rt = Runtime::from_config(Config::from_lookup(|k| env.get(k).cloned())?).await?;
    let cfg = ChatOpsConfig::from_lookup(|k| env.get(k).cloned())?;
    let (handoff, mut jobs) = ChannelHandOff::new();
    let wiring = Wiring {
        idempotency: Arc::new(MemoryStore::with_clock(now)),
        handoff: Arc::new(handoff),
        responder: None,
        clock: now,
    };
    let (st, worker) = state::build(&rt, cfg, wiring);
    let signing = {
        let tenant = sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?;
        SecretString::new(
            tenant.seed.secrets.get("slack-signing-secret").cloned().ok_or("no slack secret in the demo seed")?,
        )
    };
    let posted = |hook: &str| -> Vec<Value> {
        posts.lock().map(|g| g.iter().filter(|(h, _)| h == hook).map(|(_, v)| v.clone()).collect()).unwrap_or_default()
    };
    let mut delayed: Vec<Job> = Vec::new();
    let mut drain = async |delayed: &mut Vec<Job>| {
        while let Ok((job, delay)) = jobs.try_recv() {
            if delay.is_zero() {
                worker.run(job).await;
            } else {
                delayed.push(job);
            }
        }
    };

    let host = "ws-fin-011.contoso.com";
    println!("-- chat-ops: /defender machine {host} (signed Slack slash command)");
    let r = handler::handle(&st, event(&slash(&format!("machine {host}"), &hooks, "m"), &signing, true)?).await;
    let lambda_http::Body::Text(ack) = r.body() else { return Err("no ack body".into()) };
    println!("     ack ({}): {}", r.status(), serde_json::from_str::<Value>(ack)?["text"]);
    drain(&mut delayed).await;
    let reply = posted("m").pop().ok_or("the worker posted no machine details")?;
    println!("     posted to response_url: {}", text(&reply));

    println!("-- chat-ops: /defender isolate {host} suspected C2 beacon");
    handler::handle(&st, event(&slash(&format!("isolate {host} suspected C2 beacon"), &hooks, "ask"), &signing, true)?)
        .await;
    drain(&mut delayed).await;
    let prompt = posted("ask").pop().ok_or("no confirmation prompt")?;
    println!("     confirmation: {}", text(&prompt));
    let token = prompt["blocks"][1]["elements"][0]["value"].as_str().ok_or("no confirm button")?.to_string();
    for i in 0..2 {
        let r = handler::handle(&st, event(&press(&token, &hooks), &signing, false)?).await;
        let lambda_http::Body::Text(t) = r.body() else { return Err("no body".into()) };
        println!("     confirm press #{}: {}", i + 1, serde_json::from_str::<Value>(t)?["text"]);
    }
    drain(&mut delayed).await;
    for p in posted("confirm") {
        println!("     posted: {}", text(&p));
    }
    let log: Value = sim.client()?.get(format!("{}/_sim/requests", sim.url)).send().await?.json().await?;
    let isolates = log["value"].as_array().map_or(0, |a| {
        a.iter()
            .filter(|e| e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.ends_with("/isolate")))
            .count()
    });
    if isolates != 1 {
        return Err(format!("expected exactly one isolate at Defender, saw {isolates}").into());
    }
    println!("     Defender received exactly one isolate (from /_sim/requests)");

    // The follow-up: move the simulator's clock past the action's lifecycle and run the delayed re-check.
    sim.client()?.post(format!("{}/_sim/clock", sim.url)).json(&json!({"advance_s": 40})).send().await?;
    let before = posted("confirm").len();
    for job in std::mem::take(&mut delayed) {
        worker.run(job).await;
    }
    drain(&mut delayed).await;
    let after = posted("confirm");
    match after.get(before..).and_then(|new| new.last()) {
        Some(p) => println!("-- chat-ops follow-up (after 40 s of simulated time): {}", text(p)),
        None => return Err("the follow-up posted nothing".into()),
    }
    Ok(())
}
