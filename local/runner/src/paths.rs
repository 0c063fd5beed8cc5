//! Where things are: the workspace root, the prebuilt function binaries, cargo-lambda and moto.

use crate::StackError;
use std::path::{Path, PathBuf};

/// The four Lambda binaries (their names are also the function names under cargo-lambda).
pub const FUNCTIONS: [&str; 4] = ["webhook-enrich", "scheduled-export", "chatops-callback", "chatops-worker"];

/// The command that builds them (the Makefile's `bins` target runs it).
pub const BUILD_HINT: &str =
    "build them first: `make bins` (cargo build --locked -p webhook-enrich -p scheduled-export -p chatops --bins)";

/// Locations of the workspace and its tools.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (cargo-lambda runs there).
    pub root: PathBuf,
    /// The directory holding the debug function binaries.
    pub bins: PathBuf,
    /// `.venv/lambda/bin/cargo-lambda`.
    pub cargo_lambda: PathBuf,
    /// `.venv/moto/bin/moto_server`.
    pub moto: PathBuf,
}

impl Paths {
    /// From the environment: `DEFENDER_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else `<root>/target/debug`.
    pub fn discover() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap_or(root);
        let bins = match (std::env::var_os("DEFENDER_BIN_DIR"), std::env::var_os("CARGO_TARGET_DIR")) {
            (Some(d), _) => PathBuf::from(d),
            (None, Some(t)) => root.join(t).join("debug"),
            (None, None) => root.join("target").join("debug"),
        };
        Self {
            cargo_lambda: root.join(".venv/lambda/bin/cargo-lambda"),
            moto: root.join(".venv/moto/bin/moto_server"),
            bins,
            root,
        }
    }

    /// The path of a function binary.
    ///
    /// # Errors
    /// [`StackError::Missing`] naming the build command.
    pub fn binary(&self, name: &str) -> Result<PathBuf, StackError> {
        let p = self.bins.join(name);
        installed(&p, &format!("the {name} binary"), BUILD_HINT)?;
        Ok(p)
    }

    /// cargo-lambda.
    ///
    /// # Errors
    /// [`StackError::Missing`] naming the install command.
    pub fn cargo_lambda(&self) -> Result<&Path, StackError> {
        installed(
            &self.cargo_lambda,
            "cargo-lambda",
            "`make lambda-venv` installs it (pip cargo-lambda into .venv/lambda)",
        )
    }

    /// moto's server.
    ///
    /// # Errors
    /// [`StackError::Missing`] naming the install command.
    pub fn moto(&self) -> Result<&Path, StackError> {
        installed(&self.moto, "moto_server", "`make moto` installs it into .venv/moto")
    }
}

/// `path` when it is a file; else [`StackError::Missing`] naming `what` and how to get it.
fn installed<'p>(path: &'p Path, what: &str, hint: &'static str) -> Result<&'p Path, StackError> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(StackError::Missing { what: what.into(), path: path.display().to_string(), hint })
    }
}
