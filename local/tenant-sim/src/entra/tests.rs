//! Unit tests of the Entra stand-in.

use super::*;

#[test]
fn form_decoding_follows_the_rfc() {
    assert_eq!(form_decode("a%2Bb+c%3A%25"), "a+b c:%");
    assert_eq!(form_decode("100%"), "100%");
    assert_eq!(form_decode("%zz"), "%zz");
}

#[test]
fn guids_are_stable() {
    assert_eq!(stable_guid("app", "ABC"), stable_guid("app", "abc"));
    assert_ne!(stable_guid("app", "abc"), stable_guid("user", "abc"));
    assert!(uuid::Uuid::parse_str(&stable_guid("app", "x")).is_ok());
}

#[test]
fn user_codes_are_nine_characters() {
    let c = user_code();
    assert_eq!(c.len(), 9);
    assert!(c.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit()));
}
