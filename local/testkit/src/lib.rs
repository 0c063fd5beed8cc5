//! testkit — the one test kit: what every test, the local runner, the soak and the bench need to
//! point a function at the stand-ins, in one place instead of copied per test file.
//!
//! # Layout
//! - [`demo`] — the demo tenant's identities (tenant id, app ids and secrets, the public client, the
//!   Teams bot, the webhook secret), the chat users and the demo chat-ops policy; [`demo::now`].
//! - [`sim`] — "point this function at the simulator": [`SimEnv`] starts the simulated tenant, writes
//!   its CA to a file and gives the environment a function reads ([`SimEnv::env`], [`SimEnv::lookup`],
//!   [`SimEnv::runtime`]); [`sim::requests`] reads the simulator's request log ([`sim::logged`]: typed,
//!   by path prefix); [`sim::NoStore`] is a secret store that holds nothing (inline credentials only).
//! - [`aws`] — what the tests create on moto themselves: the chat-ops idempotency table
//!   ([`aws::create_idempotency_table`]).
//! - [`binary`] — a function's real binary under the Runtime API emulator ([`Binary`]): an invocation
//!   that fails shows the binary's stderr.
//! - [`receiver`] — the one `response_url` receiver ([`Receiver`]): Slack's 5 posts in 30 minutes.
//! - [`recorded`] — the recorded real responses of `contract/real-responses/`: the entities of one
//!   kind ([`recorded::entities`]) and their typed views as page items ([`recorded::typed`]).
//! - [`settings`] — a settings lookup holding given variables only ([`settings::only`]), for the
//!   functions' `from_lookup` constructors.
//! - [`slack`] — what Slack posts to the chat-ops callback: a slash command's form body
//!   ([`slack::slash_command`] from the demo channel, [`slack::slash_form`] from any).
//! - [`moto`] — the one moto starter ([`Moto`]): the AWS stand-in, open or with IAM enforced from a
//!   [`moto::Plan`] (`strict_moto.py`, beside this crate's `Cargo.toml`).
//!
//! A test that needs something else the functions' tests share (chat-ops' Slack Web API stand-in,
//! the export's seeded volume) keeps it in its own crate's `tests/`: this crate holds only what more
//! than one crate uses.
//!
//! # Why a crate (and not a feature of tenant-sim)
//! The simulator is a product of its own (`make run`, the `tenant-sim` binary) and talks only HTTP;
//! the kit needs `defender-shared` (to build a function's runtime) and moto, which the simulator must
//! not depend on.

// A test kit: a set-up that fails must fail the test that asked for it, loudly.
#![allow(clippy::panic)]

pub mod aws;
pub mod binary;
pub mod demo;
pub mod moto;
pub mod receiver;
pub mod recorded;
pub mod settings;
pub mod sim;
pub mod slack;

pub use binary::Binary;
pub use moto::Moto;
pub use receiver::Receiver;
pub use sim::SimEnv;
