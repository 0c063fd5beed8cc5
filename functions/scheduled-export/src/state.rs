//! Cold-start state: the shared runtime (vault, tokens, client, registry), the sink, one source per
//! registry tenant.

use crate::{
    config::{ExportConfig, SinkConfig},
    defender,
    export::Source,
    handler::State,
    s3::S3Sink,
    sink::{DirSink, Sink},
};
use defender_shared::{
    config::{Config, env},
    runtime::Runtime,
};
use std::sync::Arc;

/// The cold start after [`defender_shared::lambda::init`]: the function's settings, the runtime,
/// the handler state.
///
/// # Errors
/// A setting is missing or wrong, or the runtime cannot be built.
pub async fn from_env(config: Config) -> Result<State, defender_shared::lambda::Error> {
    let cfg = ExportConfig::from_lookup(env)?;
    let rt = Runtime::from_config(config).await?;
    Ok(build(rt, cfg).await)
}

/// Builds the handler state.
pub async fn build(rt: Runtime, cfg: ExportConfig) -> State {
    let sink: Arc<dyn Sink> = match &cfg.sink {
        SinkConfig::Dir(dir) => Arc::new(DirSink::new(dir)),
        SinkConfig::S3 { bucket, prefix, path_style } => {
            Arc::new(S3Sink::new(S3Sink::client_from_env(*path_style).await, bucket, prefix))
        }
    };
    let tenants = rt
        .registry
        .iter()
        .map(|t| {
            let src: Arc<dyn Source> = Arc::new(defender::source(rt.defender.clone(), t.name.clone()));
            (t.name.to_string(), src)
        })
        .collect();
    State { cfg, sink, tenants }
}
