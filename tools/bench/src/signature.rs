//! The cost of refusing an unauthenticated webhook (issue 13, item 2): `verify_standard` on a 256 KiB
//! body with one bogus `v1,` signature, with the most the header may offer ([`MAX_CANDIDATES`]), and
//! with 1,000 (about 48 KB of header, which an attacker can send without any secret). The body is
//! hashed once per configured secret whatever the header offers, and 1,000 candidates are refused
//! before any hashing, so the last rows stay within a few times the first. Median of many runs, in
//! process (no Lambda, no network): the signature check alone.

use crate::part::{Row, row};
use defender_shared::{
    secret::SecretString,
    webhook::{self, MAX_CANDIDATES},
};
use std::time::{Duration, Instant};

const BODY: usize = 256 * 1024;
const NOW: i64 = 1_795_757_400;
const RUNS: usize = 41;

fn bogus(n: usize) -> String {
    (0..n).map(|i| format!("v1,{}", junk_tag((i % 251) as u8))).collect::<Vec<_>>().join(" ")
}

/// A well-formed but wrong tag (base64 of an HMAC over something else).
fn junk_tag(byte: u8) -> String {
    let sig =
        webhook::sign_standard(&SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "x", i64::from(byte), b"")
            .unwrap_or_default();
    sig.trim_start_matches("v1,").to_string()
}

fn median(header: &str, body: &[u8], secrets: &[SecretString]) -> (Duration, String) {
    let headers = |k: &str| match k {
        "webhook-id" => Some("msg_bench"),
        "webhook-timestamp" => Some("1795757400"),
        "webhook-signature" => Some(header),
        _ => None,
    };
    let mut times = Vec::with_capacity(RUNS);
    let mut outcome = String::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = webhook::verify_standard(headers, body, secrets, NOW, webhook::DEFAULT_WINDOW);
        times.push(t.elapsed());
        outcome = match r {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string(),
        };
    }
    times.sort();
    (times[RUNS / 2], outcome)
}

/// Measures the rows.
pub fn run() -> Vec<Row> {
    let body = vec![b'x'; BODY];
    let secrets = [SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")];
    let (one, o1) = median(&bogus(1), &body, &secrets);
    let (most, o8) = median(&bogus(MAX_CANDIDATES), &body, &secrets);
    let (thousand, o1000) = median(&bogus(1000), &body, &secrets);
    let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
    let ratio = |d: Duration| d.as_secs_f64() / one.as_secs_f64().max(1e-9);
    vec![
        row("refuse a 256 KiB webhook, 1 bogus signature (median)", format!("{} ({o1})", us(one))),
        row(
            format!("the same, {MAX_CANDIDATES} bogus signatures (the most accepted)"),
            format!("{} ({:.2}x; {o8})", us(most), ratio(most)),
        ),
        row(
            "the same, 1,000 bogus signatures (~48 KB header)",
            format!("{} ({:.2}x; {o1000})", us(thousand), ratio(thousand)),
        ),
    ]
}
