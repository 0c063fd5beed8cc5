//! MSSP tenant binding in chat-ops, through the callback handler with real signatures: a request
//! signed with our Slack app's secret but from another workspace, organisation or app — or a Teams
//! activity from another Entra tenant — is refused before anything is done (no hand-off, no Defender
//! call); permissions are per workspace and user; an unrouted channel is refused unless the policy
//! opts in to a catch-all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Defender API calls the simulator saw (tokens and vault reads aside).
async fn defender_calls(rig: &Rig) -> usize {
    rig.requests()
        .await
        .iter()
        .filter(|c| c["path"].as_str().is_some_and(|p| p.starts_with("/api/") || p.starts_with("/v1.0/")))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validly_signed_slack_request_from_another_workspace_or_app_is_refused_before_anything() {
    let mut rig = rig().await;
    let before = defender_calls(&rig).await;
    let good = rig.slash_body(ANALYST, "machine ws-fin-011.contoso.com", "ask");
    let cases = [
        ("another workspace", good.replace("team_id=T0001", "team_id=T0EVIL"), "Slack workspace"),
        ("another app", good.replace("api_app_id=A0DEFENDER", "api_app_id=A0OTHER"), "Slack app"),
        ("no app id", good.replace("api_app_id=A0DEFENDER&", ""), "Slack app"),
        ("an unlisted organisation", format!("{good}&enterprise_id=E0EVIL"), "Slack organisation"),
    ];
    for (what, body, named) in cases {
        let (status, out) = call(&rig.state, event("slack", &body, &rig.slack_headers(&body, &[]), true)).await;
        assert_eq!(status, StatusCode::OK, "{what}: {out}");
        assert_eq!(
            text(&out),
            format!("this {named} is not allowed to use this Defender integration; nothing was done"),
            "{what}"
        );
        assert!(rig.jobs.try_recv().is_err(), "{what}: nothing handed to the worker");
    }
    // A button press from another workspace carrying a (sealed) token is refused the same way.
    let raw = rig.button_body(ANALYST, "confirm", "anything", "press");
    let payload = url::form_urlencoded::parse(raw.as_bytes()).find(|(k, _)| k == "payload").unwrap().1;
    assert!(payload.contains("\"T0001\""), "{payload}");
    let press = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.replace("\"T0001\"", "\"T0EVIL\""))
        .finish();
    let (_, out) = call(&rig.state, event("slack", &press, &rig.slack_headers(&press, &[]), false)).await;
    assert!(text(&out).starts_with("this Slack workspace is not allowed"), "{out}");
    rig.drain().await;
    assert_eq!(defender_calls(&rig).await, before, "no Defender call for a request from outside the policy");
    // The admitted workspace and app still work.
    let (_, out) = rig.slash(ANALYST, "machine ws-fin-011.contoso.com", "ok").await;
    assert_eq!(text(&out), "Working on it…", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_teams_activity_from_another_entra_tenant_is_refused() {
    let mut rig = rig().await;
    let before = defender_calls(&rig).await;
    let activity = |tenant: &str, id: &str| {
        json!({"type": "message", "id": id, "timestamp": chrono::Utc::now().to_rfc3339(),
            "text": "<at>Defender</at> machine ws-fin-011.contoso.com",
            "from": {"id": "29:1", "name": "analyst", "aadObjectId": ANALYST},
            "conversation": {"id": "19:soc@thread.skype"}, "channelData": {"tenant": {"id": tenant}}})
        .to_string()
    };
    let secret = rig.teams_secret.clone();
    let sign = |a: &str| webhook::sign_teams(&SecretString::new(secret.clone()), a.as_bytes()).unwrap();
    let foreign = activity("00000000-0000-4000-8000-00000000beef", "1700000000101");
    let (status, out) = call(&rig.state, event("teams", &foreign, &[("authorization", sign(&foreign))], false)).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(text(&out), "this Teams tenant is not allowed to use this Defender integration; nothing was done");
    rig.drain().await;
    assert_eq!(defender_calls(&rig).await, before, "no Defender call");
    let ours = activity(TID, "1700000000102");
    let (_, out) = call(&rig.state, event("teams", &ours, &[("authorization", sign(&ours))], false)).await;
    assert!(text(&out).starts_with("*ws-fin-011.contoso.com*"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unrouted_channel_is_refused_without_an_explicit_catch_all_and_users_are_per_workspace() {
    // Two admitted workspaces; only the SOC channel is routed; no catch-all.
    let policy = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001","T0002"]},
        "routes":{"C2147483705":"default","T0002":"default"},
        "tenants":{"default":{"T0001:U0ANALYST":["read"]}}}"#;
    let mut rig = rig_with(None, None, &[("CHATOPS_RBAC", policy.to_string())]).await;
    let before = defender_calls(&rig).await;
    let body = rig.slash_body(ANALYST, "machine ws-fin-011.contoso.com", "a");
    let unrouted = body.replace("channel_id=C2147483705", "channel_id=C0RANDOM");
    let (_, out) = call(&rig.state, event("slack", &unrouted, &rig.slack_headers(&unrouted, &[]), true)).await;
    assert!(text(&out).contains("this workspace or channel is not connected to a Defender tenant"), "{out}");
    // The same user id in the other admitted workspace is another person: no permissions.
    let other = body.replace("team_id=T0001", "team_id=T0002").replace("channel_id=C2147483705", "channel_id=C0X");
    let (_, out) = call(&rig.state, event("slack", &other, &rig.slack_headers(&other, &[]), true)).await;
    assert!(text(&out).contains("you are not allowed to look things up in this tenant"), "{out}");
    assert!(rig.jobs.try_recv().is_err(), "nothing handed to the worker");
    rig.drain().await;
    assert_eq!(defender_calls(&rig).await, before);
    let (_, out) = rig.slash(ANALYST, "machine ws-fin-011.contoso.com", "b").await;
    assert_eq!(text(&out), "Working on it…", "{out}");
}
