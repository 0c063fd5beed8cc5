//! Pinned serialisations: a test names each body it serialises (`source`, the JSON text our models
//! write) and the digest of each is compared with a committed snapshot, so a change to the models'
//! serde attributes that changes a single byte a model writes fails here (issue 16: the
//! `skip_serializing_if` attributes became one container attribute without changing any output).
//!
//! To re-pin after a deliberate change: `PIN_SERIALIZATION=write cargo test -p defender-shared --test
//! <file>`, and say in the commit why the output changed.
//!
//! Both files that pin read `contract/` the same way: [`contract_documents`].

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::{collections::BTreeMap, path::PathBuf};

/// Every `.json` document of `contract/<folder>`, with its file name, in directory order.
pub fn contract_documents(folder: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contract").join(folder);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), doc));
        }
    }
    out
}

/// Compares the digests of `bodies` (source → serialised text) with `tests/snapshots/<snapshot>`.
pub fn check(snapshot: &str, bodies: &BTreeMap<String, String>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(snapshot);
    let now: String = bodies
        .iter()
        .map(|(source, text)| {
            let digest = Sha256::digest(text.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            format!("{source} {hex}\n")
        })
        .collect();
    if std::env::var("PIN_SERIALIZATION").as_deref() == Ok("write") {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(&path).unwrap();
    let changed: Vec<String> = now
        .lines()
        .filter(|l| !pinned.lines().any(|p| p == *l))
        .map(|l| {
            let source = l.split(' ').next().unwrap_or_default();
            format!("{source}: {}", bodies.get(source).map(String::as_str).unwrap_or_default())
        })
        .collect();
    assert!(changed.is_empty(), "serialisation changed (or new sources):\n{}", changed.join("\n"));
    assert_eq!(now.lines().count(), pinned.lines().count(), "sources were added or lost");
}
