//! The demo tenant's identities (tenant-sim's `seeds/demo.json`) and the chat-ops demo policy: one
//! spelling for every test, the runner, the soak and the bench. All values are simulator values, never
//! real credentials.

/// The demo tenant's id.
pub const TENANT: &str = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f";
/// The demo tenant's application (the reader, and the responder of a one-app deployment).
pub const APP: &str = "11111111-1111-4111-8111-111111111111";
/// Its client secret in the demo seed (`defender-client-secret` in the simulated vault too).
pub const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
/// The demo tenant's read-only application.
pub const READER_APP: &str = "22222222-2222-4222-8222-222222222222";
/// Its client secret.
pub const READER_SECRET: &str = "reporter-secret-value";
/// The public client chat users link with (device code).
pub const PUBLIC_CLIENT: &str = "33333333-3333-4333-8333-333333333333";
/// The responder app of a split-identity deployment (`ResponderClientId`; docs/security.md): tests that
/// deploy the template register it in the simulator beside [`APP`], the reader.
pub const RESPONDER_APP: &str = "44444444-4444-4444-8444-444444444444";
/// Its client secret in the tests that register it.
pub const RESPONDER_SECRET: &str = "responder-secret-value-do-not-use-in-prod";
/// The Teams bot's app id (the simulator's Bot Framework signs activities for it and takes its token
/// on the conversations API).
pub const BOT: &str = "66666666-6666-4666-8666-666666666666";
/// The webhook signing secret (`webhook-secret` in the demo vault) the enrichment verifies.
pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The Teams tenant the demo policy admits (the chat side's tenant, not the Defender tenant).
pub const TEAMS_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The Slack workspace the demo policy admits.
pub const SLACK_TEAM: &str = "T0001";
/// The chat user the demo policy lets look things up and act.
pub const ANALYST: &str = "U0ANALYST";
/// A chat user the chat-ops tests' policies let only read.
pub const READER: &str = "U0READER";
/// The demo chat-ops access policy (`CHATOPS_RBAC`) of `make run` and the end-to-end tests.
pub const POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan"]}}}"#;

/// The chat-ops tests' and the soak's access policy: [`POLICY`], with `restrict` for the analyst and
/// [`READER`] allowed only `read` (a user with a right and one without, in both workspaces).
pub const POLICY_WITH_READER: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{
    "T0001:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan","restrict"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan","restrict"],
    "T0001:U0READER":["read"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0READER":["read"]}}}"#;

/// Unix seconds now (the clock the functions' signature checks and stores are given in tests).
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
