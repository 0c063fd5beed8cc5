//! Bugs the fuzz campaign found in code this crate does not own, kept as regression tests (each was
//! ignored until its fix landed; its input is also in `fuzz/regressions/<target>/`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::ids::UrlIndicator;

/// `shared/src/ids.rs`: `UrlIndicator::from_str` refuses quotes in its *input*, but the URL parser
/// percent-decodes the host, so `https:/300t87%27787.vt` is accepted and stored as
/// `https://300t87'787.vt/` — a validated indicator holding a quote (and which no longer parses as a
/// `UrlIndicator` itself). The OData and KQL builders still escape it, so it does not break a query;
/// the newtype's promise ("no quote, space or control character reaches a query") does not hold.
/// Found by the `indicators` target (crash-d714b40e…).
#[test]
fn a_url_indicator_never_holds_a_quote_after_normalisation() {
    let input = "https:/300t87%27787.vt";
    match input.parse::<UrlIndicator>() {
        Err(_) => {}
        Ok(u) => {
            assert!(!u.as_str().contains('\''), "{input:?} became {:?}", u.as_str());
            assert!(u.as_str().parse::<UrlIndicator>().is_ok(), "{:?} does not re-parse", u.as_str());
        }
    }
    defender_soak::targets::indicators(input.as_bytes());
}
