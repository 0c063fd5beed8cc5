//! Issue 13 (security hardening) in chat-ops, through the real callback, worker and simulated
//! tenant: the worker refuses queue messages the idempotency store does not back, incident changes
//! are confirmed like machine actions (Slack and Teams), only the requester or an approver may
//! cancel, endpoint-controlled text and reasons are inert in Slack and Teams, and a machine's
//! isolation state is read from its whole action history in time order, whatever the list order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chatops::command::ChatUser;
use common::*;

const TWO: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"two_person":{"default":["isolate"]},"tenants":{"default":{
    "T0001:U0ANALYST":["read","incident","isolate","scan"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","incident","isolate","scan"],"T0001:U0SECOND":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0SECOND":["isolate"],"T0001:U0THIRD":["isolate"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0THIRD":["isolate"],"T0001:U0READER":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0READER":["read"]}}}"#;

/// The first button of a prompt: its `action_id` and value.
fn button(prompt: &Value, i: usize) -> (String, String) {
    let b = &prompt["blocks"][1]["elements"][i];
    (b["action_id"].as_str().unwrap_or_default().to_string(), b["value"].as_str().unwrap_or_default().to_string())
}

impl Rig {
    async fn incident_patches(&self) -> usize {
        let log = self.requests().await;
        log.iter()
            .filter(|r| r["method"] == "PATCH" && r["path"].as_str().unwrap_or_default().starts_with("/api/incidents/"))
            .count()
    }

    fn incident_id(&self) -> u64 {
        self.sim.sim.tenant.lock().unwrap().seed.incidents[0]["incidentId"].as_u64().unwrap()
    }
}

fn code_of(prompt: &str) -> String {
    prompt.split("reply `confirm ").nth(1).unwrap().split('`').next().unwrap().to_string()
}

fn user(id: &str) -> ChatUser {
    ChatUser { id: id.parse().unwrap(), name: id.to_lowercase() }
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_or_edited_queue_messages_are_refused_before_defender() {
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", TWO.to_string())]).await;
    let host = "ws-fin-011.contoso.com";
    // A genuine two-person isolate: prompted, confirmed, approved by a second person.
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.slash(ANALYST, "isolate ws-fin-017.contoso.com lateral movement", "other").await;
    rig.slash(ANALYST, &format!("scan {host} routine check"), "scan").await;
    rig.drain().await;
    let token = button(&rig.posted("ask")[0], 0).1;
    let other_machine = button(&rig.posted("other")[0], 0).1;
    let other_action = button(&rig.posted("scan")[0], 0).1;
    rig.press(ANALYST, "confirm", &token, None).await;
    let (_, out) = rig.press("U0SECOND", "approve", &token, None).await;
    assert!(text(&out).starts_with("Approved by u0second: isolate"), "{out}");
    let (genuine, _) = rig.jobs.try_recv().unwrap();
    let Job::Execute { accepted_at, response_url, .. } = genuine.clone() else { panic!("{genuine:?}") };
    let edit = |token: &str, approver: Option<&str>, accepted_at: i64| Job::Execute {
        token: token.to_string(),
        accepted_at,
        response_url: response_url.clone(),
        approver: approver.map(user),
        channel: None,
        thread_ts: None,
    };
    // Sealed by the function, so the MAC holds; expired an hour ago, never confirmed.
    let expired = rig.seal(ANALYST, "u0analyst", "isolate", host, "old request", "req-expired", now() - 3_600);
    let forged = [
        ("approver changed", edit(&token, Some("U0THIRD"), accepted_at)),
        ("approver is the requester", edit(&token, Some(ANALYST), accepted_at)),
        ("approver removed", edit(&token, None, accepted_at)),
        ("device changed: a prompt never confirmed", edit(&other_machine, Some("U0SECOND"), accepted_at)),
        ("action changed: a prompt never confirmed", edit(&other_action, None, accepted_at)),
        ("action changed, with an approver", edit(&other_action, Some("U0SECOND"), accepted_at)),
        ("expired, revived by an old accepted_at", edit(&expired, None, now() - 3_700)),
        ("not a token", edit("eyJ2IjoxfQ.AAAA", None, accepted_at)),
    ];
    for (what, job) in forged {
        let reply = rig.worker.run(job).await.unwrap();
        assert!(reply.text.to_lowercase().contains("refused"), "{what}: {}", reply.text);
        assert!(rig.action_posts().await.is_empty(), "{what}: Defender was called");
    }
    // A claim someone wrote by hand (not a claim this code makes) is no confirmation either.
    let rid = confirm::open::<Confirmation>(&other_action, &[SecretString::new(rig.slack_secret.clone())], now())
        .unwrap()
        .request_id;
    rig.idem.put_if_absent(&format!("confirm:{rid}"), "confirmed at 0", now() + 60).await.unwrap();
    let reply = rig.worker.run(edit(&other_action, None, accepted_at)).await.unwrap();
    assert!(reply.text.contains("refused"), "{}", reply.text);
    assert!(rig.action_posts().await.is_empty());
    // The genuine job runs, once.
    let reply = rig.worker.run(genuine.clone()).await.unwrap();
    assert!(reply.text.contains("accepted by Defender"), "{}", reply.text);
    let again = rig.worker.run(genuine).await.unwrap();
    assert!(again.text.contains("already handled"), "{}", again.text);
    assert_eq!(rig.action_posts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn incident_changes_are_confirmed_like_machine_actions_in_slack_and_teams() {
    let mut rig = rig().await;
    let id = rig.incident_id();
    let (_, out) = rig.slash(ANALYST, &format!("incident {id} resolve"), "res").await;
    assert_eq!(text(&out), "Working on it…");
    rig.drain().await;
    let prompt = rig.posted("res")[0].clone();
    assert!(text(&prompt).starts_with(&format!("*Incident* `{id}` ")), "{prompt}");
    let (action_id, token) = button(&prompt, 0);
    assert_eq!(action_id, "confirm-incident", "{prompt}");
    assert_eq!(button(&prompt, 1), ("cancel".to_string(), token.clone()));
    assert_eq!(rig.incident_patches().await, 0, "nothing changes before the confirmation");

    // Same RBAC and sealing: another user, and the token on the machine-action button, are refused.
    let (_, out) = rig.press(READER, "confirm-incident", &token, None).await;
    assert_eq!(text(&out), "Refused: only the analyst who asked can confirm this change.");
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    assert!(text(&out).starts_with("Refused: confirmation signature does not match"), "{out}");
    assert!(rig.jobs.try_recv().is_err());

    // Confirmed twice (a double click): one job; delivered twice: one change.
    let (_, out) = rig.press(ANALYST, "confirm-incident", &token, None).await;
    assert!(text(&out).starts_with(&format!("Confirmed: incident `{id}` resolve")), "{out}");
    let (_, out) = rig.press(ANALYST, "confirm-incident", &token, None).await;
    assert!(text(&out).contains("already confirmed"), "{out}");
    let (job, _) = rig.jobs.try_recv().unwrap();
    assert!(rig.jobs.try_recv().is_err());
    let first = rig.worker.run(job.clone()).await.unwrap();
    let again = rig.worker.run(job).await.unwrap();
    assert!(first.text.starts_with("Updated (request"), "{}", first.text);
    assert!(again.text.contains("already handled"), "{}", again.text);
    assert_eq!(rig.incident_patches().await, 1);

    // Teams: a typed code, the same rules.
    let (_, out) = rig.teams_message(ANALYST, &format!("incident {id} assign alice@contoso.com")).await;
    let code = code_of(text(&out));
    assert_eq!(rig.incident_patches().await, 1, "nothing changes before the confirmation");
    let (_, out) = rig.teams_message(READER, &format!("confirm {code}")).await;
    assert_eq!(text(&out), "Refused: only the analyst who asked can confirm this change.");
    let (_, out) = rig.teams_message(ANALYST, &format!("approve {code}")).await;
    assert!(text(&out).starts_with("Refused: this change needs no approval"), "{out}");
    let (_, out) = rig.teams_message(ANALYST, &format!("confirm {code}")).await;
    assert!(text(&out).starts_with(&format!("Confirmed: incident `{id}` assign alice@contoso.com")), "{out}");
    rig.drain().await;
    assert_eq!(rig.incident_patches().await, 2);
    let (_, out) = rig.teams_message(ANALYST, &format!("incident {id}")).await;
    assert!(text(&out).contains("assigned to: alice@contoso.com"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_incident_job_is_refused_before_defender() {
    let mut rig = rig().await;
    let id = rig.incident_id();
    rig.slash(ANALYST, &format!("incident {id} assign mallory@contoso.com"), "asg").await;
    rig.drain().await;
    let unconfirmed = button(&rig.posted("asg")[0], 0).1;
    let forged = Job::UpdateIncident { token: unconfirmed, accepted_at: now(), response_url: None, channel: None };
    let reply = rig.worker.run(forged).await.unwrap();
    assert!(reply.text.contains("refused — no confirmation of this request is recorded"), "{}", reply.text);
    assert_eq!(rig.incident_patches().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_requester_or_an_approver_may_cancel_and_a_cancelled_request_stays_cancelled() {
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", TWO.to_string())]).await;
    let host = "ws-fin-011.contoso.com";
    rig.slash(ANALYST, &format!("isolate {host} suspected C2 beacon"), "ask").await;
    rig.drain().await;
    let token = button(&rig.posted("ask")[0], 0).1;
    let (_, out) = rig.press(ANALYST, "confirm", &token, None).await;
    assert!(text(&out).starts_with("*Approval needed*"), "{out}");
    assert_eq!(button(&out, 1), ("cancel".to_string(), token.clone()), "the approval request's cancel");

    // Someone who may not approve presses Cancel on the channel's approval request: refused, only
    // to them, and the request stays.
    for who in [READER, "U0STRANGER"] {
        let hook = format!("c-{who}");
        let (_, out) = rig.press_in_channel(&hook, who, "cancel", &token, "1716480000.000100").await;
        assert_eq!(text(&out), "Refused: only the requester or an approver can cancel this request.", "{who}");
        assert_eq!(out["response_type"], "ephemeral");
        assert!(out.get("replace_original").is_none(), "the approval request is not replaced: {out}");
        assert_eq!(text(&rig.posted(&hook)[0]), text(&out), "shown to the presser");
    }
    let (_, out) = rig.press("U0SECOND", "approve", &token, None).await;
    assert!(text(&out).starts_with("Approved by u0second"), "{out}");
    rig.drain().await;
    assert_eq!(rig.action_posts().await.len(), 1);

    // A request its requester cancels can no longer be confirmed; nobody else may cancel a
    // one-person action.
    rig.slash(ANALYST, &format!("scan {host} routine check"), "scan").await;
    rig.drain().await;
    let scan = button(&rig.posted("scan")[0], 0).1;
    let (_, out) = rig.press("U0SECOND", "cancel", &scan, None).await;
    assert_eq!(text(&out), "Refused: only the requester or an approver can cancel this request.");
    let (_, out) = rig.press(ANALYST, "cancel", &scan, None).await;
    assert_eq!(text(&out), "Cancelled; nothing was done.");
    assert_eq!(out["replace_original"], true);
    let (_, out) = rig.press(ANALYST, "confirm", &scan, None).await;
    assert_eq!(text(&out), "Refused: this request was cancelled.");

    // An approver may withdraw a pending approval request; it can then not be approved.
    rig.slash(ANALYST, "isolate ws-fin-017.contoso.com lateral movement", "ask2").await;
    rig.drain().await;
    let second = button(&rig.posted("ask2")[0], 0).1;
    rig.press(ANALYST, "confirm", &second, None).await;
    let (_, out) = rig.press("U0THIRD", "cancel", &second, None).await;
    assert_eq!(text(&out), "Cancelled; nothing was done.");
    let (_, out) = rig.press("U0SECOND", "approve", &second, None).await;
    assert_eq!(text(&out), "Refused: this request was cancelled.");
    assert!(rig.jobs.try_recv().is_err());
    assert_eq!(rig.action_posts().await.len(), 1);
}

const EVIL: &str = "<https://evil.example/x|Open in Defender> [Open in Defender](https://evil.example/y) <b>hi</b>";

fn inert_in_slack(said: &str) {
    assert!(!said.contains("<https://evil") && !said.contains("<b>"), "a live Slack link or tag: {said}");
    assert!(said.contains("&lt;https://evil.example/x|Open in Defender&gt;"), "{said}");
}

fn inert_in_teams(said: &str) {
    assert!(!said.contains("<https://evil") && !said.contains("<b>"), "a live tag: {said}");
    assert!(!said.contains("[Open in Defender](https://evil"), "a live Markdown link: {said}");
    assert!(said.contains("&#60;https://evil.example/x|Open in Defender&#62;"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_links_in_endpoint_text_and_reasons_are_inert_in_slack_and_teams() {
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", TWO.to_string())]).await;
    // An attacker on an endpoint controls what Defender reports about it: alert titles, the
    // machine's reported names.
    let (alert, machine) = {
        let mut t = rig.sim.sim.tenant.lock().unwrap();
        t.seed.alerts[0]["title"] = json!(EVIL);
        let alert = t.seed.alerts[0]["id"].as_str().unwrap().to_string();
        let m = t.seed.machines.iter_mut().find(|m| m["computerDnsName"] == "ws-fin-017.contoso.com").unwrap();
        m["osPlatform"] = json!(EVIL);
        (alert, m["id"].as_str().unwrap().to_string())
    };
    rig.slash(ANALYST, &format!("alert {alert}"), "a").await;
    rig.slash(ANALYST, &format!("machine {machine}"), "m").await;
    rig.drain().await;
    inert_in_slack(text(&rig.posted("a")[0]));
    inert_in_slack(text(&rig.posted("m")[0]));
    let (_, out) = rig.teams_message(ANALYST, &format!("alert {alert}")).await;
    inert_in_teams(text(&out));
    let (_, out) = rig.teams_message(ANALYST, &format!("machine {machine}")).await;
    inert_in_teams(text(&out));

    // A requester's reason, shown to the channel in the approval request, and to Teams.
    rig.slash(ANALYST, &format!("isolate ws-fin-011.contoso.com {EVIL}"), "ask").await;
    rig.drain().await;
    let prompt = rig.posted("ask")[0].clone();
    inert_in_slack(text(&prompt));
    inert_in_slack(prompt["blocks"][0]["text"]["text"].as_str().unwrap());
    let (_, out) = rig.press(ANALYST, "confirm", &button(&prompt, 0).1, None).await;
    assert_eq!(out["response_type"], "in_channel");
    inert_in_slack(text(&out));
    inert_in_slack(out["blocks"][0]["text"]["text"].as_str().unwrap());
    // (Teams sends HTML: its tags, `<https://…>` included, are stripped from the command text.)
    let (_, out) = rig.teams_message(ANALYST, &format!("isolate ws-fin-017.contoso.com {EVIL}")).await;
    let said = text(&out);
    assert!(!said.contains("[Open in Defender](https://evil"), "a live Markdown link: {said}");
    assert!(said.contains("Reason: &#91;Open in Defender&#93;&#40;https://evil.example/y&#41;"), "{said}");
}

/// The strict simulator's list order (its keyed hash of the id), to build an order that is adverse for
/// certain, not by chance.
fn sim_rank(key: u64, id: &str) -> u64 {
    tenant_sim::defender::keyed_hash(key, id.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn isolation_state_is_read_from_every_page_in_time_order_whatever_the_list_order() {
    let mut rig = rig().await;
    let host = "ws-fin-011.contoso.com";
    let mid = rig.machine(host)["id"].as_str().unwrap().to_string();
    let key = rig.sim.sim.config.lock().unwrap().order_key;
    let action = |id: String, kind: &str, at: &str| {
        json!({"id": id, "type": kind, "status": "Succeeded", "machineId": mid, "computerDnsName": host,
            "requestor": "soc@contoso.com", "requestorComment": "history", "scope": null,
            "creationDateTimeUtc": at, "lastUpdateDateTimeUtc": at, "relatedFileInfo": null})
    };
    let mut history = Vec::new();
    // 300 finished isolations and releases over 2025, the last a release at 2026-03-01T00:00:00Z,
    // and 300 other actions the type filter leaves out.
    for i in 0..300 {
        let kind = if i % 2 == 0 { "Isolate" } else { "Unisolate" };
        let day = chrono::DateTime::from_timestamp(1_735_689_600 + i * 86_400, 0).unwrap();
        history.push(action(uuid::Uuid::new_v4().to_string(), kind, &day.to_rfc3339()));
        history.push(action(uuid::Uuid::new_v4().to_string(), "LiveResponse", &day.to_rfc3339()));
    }
    history.push(action(uuid::Uuid::new_v4().to_string(), "Unisolate", "2026-03-01T00:00:00Z"));
    // The newest: an isolation half a second later (compared as text it sorts first), and an id the
    // strict order lists after the first page of 200 of the machine's actions.
    let mut ranks: Vec<u64> = {
        let t = rig.sim.sim.tenant.lock().unwrap();
        t.actions
            .iter()
            .filter(|a| a["machineId"] == mid.as_str())
            .map(|a| sim_rank(key, a["id"].as_str().unwrap()))
            .collect()
    };
    ranks.extend(history.iter().map(|a| sim_rank(key, a["id"].as_str().unwrap())));
    ranks.sort_unstable();
    let last_of_first_page = ranks[199];
    let newest =
        (0..).map(|_| uuid::Uuid::new_v4().to_string()).find(|id| sim_rank(key, id) > last_of_first_page).unwrap();
    history.push(action(newest, "Isolate", "2026-03-01T00:00:00.5Z"));
    rig.sim.sim.tenant.lock().unwrap().actions.extend(history);

    rig.slash(ANALYST, &format!("machine {host}"), "info").await;
    rig.slash(ANALYST, &format!("isolate {host} again"), "iso").await;
    rig.slash(ANALYST, &format!("unisolate {host} all clear"), "rel").await;
    rig.drain().await;
    let info = text(&rig.posted("info")[0]).to_string();
    assert!(info.contains("Isolation: isolated"), "{info}");
    assert_eq!(text(&rig.posted("iso")[0]), format!("Refused: {host}: the machine is already isolated."));
    assert_eq!(button(&rig.posted("rel")[0], 0).0, "confirm", "the release is offered: {}", rig.posted("rel")[0]);
    // Read by type and machine, to the end: more than one page, no undocumented `$orderby`.
    let log = rig.requests().await;
    let lists: Vec<&Value> = log.iter().filter(|r| r["path"] == "/api/machineactions").collect();
    assert!(lists.len() >= 2 * 3, "two pages per look-up: {}", lists.len());
    for r in &lists {
        let q = serde_json::to_string(&r["query"]).unwrap();
        assert!(q.contains("type") && q.contains(&mid), "{q}");
        assert!(!q.contains("orderby"), "{q}");
    }
}
