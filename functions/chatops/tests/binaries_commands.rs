//! `block` end to end through the real binaries: the callback hands the signed slash command to SQS
//! (moto), the worker binary posts the prompt, five concurrent confirmations reach the callback
//! binary and one wins (the claim is a DynamoDB conditional write), the one job — delivered twice,
//! as SQS may — submits one indicator to the simulated Defender.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_wiring;

use aws_wiring::Wired;

use serde_json::{Value, json};
use std::time::Duration;
use testkit::SimEnv;

const POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read","block"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","block"]}}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn block_through_the_real_binaries_sqs_and_dynamodb_submits_once_under_five_confirmations() {
    let sim = SimEnv::demo().await;
    let Wired { moto: _moto, sqs, queue, receiver, callback: cb_emu, worker: wk_emu, children: _children } =
        aws_wiring::wired(&sim, POLICY, "chatops-block-jobs", "chatops-block-idem").await;
    let hooks = receiver.base.clone();

    let signed = |body: String| aws_wiring::slack_event(&sim, &body);
    let answer_text = |raw: &[u8]| -> String {
        let resp: Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(resp["statusCode"], 200, "{resp}");
        serde_json::from_str::<Value>(resp["body"].as_str().unwrap()).unwrap()["text"].as_str().unwrap().to_string()
    };
    let deliver = |records: Vec<Value>| {
        let wk = &wk_emu;
        async move {
            let answer = wk.invoke(&json!({ "Records": records }), Duration::from_secs(60)).await.unwrap();
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(answer, json!({"batchItemFailures": []}));
        }
    };
    let receive = || aws_wiring::records(&sqs, &queue);
    let indicator_posts = || {
        let sim = &sim;
        async move {
            testkit::sim::requests(sim)
                .await
                .iter()
                .filter(|r| r["method"] == "POST" && r["path"] == "/api/indicators")
                .count()
        }
    };

    let slash =
        aws_wiring::slash_form("block 203.0.113.9 14d c2 beacon from the phishing wave", &format!("{hooks}slash"));
    let ack = answer_text(&cb_emu.invoke(&signed(slash), Duration::from_secs(60)).await.unwrap());
    assert_eq!(ack, "Working on it…");
    let jobs = receive().await;
    assert_eq!(jobs.len(), 1);
    deliver(jobs).await;
    let prompt = receiver.posted("slash").pop().expect("the worker posted the prompt");
    let button = &prompt["blocks"][1]["elements"][0];
    assert_eq!(button["action_id"], "confirm-incident", "{prompt}");
    assert!(prompt["text"].as_str().unwrap().starts_with("*Block* IpAddress `203.0.113.9`"), "{prompt}");
    let token = button["value"].as_str().unwrap().to_string();
    assert_eq!(indicator_posts().await, 0, "nothing submitted before the confirmation");

    let press = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "payload",
            &json!({"type": "block_actions", "user": {"id": "U0ANALYST", "username": "analyst"},
                "team": {"id": "T0001"}, "api_app_id": "A0DEFENDER", "channel": {"id": "C1"},
                "response_url": format!("{hooks}press"),
                "actions": [{"action_id": "confirm-incident", "block_id": "b", "type": "button", "value": token}]})
            .to_string(),
        )
        .finish();
    let events: Vec<Value> = (0..5).map(|_| signed(press.clone())).collect();
    let presses = events.iter().map(|e| cb_emu.invoke(e, Duration::from_secs(60)));
    let answers: Vec<String> =
        futures::future::join_all(presses).await.into_iter().map(|r| answer_text(&r.unwrap())).collect();
    assert_eq!(answers.iter().filter(|a| a.starts_with("Confirmed: block IpAddress")).count(), 1, "{answers:#?}");
    assert_eq!(answers.iter().filter(|a| a.contains("already confirmed")).count(), 4, "{answers:#?}");

    let jobs = receive().await;
    assert_eq!(jobs.len(), 1, "one job for five confirmations");
    deliver(jobs.clone()).await;
    deliver(jobs).await; // an SQS redelivery
    assert_eq!(indicator_posts().await, 1);
    let stored =
        sim.sim.tenant.lock().unwrap().seed.indicators.iter().find(|i| i["indicatorValue"] == "203.0.113.9").cloned();
    let stored = stored.expect("the indicator is in the tenant");
    assert_eq!(stored["action"], "Block");
    assert!(stored["description"].as_str().unwrap().contains("analyst (U0ANALYST)"), "{stored}");
    let texts: Vec<String> =
        receiver.all().iter().map(|(_, p)| p).map(|p| p["text"].as_str().unwrap_or_default().to_string()).collect();
    assert!(texts.iter().any(|t| t.starts_with("Updated (request")), "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("was already handled")), "{texts:#?}");
}
