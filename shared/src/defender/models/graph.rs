//! Graph security v1.0: `alerts_v2` (with evidence typed by `@odata.type`) and `incidents`; the
//! update bodies. Graph enums are case-insensitive strings ([`super::graph_enum`]).

use super::{Extra, Lenient, Timestamp, graph_enum, model};
use crate::ids::{AlertId, IncidentId, MachineId, Sha1, Sha256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

graph_enum!(
    /// Alert status.
    GraphAlertStatus {
        /// `unknown`.
        UNKNOWN = "unknown",
        /// `new`.
        NEW = "new",
        /// `inProgress`.
        IN_PROGRESS = "inProgress",
        /// `resolved`.
        RESOLVED = "resolved",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
    }
);

graph_enum!(
    /// Incident status.
    GraphIncidentStatus {
        /// `active`.
        ACTIVE = "active",
        /// `resolved`.
        RESOLVED = "resolved",
        /// `inProgress`.
        IN_PROGRESS = "inProgress",
        /// `redirected`.
        REDIRECTED = "redirected",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
        /// `awaitingAction`.
        AWAITING_ACTION = "awaitingAction",
    }
);

graph_enum!(
    /// Severity.
    GraphSeverity {
        /// `unknown`.
        UNKNOWN = "unknown",
        /// `informational`.
        INFORMATIONAL = "informational",
        /// `low`.
        LOW = "low",
        /// `medium`.
        MEDIUM = "medium",
        /// `high`.
        HIGH = "high",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
    }
);

graph_enum!(
    /// Classification.
    GraphClassification {
        /// `unknown`.
        UNKNOWN = "unknown",
        /// `falsePositive`.
        FALSE_POSITIVE = "falsePositive",
        /// `truePositive`.
        TRUE_POSITIVE = "truePositive",
        /// `informationalExpectedActivity`.
        INFORMATIONAL_EXPECTED_ACTIVITY = "informationalExpectedActivity",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
    }
);

graph_enum!(
    /// Determination: `microsoft.graph.security.alertDetermination` (v1.0 metadata). Graph's members
    /// are not Defender's: `compromisedAccount`, `notMalicious`, `notEnoughDataToValidate`,
    /// `confirmedActivity` where MDE/XDR say `CompromisedUser`, `Clean`, `InsufficientData`,
    /// `ConfirmedUserActivity` ([`super::alerts::Determination`]).
    GraphDetermination {
        /// `unknown`.
        UNKNOWN = "unknown",
        /// `apt`.
        APT = "apt",
        /// `malware`.
        MALWARE = "malware",
        /// `securityPersonnel`.
        SECURITY_PERSONNEL = "securityPersonnel",
        /// `securityTesting`.
        SECURITY_TESTING = "securityTesting",
        /// `unwantedSoftware`.
        UNWANTED_SOFTWARE = "unwantedSoftware",
        /// `other`.
        OTHER = "other",
        /// `multiStagedAttack`.
        MULTI_STAGED_ATTACK = "multiStagedAttack",
        /// `compromisedAccount`.
        COMPROMISED_ACCOUNT = "compromisedAccount",
        /// `phishing`.
        PHISHING = "phishing",
        /// `maliciousUserActivity`.
        MALICIOUS_USER_ACTIVITY = "maliciousUserActivity",
        /// `notMalicious`.
        NOT_MALICIOUS = "notMalicious",
        /// `notEnoughDataToValidate`.
        NOT_ENOUGH_DATA_TO_VALIDATE = "notEnoughDataToValidate",
        /// `confirmedActivity`.
        CONFIRMED_ACTIVITY = "confirmedActivity",
        /// `lineOfBusinessApplication`.
        LINE_OF_BUSINESS_APPLICATION = "lineOfBusinessApplication",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
    }
);

graph_enum!(
    /// Evidence verdict.
    GraphVerdict {
        /// `unknown`.
        UNKNOWN = "unknown",
        /// `suspicious`.
        SUSPICIOUS = "suspicious",
        /// `malicious`.
        MALICIOUS = "malicious",
        /// `noThreatsFound`.
        NO_THREATS_FOUND = "noThreatsFound",
        /// `unknownFutureValue`.
        UNKNOWN_FUTURE_VALUE = "unknownFutureValue",
    }
);

model! {
    /// A Graph security alert (`alerts_v2`).
    pub struct GraphAlert {
        /// Id.
        pub id: AlertId,
        /// The provider's id.
        pub provider_alert_id: Option<String>,
        /// Incident (a numeric string).
        pub incident_id: Option<Lenient<IncidentId>>,
        /// Status.
        pub status: Option<GraphAlertStatus>,
        /// Severity.
        pub severity: Option<GraphSeverity>,
        /// Classification.
        pub classification: Option<GraphClassification>,
        /// Determination.
        pub determination: Option<GraphDetermination>,
        /// Service (`microsoftDefenderForEndpoint`, ...; an open set).
        pub service_source: Option<String>,
        /// Detection source (an open set).
        pub detection_source: Option<String>,
        /// Detector.
        pub detector_id: Option<String>,
        /// Tenant.
        pub tenant_id: Option<String>,
        /// Title.
        pub title: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Recommended actions.
        pub recommended_actions: Option<String>,
        /// Category.
        pub category: Option<String>,
        /// Owner.
        pub assigned_to: Option<String>,
        /// Portal link.
        pub alert_web_url: Option<String>,
        /// Incident portal link.
        pub incident_web_url: Option<String>,
        /// Actor.
        pub actor_display_name: Option<String>,
        /// Threat.
        pub threat_display_name: Option<String>,
        /// Threat family.
        pub threat_family_name: Option<String>,
        /// MITRE techniques.
        pub mitre_techniques: Option<Vec<String>>,
        /// Created.
        pub created_date_time: Option<Timestamp>,
        /// Last update.
        pub last_update_date_time: Option<Timestamp>,
        /// Resolved.
        pub resolved_date_time: Option<Timestamp>,
        /// First activity.
        pub first_activity_date_time: Option<Timestamp>,
        /// Last activity.
        pub last_activity_date_time: Option<Timestamp>,
        /// Comments.
        pub comments: Option<Vec<GraphComment>>,
        /// Evidence.
        pub evidence: Option<Vec<GraphEvidence>>,
        /// System tags.
        pub system_tags: Option<Vec<String>>,
    }
    /// Fields this version does not know (`@odata.type`, ...).
    extra
}

model! {
    /// A Graph alert or incident comment.
    pub struct GraphComment {
        /// Text.
        pub comment: Option<String>,
        /// Author.
        pub created_by_display_name: Option<String>,
        /// When.
        pub created_date_time: Option<Timestamp>,
    }
    /// Fields this version does not know (the incident examples write `createdBy`/`createdTime`).
    extra
}

model! {
    /// A Graph security incident.
    pub struct GraphIncident {
        /// Id (a numeric string).
        pub id: Lenient<IncidentId>,
        /// Portal link.
        pub incident_web_url: Option<String>,
        /// Merged into.
        pub redirect_incident_id: Option<Lenient<IncidentId>>,
        /// Name.
        pub display_name: Option<String>,
        /// Tenant.
        pub tenant_id: Option<String>,
        /// Created.
        pub created_date_time: Option<Timestamp>,
        /// Last update.
        pub last_update_date_time: Option<Timestamp>,
        /// Owner.
        pub assigned_to: Option<String>,
        /// Classification.
        pub classification: Option<GraphClassification>,
        /// Determination.
        pub determination: Option<GraphDetermination>,
        /// Status.
        pub status: Option<GraphIncidentStatus>,
        /// Severity.
        pub severity: Option<GraphSeverity>,
        /// Custom tags.
        pub custom_tags: Option<Vec<String>>,
        /// Comments.
        pub comments: Option<Vec<GraphComment>>,
        /// System tags.
        pub system_tags: Option<Vec<String>>,
        /// Description.
        pub description: Option<String>,
        /// Alerts (with `$expand=alerts`).
        pub alerts: Option<Vec<GraphAlert>>,
    }
    /// Fields this version does not know (`@odata.type`, `tags`, ...).
    extra
}

/// Body of `PATCH /security/alerts_v2/{id}`: only the fields set are sent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphAlertUpdate {
    /// Owner.
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Option<GraphClassification>,
    /// Determination.
    pub determination: Option<GraphDetermination>,
    /// Status.
    pub status: Option<GraphAlertStatus>,
}

/// Body of `PATCH /security/incidents/{id}`: only the fields set are sent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphIncidentUpdate {
    /// Owner.
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Option<GraphClassification>,
    /// Determination.
    pub determination: Option<GraphDetermination>,
    /// Status.
    pub status: Option<GraphIncidentStatus>,
    /// Custom tags (replaces the list).
    pub custom_tags: Option<Vec<String>>,
}

/// One evidence item of a Graph alert, typed by its `@odata.type`; kinds this version does not model
/// stay as raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphEvidence {
    /// `#microsoft.graph.security.deviceEvidence`.
    Device(Box<DeviceEvidence>),
    /// `#microsoft.graph.security.fileEvidence`.
    File(Box<FileEvidence>),
    /// `#microsoft.graph.security.processEvidence`.
    Process(Box<ProcessEvidence>),
    /// `#microsoft.graph.security.registryKeyEvidence`.
    RegistryKey(Box<RegistryKeyEvidence>),
    /// `#microsoft.graph.security.userEvidence`.
    User(Box<UserEvidence>),
    /// `#microsoft.graph.security.ipEvidence`.
    Ip(Box<IpEvidence>),
    /// `#microsoft.graph.security.urlEvidence`.
    Url(Box<UrlEvidence>),
    /// Any other kind, as sent.
    Other(Extra),
}

impl GraphEvidence {
    /// The `@odata.type` of this item, when it has one.
    pub fn odata_type(&self) -> Option<&str> {
        let extra = match self {
            Self::Device(e) => &e.extra,
            Self::File(e) => &e.extra,
            Self::Process(e) => &e.extra,
            Self::RegistryKey(e) => &e.extra,
            Self::User(e) => &e.extra,
            Self::Ip(e) => &e.extra,
            Self::Url(e) => &e.extra,
            Self::Other(m) => m,
        };
        extra.get("@odata.type").and_then(|v| v.as_str())
    }
}

impl Serialize for GraphEvidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Device(e) => e.serialize(s),
            Self::File(e) => e.serialize(s),
            Self::Process(e) => e.serialize(s),
            Self::RegistryKey(e) => e.serialize(s),
            Self::User(e) => e.serialize(s),
            Self::Ip(e) => e.serialize(s),
            Self::Url(e) => e.serialize(s),
            Self::Other(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for GraphEvidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = Extra::deserialize(d)?;
        let kind = map.get("@odata.type").and_then(|v| v.as_str()).unwrap_or_default();
        let kind = kind.trim_start_matches('#').trim_start_matches("microsoft.graph.security.");
        let v = serde_json::Value::Object(map.clone());
        let typed = match kind {
            "deviceEvidence" => serde_json::from_value(v).map(|e| Self::Device(Box::new(e))),
            "fileEvidence" => serde_json::from_value(v).map(|e| Self::File(Box::new(e))),
            "processEvidence" => serde_json::from_value(v).map(|e| Self::Process(Box::new(e))),
            "registryKeyEvidence" => serde_json::from_value(v).map(|e| Self::RegistryKey(Box::new(e))),
            "userEvidence" => serde_json::from_value(v).map(|e| Self::User(Box::new(e))),
            "ipEvidence" => serde_json::from_value(v).map(|e| Self::Ip(Box::new(e))),
            "urlEvidence" => serde_json::from_value(v).map(|e| Self::Url(Box::new(e))),
            _ => return Ok(Self::Other(map)),
        };
        typed.map_err(D::Error::custom)
    }
}

/// The fields every Graph evidence kind has.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceCommon {
    /// Created.
    pub created_date_time: Option<Timestamp>,
    /// Verdict.
    pub verdict: Option<GraphVerdict>,
    /// `none`, `remediated`, `prevented`, ... (an open set).
    pub remediation_status: Option<String>,
    /// Detail.
    pub remediation_status_details: Option<String>,
    /// Roles (`compromised`, ...).
    pub roles: Option<Vec<String>>,
    /// Detailed roles.
    pub detailed_roles: Option<Vec<String>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
}

/// Declares one typed evidence kind of `alerts_v2`: the common fields (flattened), its own fields
/// (each `Option`, absent when `None`) and the fields this version does not know.
macro_rules! evidence {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: Option<$inner:ty>,)+ }) => {
        model! {
            $(#[$meta])*
            pub struct $name {
                /// Common fields.
                #[serde(flatten)]
                pub common: EvidenceCommon,
                $($(#[$fmeta])* pub $field: Option<$inner>,)+
            }
            /// Fields this version does not know (`@odata.type`, ...).
            extra
        }
    };
}

evidence!(
    /// `deviceEvidence`.
    DeviceEvidence {
        /// First seen.
        first_seen_date_time: Option<Timestamp>,
        /// MDE device id.
        mde_device_id: Option<Lenient<MachineId>>,
        /// Entra device id.
        azure_ad_device_id: Option<String>,
        /// Name.
        device_dns_name: Option<String>,
        /// OS platform.
        os_platform: Option<String>,
        /// OS build.
        os_build: Option<i64>,
        /// OS version.
        version: Option<String>,
        /// Health.
        health_status: Option<String>,
        /// Risk.
        risk_score: Option<String>,
        /// Device group id.
        rbac_group_id: Option<super::NumberOrText>,
        /// Device group name.
        rbac_group_name: Option<String>,
        /// Onboarding.
        onboarding_status: Option<String>,
        /// Antivirus status.
        defender_av_status: Option<String>,
        /// Interface addresses.
        ip_interfaces: Option<Vec<String>>,
        /// Logged-on users.
        logged_on_users: Option<Vec<serde_json::Value>>,
        /// VM details.
        vm_metadata: Option<VmMetadata>,
    }
);

model! {
    /// `vmMetadata` of a device evidence.
    pub struct VmMetadata {
        /// VM id.
        pub vm_id: Option<String>,
        /// Cloud.
        pub cloud_provider: Option<String>,
        /// Resource id.
        pub resource_id: Option<String>,
        /// Subscription.
        pub subscription_id: Option<String>,
    }
}

model! {
    /// `fileDetails` (file, process image).
    pub struct FileDetails {
        /// SHA-1.
        pub sha1: Option<Lenient<Sha1>>,
        /// SHA-256.
        pub sha256: Option<Lenient<Sha256>>,
        /// Name.
        pub file_name: Option<String>,
        /// Folder.
        pub file_path: Option<String>,
        /// Size.
        pub file_size: Option<i64>,
        /// Publisher.
        pub file_publisher: Option<String>,
        /// Signer.
        pub signer: Option<String>,
        /// Issuer.
        pub issuer: Option<String>,
    }
}

model! {
    /// `userAccount`.
    pub struct UserAccount {
        /// Name.
        pub account_name: Option<String>,
        /// Domain.
        pub domain_name: Option<String>,
        /// SID.
        pub user_sid: Option<String>,
        /// Entra id.
        pub azure_ad_user_id: Option<String>,
        /// UPN.
        pub user_principal_name: Option<String>,
        /// Display name.
        pub display_name: Option<String>,
    }
}

evidence!(
    /// `fileEvidence`.
    FileEvidence {
        /// `detected`, `blocked`, `prevented`.
        detection_status: Option<String>,
        /// MDE device id.
        mde_device_id: Option<Lenient<MachineId>>,
        /// The file.
        file_details: Option<FileDetails>,
    }
);

evidence!(
    /// `processEvidence`.
    ProcessEvidence {
        /// Process id.
        process_id: Option<i64>,
        /// Parent process id.
        parent_process_id: Option<i64>,
        /// Command line.
        process_command_line: Option<String>,
        /// Started.
        process_creation_date_time: Option<Timestamp>,
        /// Parent started.
        parent_process_creation_date_time: Option<Timestamp>,
        /// `detected`, `blocked`, `prevented`.
        detection_status: Option<String>,
        /// MDE device id.
        mde_device_id: Option<Lenient<MachineId>>,
        /// Image.
        image_file: Option<FileDetails>,
        /// Parent image.
        parent_process_image_file: Option<FileDetails>,
        /// Account.
        user_account: Option<UserAccount>,
    }
);

evidence!(
    /// `registryKeyEvidence`.
    RegistryKeyEvidence {
        /// Key.
        registry_key: Option<String>,
        /// Hive.
        registry_hive: Option<String>,
    }
);

evidence!(
    /// `userEvidence`.
    UserEvidence {
        /// Account.
        user_account: Option<UserAccount>,
    }
);

evidence!(
    /// `ipEvidence`.
    IpEvidence {
        /// Address.
        ip_address: Option<String>,
        /// Country.
        country_letter_code: Option<String>,
    }
);

evidence!(
    /// `urlEvidence`.
    UrlEvidence {
        /// URL.
        url: Option<String>,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn determination_has_graphs_members_not_defenders() {
        for v in ["compromisedAccount", "notMalicious", "notEnoughDataToValidate", "confirmedActivity", "unknown"] {
            assert_eq!(GraphDetermination::from(v).documented(), Some(v), "{v} is documented");
        }
        // MDE/XDR spellings are not Graph members.
        for v in ["compromisedUser", "clean", "insufficientData", "confirmedUserActivity"] {
            assert_eq!(GraphDetermination::from(v).documented(), None, "{v}");
        }
    }

    #[test]
    fn newer_enum_members_are_accepted_as_sent() {
        // Sent with `Prefer: include-unknown-enum-members`, Graph answers evolvable members by name.
        let inc: GraphIncidentStatus = serde_json::from_str("\"awaitingAction\"").unwrap();
        assert_eq!(inc, GraphIncidentStatus::AWAITING_ACTION);
        let later: GraphAlertStatus = serde_json::from_str("\"someLaterMember\"").unwrap();
        assert_eq!(later.as_str(), "someLaterMember");
        assert_eq!(later.documented(), None);
    }
}
