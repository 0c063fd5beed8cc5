//! MDE alerts (`/api/alerts`): the alert, its evidence, comments and related entities; the update,
//! batch-update and create-by-reference bodies.

use super::{Comment, Extra, Lenient, Timestamp, open_enum};
use crate::ids::{AlertId, IncidentId, MachineId, Sha1, Sha256};
use serde::{Deserialize, Serialize};

open_enum!(
    /// Alert severity.
    AlertSeverity {
        /// `UnSpecified`.
        UnSpecified = "UnSpecified",
        /// `Informational`.
        Informational = "Informational",
        /// `Low`.
        Low = "Low",
        /// `Medium`.
        Medium = "Medium",
        /// `High`.
        High = "High",
    }
);

open_enum!(
    /// Alert status.
    AlertStatus {
        /// `Unknown`.
        Unknown = "Unknown",
        /// `New`.
        New = "New",
        /// `InProgress`.
        InProgress = "InProgress",
        /// `Resolved`.
        Resolved = "Resolved",
    }
);

open_enum!(
    /// Alert (and XDR incident) classification.
    Classification {
        /// `Unknown`.
        Unknown = "Unknown",
        /// `FalsePositive`.
        FalsePositive = "FalsePositive",
        /// `TruePositive`.
        TruePositive = "TruePositive",
        /// `InformationalExpectedActivity`.
        InformationalExpectedActivity = "InformationalExpectedActivity",
    }
);

open_enum!(
    /// Alert (and XDR incident) determination, as Defender for Endpoint and XDR spell it
    /// (`CompromisedUser`, `Clean`, `InsufficientData`, `ConfirmedUserActivity`); Graph's members
    /// differ ([`super::graph::GraphDetermination`]). A newer value is kept as `Unrecognized`.
    Determination {
        /// `NotAvailable`.
        NotAvailable = "NotAvailable",
        /// `Apt`.
        Apt = "Apt",
        /// `Malware`.
        Malware = "Malware",
        /// `SecurityPersonnel`.
        SecurityPersonnel = "SecurityPersonnel",
        /// `SecurityTesting`.
        SecurityTesting = "SecurityTesting",
        /// `UnwantedSoftware`.
        UnwantedSoftware = "UnwantedSoftware",
        /// `Other` (a documented value, not the catch-all).
        Other = "Other",
        /// `MultiStagedAttack`.
        MultiStagedAttack = "MultiStagedAttack",
        /// `CompromisedUser`.
        CompromisedUser = "CompromisedUser",
        /// `Phishing`.
        Phishing = "Phishing",
        /// `MaliciousUserActivity`.
        MaliciousUserActivity = "MaliciousUserActivity",
        /// `Clean`.
        Clean = "Clean",
        /// `InsufficientData`.
        InsufficientData = "InsufficientData",
        /// `ConfirmedUserActivity`.
        ConfirmedUserActivity = "ConfirmedUserActivity",
        /// `LineOfBusinessApplication`.
        LineOfBusinessApplication = "LineOfBusinessApplication",
    }
);

open_enum!(
    /// State of the automated investigation an alert triggered.
    InvestigationState {
        /// `Unknown`.
        Unknown = "Unknown",
        /// `Terminated`.
        Terminated = "Terminated",
        /// `SuccessfullyRemediated`.
        SuccessfullyRemediated = "SuccessfullyRemediated",
        /// `Benign`.
        Benign = "Benign",
        /// `Failed`.
        Failed = "Failed",
        /// `PartiallyRemediated`.
        PartiallyRemediated = "PartiallyRemediated",
        /// `Running`.
        Running = "Running",
        /// `PendingApproval`.
        PendingApproval = "PendingApproval",
        /// `PendingResource`.
        PendingResource = "PendingResource",
        /// `PartiallyInvestigated`.
        PartiallyInvestigated = "PartiallyInvestigated",
        /// `TerminatedByUser`.
        TerminatedByUser = "TerminatedByUser",
        /// `TerminatedBySystem`.
        TerminatedBySystem = "TerminatedBySystem",
        /// `Queued`.
        Queued = "Queued",
        /// `InnerFailure`.
        InnerFailure = "InnerFailure",
        /// `PreexistingAlert`.
        PreexistingAlert = "PreexistingAlert",
        /// `UnsupportedOs`.
        UnsupportedOs = "UnsupportedOs",
        /// `UnsupportedAlertType`.
        UnsupportedAlertType = "UnsupportedAlertType",
        /// `SuppressedAlert`.
        SuppressedAlert = "SuppressedAlert",
    }
);

open_enum!(
    /// Kind of an alert evidence or XDR alert entity.
    EntityType {
        /// `File`.
        File = "File",
        /// `Process`.
        Process = "Process",
        /// `User`.
        User = "User",
        /// `Ip`.
        Ip = "Ip",
        /// `Url`.
        Url = "Url",
        /// `Registry`.
        Registry = "Registry",
        /// `Machine`.
        Machine = "Machine",
        /// `MailBox` (MDE evidence and the XDR incidents API's documented spelling).
        MailBox = "MailBox",
        /// `Mailbox`: the same kind as [`EntityType::MailBox`], as real XDR incidents also spell it
        /// (recorded in `contract/real-responses/`); a variant of its own so the value is kept as
        /// sent. [`EntityType::is_mailbox`] answers for both.
        Mailbox = "Mailbox",
        /// `MailCluster`.
        MailCluster = "MailCluster",
        /// `MailMessage`.
        MailMessage = "MailMessage",
        /// `SecurityGroup`.
        SecurityGroup = "SecurityGroup",
        /// `OAuthApplication`: an Entra app (its `applicationId`, `applicationName`), as XDR incidents
        /// of real tenants carry it.
        OAuthApplication = "OAuthApplication",
    }
);

impl EntityType {
    /// A mailbox, in either spelling Defender sends (`MailBox`, `Mailbox`).
    pub fn is_mailbox(&self) -> bool {
        matches!(self, Self::MailBox | Self::Mailbox)
    }
}

/// An MDE alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Alert id.
    pub id: AlertId,
    /// The XDR incident it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    /// The automated investigation it triggered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_id: Option<i64>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// Classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination: Option<Determination>,
    /// Investigation state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_state: Option<InvestigationState>,
    /// Detecting technology (`WindowsDefenderAtp`, `WindowsDefenderAv`, ...; an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_source: Option<String>,
    /// Detector id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_id: Option<String>,
    /// Category (`Execution`, `SuspiciousActivity`, ...; an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Threat family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_family_name: Option<String>,
    /// Threat name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_name: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_creation_time: Option<Timestamp>,
    /// First event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event_time: Option<Timestamp>,
    /// Last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<Timestamp>,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Timestamp>,
    /// Resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_time: Option<Timestamp>,
    /// Device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<Lenient<MachineId>>,
    /// Device name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_dns_name: Option<String>,
    /// Device group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_name: Option<String>,
    /// Tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_tenant_id: Option<String>,
    /// MITRE ATT&CK technique ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitre_techniques: Option<Vec<String>>,
    /// The user the alert relates to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_user: Option<RelatedUser>,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<Comment>>,
    /// Evidence (with `$expand=evidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<AlertEvidence>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `relatedUser` inside an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedUser {
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One evidence item of an MDE alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertEvidence {
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<EntityType>,
    /// When the evidence was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_creation_time: Option<Timestamp>,
    /// File SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Lenient<Sha1>>,
    /// File SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Lenient<Sha256>>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// File folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_id: Option<i64>,
    /// Command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_command_line: Option<String>,
    /// Process start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_creation_time: Option<Timestamp>,
    /// Parent process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_process_id: Option<i64>,
    /// Parent process start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_process_creation_time: Option<Timestamp>,
    /// Parent image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_process_file_name: Option<String>,
    /// Parent image folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_process_file_path: Option<String>,
    /// IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Registry key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_key: Option<String>,
    /// Registry hive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_hive: Option<String>,
    /// Registry value type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_value_type: Option<String>,
    /// Registry value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_value: Option<String>,
    /// Account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Account domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Account SID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_sid: Option<String>,
    /// Entra user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_user_id: Option<String>,
    /// UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// `Detected`, `Blocked`, `Prevented` (an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_status: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A domain related to an alert (`/api/alerts/{id}/domains`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDomain {
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An IP related to an alert (`/api/alerts/{id}/ips`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertIp {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `PATCH /api/alerts/{id}`: only the fields set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertUpdate {
    /// New status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AlertStatus>,
    /// New owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Classification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Determination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub determination: Option<Determination>,
    /// A comment to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Body of `POST /api/alerts/batchUpdate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertBatchUpdate {
    /// The alerts (required).
    pub alert_ids: Vec<AlertId>,
    /// The changes.
    #[serde(flatten)]
    pub update: AlertUpdate,
}

/// Body of `POST /api/alerts/CreateAlertByReference`: every field is required.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAlertByReference {
    /// Device of the event.
    pub machine_id: MachineId,
    /// `Low`, `Medium` or `High`.
    pub severity: AlertSeverity,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Recommended action.
    pub recommended_action: String,
    /// Time of the advanced-hunting event, exactly as the event has it.
    pub event_time: Timestamp,
    /// `ReportId` of the advanced-hunting event.
    pub report_id: String,
    /// Category.
    pub category: String,
}

#[cfg(test)]
mod determination_tests {
    use super::Determination;

    #[test]
    fn determination_has_the_defender_members_not_graphs() {
        for v in ["CompromisedUser", "Clean", "InsufficientData", "ConfirmedUserActivity", "NotAvailable", "Other"] {
            assert!(!matches!(Determination::from(v), Determination::Unrecognized(_)), "{v} is documented");
        }
        // Graph's spellings are not Defender's members: they stay as sent, unrecognised.
        for v in ["CompromisedAccount", "NotMalicious", "NotEnoughDataToValidate", "ConfirmedActivity"] {
            assert_eq!(Determination::from(v), Determination::Unrecognized(v.into()), "{v}");
        }
        let newer: Determination = serde_json::from_str("\"SomethingNew\"").unwrap();
        assert_eq!(newer.as_str(), "SomethingNew");
    }
}

#[cfg(test)]
mod entity_type_tests {
    use super::EntityType;

    #[test]
    fn the_entity_types_real_tenants_send_are_named_and_kept_as_spelled() {
        // The spellings recorded in contract/real-responses (XDR incidents of real tenants).
        for (v, named) in [
            ("OAuthApplication", EntityType::OAuthApplication),
            ("MailBox", EntityType::MailBox),
            ("Mailbox", EntityType::Mailbox),
            ("MailMessage", EntityType::MailMessage),
            ("MailCluster", EntityType::MailCluster),
        ] {
            let t: EntityType = serde_json::from_str(&format!("\"{v}\"")).unwrap();
            assert_eq!(t, named, "{v}");
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{v}\""), "{v} is kept as spelled");
        }
        assert!(EntityType::Mailbox.is_mailbox() && EntityType::MailBox.is_mailbox());
        assert!(!EntityType::MailMessage.is_mailbox() && !EntityType::from("MAILBOX").is_mailbox());
        // Unknown values stay tolerated, as sent.
        let newer: EntityType = serde_json::from_str("\"CloudLogonSession\"").unwrap();
        assert_eq!(newer, EntityType::Unrecognized("CloudLogonSession".into()));
        assert_eq!(newer.as_str(), "CloudLogonSession");
    }
}
