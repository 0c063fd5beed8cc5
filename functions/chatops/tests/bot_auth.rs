//! The Bot Connector token check against the Bot Framework stand-in (in process, injected clock):
//! the 5-minute skew at both edges, RS256 only, the `serviceurl` claim, and the key refresh on an
//! unknown `kid` rate-limited by `min_refresh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chatops::bot_auth::{BotAuth, BotAuthError, BotCloud, ServiceUrlPolicy};
use serde_json::json;
use std::time::Duration;
use tenant_sim::{RunningSim, SimOptions, botframework, start};

const BOT: &str = "66666666-6666-4666-8666-666666666666";

async fn sim() -> RunningSim {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    sim.sim.config.lock().unwrap().bot_app_id = Some(BOT.to_string());
    sim
}

fn auth(sim: &RunningSim, min_refresh: Duration) -> BotAuth {
    BotAuth::new(
        sim.client().unwrap(),
        BOT,
        BotCloud::Public,
        Some(format!("{}/botframework/v1/.well-known/openidconfiguration", sim.url)),
        ServiceUrlPolicy { cloud: BotCloud::Public, extra_prefixes: vec![format!("{}/smba/", sim.url)] },
        min_refresh,
    )
}

fn token(sim: &RunningSim, tweak: impl FnOnce(&mut botframework::MintRequest)) -> (String, String) {
    let mut req = botframework::MintRequest {
        activity: json!({"type": "message", "conversation": {"id": "19:c"}}),
        ..Default::default()
    };
    tweak(&mut req);
    let s = botframework::mint(&sim.sim, req).unwrap();
    (s.authorization, s.activity["serviceUrl"].as_str().unwrap().to_string())
}

/// The simulator, a verifier refreshing its keys at most every `min_refresh`, a token the simulator
/// minted (bearer, service url) and the simulator's time; the token verifies then.
async fn verified(min_refresh: Duration) -> (RunningSim, BotAuth, String, String, i64) {
    let sim = sim().await;
    let a = auth(&sim, min_refresh);
    let (bearer, service) = token(&sim, |_| {});
    let now = sim.sim.now().timestamp();
    assert!(a.verify(Some(&bearer), &service, "msteams", now).await.is_ok());
    (sim, a, bearer, service, now)
}

fn key_fetches(sim: &RunningSim) -> usize {
    sim.sim.log.lock().unwrap().iter().filter(|e| e.path == "/botframework/v1/.well-known/keys").count()
}

#[tokio::test]
async fn the_documented_skew_holds_at_both_edges_and_only_rs256_passes() {
    let (_sim, a, bearer, service, now) = verified(Duration::from_secs(60)).await;
    let exp = now + 3600;
    assert!(a.verify(Some(&bearer), &service, "msteams", exp + 300).await.is_ok(), "within the skew");
    assert_eq!(a.verify(Some(&bearer), &service, "msteams", exp + 301).await, Err(BotAuthError::Expired));
    assert!(a.verify(Some(&bearer), &service, "msteams", now - 300).await.is_ok(), "nbf within the skew");
    assert_eq!(a.verify(Some(&bearer), &service, "msteams", now - 301).await, Err(BotAuthError::NotYetValid));
    assert_eq!(a.verify(Some(&bearer), &format!("{service}x"), "msteams", now).await, Err(BotAuthError::ServiceUrl));
    assert_eq!(a.verify(None, &service, "msteams", now).await, Err(BotAuthError::Missing));
    assert_eq!(
        a.verify(Some(&bearer.replace("Bearer ", "Basic ")), &service, "msteams", now).await,
        Err(BotAuthError::Missing)
    );
    // The same claims under `alg: none` and HS256: refused before any key is looked at.
    let jwt = bearer.trim_start_matches("Bearer ");
    let payload = jwt.split('.').nth(1).unwrap();
    for alg in ["none", "HS256", "PS256"] {
        let header = B64.encode(json!({"alg": alg, "typ": "JWT", "kid": "x"}).to_string());
        let forged = format!("Bearer {header}.{payload}.");
        let e = a.verify(Some(&forged), &service, "msteams", now).await.unwrap_err();
        assert!(matches!(e, BotAuthError::Algorithm(_) | BotAuthError::Malformed), "{alg}: {e:?}");
    }
    // The payload of a valid token with a changed audience keeps the old signature: refused.
    let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    claims["aud"] = json!("55555555-5555-4555-8555-555555555555");
    let parts: Vec<&str> = jwt.split('.').collect();
    let tampered = format!("Bearer {}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
    assert!(matches!(a.verify(Some(&tampered), &service, "msteams", now).await, Err(BotAuthError::Invalid(_))));
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_at_most_once_per_min_refresh() {
    let (sim, limited, bearer, service, now) = verified(Duration::from_secs(3600)).await;
    assert_eq!(key_fetches(&sim), 1);
    sim.sim.botframework.rotate().unwrap();
    let (fresh, _) = token(&sim, |_| {});
    for _ in 0..5 {
        assert_eq!(limited.verify(Some(&fresh), &service, "msteams", now).await, Err(BotAuthError::UnknownKey));
    }
    assert_eq!(key_fetches(&sim), 1, "a stream of unknown kids does not hammer the keys endpoint");
    // Without the limit, the first unknown kid fetches the keys once and then verifies.
    let open = auth(&sim, Duration::ZERO);
    assert!(open.verify(Some(&bearer), &service, "msteams", now).await.is_err(), "the old key was withdrawn");
    let before = key_fetches(&sim);
    assert!(open.verify(Some(&fresh), &service, "msteams", now).await.is_ok());
    assert_eq!(key_fetches(&sim), before, "the new key was already fetched");
}

mod connector {
    use super::*;
    use chatops::connector::{BotConnector, ConnectorError, HttpConnector, TeamsRef};
    use defender_shared::{
        auth::{CredentialKind, Material, TenantCredential, TokenProvider},
        secret::SecretString,
        vault::FileStore,
    };
    use std::sync::Arc;

    async fn connector(sim: &RunningSim, dir: &std::path::Path, deadline: Duration) -> HttpConnector {
        let file = dir.join("secrets.json");
        std::fs::write(&file, "{}").unwrap();
        let store = Arc::new(FileStore::open(&file).await.unwrap());
        let cred = TenantCredential {
            tenant_id: sim.tenant_id().parse().unwrap(),
            client_id: BOT.parse().unwrap(),
            authority: sim.url.parse().unwrap(),
            kind: CredentialKind::ClientSecret(Material::Inline(SecretString::new("teams-bot-secret-value-demo"))),
        };
        let bot: defender_shared::ids::TenantName = "teams-bot".parse().unwrap();
        let tokens = TokenProvider::new(sim.client().unwrap(), store, [(bot.clone(), cred)]).unwrap();
        HttpConnector::new(
            sim.client().unwrap(),
            Arc::new(tokens),
            bot,
            BotCloud::Public.connector_scope(),
            ServiceUrlPolicy { cloud: BotCloud::Public, extra_prefixes: vec![format!("{}/smba/", sim.url)] },
            deadline,
        )
    }

    fn calls(sim: &RunningSim, part: &str) -> usize {
        sim.sim.log.lock().unwrap().iter().filter(|e| e.path.contains(part)).count()
    }

    #[tokio::test]
    async fn a_service_url_from_the_queue_is_checked_again_and_posts_are_retried_within_the_deadline() {
        let sim = sim().await;
        let dir = std::env::temp_dir().join(format!("df-bot-connector-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = connector(&sim, &dir, Duration::from_secs(5)).await;
        let (_, service) = token(&sim, |_| {}); // delivers an activity in 19:c
        let here = TeamsRef { service_url: service.clone(), conversation: "19:c".into(), ..TeamsRef::default() };
        let msg = json!({"type": "message", "text": "hello"});
        // A serviceUrl that is not a Teams host (as a tampered queue message could carry): nothing is
        // sent and no token is even asked for.
        for evil in ["https://evil.example/smba/", "http://169.254.169.254/", &service.replace("https", "http")] {
            let to = TeamsRef { service_url: evil.to_string(), ..here.clone() };
            assert_eq!(c.send(&to, &msg).await, Err(ConnectorError::ServiceUrl), "{evil}");
        }
        assert_eq!(calls(&sim, "/oauth2/"), 0);
        // 503 twice, then accepted: one message recorded, one token.
        let http = sim.client().unwrap();
        let rule = json!({"path_prefix": "/smba/", "method": "POST", "status": 503, "times": 2});
        http.post(format!("{}/_sim/faults", sim.url)).json(&rule).send().await.unwrap();
        let id = c.send(&here, &msg).await.unwrap();
        assert!(!id.is_empty());
        assert_eq!(sim.sim.botframework.posted("19:c").len(), 1);
        assert_eq!(calls(&sim, "/oauth2/v2.0/token"), 1);
        // The update of that message; then a conversation that never was is refused at once (404).
        c.update(&here, &id, &json!({"type": "message", "text": "edited"})).await.unwrap();
        let nowhere = TeamsRef { conversation: "19:none".into(), ..here.clone() };
        assert_eq!(c.send(&nowhere, &msg).await, Err(ConnectorError::Refused(404)));
        // Failing for longer than the deadline: given up, retryable on a later pass.
        let short = connector(&sim, &dir, Duration::from_secs(2)).await;
        let rule = json!({"path_prefix": "/smba/", "method": "POST", "status": 503});
        http.post(format!("{}/_sim/faults", sim.url)).json(&rule).send().await.unwrap();
        let t = std::time::Instant::now();
        let e = short.send(&here, &msg).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Deadline(_)) && e.is_retryable(), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        std::fs::remove_dir_all(&dir).ok();
    }
}
