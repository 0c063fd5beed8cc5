//! Deployment artifact sizes, both zipped by `bench/zip_artifact.py` (deflate level 9, as `zip -r9`):
//! the Rust function is its release binary as `bootstrap` (a `provided.al2023` custom runtime zip); the
//! Python one is `pip install --target` of the baseline's pinned requirements plus `handler.py`.

use crate::BoxError;
use serde_json::Value;
use std::path::Path;

/// Sizes of one zip.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// The zip, bytes.
    pub zipped: u64,
    /// What it holds, bytes.
    pub unzipped: u64,
}

/// The packages AWS's managed Python runtime already ships (boto3 and what only it needs), for the
/// "if you leave the SDK out" figure.
pub const RUNTIME_PROVIDED: &str = "boto3,botocore,s3transfer,jmespath";

/// Zips `sources` (`path` or `path=name`) into `out` with `python`.
///
/// # Errors
/// The script failed or printed something else than its JSON.
pub fn zip(
    python: &Path,
    script: &Path,
    out: &Path,
    exclude: Option<&str>,
    sources: &[String],
) -> Result<Size, BoxError> {
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script).arg(out);
    if let Some(x) = exclude {
        cmd.args(["--exclude", x]);
    }
    let o = cmd.args(sources).output()?;
    if !o.status.success() {
        return Err(format!("zip_artifact.py failed: {}", String::from_utf8_lossy(&o.stderr).trim()).into());
    }
    let v: Value = serde_json::from_slice(&o.stdout)?;
    Ok(Size {
        zipped: v["zipped"].as_u64().ok_or("no zipped size")?,
        unzipped: v["unzipped"].as_u64().ok_or("no unzipped size")?,
    })
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}
