//! The release sizes of the five Lambda binaries, each what its function's zip holds as `bootstrap`:
//! read from the directory `defender-bench` itself was built into (`make bench` builds them there
//! first). A binary that is not there is reported as such, never as a size.

use crate::table::Row;
use std::path::Path;

/// The five Lambda binaries, in the order the row lists them (infra/template.yaml's functions).
pub const BINARIES: [&str; 5] =
    ["webhook-enrich", "scheduled-export", "export-worker", "chatops-callback", "chatops-worker"];

/// Each binary of [`BINARIES`] in `dir` with its size in bytes, or `None` where it is not a file there.
pub fn sizes(dir: &Path) -> Vec<(&'static str, Option<u64>)> {
    BINARIES
        .iter()
        .map(|name| (*name, std::fs::metadata(dir.join(name)).ok().filter(|m| m.is_file()).map(|m| m.len())))
        .collect()
}

/// `n` with a comma every three digits (16,667,760), as the docs write byte counts.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The one `artifact` row: the five sizes in bytes (and MiB), built for this machine's target.
pub fn row(dir: &Path) -> Row {
    let each: Vec<String> = sizes(dir)
        .into_iter()
        .map(|(name, size)| match size {
            Some(b) => format!("{name} {} B ({:.1} MiB)", grouped(b), b as f64 / 1_048_576.0),
            None => format!("{name} not built"),
        })
        .collect();
    Row::rust_only(
        "artifact",
        format!(
            "release binary sizes, stripped ({}; `cargo build --release -p webhook-enrich -p scheduled-export \
             -p chatops`)",
            std::env::consts::ARCH
        ),
        each.join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(16_667_760), "16,667,760");
        assert_eq!(grouped(123_456_789_012), "123,456,789,012");
    }

    #[test]
    fn a_binary_that_is_there_has_its_size_and_one_that_is_not_says_so() {
        let dir = std::env::temp_dir().join(format!("defender-bench-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("webhook-enrich"), vec![0u8; 1234]).unwrap();
        // A directory of a binary's name is not a binary.
        std::fs::create_dir_all(dir.join("chatops-worker")).unwrap();
        let got = sizes(&dir);
        let row = row(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got[0], ("webhook-enrich", Some(1234)));
        assert!(got[1..].iter().all(|(_, s)| s.is_none()), "{got:?}");
        assert_eq!(row.section, "artifact");
        assert!(row.rust.starts_with("webhook-enrich 1,234 B (0.0 MiB); scheduled-export not built;"), "{}", row.rust);
        assert!(row.rust.ends_with("chatops-worker not built"), "{}", row.rust);
    }
}
