//! chatops — analysts type `/defender …` in Slack (or mention the bot in Teams) and press buttons;
//! the functions look things up or run machine actions. These functions can isolate a company's
//! machines, so safety is the feature.
//!
//! # Layout
//! - [`command`] — Slack slash commands, block actions and Teams messages → a typed [`command::Command`];
//!   every argument a validated newtype; anything else → usage help.
//! - [`config`] — the function's settings and the access policy ([`config::Rbac`]: who may do what, per
//!   tenant, which actions need two people; checked against the tenants at cold start).
//! - [`actions`] — the heart: authorise, resolve the machine exactly, check its state, confirm with a
//!   sealed expiring token, a second person's approval where required, execute once, audit every decision.
//! - [`correlation`] — the correlation id of a chat request (logs), carried to the worker through SQS.
//! - [`changes`] (a child of `actions`) — the other confirmed changes, one path: incident and alert updates, indicators
//!   submitted (`block`) and removed (`unblock`).
//! - [`indicators`] (a child of `command`) — `block`/`unblock` input typed as enrichment types indicators; the submit body.
//! - [`history`] — what a machine's actions say: newest first (`actions <host>`), and its state
//!   (isolated, restricted, pending) with the conflicts that state makes for an action.
//! - [`confirm`] — the confirmation token (HMAC-sealed, expiring).
//! - [`idempotency`] — the conditional-write store behind exactly-once (in memory; DynamoDB).
//! - [`identity`] — whose Entra identity a `/defender link` may bind (admin mapping, Slack e-mail,
//!   Teams object id).
//! - [`defender`] — the narrow Defender trait the use cases need and its production implementation.
//! - [`handoff`] — callback → worker jobs (in-process channel; SQS) and the `response_url` poster.
//! - [`queue`] — the worker's SQS adapter: records → jobs, failures → `batchItemFailures`.
//! - [`worker`] — runs handed-off jobs and posts the results.
//! - [`events`] (a child of `followup`) — the SOC event of a machine action's terminal state (EventBridge, best effort).
//! - [`followup`] — follows accepted actions to a terminal state, one pass per delayed job.
//! - [`handler`] — the Lambda adapter for `POST /chatops/slack` and `POST /chatops/teams` (Teams
//!   confirms with a typed code).
//! - [`reply`] — everything the functions say, rendered for Slack (blocks with buttons) and Teams:
//!   the lookups' replies, the prompts' buttons ([`reply::ButtonAction`]) and every refusal
//!   ([`reply::Refusal`], with the stable code its audit line carries).
//! - [`thread`] — where replies go: the `response_url` within Slack's 5 posts / 30 minutes, then
//!   `chat.postMessage` with the bot token.
//! - [`user`] — user context: linked chat users' actions run with their delegated token; `link` is a
//!   device-code sign-in polled in re-queued steps, never longer than one invocation.
//! - [`teams_bot`] (a child of `handler`) — the Teams bot on the Bot Framework (`POST /chatops/teams-bot`): commands,
//!   Adaptive Card buttons (`Action.Execute`) through the same safety checks as Slack's.
//! - [`bot_auth`] — the Bot Connector's JWT on every activity (OpenID metadata, JWKS, RS256, issuer,
//!   audience, skew, `serviceurl`, endorsements) and the allowed `serviceUrl` hosts per cloud.
//! - [`connector`] — the Bot Connector REST API out (send, update), with the bot's Entra token.
//! - [`cards`] — Adaptive Cards from replies: lookups, the confirmation and approval cards.
//! - [`state`] — cold-start wiring from the shared runtime: the self-check, SQS + DynamoDB or local mode.
//!
//! # Conventions
//! - Async traits are `#[async_trait]` (the `async-trait` crate), everywhere in this crate: every seam
//!   (`DefenderOps`, `HandOff`, `Responder`, `SlackApi`, `BotConnector`, `IdempotencyStore`) is held
//!   as `Arc<dyn …>` so tests and `make run` swap the implementation at run time, and a native
//!   `async fn` in a trait is not dyn-compatible (its future type is unnamed); the hand-written
//!   `BoxFuture` form (used in `defender_shared`) is what the macro writes, less readable.
//! - Modules form no cycle but one: `config` reads the Teams bot's settings
//!   ([`teams_bot::TeamsBotConfig`], kept beside the bot that uses them), which read `config`'s own
//!   helpers; they belong in `config` once its helpers settle (a move, no change of behaviour).
//!
//! Operator documentation: `docs/chatops.md`.

pub mod actions;
pub mod bot_auth;
pub mod cards;
pub mod command;
pub mod config;
pub mod confirm;
pub mod connector;
pub mod correlation;
pub mod defender;
pub mod followup;
pub mod handler;
pub mod handoff;
pub mod history;
pub mod idempotency;
pub mod identity;
pub mod queue;
pub mod reply;
pub mod state;
pub mod thread;
pub mod user;
pub mod worker;

// Child modules, named at the top as before: each is part of its parent's unit (they share private
// types both ways), which keeps the sibling modules free of cycles.
pub use actions::changes;
pub use command::indicators;
use defender_shared::defender::Endpoint;
pub use followup::events;
pub use handler::teams_bot;

/// Every documented endpoint the functions may call (for the permission self-check).
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint::MdeMachinesGet,
    Endpoint::MdeMachinesList,
    Endpoint::MdeMachinesFindByIp,
    Endpoint::MdeMachinesAlerts,
    Endpoint::MdeMachinesIsolate,
    Endpoint::MdeMachinesUnisolate,
    Endpoint::MdeMachinesRunAvScan,
    Endpoint::MdeMachinesRestrictCodeExecution,
    Endpoint::MdeMachinesUnrestrictCodeExecution,
    Endpoint::MdeMachinesCollectInvestigationPackage,
    Endpoint::MdeMachineactionsList,
    Endpoint::MdeMachineactionsGet,
    Endpoint::MdeAlertsGet,
    Endpoint::MdeAlertsUpdate,
    Endpoint::MdeIndicatorsList,
    Endpoint::MdeIndicatorsSubmit,
    Endpoint::MdeIndicatorsDelete,
    Endpoint::GraphSecurityRunHuntingQuery,
    Endpoint::XdrIncidentsGet,
    Endpoint::XdrIncidentsUpdate,
];
