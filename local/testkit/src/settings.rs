//! Settings for the `from_lookup` constructors the functions' configurations have, in a test.

/// A lookup that holds exactly `pairs` (every other variable unset).
pub fn only(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}
