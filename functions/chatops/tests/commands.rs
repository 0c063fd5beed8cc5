//! The commands after lookups and isolation, against the simulated tenant: `block`, `unblock`,
//! `alert <id> status|classify|assign`, `incident <id> …`, `actions <host>`. For each: the allowed
//! user, the refused user, bad input (a clear message and nothing sent to Defender, read from the
//! simulator's request log) and, for the changes, exactly one Defender write under five concurrent
//! confirmations and a redelivered job.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

/// The analyst holds the new permissions (and `read`); the reader only `read`.
const CMDS: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{
    "T0001:U0ANALYST":["read","incident","alert_update","block","unblock","actions"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","incident","alert_update","block","unblock","actions"],
    "T0001:U0READER":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0READER":["read"]}}}"#;

async fn cmd_rig() -> Rig {
    rig_with(None, None, &[("CHATOPS_RBAC", CMDS.to_string())]).await
}

impl Rig {
    /// Defender requests of `method` whose path starts with `prefix` (query strings excluded).
    async fn writes(&self, method: &str, prefix: &str) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap_or_default().starts_with(prefix))
            .collect()
    }

    /// Every Defender API request so far (tokens excluded).
    async fn api_calls(&self) -> usize {
        self.requests().await.iter().filter(|r| r["path"].as_str().unwrap_or_default().starts_with("/api/")).count()
    }

    fn alert_id(&self) -> String {
        self.sim.sim.tenant.lock().unwrap().seed.alerts[0]["id"].as_str().unwrap().to_string()
    }

    fn indicator(&self, value: &str) -> Option<Value> {
        self.sim.sim.tenant.lock().unwrap().seed.indicators.iter().find(|i| i["indicatorValue"] == value).cloned()
    }
}

/// Asks `text` as the analyst; the prompt (a `confirm-incident` button) is confirmed five times
/// concurrently; exactly one press wins and exactly one job runs, twice delivered. Answers the token,
/// the winning answer and the two runs' replies.
async fn five_confirms(rig: &mut Rig, text: &str, hook: &str) -> (String, String, Vec<String>) {
    let (_, out) = rig.slash(ANALYST, text, hook).await;
    assert_eq!(common::text(&out), "Working on it…", "{text}: {out}");
    rig.drain().await;
    let prompt = rig.posted(hook).pop().unwrap_or_else(|| panic!("{text}: no prompt"));
    let button = &prompt["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "confirm-incident", "{prompt}");
    let token = button["value"].as_str().unwrap().to_string();
    let presses = (0..5).map(|_| rig.press(ANALYST, "confirm-incident", &token, None));
    let answers: Vec<String> =
        futures::future::join_all(presses).await.iter().map(|(_, v)| common::text(v).to_string()).collect();
    let won: Vec<&String> = answers.iter().filter(|a| a.starts_with("Confirmed: ")).collect();
    assert_eq!(won.len(), 1, "{answers:#?}");
    assert_eq!(answers.iter().filter(|a| a.contains("was already confirmed")).count(), 4, "{answers:#?}");
    let mut jobs = Vec::new();
    while let Ok((job, _)) = rig.jobs.try_recv() {
        jobs.push(job);
    }
    assert_eq!(jobs.len(), 1, "one job for five presses");
    let first = chatops::reply::plain(&rig.worker.run(jobs[0].clone()).await.unwrap().text);
    let again = chatops::reply::plain(&rig.worker.run(jobs[0].clone()).await.unwrap().text);
    assert!(again.contains("was already handled"), "{again}");
    (token, won[0].clone(), vec![first, again])
}

/// `text` from the reader is refused at once: no job, no Defender call.
async fn refused(rig: &mut Rig, text: &str, why: &str) {
    let calls = rig.api_calls().await;
    let (_, out) = rig.slash(READER, text, "refused").await;
    assert_eq!(common::text(&out), format!("Refused: you are not allowed to {why} in this tenant."), "{text}");
    assert!(rig.jobs.try_recv().is_err(), "{text}: nothing handed to the worker");
    assert_eq!(rig.api_calls().await, calls, "{text}: nothing sent to Defender");
}

/// Each `(text, why)` of `bad` is answered with a usage message naming `why`, and nothing is sent to
/// Defender (a failure names the text).
async fn bad_inputs(rig: &mut Rig, bad: &[(&str, &str)]) {
    for (text, why) in bad {
        bad_input(rig, text, why).await;
    }
}

/// `text` is answered with a usage message naming `why`, and nothing is sent to Defender.
async fn bad_input(rig: &mut Rig, text: &str, why: &str) {
    let calls = rig.api_calls().await;
    let (_, out) = rig.slash(ANALYST, text, "bad").await;
    let answer = common::text(&out);
    assert!(answer.contains(why) && answer.contains("Usage: /defender"), "{text}: {answer}");
    assert!(rig.jobs.try_recv().is_err(), "{text}: nothing handed to the worker");
    assert_eq!(rig.api_calls().await, calls, "{text}: nothing sent to Defender");
}

#[tokio::test(flavor = "multi_thread")]
async fn block_submits_one_typed_indicator_once_confirmed() {
    let mut rig = cmd_rig().await;
    refused(&mut rig, "block 203.0.113.77 c2 beacon", "block indicators").await;
    bad_inputs(
        &mut rig,
        &[
            ("block 10.0.0.0/8 whole range", "CIDR"),
            ("block 203.0.113.77 999d too long", "expiry"),
            ("block 10.999.0.1 not an ip", "not an IP address"),
            ("block 203.0.113.77", "reason"),
            ("block 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f warn x y", "not to files"),
        ],
    )
    .await;

    let (token, won, runs) = five_confirms(&mut rig, "block 203.0.113.77 7d c2 beacon seen on ws-1", "blk").await;
    assert!(won.starts_with("Confirmed: block IpAddress `203.0.113.77` for 7d"), "{won}");
    assert!(runs[0].contains("*Block*") && runs[0].contains("203.0.113.77"), "{}", runs[0]);
    let posts = rig.writes("POST", "/api/indicators").await;
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let stored = rig.indicator("203.0.113.77").unwrap();
    assert_eq!((stored["indicatorType"].as_str(), stored["action"].as_str()), (Some("IpAddress"), Some("Block")));
    let rid = confirm::open_sealed::<chatops::confirm::ChangeConfirmation>(
        &token,
        &[SecretString::new(rig.slack_secret.clone())],
    )
    .unwrap()
    .request_id;
    let description = stored["description"].as_str().unwrap();
    assert!(description.contains("u0analyst (U0ANALYST)") && description.contains(&rid), "{description}");
    assert_eq!(stored["title"], "chat-ops: c2 beacon seen on ws-1");
    let exp = chrono::DateTime::parse_from_rfc3339(stored["expirationTime"].as_str().unwrap()).unwrap();
    let days = (exp.timestamp() - now()) as f64 / 86_400.0;
    assert!((6.9..=7.1).contains(&days), "expires in {days} days");

    // A file hash is blocked and remediated; an existing indicator is named in the prompt.
    let sha = "061becd41821735cc432c246573ade292f8ca4e0b19a919bf25e8d3a2afa882b";
    rig.slash(ANALYST, &format!("block {sha} dropper on ws-2"), "file").await;
    rig.drain().await;
    let prompt = common::text(&rig.posted("file")[0]).to_string();
    assert!(prompt.contains("This replaces indicator `8051`") && prompt.contains("BlockAndRemediate"), "{prompt}");
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn unblock_deletes_the_one_exact_indicator_once_confirmed() {
    let mut rig = cmd_rig().await;
    refused(&mut rig, "unblock 45.137.21.9", "unblock indicators").await;
    bad_inputs(&mut rig, &[("unblock 10.999.0.1", "not an IP address"), ("unblock", "needs")]).await;

    // A value no indicator has: answered, nothing deleted.
    rig.slash(ANALYST, "unblock 198.51.100.1", "none").await;
    rig.drain().await;
    assert!(common::text(&rig.posted("none")[0]).starts_with("No indicator is `198.51.100.1`"));
    assert!(rig.writes("DELETE", "/api/indicators").await.is_empty());

    let (_, won, runs) = five_confirms(&mut rig, "unblock 45.137.21.9", "unb").await;
    assert!(won.starts_with("Confirmed: unblock indicator `8030` (45.137.21.9)"), "{won}");
    assert!(runs[0].contains("Indicator `8030` removed."), "{}", runs[0]);
    let deletes = rig.writes("DELETE", "/api/indicators/").await;
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(deletes[0]["path"], "/api/indicators/8030");
    assert!(rig.indicator("45.137.21.9").is_none());
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_updates_patch_once_confirmed() {
    let mut rig = cmd_rig().await;
    let id = rig.alert_id();
    refused(&mut rig, &format!("alert {id} status resolved"), "change alerts").await;
    bad_input(&mut rig, &format!("alert {id} status closed"), "not an alert status").await;
    bad_input(&mut rig, &format!("alert {id} classify tp NotMalicious"), "not a determination").await;
    bad_input(&mut rig, &format!("alert {id} assign bob"), "principal").await;
    bad_input(&mut rig, "alert a|b status new", "alert id").await;

    let (_, won, runs) = five_confirms(&mut rig, &format!("alert {id} status resolved"), "st").await;
    assert!(won.starts_with(&format!("Confirmed: alert `{id}` status resolved")), "{won}");
    assert!(runs[0].contains("status: Resolved"), "{}", runs[0]);
    let patches = rig.writes("PATCH", "/api/alerts/").await;
    assert_eq!(patches.len(), 1, "{patches:#?}");
    let (status, comment) = {
        let t = rig.sim.sim.tenant.lock().unwrap();
        let a = t.seed.alerts.iter().find(|a| a["id"] == id.as_str()).unwrap().clone();
        (a["status"].clone(), a["comments"].as_array().and_then(|c| c.last()).cloned().unwrap_or_default())
    };
    assert_eq!(status, "Resolved");
    assert!(comment["comment"].as_str().unwrap().contains("u0analyst (U0ANALYST)"), "{comment}");

    // Slack refuses a button whose text is over 75 characters: a long assignee stays in the text.
    let upn = format!("{}@contoso.com", "a".repeat(90));
    rig.slash(ANALYST, &format!("alert {id} assign {upn}"), "long").await;
    rig.drain().await;
    let prompt = rig.posted("long").pop().unwrap();
    let label = prompt["blocks"][1]["elements"][0]["text"]["text"].as_str().unwrap().to_string();
    assert!(label.chars().count() <= 75, "{label}");
    assert!(common::text(&prompt).contains(&upn), "{prompt}");

    let (_, won, _) = five_confirms(&mut rig, &format!("alert {id} classify fp SecurityTesting"), "cl").await;
    assert!(won.contains("classify fp SecurityTesting"), "{won}");
    let t = rig.sim.sim.tenant.lock().unwrap();
    let a = t.seed.alerts.iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(
        (a["classification"].as_str(), a["determination"].as_str()),
        (Some("FalsePositive"), Some("SecurityTesting"))
    );
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn incident_resolve_needs_a_confirmation_and_runs_once() {
    let mut rig = cmd_rig().await;
    let id = rig.sim.sim.tenant.lock().unwrap().seed.incidents[0]["incidentId"].as_u64().unwrap();
    refused(&mut rig, &format!("incident {id} resolve"), "change incidents").await;
    bad_input(&mut rig, &format!("incident {id} classify maybe"), "classification").await;
    let (_, won, _) = five_confirms(&mut rig, &format!("incident {id} resolve"), "res").await;
    assert!(won.starts_with(&format!("Confirmed: incident `{id}` resolve")), "{won}");
    assert_eq!(rig.writes("PATCH", "/api/incidents/").await.len(), 1);
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_lists_the_machines_history_newest_first_read_only() {
    let mut rig = cmd_rig().await;
    let host = "ws-fin-014.contoso.com";
    let mid = rig.machine(host)["id"].as_str().unwrap().to_string();
    // Three more actions, of kinds the state query does not read, with times in several spellings.
    {
        let mut t = rig.sim.sim.tenant.lock().unwrap();
        for (id, kind, at) in [
            ("b0000000-0000-4000-8000-000000000001", "StopAndQuarantineFile", "2026-12-01T10:00:00.5Z"),
            ("b0000000-0000-4000-8000-000000000002", "LiveResponse", "2026-12-01T11:30:00+02:00"),
            ("b0000000-0000-4000-8000-000000000003", "RunAntiVirusScan", "2026-12-01T10:00:00Z"),
        ] {
            t.actions.push(json!({"id": id, "type": kind, "status": "Succeeded", "machineId": mid,
                "computerDnsName": host, "requestor": "soc@contoso.com", "creationDateTimeUtc": at,
                "lastUpdateDateTimeUtc": at}));
        }
    }
    refused(&mut rig, &format!("actions {host}"), "list machine actions").await;
    bad_input(&mut rig, "actions 10.999.0.1", "not a machine id").await;

    let before = rig.writes("POST", "/api/").await.len();
    let (_, out) = rig.slash(ANALYST, &format!("actions {}", host.to_uppercase()), "hist").await;
    assert_eq!(common::text(&out), "Working on it…");
    rig.drain().await;
    let reply = common::text(&rig.posted("hist")[0]).to_string();
    assert!(reply.starts_with(&format!("*Actions on* `{host}` (id `{mid}`): 5")), "{reply}");
    assert!(reply.contains("StopAndQuarantineFile") && reply.contains("LiveResponse"), "{reply}");
    let pos = |id: &str| reply.find(id).unwrap_or_else(|| panic!("{id} not in {reply}"));
    // 10:00:00.5Z after 10:00:00Z; 11:30+02:00 is 09:30Z, before both.
    assert!(pos("000000000001") < pos("000000000003"), "{reply}");
    assert!(pos("000000000003") < pos("000000000002"), "{reply}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = reply
        .lines()
        .skip(1)
        .map(|l| {
            l.trim_start_matches("  – ")
                .split(" · ")
                .next()
                .unwrap()
                .parse::<chrono::DateTime<chrono::FixedOffset>>()
                .unwrap()
                .into()
        })
        .collect();
    assert_eq!(times.len(), 5, "{reply}");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {reply}");
    let q = rig.requests().await;
    let list = q.iter().rev().find(|r| r["path"] == "/api/machineactions").unwrap();
    let filter = url::form_urlencoded::parse(list["query"].as_str().unwrap().as_bytes())
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.into_owned());
    assert_eq!(filter, Some(format!("machineId eq '{mid}'")), "{list}");
    assert_eq!(rig.writes("POST", "/api/").await.len(), before, "read-only");
    rig.assert_declared_endpoints();
}

#[tokio::test(flavor = "multi_thread")]
async fn teams_blocks_with_a_typed_confirmation_once() {
    let mut rig = cmd_rig().await;
    let (_, out) = rig.teams_message(READER, "block evil-teams.example warn 7d lure").await;
    assert_eq!(common::text(&out), "Refused: you are not allowed to block indicators in this tenant.");
    let (_, out) = rig.teams_message(ANALYST, "block evil-teams.example warn 7d phishing lure").await;
    let prompt = common::text(&out).to_string();
    let code = prompt.split("reply `confirm ").nth(1).unwrap().split('`').next().unwrap().to_string();
    assert!(rig.writes("POST", "/api/indicators").await.is_empty(), "nothing before the confirmation");
    let said = format!("confirm {code}");
    let presses = (0..5).map(|_| rig.teams_message(ANALYST, &said));
    let answers: Vec<String> =
        futures::future::join_all(presses).await.iter().map(|(_, v)| common::text(v).to_string()).collect();
    assert_eq!(answers.iter().filter(|a| a.starts_with("Confirmed: warn DomainName")).count(), 1, "{answers:#?}");
    rig.drain().await;
    assert_eq!(rig.writes("POST", "/api/indicators").await.len(), 1);
    assert_eq!(rig.indicator("evil-teams.example").unwrap()["action"], "Warn");
    rig.assert_declared_endpoints();
}

/// The channel of a bot follow-up is checked against the policy, not taken from the queue message:
/// only the channel routed to the tenant gets the outcome; a channel named in a forged job does not,
/// even one the bot is in. A wrong bot token is refused by Slack (`invalid_auth`) and nothing posts.
#[tokio::test(flavor = "multi_thread")]
async fn bot_follow_ups_go_only_to_a_channel_the_policy_routes_to_the_tenant() {
    const ROUTED: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"routes":{"C2147483705":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read","isolate"]}}}"#;
    let rig = rig_with(
        None,
        None,
        &[("CHATOPS_RBAC", ROUTED.to_string()), ("CHATOPS_SLACK_BOT_TOKEN_NAME", BOT_TOKEN_SECRET.to_string())],
    )
    .await;
    rig.state.store.set(BOT_TOKEN_SECRET, &SecretString::new(BOT_TOKEN.to_string())).await.unwrap();
    rig.slack.lock().unwrap().channels.insert("C0ELSEWHERE".into(), true);
    let pending = |channel: &str| {
        json!({"tenant": "default", "action_id": "4c131820-86e8-4828-8756-d1bfc188ad8c", "action": "isolate",
               "machine_name": "ws-fin-014.contoso.com", "request_id": "r-1", "channel": channel,
               "user_id": ANALYST, "checks": 0, "started_at": now()})
    };
    let job = |channel: &str| -> Job {
        serde_json::from_value(json!({"kind": "recheck", "pending": [pending(channel)]})).unwrap()
    };
    rig.worker.run(job("C0ELSEWHERE")).await;
    assert!(rig.messages().is_empty(), "a channel the policy does not route to the tenant gets nothing");
    rig.worker.run(job(CHANNEL)).await;
    let sent = rig.messages();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["channel"], CHANNEL);
    assert!(sent[0]["text"].as_str().unwrap().contains("*Succeeded*"), "{sent:#?}");

    rig.state.store.set(BOT_TOKEN_SECRET, &SecretString::new("xoxb-not-the-bot".to_string())).await.unwrap();
    rig.worker.run(job(CHANNEL)).await;
    assert_eq!(rig.messages().len(), 1, "a wrong token posts nothing");
    assert_eq!(rig.slack.lock().unwrap().api_errors.last().map(String::as_str), Some("invalid_auth"));
    rig.assert_declared_endpoints();
}
