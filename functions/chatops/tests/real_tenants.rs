//! Chat-ops against what real tenants hold (issue 18): a machine whose recorded name ends in a space
//! (`"chat_Desk "`, contract/real-responses/swimlane__list_devices_by_vulnerability.json) is found by
//! its name, and one item the typed view refuses — a machine with `osBuild` sent as a string on the
//! same page, a machine action with a numeric `scope` in the history — does not lose the others.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

const DESK: &str = "afb3f807d1a185ac66668f493af028385bfca184";

/// Seeds the recorded machine (trailing space kept), an odd machine of the same name, a succeeded
/// isolate of the recorded one and an odd action beside it.
fn seed_real_names(rig: &Rig) {
    let mut t = rig.sim.sim.tenant.lock().unwrap();
    let mut desk = t.seed.machines[0].clone();
    desk["id"] = json!(DESK);
    desk["computerDnsName"] = json!("chat_Desk ");
    desk["lastIpAddress"] = json!("10.99.0.7");
    let mut odd = desk.clone();
    odd["id"] = json!("bfb3f807d1a185ac66668f493af028385bfca185");
    odd["computerDnsName"] = json!("chat_desk");
    odd["osBuild"] = json!("22631");
    t.seed.machines.push(desk);
    t.seed.machines.push(odd);
    let isolate = json!({
        "id": "6b001073-5500-4205-8287-6f1184936f67", "type": "Isolate", "title": null,
        "requestor": "analyst@contoso.com", "requestorComment": "c2", "status": "Succeeded",
        "machineId": DESK, "computerDnsName": "chat_Desk ",
        "creationDateTimeUtc": "2026-12-01T11:25:48.3308187Z", "lastUpdateDateTimeUtc": "2026-12-01T11:26:48.330819Z",
        "cancellationRequestor": null, "cancellationComment": null, "cancellationDateTimeUtc": null,
        "errorHResult": 0, "scope": "Full", "externalId": null, "requestSource": "PublicApi",
        "relatedFileInfo": null, "commands": [], "troubleshootInfo": null
    });
    let mut odd_action = isolate.clone();
    odd_action["id"] = json!("0696c900-b8ce-42ce-96f6-1b68268b7bea");
    odd_action["type"] = json!("RunAntiVirusScan");
    odd_action["scope"] = json!(1);
    t.actions.push(isolate);
    t.actions.push(odd_action);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_named_with_a_trailing_space_is_found_and_odd_items_do_not_lose_the_others() {
    let mut rig = rig().await;
    seed_real_names(&rig);
    for (hook, cmd) in [("m", "machine chat_Desk"), ("m2", "machine CHAT_DESK")] {
        let (_, out) = rig.slash(ANALYST, cmd, hook).await;
        assert_eq!(text(&out), "Working on it…", "{cmd}");
    }
    rig.drain().await;
    for hook in ["m", "m2"] {
        let got = text(&rig.posted(hook)[0]).to_string();
        // Found (the odd machine on the same page is left out, not the page), rendered as recorded.
        assert!(got.starts_with(&format!("*chat_Desk * (id `{DESK}`)")), "{got}");
        // The action history was read past the odd action: the isolate counts.
        assert!(got.contains("Isolation: isolated"), "{got}");
    }
    // Only trailing whitespace is set aside: another name is not this machine.
    let (_, _) = rig.slash(ANALYST, "machine chat_Des", "m3").await;
    rig.drain().await;
    let got = text(&rig.posted("m3")[0]).to_string();
    assert!(got.contains("no machine matches `chat_des`"), "{got}");
}
