//! Generates the `Endpoint` enum from the documented contract (`contract/defender-api/*.json`): one
//! variant per endpoint file (the `auth.*` token files and the `*.errors` envelopes are not endpoints a
//! client calls), with its contract name, method, path template, API family, permissions, the rate
//! limits its own page states and the page it comes from. The files are read here, once, at build time:
//! nothing of them is embedded in the library or parsed at run time (`shared/src/defender/endpoint.rs`
//! includes the output). The simulated tenant reads the same files (`local/tenant-sim/build.rs`).
//!
//! Page figures are read strictly: only "`<n>` calls per minute" and "`<n>` calls per hour" count (a
//! looser reader once took "10 min timeout" for 10 calls per minute). A Defender for Endpoint or XDR
//! page with no such figure must say "no rate limit"; two different figures for one window fail the
//! build. Cross-endpoint quotas (the XDR incidents API, hunting, Graph's `/security`) are not page
//! figures: the governor's table names them (`shared/src/defender/governor.rs`).

use serde_json::Value;
use std::{collections::BTreeMap, env, fmt::Write as _, fs, path::PathBuf};

type BoxError = Box<dyn std::error::Error>;

/// `mde.alerts.related_user` → `MdeAlertsRelatedUser`.
fn variant(name: &str) -> String {
    name.split(['.', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The "`<n>` calls per minute|hour" figures of a `limits` text, as (calls, seconds).
fn page_limits(name: &str, text: &str) -> Result<Vec<(u32, u64)>, BoxError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: BTreeMap<u64, u32> = BTreeMap::new();
    for w in words.windows(4) {
        if w[1] != "calls" || w[2] != "per" {
            continue;
        }
        let window = if w[3].starts_with("minute") {
            60
        } else if w[3].starts_with("hour") {
            3600
        } else {
            continue;
        };
        let Ok(calls) = w[0].replace(',', "").parse::<u32>() else { continue };
        if let Some(prev) = out.insert(window, calls)
            && prev != calls
        {
            return Err(format!("{name}: two figures for one window ({prev} and {calls})").into());
        }
    }
    Ok(out.into_iter().map(|(w, c)| (c, w)).collect())
}

fn strs(doc: &Value, name: &str, field: &str) -> Result<Vec<String>, BoxError> {
    doc["permissions"][field]
        .as_array()
        .ok_or_else(|| format!("{name}: no permissions.{field} list"))?
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("{name}: a permission is not a string").into()))
        .collect()
}

struct Doc {
    name: String,
    variant: String,
    api: &'static str,
    method: String,
    path: String,
    application: Vec<String>,
    delegated: Vec<String>,
    limits: Vec<(u32, u64)>,
    source: String,
}

fn read(path: &PathBuf) -> Result<Option<Doc>, BoxError> {
    let doc: Value = serde_json::from_str(&fs::read_to_string(path)?)?;
    let name = doc["name"].as_str().ok_or_else(|| format!("{}: no name", path.display()))?.to_string();
    let file = path.file_stem().and_then(|f| f.to_str()).unwrap_or_default();
    if file != name {
        return Err(format!("{}: file name and `name` ({name}) differ", path.display()).into());
    }
    let api = match doc["api"].as_str() {
        Some("mde") => "Mde",
        Some("xdr") => "Xdr",
        Some("graph") => "Graph",
        _ => return Ok(None), // auth.* token files
    };
    if name.ends_with(".errors") {
        return Ok(None);
    }
    let text = |f: &str| doc[f].as_str().map(str::to_string).ok_or_else(|| format!("{name}: no {f}"));
    let limits_text = text("limits")?;
    let limits = page_limits(&name, &limits_text)?;
    if api != "Graph" && limits.is_empty() && !limits_text.to_ascii_lowercase().contains("no rate limit") {
        return Err(format!("{name}: the page's limits state no `<n> calls per minute|hour` figure").into());
    }
    Ok(Some(Doc {
        variant: variant(&name),
        api,
        method: text("method")?,
        path: text("path")?,
        application: strs(&doc, &name, "application")?,
        delegated: strs(&doc, &name, "delegated")?,
        limits,
        source: format!(
            "{}/{}",
            doc["source"]["repo"].as_str().unwrap_or_default(),
            doc["source"]["path"].as_str().unwrap_or_default()
        ),
        name,
    }))
}

fn generate(docs: &[Doc]) -> Result<String, BoxError> {
    let mut o = String::new();
    let list = |l: &[String]| format!("&[{}]", l.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "));
    writeln!(o, "/// Every documented endpoint a client calls, one variant per contract file.")?;
    writeln!(o, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]")?;
    writeln!(o, "pub enum Endpoint {{")?;
    for d in docs {
        writeln!(o, "    /// `{} {}` (`{}`).", d.method, d.path.replace('`', "'"), d.name)?;
        writeln!(o, "    {},", d.variant)?;
    }
    writeln!(o, "}}\n")?;
    writeln!(o, "impl Endpoint {{")?;
    writeln!(o, "    /// Every endpoint, in contract-name order.")?;
    writeln!(o, "    pub const ALL: &'static [Endpoint] = &[")?;
    for d in docs {
        writeln!(o, "        Endpoint::{},", d.variant)?;
    }
    writeln!(o, "    ];\n")?;
    let mut arm = |doc: &str, sig: &str, f: &dyn Fn(&Doc) -> String| -> Result<(), BoxError> {
        writeln!(o, "    /// {doc}")?;
        writeln!(o, "    #[must_use]")?;
        writeln!(o, "    pub const fn {sig} {{")?;
        writeln!(o, "        match self {{")?;
        for d in docs {
            writeln!(o, "            Endpoint::{} => {},", d.variant, f(d))?;
        }
        writeln!(o, "        }}\n    }}\n")?;
        Ok(())
    };
    arm("The contract's name (`mde.alerts.list`): logs, metrics, `doctor`.", "name(self) -> &'static str", &|d| {
        format!("{:?}", d.name)
    })?;
    arm("The documented HTTP method.", "http_method(self) -> HttpMethod", &|d| {
        format!("HttpMethod::{}", variant(&d.method.to_ascii_lowercase()))
    })?;
    arm(
        "The documented path template, with `{placeholders}` (MDE/XDR paths include `/api`; Graph paths are \
         below `/v1.0`).",
        "path_template(self) -> &'static str",
        &|d| format!("{:?}", d.path),
    )?;
    arm("The API family that serves it (host, token audience, error envelope).", "api(self) -> ApiFamily", &|d| {
        format!("ApiFamily::{}", d.api)
    })?;
    arm(
        "The documented permissions: any one application permission (`roles`) or, in user context, any one \
         delegated permission (`scp`).",
        "permissions(self) -> Permissions",
        &|d| format!("Permissions {{ application: {}, delegated: {} }}", list(&d.application), list(&d.delegated)),
    )?;
    arm(
        "The rate limits the endpoint's own page states, shortest window first (empty where it states none; \
         cross-endpoint quotas are in the governor's table).",
        "page_limits(self) -> &'static [RateLimit]",
        &|d| {
            let l: Vec<String> =
                d.limits
                    .iter()
                    .map(|(c, w)| {
                        if *w == 60 {
                            format!("RateLimit::per_minute({c})")
                        } else {
                            format!("RateLimit::per_hour({c})")
                        }
                    })
                    .collect();
            format!("const {{ &[{}] }}", l.join(", "))
        },
    )?;
    arm("The documentation page it comes from (`repo/path`).", "source(self) -> &'static str", &|d| {
        format!("{:?}", d.source)
    })?;
    writeln!(o, "}}")?;
    Ok(o)
}

fn main() -> Result<(), BoxError> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let dir = manifest.join("../contract/defender-api");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut docs = Vec::new();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
        if let Some(d) = read(p)? {
            docs.push(d);
        }
    }
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("endpoint.rs"), generate(&docs)?)?;
    Ok(())
}
