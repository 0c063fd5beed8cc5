//! What an export wrote into a local-directory sink, read back: every line of every data object
//! (`*.gz`) under `tenant=default/stream=<stream>/`, shared by the simulator and real-response tests.

use flate2::read::GzDecoder;
use std::{
    io::Read,
    path::{Path, PathBuf},
};

/// The lines of every data object of the stream whose folder is `stream=<folder>` under `dir`.
pub fn gz_lines(dir: &Path, folder: &str) -> Vec<String> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "gz") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join("tenant=default").join(format!("stream={folder}")), &mut files);
    let mut out = Vec::new();
    for f in files {
        let mut text = String::new();
        GzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        out.extend(text.lines().map(str::to_string));
    }
    out
}
