//! `make run`, part 2: the three use cases, each through its function's real binary with a real event
//! shape, and `make dev`'s ready-to-paste commands.

use crate::Stack;
use local_runner::{
    env::{ANALYST, APP, APP_SECRET},
    events,
    stack::{Answer, send},
};
use serde_json::{Value, json};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const T: Duration = Duration::from_secs(60);

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("-")
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n       ")
}

/// Plays the three use cases.
///
/// # Errors
/// The first step that does not answer as documented.
pub async fn all(st: &mut Stack) -> Result<(), BoxError> {
    webhook(st).await?;
    export(st).await?;
    chatops(st).await?;
    Ok(())
}

fn function<'a>(st: &'a mut Stack, name: &str) -> Result<&'a mut local_runner::stack::Function, BoxError> {
    st.functions.get_mut(name).ok_or_else(|| format!("{name} is not running").into())
}

async fn post_signed_webhook(st: &mut Stack, id: &str, body: &str, forge: bool) -> Result<Answer, BoxError> {
    let url = st.watch.function_url("webhook-enrich", "/");
    let mut req = reqwest::Client::new().post(&url).header("content-type", "application/json").body(body.to_string());
    for (k, v) in events::webhook_headers(&st.webhook_secret, id, body)? {
        let v = if forge && k == "webhook-signature" {
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()
        } else {
            v
        };
        req = req.header(k, v);
    }
    Ok(send("POST the webhook", req, function(st, "webhook-enrich")?, T).await?)
}

async fn webhook(st: &mut Stack) -> Result<(), BoxError> {
    let (host, sha1, alert_id) = {
        let t = st.sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?;
        let a = &t.seed.alerts[0];
        let sha1 = a["evidence"].as_array().into_iter().flatten().find_map(|e| e["sha1"].as_str()).unwrap_or("-");
        (s(a, "computerDnsName").to_string(), sha1.to_string(), s(a, "id").to_string())
    };
    let body = json!({"indicators": {"hostnames": [host], "sha1": [sha1], "ips": ["300.1.1.1"]}, "alert_id": alert_id})
        .to_string();
    println!("\n== 1. webhook enrichment: POST {} (function URL)", st.watch.function_url("webhook-enrich", "/"));
    println!("     asked (Standard Webhooks signature): {body}");
    let a = post_signed_webhook(st, "msg_make_run_1", &body, false).await?;
    if a.status != 200 {
        return Err(format!("the enrichment answered {}: {}", a.status, a.body).into());
    }
    println!("     came back: 200");
    for r in a.body["results"].as_array().into_iter().flatten() {
        println!(
            "       {:<9} {:<42} {:<9} {} machines, {} alerts{}",
            s(r, "kind"),
            s(r, "input"),
            s(r, "status"),
            r["machines"].as_array().map_or(0, Vec::len),
            r["alerts"].as_array().map_or(0, Vec::len),
            r["reason"].as_str().map(|x| format!(" — {x}")).unwrap_or_default()
        );
    }
    println!("       summary: {}", a.body["summary"]);
    let forged = post_signed_webhook(st, "msg_make_run_2", &body, true).await?;
    if forged.status != 401 {
        return Err(format!("a forged signature was answered {}", forged.status).into());
    }
    println!("     the same request with a forged signature: {} {}", forged.status, forged.body);
    Ok(())
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn records(summary: &Value, stream: &str) -> u64 {
    summary["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["stream"] == stream)
        .filter_map(|s| s["records"].as_u64())
        .sum()
}

async fn invoke_export(st: &mut Stack, execution: &str) -> Result<Value, BoxError> {
    let event = events::scheduler_event(execution);
    let url = st.watch.invoke_url("scheduled-export");
    println!("     asked: POST {url}\n       {event}");
    let a =
        send("invoke the export", reqwest::Client::new().post(&url).json(&event), function(st, "scheduled-export")?, T)
            .await?;
    if a.status != 200 || a.body.get("streams").is_none() {
        return Err(format!("the export answered {}: {}", a.status, a.body).into());
    }
    for s in a.body["streams"].as_array().into_iter().flatten() {
        println!(
            "       {:<14} {:>4} records, {} objects, {} API calls",
            s["stream"].as_str().unwrap_or("-"),
            s["records"],
            s["objects"],
            s["api_calls"]
        );
    }
    Ok(a.body)
}

async fn export(st: &mut Stack) -> Result<(), BoxError> {
    println!("\n== 2. scheduled export: an EventBridge Scheduler event through the invoke API");
    let first = invoke_export(st, "make-run-1").await?;
    let (alerts, incidents) = {
        let t = st.sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?;
        (t.seed.alerts.len() as u64, t.seed.incidents.len() as u64)
    };
    if records(&first, "mde-alerts") != alerts || records(&first, "xdr-incidents") != incidents {
        return Err(format!("the first run should export {alerts} alerts and {incidents} incidents: {first}").into());
    }
    let objects = files(&st.export_dir);
    println!("     landed: {} files under {}", objects.len(), st.export_dir.display());
    for f in objects.iter().take(6) {
        println!("       {f}");
    }

    // One alert changes in Defender; the next scheduled run exports that one and nothing else.
    let alert_id = st.sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?.seed.alerts[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let http = st.sim.client()?;
    let token = st
        .sim
        .client_credentials(&http, (APP, APP_SECRET), "https://api.securitycenter.microsoft.com/.default")
        .await?;
    let r = http
        .patch(format!("{}/api/alerts/{alert_id}", st.sim.url))
        .bearer_auth(token["access_token"].as_str().unwrap_or_default())
        .json(&json!({"status": "InProgress", "comment": "triaged from make run"}))
        .send()
        .await?;
    println!("     meanwhile in Defender: PATCH /api/alerts/{alert_id} (status InProgress): {}", r.status());
    let second = invoke_export(st, "make-run-2").await?;
    if records(&second, "mde-alerts") != 1 || records(&second, "xdr-incidents") != 0 {
        return Err(format!("the second run should export only the updated alert: {second}").into());
    }
    println!("     the second run exported only the change (cursor committed in _state/ after the data)");
    Ok(())
}

async fn slack(st: &mut Stack, body: &str) -> Result<Answer, BoxError> {
    let url = st.watch.function_url("chatops-callback", "/chatops/slack");
    let mut req = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    for (k, v) in events::slack_headers(&st.slack_secret, body)? {
        req = req.header(k, v);
    }
    Ok(send("POST to chat-ops", req, function(st, "chatops-callback")?, T).await?)
}

async fn chatops(st: &mut Stack) -> Result<(), BoxError> {
    let host = "ws-fin-011.contoso.com";
    let hooks = st.hooks.base.clone();
    println!(
        "\n== 3. chat-ops: POST {} (function URL, signed Slack requests)",
        st.watch.function_url("chatops-callback", "/chatops/slack")
    );
    println!("     asked: /defender machine {host}");
    let a = slack(st, &events::slack_slash(ANALYST, &format!("machine {host}"), &format!("{hooks}m"))).await?;
    if a.status != 200 {
        return Err(format!("the slash command was answered {}: {}", a.status, a.body).into());
    }
    println!("     came back within Slack's 3 s ({}): {}", a.status, a.body["text"]);
    let replies = st.hooks.wait_for("m", 1, T).await;
    let reply = replies.last().ok_or("the worker posted no machine details to response_url")?;
    println!("     posted to response_url: {}", indent(s(reply, "text")));

    println!("     asked: /defender isolate {host} suspected C2 beacon");
    slack(st, &events::slack_slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), &format!("{hooks}ask")))
        .await?;
    let prompt = st.hooks.wait_for("ask", 1, T).await.pop().ok_or("no confirmation prompt was posted")?;
    println!("     posted: {}", indent(s(&prompt, "text")));
    let token =
        prompt["blocks"][1]["elements"][0]["value"].as_str().ok_or("the prompt has no confirm button")?.to_string();
    for i in 1..=2 {
        let a = slack(st, &events::slack_click(ANALYST, &token, &format!("{hooks}confirm"))).await?;
        println!("     button click #{i} ({}): {}", a.status, a.body["text"]);
    }
    let done = st.hooks.wait_for("confirm", 1, T).await;
    for p in &done {
        println!("     posted: {}", indent(s(p, "text")));
    }
    let log: Value = st.sim.client()?.get(format!("{}/_sim/requests", st.sim.url)).send().await?.json().await?;
    let isolates = log["value"].as_array().map_or(0, |a| {
        a.iter()
            .filter(|e| e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.ends_with("/isolate")))
            .count()
    });
    if isolates != 1 {
        return Err(format!("expected exactly one isolate at Defender, saw {isolates}").into());
    }
    println!("     Defender received exactly one isolate for two clicks (from /_sim/requests)");

    // The worker function on its own, as SQS delivers a job in production.
    let alert_id = st.sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?.seed.alerts[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let job = json!({"kind": "command", "tenant": "default", "user": {"id": ANALYST, "name": "analyst"},
        "origin": {"team": "T0001", "channel": "C2147483705"}, "text": format!("alert {alert_id}"),
        "response_url": format!("{hooks}sqs")});
    let event = events::sqs_event(&[job.to_string()]);
    let url = st.watch.invoke_url("chatops-worker");
    println!("     the worker, with an SQS event (a queued 'alert {alert_id}' job): POST {url}");
    let a =
        send("invoke the worker", reqwest::Client::new().post(&url).json(&event), function(st, "chatops-worker")?, T)
            .await?;
    let posted = st.hooks.wait_for("sqs", 1, T).await;
    let p = posted.last().ok_or_else(|| format!("the worker posted nothing (it answered {} {})", a.status, a.body))?;
    println!("     posted to response_url: {}", indent(s(p, "text")));
    teams_bot(st).await
}

/// The text of a card the bot posted (or of an invoke's answer).
fn card_text(v: &Value) -> String {
    let card = if v["type"] == chatops::cards::CARD { &v["value"] } else { &v["attachments"][0]["content"] };
    let mut out: Vec<String> = Vec::new();
    for b in card["body"].as_array().into_iter().flatten() {
        if let Some(t) = b["text"].as_str() {
            out.push(t.to_string());
        }
        for f in b["facts"].as_array().into_iter().flatten() {
            out.push(format!("{}: {}", s(f, "title"), s(f, "value")));
        }
    }
    if let Some(t) = v["value"].as_str() {
        out.push(t.to_string());
    }
    out.join("\n")
}

async fn bot_post(st: &mut Stack, activity: Value, forge: bool) -> Result<Answer, BoxError> {
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let mut activity = activity;
    activity["channelData"] = json!({"tenant": {"id": tenant}});
    let req = tenant_sim::botframework::MintRequest { activity, forge, ..Default::default() };
    let signed = tenant_sim::botframework::mint(&st.sim.sim, req)?;
    let url = st.watch.function_url("chatops-callback", "/chatops/teams-bot");
    let req = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("authorization", signed.authorization)
        .body(signed.activity.to_string());
    Ok(send("POST a Bot Framework activity", req, function(st, "chatops-callback")?, T).await?)
}

async fn bot_wait(st: &Stack, conv: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value, BoxError> {
    for _ in 0..600 {
        if let Some(p) = st.sim.sim.botframework.posted(conv).into_iter().find(|p| pred(p)) {
            return Ok(p);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the bot never posted {what}").into())
}

/// The Teams bot: a signed activity, the confirmation card, a button press, one isolate, the
/// follow-up posted to the conversation.
async fn teams_bot(st: &mut Stack) -> Result<(), BoxError> {
    let host = "ws-fin-017.contoso.com";
    let conv = "19:make-run-soc@thread.tacv2";
    let from = json!({"id": "29:analyst", "name": "analyst", "aadObjectId": ANALYST});
    println!(
        "\n== 3b. chat-ops in Teams: POST {} (the bot's messaging endpoint; the simulator plays the Bot Framework)",
        st.watch.function_url("chatops-callback", "/chatops/teams-bot")
    );
    let msg = json!({"type": "message", "text": format!("<at>Defender</at> isolate {host} suspected C2 beacon"),
        "from": from, "conversation": {"id": conv, "conversationType": "channel"}});
    let forged = bot_post(st, msg.clone(), true).await?;
    if forged.status != 401 {
        return Err(format!("a forged Bot Connector token was answered {}", forged.status).into());
    }
    println!("     the activity with a forged Bot Connector token: {} {}", forged.status, forged.body);
    println!("     asked (signed by the Bot Connector's key): @Defender isolate {host} suspected C2 beacon");
    let a = bot_post(st, msg, false).await?;
    println!("     acknowledged: {}", a.status);
    let card = bot_wait(st, conv, "a confirmation card", |p| {
        p["body"]["attachments"][0]["content"]["actions"][0]["verb"] == "confirm"
    })
    .await?;
    println!("     card posted to the conversation: {}", indent(&card_text(&card["body"])));
    let token =
        card["body"]["attachments"][0]["content"]["actions"][0]["data"]["token"].as_str().unwrap_or("").to_string();
    let card_id = s(&card, "activity_id").to_string();
    for i in 1..=2 {
        let press = json!({"type": "invoke", "name": "adaptiveCard/action", "replyToId": card_id, "from": from,
            "conversation": {"id": conv, "conversationType": "channel"},
            "value": {"action": {"type": "Action.Execute", "verb": "confirm", "data": {"token": token}}}});
        let a = bot_post(st, press, false).await?;
        println!("     Confirm pressed #{i} ({}): {}", a.status, indent(&card_text(&a.body)));
    }
    let updated = bot_wait(st, conv, "the updated card", |p| {
        p["method"] == "PUT" && card_text(&p["body"]).contains("accepted by Defender")
    })
    .await?;
    println!("     card updated in place for everyone: {}", indent(&card_text(&updated["body"])));
    st.sim.sim.clock.advance(chrono::Duration::seconds(60));
    println!("     (the simulated clock moves 60 s: the isolation completes)");
    let done =
        bot_wait(st, conv, "the outcome", |p| p["method"] == "POST" && card_text(&p["body"]).contains("Succeeded"))
            .await?;
    println!("     follow-up posted to the conversation: {}", indent(&card_text(&done["body"])));
    Ok(())
}

/// `make dev`: the stack stays up; URLs and ready-to-paste commands until Ctrl-C.
///
/// # Errors
/// The demo secrets could not be written for the signing helper.
pub async fn dev(st: &mut Stack) -> Result<(), BoxError> {
    let whsec = st.run_dir.join("webhook-secret");
    let slack = st.run_dir.join("slack-signing-secret");
    write_private(&whsec, st.webhook_secret.expose())?;
    write_private(&slack, st.slack_secret.expose())?;
    let cli_path = local_runner::paths::Paths::discover().bins.join("defender-functions");
    let cli = cli_path.display();
    let enrich = st.watch.function_url("webhook-enrich", "/");
    let chat = st.watch.function_url("chatops-callback", "/chatops/slack");
    let invoke = st.watch.invoke_url("scheduled-export");
    let hooks = &st.hooks.base;
    println!(
        r#"
== make dev: the stack stays up until Ctrl-C
   simulated tenant   {sim}   (control API: {sim}/_sim/requests, /_sim/clock, /_sim/faults)
   Lambda emulator    {emu}
   webhook-enrich     {enrich}
   chatops-callback   {chat}
   scheduled-export   {invoke}
   response_url sink  {hooks}<id>   (the chat-ops replies are printed here as they arrive)
   export output      {out}
   logs               {logs}
   demo secrets for the signing helper (0600, not printed): {whsec}, {slack}

-- enrich indicators (Standard Webhooks signature):
BODY='{{"indicators":{{"hostnames":["ws-fin-011.contoso.com"],"ips":["10.1.2.3"]}}}}'
curl -sS {enrich} -H 'content-type: application/json' \
  $({cli} sign webhook --secret-file {whsec} --body "$BODY") -d "$BODY"

-- a Slack slash command (replies go to the response_url sink):
BODY='team_id=T0001&api_app_id=A0DEFENDER&channel_id=C2147483705&user_id={ANALYST}&user_name=analyst&command=%2Fdefender&text=machine+ws-fin-011.contoso.com&response_url={hooks}dev'
curl -sS {chat} -H 'content-type: application/x-www-form-urlencoded' \
  $({cli} sign slack --secret-file {slack} --body "$BODY") -d "$BODY"

-- run the scheduled export now (EventBridge Scheduler event):
curl -sS {invoke} -d '{{"schedule_arn":"arn:aws:scheduler:eu-west-1:123456789012:schedule/default/defender-export","scheduled_time":"2026-01-01T00:00:00Z","execution_id":"dev-1","attempt_number":"1"}}'
"#,
        sim = st.sim.url,
        emu = st.watch.url,
        out = st.export_dir.display(),
        logs = st.run_dir.display(),
        whsec = whsec.display(),
        slack = slack.display(),
    );
    let mut seen = st.hooks.all().len();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let posts = st.hooks.all();
                for (id, v) in posts.iter().skip(seen) {
                    println!("-- response_url {id}: {}", indent(s(v, "text")));
                }
                seen = posts.len();
                for f in st.functions.values_mut() {
                    f.alive()?;
                }
            }
        }
    }
    println!("\n== Ctrl-C: stopping");
    std::fs::remove_file(&whsec).ok();
    std::fs::remove_file(&slack).ok();
    Ok(())
}

fn write_private(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(value.as_bytes())
}
