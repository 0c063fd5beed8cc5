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
//! - [`changes`] — the other confirmed changes, one path: incident and alert updates, indicators
//!   submitted (`block`) and removed (`unblock`).
//! - [`indicators`] — `block`/`unblock` input typed as enrichment types indicators; the submit body.
//! - [`history`] — `actions <host>`: a machine's recent actions, newest first.
//! - [`confirm`] — the confirmation token (HMAC-sealed, expiring).
//! - [`idempotency`] — the conditional-write store behind exactly-once (in memory; DynamoDB).
//! - [`identity`] — whose Entra identity a `/defender link` may bind (admin mapping, Slack e-mail,
//!   Teams object id).
//! - [`defender`] — the narrow Defender trait the use cases need and its production implementation.
//! - [`handoff`] — callback → worker jobs (in-process channel; SQS) and the `response_url` poster.
//! - [`queue`] — the worker's SQS adapter: records → jobs, failures → `batchItemFailures`.
//! - [`worker`] — runs handed-off jobs and posts the results.
//! - [`events`] — the SOC event of a machine action's terminal state (EventBridge, best effort).
//! - [`followup`] — follows accepted actions to a terminal state, one pass per delayed job.
//! - [`handler`] — the Lambda adapter for `POST /chatops/slack` and `POST /chatops/teams` (Teams
//!   confirms with a typed code).
//! - [`reply`] — replies, rendered for Slack (blocks with buttons) and Teams.
//! - [`thread`] — where replies go: the `response_url` within Slack's 5 posts / 30 minutes, then
//!   `chat.postMessage` with the bot token.
//! - [`user`] — user context: linked chat users' actions run with their delegated token; `link` is a
//!   device-code sign-in polled in re-queued steps, never longer than one invocation.
//! - [`teams_bot`] — the Teams bot on the Bot Framework (`POST /chatops/teams-bot`): commands,
//!   Adaptive Card buttons (`Action.Execute`) through the same safety checks as Slack's.
//! - [`bot_auth`] — the Bot Connector's JWT on every activity (OpenID metadata, JWKS, RS256, issuer,
//!   audience, skew, `serviceurl`, endorsements) and the allowed `serviceUrl` hosts per cloud.
//! - [`connector`] — the Bot Connector REST API out (send, update), with the bot's Entra token.
//! - [`cards`] — Adaptive Cards from replies: lookups, the confirmation and approval cards.
//! - [`state`] — cold-start wiring from the shared runtime: the self-check, SQS + DynamoDB or local mode.
//!
//! Operator documentation: `docs/chatops.md`.

pub mod actions;
pub mod bot_auth;
pub mod cards;
pub mod changes;
pub mod command;
pub mod config;
pub mod confirm;
pub mod connector;
pub mod correlation;
pub mod defender;
pub mod events;
pub mod followup;
pub mod handler;
pub mod handoff;
pub mod history;
pub mod idempotency;
pub mod identity;
pub mod indicators;
pub mod queue;
pub mod reply;
pub mod state;
pub mod teams_bot;
pub mod thread;
pub mod user;
pub mod worker;

use defender_shared::defender::Endpoint;

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
