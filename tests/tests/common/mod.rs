//! What the stack tests share: the template resolved for the demo tenant's apps, and a stack of
//! functions running under cargo-lambda against the simulator and the template's AWS side.

#![allow(dead_code)]

pub mod bus;

use local_runner::{
    env,
    moto::{Credentials, TemplateAws, resolve_template},
    paths::Paths,
    stack::{Function, LambdaWatch},
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tenant_sim::{RunningSim, SimOptions};
use testkit::{Receiver, SimEnv};

/// The template resolved for the demo tenant's reader and responder apps and the vault at
/// `https://<vault>.vault.azure.net`, with the `extra` parameters.
pub fn resolved(vault: &str, extra: &[(&str, &str)]) -> Value {
    let vault_url = format!("https://{vault}.vault.azure.net");
    let mut params = vec![
        ("TenantId", "00000000-0000-4000-8000-000000000001"),
        ("ReaderClientId", env::APP),
        ("ResponderClientId", env::RESPONDER_APP),
        ("KeyVaultUrl", vault_url.as_str()),
    ];
    params.extend_from_slice(extra);
    resolve_template(&Paths::discover(), &params).unwrap_or_else(|e| panic!("{e}"))
}

/// An S3 client of the stand-in with credentials `c` (path-style, as moto serves buckets).
pub fn s3(aws: &TemplateAws, c: &Credentials) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&aws.sdk_config(c)).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 client of the stand-in's administrator (a test's own look at the bucket).
pub fn s3_admin(aws: &TemplateAws) -> aws_sdk_s3::Client {
    s3(aws, aws.moto.admin.as_ref().unwrap())
}

/// An EventBridge client of the stand-in with credentials `c`.
pub fn eventbridge(aws: &TemplateAws, c: &Credentials) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&aws.sdk_config(c))
}

/// The simulator, the cargo-lambda watch, the `response_url` receiver and the functions running
/// under it (the stack's directory is removed when it is dropped).
pub struct Stack {
    pub sim: SimEnv,
    pub watch: LambdaWatch,
    pub hooks: Receiver,
    pub dir: PathBuf,
    pub functions: Vec<Function>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The simulator started from `opts`, then `functions` with their local environment on the
/// Microsoft side, the template's on the AWS side (`aws`), the follow-up's re-check at its minimum
/// (so a test sees it) and `extra(sim, dir, function)` (e.g. a tenant registry written in the
/// stack's directory).
pub async fn stack(
    tag: &str,
    aws: &TemplateAws,
    functions: &[&str],
    opts: SimOptions,
    extra: impl Fn(&RunningSim, &Path, &str) -> Vec<(String, String)>,
) -> Stack {
    let paths = Paths::discover();
    for f in functions {
        if let Err(e) = paths.binary(f) {
            panic!("{e}");
        }
    }
    let sim = SimEnv::start(opts).await;
    let (dir, ca) = (sim.dir.join(tag), sim.ca.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let hooks = Receiver::start().await.unwrap();
    let watch = LambdaWatch::start(&paths, &dir).await.unwrap_or_else(|e| panic!("{e}"));
    let base = env::base(&sim.url, &sim.tenant_id(), &ca);
    let functions = functions
        .iter()
        .map(|f| {
            let mut e = env::for_function(&base, f, &hooks.base, &[]);
            e.extend(aws.env(f));
            e.extend(extra(&sim.running, &dir, f));
            e.push(("CHATOPS_RECHECK_S".into(), "5".into()));
            Function::start(&paths, &watch, f, &e, &dir).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    Stack { sim, watch, hooks, dir, functions }
}
