//! defender-shared — the library every defender-functions Lambda builds on.
//!
//! This crate is the only one that talks to Microsoft. It is filled in by the shared-library work;
//! for now it holds the one type every later module leans on.
//!
//! # Layout
//! - [`secret`] — `SecretString`: a value that never prints.

pub mod secret;
