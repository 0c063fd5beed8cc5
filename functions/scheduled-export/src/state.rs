//! Cold-start state: the shared runtime (vault, tokens, client, registry), the sink, one source per
//! registry tenant.

use crate::{
    config::{ExportConfig, SinkConfig},
    defender::ClientSource,
    export::Source,
    handler::State,
    s3::S3Sink,
    sink::{DirSink, Sink},
};
use defender_shared::runtime::Runtime;
use std::sync::Arc;

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
            let src: Arc<dyn Source> = Arc::new(ClientSource::new(rt.defender.clone(), t.name.clone()));
            (t.name.to_string(), src)
        })
        .collect();
    State { cfg, sink, tenants }
}
