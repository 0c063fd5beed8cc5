//! The committed fuzz corpora on stable: every file under `fuzz/corpus/<target>/` (the seeds and what
//! a campaign minimised into them) and `fuzz/regressions/<target>/` (inputs that once failed) runs
//! through the same target body `cargo fuzz` runs, with its property assertions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_soak::targets::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

#[test]
fn every_committed_corpus_file_passes_its_target() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(corpus.len() >= 10, "fuzz/corpus/{name} holds {} files; the seeds are missing", corpus.len());
        let regressions = files(&fuzz_dir().join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails its property", path.display());
            total += 1;
        }
    }
    eprintln!("replayed {total} corpus files through {} targets", TARGETS.len());
}

#[test]
fn every_target_has_a_cargo_fuzz_wrapper() {
    for (name, _) in TARGETS {
        let wrapper = std::fs::read_to_string(fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"))).unwrap();
        assert!(wrapper.contains(&format!("defender_soak::targets::{name}(data)")), "{name}.rs wraps another body");
    }
}
