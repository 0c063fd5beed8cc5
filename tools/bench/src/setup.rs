//! A function pointed at a simulator, for the parts that build a runtime in this process (economy,
//! export, fan-out, the shared client): the variables the test kit gives every function
//! ([`testkit::sim::function_env`]), as a map a part can add to, and the runtime a function's cold
//! start builds from them.

use crate::BoxError;
use defender_shared::{config::Config, runtime::Runtime};
use std::{collections::HashMap, path::Path};

/// A function's environment.
pub type Env = HashMap<String, String>;

/// The variables every function gets, pointed at the simulator at `url` serving `tenant`, whose CA
/// is the file `ca`; `extra` added (a later value wins).
pub fn env(url: &str, tenant: &str, ca: &Path, extra: &[(&str, String)]) -> Env {
    let mut env: Env = testkit::sim::function_env(url, tenant, ca).into_iter().collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

/// A `from_lookup` closure over `env`.
pub fn lookup(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |k| env.get(k).cloned()
}

/// The shared runtime a function builds at cold start from `env` (`Runtime::from_config`, as every
/// function's `main` does).
///
/// # Errors
/// The configuration is refused or the runtime cannot be built.
pub async fn runtime(env: &Env) -> Result<Runtime, BoxError> {
    Ok(Runtime::from_config(Config::from_lookup(lookup(env))?).await?)
}
