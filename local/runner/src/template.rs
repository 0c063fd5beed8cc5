//! What `infra/template.yaml` gives each function once CloudFormation has run it: environment,
//! limits, role and the role's resolved policies — read from the template itself, never copied.
//!
//! [`resolve`] runs `scripts/cfn_resolve.py` (AWS's own SAM transform, `samtranslator`, then a
//! CloudFormation evaluator for conditions and intrinsics that refuses what it cannot resolve) with
//! the project's Python venv and parses its JSON. The stack is account `123456789012`, region
//! `us-east-1`, stack name `defender`; a resource's physical name is its name property when the
//! template sets one, else `defender-<logicalid lowercased>`, unless `physical` overrides it.

use crate::paths::Paths;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The account the resolver deploys to.
pub const ACCOUNT: &str = "123456789012";
/// The region the resolver deploys to.
pub const REGION: &str = "us-east-1";
/// The stack name the resolver deploys as.
pub const STACK: &str = "defender";

/// Why the template could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The resolver's Python venv is missing.
    #[error("the CloudFormation resolver's python is missing at {0}: run `make cfn-venv`")]
    NoPython(String),
    /// The resolver could not be started.
    #[error("could not run scripts/cfn_resolve.py")]
    Spawn(#[source] std::io::Error),
    /// The resolver refused the template or the parameters (its message says what).
    #[error("cfn_resolve refused ({status}): {message}")]
    Refused {
        /// Its exit status.
        status: String,
        /// Its stderr.
        message: String,
    },
    /// Its output is not the documented JSON.
    #[error("cfn_resolve printed something other than its JSON")]
    Json(#[source] serde_json::Error),
}

/// The resolved stack.
#[derive(Debug, Clone, Deserialize)]
pub struct Resolved {
    /// The account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The stack name.
    pub stack: String,
    /// Every parameter of the template: its value here, its default and its AllowedValues.
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    /// Every condition of the template and its value.
    #[serde(default)]
    pub conditions: BTreeMap<String, bool>,
    /// The Lambda functions (logical id → what CloudFormation gives them).
    pub functions: BTreeMap<String, Function>,
    /// Every resource that exists with these parameters (logical id → type, Ref, Arn).
    pub resources: BTreeMap<String, Resource>,
}

impl Resolved {
    /// The function built from `binary` (`Metadata.BuildProperties.Binary`), with its logical id.
    pub fn by_binary(&self, binary: &str) -> Option<(&str, &Function)> {
        self.functions.iter().find(|(_, f)| f.binary == binary).map(|(k, f)| (k.as_str(), f))
    }

    /// A resource by logical id.
    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.get(logical_id)
    }
}

/// A template parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct Parameter {
    /// Its value with these overrides (a list for `CommaDelimitedList`).
    pub value: serde_json::Value,
    /// Its `Default`, if any.
    pub default: Option<String>,
    /// Its `AllowedValues`, if any.
    pub allowed_values: Option<Vec<String>>,
}

/// One `AWS::Lambda::Function` after the transform.
#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    /// The cargo binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Its physical name.
    #[serde(default)]
    pub name: String,
    /// `Environment.Variables`, every value a string as Lambda gives it.
    pub environment: BTreeMap<String, String>,
    /// `Timeout`, seconds.
    pub timeout: u32,
    /// `MemorySize`, MB.
    pub memory: u32,
    /// `ReservedConcurrentExecutions`, when set.
    pub reserved_concurrency: Option<u32>,
    /// `LoggingConfig.LogFormat`, when set.
    pub log_format: Option<String>,
    /// `LoggingConfig.LogGroup`, when set.
    pub log_group: Option<String>,
    /// The logical id of its execution role.
    pub role: String,
    /// The role's ARN.
    #[serde(default)]
    pub role_arn: String,
    /// The role's inline policies, fully resolved.
    pub policies: Vec<Policy>,
    /// The role's managed policies.
    pub managed_policy_arns: Vec<String>,
}

/// An inline policy of a role.
#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    /// `PolicyName`.
    #[serde(rename = "PolicyName")]
    pub name: String,
    /// `PolicyDocument`, resolved.
    #[serde(rename = "PolicyDocument")]
    pub document: serde_json::Value,
}

/// A resource of the resolved stack.
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    /// `AWS::S3::Bucket`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// What `Ref` gives (`None` for a type the resolver does not model).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// What `Fn::GetAtt ..Arn` gives, when the type has one the resolver models.
    pub arn: Option<String>,
}

/// The Python that runs the resolver: `.venv/cfn` (samtranslator), else `.venv/lint` (the script
/// re-runs itself with `.venv/cfn` when samtranslator is not importable).
fn python(paths: &Paths) -> Result<PathBuf, TemplateError> {
    ["cfn", "lint"]
        .iter()
        .map(|v| paths.root.join(".venv").join(v).join("bin/python"))
        .find(|p| p.is_file())
        .ok_or_else(|| TemplateError::NoPython(paths.root.join(".venv/cfn/bin/python").display().to_string()))
}

/// Resolves `infra/template.yaml` with these parameter overrides and physical names.
///
/// # Errors
/// [`TemplateError`]: the venv is missing, or the resolver refused (a parameter without default, a
/// value its AllowedPattern refuses, an intrinsic it cannot resolve).
pub fn resolve(params: &[(&str, &str)], physical: &[(&str, &str)]) -> Result<Resolved, TemplateError> {
    let paths = Paths::discover();
    resolve_file(&paths, &paths.root.join("infra/template.yaml"), params, physical)
}

/// [`resolve`] for any template.
///
/// # Errors
/// As [`resolve`].
pub fn resolve_file(
    paths: &Paths,
    template: &Path,
    params: &[(&str, &str)],
    physical: &[(&str, &str)],
) -> Result<Resolved, TemplateError> {
    let mut cmd = std::process::Command::new(python(paths)?);
    cmd.arg(paths.root.join("scripts/cfn_resolve.py")).arg(template);
    for (k, v) in params {
        cmd.arg("--param").arg(format!("{k}={v}"));
    }
    for (k, v) in physical {
        cmd.arg("--physical").arg(format!("{k}={v}"));
    }
    let out = cmd.output().map_err(TemplateError::Spawn)?;
    if !out.status.success() {
        return Err(TemplateError::Refused {
            status: out.status.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(TemplateError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [(&str, &str); 4] = [
        ("TenantId", "11111111-1111-1111-1111-111111111111"),
        ("ReaderClientId", "22222222-2222-2222-2222-222222222222"),
        ("ResponderClientId", "33333333-3333-3333-3333-333333333333"),
        ("KeyVaultUrl", "https://kv-test.vault.azure.net"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        REQUIRED.iter().copied().chain(extra.iter().copied()).collect()
    }

    fn actions(f: &Function) -> Vec<String> {
        let mut out = Vec::new();
        for p in &f.policies {
            for s in p.document["Statement"].as_array().into_iter().flatten() {
                match &s["Action"] {
                    serde_json::Value::String(a) => out.push(a.clone()),
                    serde_json::Value::Array(a) => out.extend(a.iter().filter_map(|x| x.as_str().map(String::from))),
                    _ => {}
                }
            }
        }
        out
    }

    #[test]
    fn the_template_resolves_with_its_defaults_and_the_required_parameters() {
        let r = resolve(&REQUIRED, &[]).unwrap();
        assert_eq!((r.account.as_str(), r.region.as_str(), r.stack.as_str()), (ACCOUNT, REGION, STACK));
        let mut binaries: Vec<&str> = r.functions.values().map(|f| f.binary.as_str()).collect();
        binaries.sort_unstable();
        assert_eq!(binaries, ["chatops-callback", "chatops-worker", "scheduled-export", "webhook-enrich"]);
        let (id, export) = r.by_binary("scheduled-export").unwrap();
        assert_eq!(id, "ScheduledExportFunction");
        assert_eq!(export.environment["KEY_VAULT_URL"], "https://kv-test.vault.azure.net");
        assert_eq!(export.environment["EXPORT_BUCKET"], "defender-exportbucket");
        assert_eq!(export.timeout, 600);
        assert_eq!(export.role, "ScheduledExportRole");
        assert_eq!(export.role_arn, "arn:aws:iam::123456789012:role/defender-scheduledexportrole");
        let queue = r.resource("ChatOpsQueue").unwrap();
        assert_eq!(
            queue.reference.as_deref(),
            Some("https://sqs.us-east-1.amazonaws.com/123456789012/defender-chatopsqueue")
        );
        assert_eq!(queue.arn.as_deref(), Some("arn:aws:sqs:us-east-1:123456789012:defender-chatopsqueue"));
        let (_, worker) = r.by_binary("chatops-worker").unwrap();
        assert_eq!(worker.environment["CHATOPS_QUEUE_URL"], queue.reference.clone().unwrap());
        // A log group's GetAtt Arn ends with ":*", as CloudFormation gives it.
        let logs = r.resource("ExportLogGroup").unwrap();
        assert_eq!(
            logs.arn.as_deref(),
            Some("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/defender/scheduled-export:*")
        );
    }

    #[test]
    fn conditions_decide_environment_and_policies() {
        let r = resolve(&with(&[("CredentialMode", "federated-sts")]), &[("ExportBucket", "bkt")]).unwrap();
        assert!(r.conditions["IsFederatedSts"]);
        for f in r.functions.values() {
            assert_eq!(f.environment["DEFENDER_FEDERATED_SOURCE"], "aws-sts", "{}", f.binary);
            assert!(actions(f).contains(&"sts:GetWebIdentityToken".to_string()), "{}", f.binary);
        }
        let (_, export) = r.by_binary("scheduled-export").unwrap();
        assert_eq!(export.environment["EXPORT_BUCKET"], "bkt");
        let resources: Vec<&str> = export.policies[0].document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["Resource"].as_str())
            .collect();
        assert!(resources.contains(&"arn:aws:s3:::bkt/*"), "{resources:?}");
    }

    #[test]
    fn what_cloudformation_would_refuse_is_refused() {
        // No default and no value.
        let e = resolve(&[], &[]).unwrap_err();
        assert!(matches!(&e, TemplateError::Refused { message, .. } if message.contains("TenantId")), "{e}");
        // Outside AllowedValues / AllowedPattern.
        let e = resolve(&with(&[("CredentialMode", "password")]), &[]).unwrap_err();
        assert!(matches!(&e, TemplateError::Refused { message, .. } if message.contains("AllowedValues")), "{e}");
        let e = resolve(&with(&[("KeyVaultUrl", "http://kv.example")]), &[]).unwrap_err();
        assert!(matches!(&e, TemplateError::Refused { message, .. } if message.contains("AllowedPattern")), "{e}");
        // A name that is not in the template.
        let e = resolve(&with(&[("NoSuchParameter", "x")]), &[]).unwrap_err();
        assert!(matches!(e, TemplateError::Refused { .. }));
    }

    fn resolve_text(text: &str) -> Result<Resolved, TemplateError> {
        let dir = std::env::temp_dir().join(format!("cfn-resolve-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.yaml");
        std::fs::write(&path, text).unwrap();
        let out = resolve_file(&Paths::discover(), &path, &[], &[]);
        std::fs::remove_dir_all(&dir).ok();
        out
    }

    fn uuid_like() -> String {
        format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
    }

    const FUNCTION: &str = r"
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: []}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: b}}
    Properties:
      CodeUri: ..
      Handler: bootstrap
      Runtime: provided.al2023
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
";

    #[test]
    fn intrinsics_evaluate_as_cloudformation_does() {
        let t = format!(
            "Transform: AWS::Serverless-2016-10-31\nParameters:\n  L: {{Type: String, Default: 'a,b,c'}}\n  E: {{Type: String, Default: ''}}\nConditions:\n  Empty: !Equals [!Ref E, '']\n  Both: !And [!Condition Empty, !Not [!Equals [!Ref L, '']]]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Condition: Both\n{FUNCTION}          SEL: !Select [1, !Split [',', !Ref L]]\n          JOIN: !Join ['-', [x, !Ref 'AWS::Region', !GetAtt Q.QueueName]]\n          SUB: !Sub '${{AWS::StackName}}/${{Q.Arn}}/${{!Literal}}/${{E}}'\n          SUBMAP: !Sub ['${{V}}', {{V: !Ref L}}]\n          IF: !If [Empty, chosen, other]\n          NOVALUE: !If [Empty, !Ref 'AWS::NoValue', set]\n          NUM: 3\n"
        );
        let r = resolve_text(&t).unwrap();
        let env = &r.functions["Fn"].environment;
        assert_eq!(env["SEL"], "b");
        assert_eq!(env["JOIN"], "x-us-east-1-defender-q");
        assert_eq!(env["SUB"], "defender/arn:aws:sqs:us-east-1:123456789012:defender-q/${Literal}/");
        assert_eq!(env["SUBMAP"], "a,b,c");
        assert_eq!(env["IF"], "chosen");
        assert!(!env.contains_key("NOVALUE"));
        assert_eq!(env["NUM"], "3");
    }

    #[test]
    fn what_cannot_be_resolved_offline_is_refused_not_guessed() {
        for (expr, why) in [
            ("!ImportValue other-stack-output", "Fn::ImportValue"),
            ("!GetAtt Role.RoleId", "Role.RoleId"),
            ("!Ref Missing", "unknown resource Missing"),
            ("!Select [0, !GetAZs '']", "Fn::GetAZs"),
        ] {
            let t = format!("Transform: AWS::Serverless-2016-10-31\nResources:\n{FUNCTION}          X: {expr}\n");
            let e = resolve_text(&t).unwrap_err();
            assert!(matches!(&e, TemplateError::Refused { message, .. } if message.contains(why)), "{expr}: {e}");
        }
    }
}
