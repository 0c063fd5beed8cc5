//! The Teams bot end to end through the real `chatops-callback` binary (local mode: in-process worker
//! and memory store) against the simulated tenant and its Bot Framework stand-in: activities signed
//! by the stand-in's Bot Connector keys, the bot's token from the simulated Entra (single-tenant app,
//! `https://api.botframework.com/.default`), its cards recorded by the stand-in's conversations API.
//!
//! - forged, expired, wrong-audience, unsigned and rotated-out tokens are 401 and the simulator's log
//!   shows no Defender, Entra or vault call for them; a rotated-in key is fetched on its unknown kid;
//! - a command gets a confirmation card; five concurrent presses of Confirm isolate once; the card is
//!   updated in place; the outcome is posted when the action completes on the simulated clock;
//! - under the two-person rule the requester's own Approve is refused and an approver's works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_emu::Emulator;
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use tenant_sim::botframework;
use testkit::{SimEnv, demo::BOT};

/// A change to how an activity is signed.
type Tweak = Box<dyn FnOnce(&mut botframework::MintRequest)>;

const CONV: &str = "19:soc-alerts@thread.tacv2";
const MACHINE: &str = "bf44e1ec1d7163de5cf81d93982ed19d185f80d2";

struct Rig {
    sim: SimEnv,
    emu: Emulator,
    _bin: tokio::process::Child,
}

async fn rig(_name: &str, two_person: bool) -> Rig {
    let sim = SimEnv::demo().await;
    sim.sim.config.lock().unwrap().bot_app_id = Some(BOT.to_string());
    let tid = sim.tenant_id();
    let two = if two_person { r#","two_person":{"default":["isolate"]}"# } else { "" };
    let policy = format!(
        r#"{{"teams":{{"tenants":["{tid}"]}},"catch_all":{{"tenant":"default"}}{two},
            "tenants":{{"default":{{"{tid}:aad-1":["read","isolate"],"{tid}:aad-2":["read","isolate"],"{tid}:aad-3":["read"]}}}}}}"#
    );
    let env = sim.env_with(&[
        ("DEFENDER_ALLOWED_ACTIONS", "isolate".to_string()),
        ("CHATOPS_RBAC", policy),
        ("CHATOPS_RECHECK_S", "5".to_string()),
        ("CHATOPS_BOT_APP_ID", BOT.to_string()),
        ("CHATOPS_BOT_TENANT_ID", tid.clone()),
        ("CHATOPS_BOT_SECRET_NAME", "teams-bot-secret".to_string()),
        ("CHATOPS_BOT_OPENID_METADATA_URL", format!("{}/botframework/v1/.well-known/openidconfiguration", sim.url)),
        ("CHATOPS_BOT_SERVICE_URL_PREFIXES", format!("{}/smba/", sim.url)),
        ("CHATOPS_BOT_KEYS_MIN_REFRESH_S", "0".to_string()),
    ]);
    let emu = Emulator::start().await.unwrap();
    let bin = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatops-callback"))
        .env_clear()
        .envs(emu.env("chatops-callback"))
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Rig { sim, emu, _bin: bin }
}

fn message(user: &str, text: &str) -> Value {
    json!({"type": "message", "text": format!("<at>Defender</at> {text}"),
           "from": {"id": format!("29:{user}"), "name": user, "aadObjectId": user},
           "conversation": {"id": CONV, "conversationType": "channel"}})
}

fn press(user: &str, verb: &str, token: &str, card: &str) -> Value {
    json!({"type": "invoke", "name": "adaptiveCard/action", "replyToId": card,
           "from": {"id": format!("29:{user}"), "name": user, "aadObjectId": user},
           "conversation": {"id": CONV, "conversationType": "channel"},
           "value": {"action": {"type": "Action.Execute", "verb": verb, "data": {"token": token}}}})
}

impl Rig {
    fn signed(&self, activity: Value, tweak: impl FnOnce(&mut botframework::MintRequest)) -> (Value, String) {
        let mut activity = activity;
        activity["channelData"] = json!({"tenant": {"id": self.sim.tenant_id()}});
        let mut req = botframework::MintRequest { activity, ..Default::default() };
        tweak(&mut req);
        let s = botframework::mint(&self.sim.sim, req).unwrap();
        (s.activity, s.authorization)
    }

    async fn send(&self, activity: &Value, authorization: Option<&str>) -> (u16, Value) {
        let mut event: Value = serde_json::from_str(include_str!("fixtures/apigw-v2-teams.json")).unwrap();
        event["rawPath"] = json!("/chatops/teams-bot");
        event["routeKey"] = json!("POST /chatops/teams-bot");
        event["requestContext"]["http"]["path"] = json!("/chatops/teams-bot");
        event["body"] = json!(activity.to_string());
        event["headers"].as_object_mut().unwrap().remove("authorization");
        if let Some(a) = authorization {
            event["headers"]["authorization"] = json!(a);
        }
        let resp: Value =
            serde_json::from_slice(&self.emu.invoke(&event, Duration::from_secs(60)).await.unwrap()).unwrap();
        let body = resp["body"].as_str().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
        (resp["statusCode"].as_u64().unwrap() as u16, body)
    }

    async fn valid(&self, activity: Value) -> (u16, Value) {
        let (a, auth) = self.signed(activity, |_| {});
        self.send(&a, Some(&auth)).await
    }

    /// Waits until the conversation holds a post matching `pred`; answers it.
    async fn posted(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..300 {
            if let Some(p) = self.sim.sim.botframework.posted(CONV).into_iter().find(|p| pred(p)) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what} never posted: {:#?}", self.sim.sim.botframework.posted(CONV));
    }

    fn isolations(&self) -> usize {
        let log = self.sim.sim.log.lock().unwrap();
        log.iter().filter(|e| e.method == "POST" && e.path == format!("/api/machines/{MACHINE}/isolate")).count()
    }

    fn log_len(&self) -> usize {
        self.sim.sim.log.lock().unwrap().len()
    }

    /// Paths logged since `from` that are not the Bot Framework metadata or keys.
    fn calls_since(&self, from: usize) -> Vec<String> {
        let log = self.sim.sim.log.lock().unwrap();
        log[from..].iter().map(|e| e.path.clone()).filter(|p| !p.starts_with("/botframework/")).collect()
    }
}

/// The text of a card activity (every TextBlock and fact), or of an invoke answer.
fn text_of(v: &Value) -> String {
    let card = if v["type"] == botframework_card() { &v["value"] } else { &v["attachments"][0]["content"] };
    let mut out = Vec::new();
    for b in card["body"].as_array().into_iter().flatten() {
        if let Some(t) = b["text"].as_str() {
            out.push(t.to_string());
        }
        for f in b["facts"].as_array().into_iter().flatten() {
            out.push(format!("{}: {}", f["title"].as_str().unwrap_or(""), f["value"].as_str().unwrap_or("")));
        }
    }
    if let Some(s) = v["value"].as_str() {
        out.push(s.to_string());
    }
    out.join("\n")
}

fn botframework_card() -> &'static str {
    "application/vnd.microsoft.card.adaptive"
}

fn verbs(v: &Value) -> Vec<String> {
    let card = if v["type"] == botframework_card() { &v["value"] } else { &v["attachments"][0]["content"] };
    card["actions"].as_array().into_iter().flatten().map(|a| a["verb"].as_str().unwrap_or("").to_string()).collect()
}

fn token_of(v: &Value) -> String {
    let card = if v["type"] == botframework_card() { &v["value"] } else { &v["attachments"][0]["content"] };
    card["actions"][0]["data"]["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused_untouched_one_isolate_under_five_presses_and_the_outcome_is_posted() {
    let rig = rig("once", false).await;
    // A first, valid activity warms the binary (cold start: vault, tokens) and the key cache; the
    // same activity delivered again is acted on once.
    let (help, help_auth) = rig.signed(message("aad-3", "help"), |_| {});
    assert_eq!(rig.send(&help, Some(&help_auth)).await.0, 200);
    rig.posted("the help reply", |p| text_of(&p["body"]).contains("machine")).await;
    assert_eq!(rig.send(&help, Some(&help_auth)).await.0, 200);
    // A validly signed activity from a Teams tenant outside the policy: told so, nothing looked up.
    let (mut foreign, _) = rig.signed(message("aad-1", "machine ws-fin-011.contoso.com"), |_| {});
    foreign["channelData"] = json!({"tenant": {"id": "0d2a1c9e-0000-4000-8000-00000000f00d"}});
    let req = botframework::MintRequest { activity: foreign, ..Default::default() };
    let s = botframework::mint(&rig.sim.sim, req).unwrap();
    assert_eq!(rig.send(&s.activity, Some(&s.authorization)).await.0, 200);
    rig.posted("the refusal of a foreign tenant", |p| {
        text_of(&p["body"]).contains("not allowed to use this Defender integration")
    })
    .await;
    // `link` in a channel: refused there (the sign-in code would be shown to everyone).
    assert_eq!(rig.valid(message("aad-1", "link")).await.0, 200);
    rig.posted("the link refusal", |p| text_of(&p["body"]).contains("1:1 chat")).await;
    let helps = rig
        .sim
        .sim
        .botframework
        .posted(CONV)
        .iter()
        .filter(|p| text_of(&p["body"]).contains("processes-on-host"))
        .count();
    assert_eq!(helps, 1, "a redelivered activity is answered once");

    let before = rig.log_len();
    let isolate = message("aad-1", "isolate ws-fin-011.contoso.com c2 beacon seen");
    let bad: Vec<(&str, Tweak)> = vec![
        ("forged", Box::new(|r| r.forge = true)),
        ("expired", Box::new(|r| r.shift_s = -3600 - 301)),
        ("not yet valid", Box::new(|r| r.shift_s = 400)),
        ("wrong audience", Box::new(|r| r.aud = Some("55555555-5555-4555-8555-555555555555".into()))),
        ("wrong issuer", Box::new(|r| r.iss = Some("https://sts.windows.net/x/".into()))),
        ("another serviceurl", Box::new(|r| r.serviceurl = Some("https://smba.trafficmanager.net/amer/".into()))),
    ];
    for (what, tweak) in bad {
        let (a, auth) = rig.signed(isolate.clone(), tweak);
        let (status, _) = rig.send(&a, Some(&auth)).await;
        assert_eq!(status, 401, "{what}");
    }
    let (a, _) = rig.signed(isolate.clone(), |_| {});
    assert_eq!(rig.send(&a, None).await.0, 401, "no token");
    // Signed for a serviceUrl that is not a Teams host (the token and the activity agree).
    let (mut a, _) = rig.signed(isolate.clone(), |_| {});
    a["serviceUrl"] = json!("https://attacker.example/smba/");
    let (a, auth) = rig.signed(a, |r| r.serviceurl = Some("https://attacker.example/smba/".into()));
    assert_eq!(rig.send(&a, Some(&auth)).await.0, 401, "serviceUrl outside the Teams hosts");
    // A channel the keys do not endorse.
    let (mut a, _) = rig.signed(isolate.clone(), |_| {});
    a["channelId"] = json!("unendorsed");
    let (a, auth) = rig.signed(a, |_| {});
    assert_eq!(rig.send(&a, Some(&auth)).await.0, 403, "unendorsed channel");
    assert_eq!(rig.calls_since(before), Vec::<String>::new(), "a refused activity touched nothing");
    assert_eq!(rig.isolations(), 0);

    // Rotation: the keys are fetched again for the new key's unknown kid (a key cached within its
    // day stays usable, as the docs allow long caching).
    rig.sim.sim.botframework.rotate().unwrap();
    let fetches =
        || rig.sim.sim.log.lock().unwrap().iter().filter(|e| e.path == "/botframework/v1/.well-known/keys").count();
    let fetched = fetches();
    let (status, _) = rig.valid(isolate.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(fetches(), fetched + 1, "the new kid made the bot fetch the keys once");
    let prompt = rig.posted("the confirmation card", |p| verbs(&p["body"]) == ["confirm", "cancel"]).await;
    assert!(text_of(&prompt["body"]).contains("ws-fin-011.contoso.com"), "{prompt:#}");
    let card = prompt["activity_id"].as_str().unwrap().to_string();
    let token = token_of(&prompt["body"]);

    // Another user's press is refused and the card stays.
    let (_, other) = rig.valid(press("aad-2", "confirm", &token, &card)).await;
    assert!(text_of(&other).contains("only the analyst who asked"), "{other:#}");

    let presses: Vec<_> = (0..5).map(|_| rig.valid(press("aad-1", "confirm", &token, &card))).collect();
    let answers = futures::future::join_all(presses).await;
    let won: Vec<&Value> = answers.iter().map(|(_, b)| b).filter(|b| b["type"] == botframework_card()).collect();
    assert_eq!(won.len(), 1, "{answers:#?}");
    assert!(text_of(won[0]).starts_with("Confirmed by aad-1: isolate"), "{:#}", won[0]);
    for (s, b) in &answers {
        assert_eq!(*s, 200);
        if b["type"] != botframework_card() {
            assert!(text_of(b).contains("already confirmed"), "{b:#}");
        }
    }
    let accepted = rig
        .posted("the card updated with Defender's answer", |p| {
            p["method"] == "PUT"
                && p["activity_id"] == card.as_str()
                && text_of(&p["body"]).contains("accepted by Defender")
        })
        .await;
    assert!(verbs(&accepted["body"]).is_empty(), "no buttons left: {accepted:#}");
    assert_eq!(rig.isolations(), 1);

    // The action completes on the simulated clock; the worker's next pass posts the outcome.
    rig.sim.sim.clock.advance(chrono::Duration::seconds(60));
    let done = rig.posted("the outcome", |p| p["method"] == "POST" && text_of(&p["body"]).contains("Succeeded")).await;
    assert!(text_of(&done["body"]).starts_with("Isolate of ws-fin-011.contoso.com"), "{done:#}");
    assert_eq!(rig.isolations(), 1, "exactly one isolate");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_the_two_person_rule_the_requesters_approve_is_refused_and_an_approvers_works() {
    let rig = rig("approve", true).await;
    let (status, _) = rig.valid(message("aad-1", "isolate ws-fin-011.contoso.com c2 beacon seen")).await;
    assert_eq!(status, 200);
    let prompt = rig.posted("the confirmation card", |p| verbs(&p["body"]) == ["confirm", "cancel"]).await;
    let card = prompt["activity_id"].as_str().unwrap().to_string();
    let token = token_of(&prompt["body"]);

    let (_, confirmed) = rig.valid(press("aad-1", "confirm", &token, &card)).await;
    assert_eq!(verbs(&confirmed), ["approve", "cancel"], "{confirmed:#}");
    assert!(text_of(&confirmed).contains("Approval needed"), "{confirmed:#}");
    rig.posted("the approval card for everyone", |p| {
        p["method"] == "PUT" && verbs(&p["body"]) == ["approve", "cancel"]
    })
    .await;
    let approve_token = token_of(&confirmed);

    let (_, own) = rig.valid(press("aad-1", "approve", &approve_token, &card)).await;
    assert!(text_of(&own).contains("a second person must approve"), "{own:#}");
    let (_, reader) = rig.valid(press("aad-3", "approve", &approve_token, &card)).await;
    assert!(text_of(&reader).starts_with("Refused"), "{reader:#}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.isolations(), 0, "nothing before a second authorised person");

    let (_, approved) = rig.valid(press("aad-2", "approve", &approve_token, &card)).await;
    assert!(text_of(&approved).starts_with("Approved by aad-2: isolate"), "{approved:#}");
    rig.posted("Defender's answer", |p| p["method"] == "PUT" && text_of(&p["body"]).contains("accepted by Defender"))
        .await;
    assert_eq!(rig.isolations(), 1);
}
