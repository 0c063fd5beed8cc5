//! `infra/slack-app-manifest.yaml` against the handler: the slash command and the interactivity URL
//! are both the handler's Slack route (a request there is answered by the Slack verifier, not 404),
//! the command is `/defender` and the scopes are what the function uses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_slack_manifest_points_at_the_handlers_routes() {
    let text = include_str!("../../../infra/slack-app-manifest.yaml");
    let m: Value = serde_norway::from_str(text).unwrap();
    let commands = m["features"]["slash_commands"].as_array().unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["command"], "/defender");
    // `commands` for /defender; `chat:write` for outcomes after a response_url's 5 posts / 30 minutes
    // (chat.postMessage with the bot token); `users:read` + `users:read.email` for the link's identity
    // check (users.info's e-mail) — and nothing more.
    assert_eq!(m["oauth_config"]["scopes"]["bot"], json!(["commands", "chat:write", "users:read", "users:read.email"]));
    assert_eq!(m["features"]["bot_user"]["display_name"], "Defender", "chat:write needs the bot user");
    // The template names the bot token's vault secret for the worker.
    let template = include_str!("../../../infra/template.yaml");
    assert!(template.contains("CHATOPS_SLACK_BOT_TOKEN_NAME: !Ref SlackBotTokenName"));
    assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
    let urls = [commands[0]["url"].as_str().unwrap(), m["settings"]["interactivity"]["request_url"].as_str().unwrap()];

    let rig = rig().await;
    for raw in urls {
        assert_eq!(raw, "https://<api-id>.execute-api.<region>.amazonaws.com/chatops/slack", "placeholders only");
        let url = url::Url::parse(&raw.replace("<api-id>", "a1b2c3d4e5").replace("<region>", "eu-west-1")).unwrap();
        assert_eq!(url.path(), handler::SLACK_ROUTE);
        // The route reaches the Slack verifier: unsigned is 401, another path is 404.
        let mut req: Value = serde_json::from_str(include_str!("fixtures/apigw-v2-slack.json")).unwrap();
        req["rawPath"] = json!(url.path());
        req["requestContext"]["http"]["path"] = json!(url.path());
        req["body"] = json!("command=%2Fdefender&text=help&user_id=U1");
        let (status, _) = call(&rig.state, lambda_http::request::from_str(&req.to_string()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{raw}");
        req["rawPath"] = json!("/chatops/slak");
        req["requestContext"]["http"]["path"] = json!("/chatops/slak");
        let (status, _) = call(&rig.state, lambda_http::request::from_str(&req.to_string()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert_eq!(handler::TEAMS_ROUTE, "/chatops/teams");
}

/// `infra/teams-app/` (the app package uploaded to Teams: manifest + two icons) against the code:
/// the bot's commands are ones the parser knows, the ids are placeholders the operator replaces with
/// the bot's app id, the icons have the sizes Teams requires (color 192×192, outline 32×32 with
/// transparency), and the template routes the bot's messaging endpoint to the handler's route.
#[test]
fn the_teams_app_package_matches_the_bot() {
    let m: Value = serde_json::from_str(include_str!("../../../infra/teams-app/manifest.json")).unwrap();
    assert_eq!(m["manifestVersion"], "1.17");
    let placeholder = "00000000-0000-4000-8000-000000000000";
    assert_eq!(m["id"], placeholder, "placeholders only");
    let bot = &m["bots"][0];
    assert_eq!(bot["botId"], placeholder, "placeholders only");
    assert_eq!(bot["scopes"], json!(["team", "groupChat", "personal"]));
    let commands = bot["commandLists"][0]["commands"].as_array().unwrap();
    assert!(!commands.is_empty() && commands.len() <= 10, "Teams shows at most 10 commands per list");
    for c in commands {
        let title = c["title"].as_str().unwrap();
        let parsed = chatops::command::parse_text(title);
        if let chatops::command::Parsed::Usage(why) = &parsed {
            assert!(!why.contains("unknown command"), "{title}: {why}");
        }
        assert!(c["description"].as_str().unwrap().len() <= 128, "{title}");
    }
    // PNG signature, then IHDR: width, height, bit depth 8, colour type 6 (RGBA).
    for (file, size, bytes) in [
        ("color.png", 192, include_bytes!("../../../infra/teams-app/color.png").as_slice()),
        ("outline.png", 32, include_bytes!("../../../infra/teams-app/outline.png").as_slice()),
    ] {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file}");
        assert_eq!(&bytes[12..16], b"IHDR", "{file}");
        let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20), bytes[24], bytes[25]), (size, size, 8, 6), "{file}");
        assert_eq!(m["icons"][file.trim_end_matches(".png")], file);
    }
    let template = include_str!("../../../infra/template.yaml");
    assert!(template.contains(&format!("Path: {}", chatops::teams_bot::TEAMS_BOT_ROUTE)));
    assert!(template.contains("/chatops/teams-bot\n"), "the messaging endpoint output");
    assert!(template.contains("CHATOPS_BOT_APP_ID: !Ref TeamsBotAppId"));
}
