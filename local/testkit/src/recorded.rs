//! The recorded real responses of `contract/real-responses/`, as the functions' tests read them: the
//! entities of one kind, each with its place, and their typed views read as one page's items.

use defender_shared::defender::models::Page;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The entities of every recorded file of `kind` (`alert`, `machine`, `incident`, `action`, …), each
/// with its place (`file[i]`), in file-name order.
///
/// # Panics
/// When the corpus cannot be read or a file is not the corpus' JSON shape.
pub fn entities(kind: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contract/real-responses");
    let read = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = read.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if doc["kind"] != kind {
            continue;
        }
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(items) = doc["entities"].as_array() else { panic!("{file}: no entities") };
        out.extend(items.iter().enumerate().map(|(i, e)| (format!("{file}[{i}]"), e.clone())));
    }
    out
}

/// The typed views of `entities`, read as one page's items the way the client reads them, each with
/// its place and its JSON; an entity without a typed view is left out (the shared corpus test lists
/// the few invented ones).
///
/// # Panics
/// When the page does not decode or loses an item.
pub fn typed<T: DeserializeOwned>(entities: &[(String, Value)]) -> Vec<(String, Value, T)> {
    let values: Vec<&Value> = entities.iter().map(|(_, v)| v).collect();
    let page: Page<T> =
        serde_json::from_value(json!({ "value": values })).unwrap_or_else(|e| panic!("the page does not decode: {e}"));
    assert_eq!(page.value.len(), entities.len(), "no item is lost");
    entities
        .iter()
        .zip(page.value)
        .filter_map(|((at, v), item)| item.into_parts().1.ok().map(|t| (at.clone(), v.clone(), t)))
        .collect()
}
