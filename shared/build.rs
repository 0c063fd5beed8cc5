//! Embeds the documented contract (`contract/defender-api/*.json`) into the library: the quota
//! governor's table of documented limits is checked against it in its tests (the simulated tenant
//! reads the same files: `local/tenant-sim/build.rs`).

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let dir = manifest.join("../contract/defender-api");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut out = String::from("/// Every documented endpoint file, as (file name, JSON text).\n");
    out.push_str("pub(crate) static CONTRACT_FILES: &[(&str, &str)] = &[\n");
    for p in &names {
        println!("cargo:rerun-if-changed={}", p.display());
        let file = p.file_name().and_then(|f| f.to_str()).ok_or("bad file name")?;
        let abs = fs::canonicalize(p)?;
        out.push_str(&format!("    ({file:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("contract_files.rs"), out)?;
    Ok(())
}
