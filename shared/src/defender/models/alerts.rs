//! MDE alerts (`/api/alerts`): the alert, its evidence, comments and related entities; the update,
//! batch-update and create-by-reference bodies.

use super::{Comment, Lenient, Timestamp, model, open_enum};
use crate::ids::{AlertId, IncidentId, MachineId};
use serde::Serialize;

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

model! {
    /// An MDE alert.
    pub struct Alert {
        /// Alert id.
        pub id: AlertId,
        /// The XDR incident it belongs to.
        pub incident_id: Option<IncidentId>,
        /// The automated investigation it triggered.
        pub investigation_id: Option<i64>,
        /// Owner.
        pub assigned_to: Option<String>,
        /// Severity.
        pub severity: Option<AlertSeverity>,
        /// Status.
        pub status: Option<AlertStatus>,
        /// Classification.
        pub classification: Option<Classification>,
        /// Determination.
        pub determination: Option<Determination>,
        /// Investigation state.
        pub investigation_state: Option<InvestigationState>,
        /// Detecting technology (`WindowsDefenderAtp`, `WindowsDefenderAv`, ...; an open set).
        pub detection_source: Option<String>,
        /// Detector id.
        pub detector_id: Option<String>,
        /// Category (`Execution`, `SuspiciousActivity`, ...; an open set).
        pub category: Option<String>,
        /// Threat family.
        pub threat_family_name: Option<String>,
        /// Threat name.
        pub threat_name: Option<String>,
        /// Title.
        pub title: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Created.
        pub alert_creation_time: Option<Timestamp>,
        /// First event.
        pub first_event_time: Option<Timestamp>,
        /// Last event.
        pub last_event_time: Option<Timestamp>,
        /// Last update.
        pub last_update_time: Option<Timestamp>,
        /// Resolved.
        pub resolved_time: Option<Timestamp>,
        /// Device.
        pub machine_id: Option<Lenient<MachineId>>,
        /// Device name.
        pub computer_dns_name: Option<String>,
        /// Device group.
        pub rbac_group_name: Option<String>,
        /// Tenant.
        pub aad_tenant_id: Option<String>,
        /// MITRE ATT&CK technique ids.
        pub mitre_techniques: Option<Vec<String>>,
        /// The user the alert relates to.
        pub related_user: Option<RelatedUser>,
        /// Comments.
        pub comments: Option<Vec<Comment>>,
        /// Evidence (with `$expand=evidence`).
        pub evidence: Option<Vec<AlertEvidence>>,
    }
}

model! {
    /// `relatedUser` inside an alert.
    pub struct RelatedUser {
        /// User name.
        pub user_name: Option<String>,
        /// Domain.
        pub domain_name: Option<String>,
    }
}

model! {
    /// One evidence item of an MDE alert.
    pub struct AlertEvidence {
        /// Kind.
        pub entity_type: Option<EntityType>,
        /// When the evidence was added.
        pub evidence_creation_time: Option<Timestamp>,
        ..file_and_process,
        /// Parent image name.
        pub parent_process_file_name: Option<String>,
        /// Parent image folder.
        pub parent_process_file_path: Option<String>,
        /// IP address.
        pub ip_address: Option<String>,
        /// URL.
        pub url: Option<String>,
        /// Registry key.
        pub registry_key: Option<String>,
        /// Registry hive.
        pub registry_hive: Option<String>,
        /// Registry value type.
        pub registry_value_type: Option<String>,
        /// Registry value.
        pub registry_value: Option<String>,
        ..account,
        /// `Detected`, `Blocked`, `Prevented` (an open set).
        pub detection_status: Option<String>,
    }
}

model! {
    /// A domain related to an alert (`/api/alerts/{id}/domains`).
    pub struct AlertDomain {
        /// Host name.
        pub host: Option<String>,
    }
}

model! {
    /// An IP related to an alert (`/api/alerts/{id}/ips`).
    pub struct AlertIp {
        /// The address.
        pub id: Option<String>,
    }
}

/// Body of `PATCH /api/alerts/{id}`: only the fields set are sent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertUpdate {
    /// New status.
    pub status: Option<AlertStatus>,
    /// New owner.
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Option<Classification>,
    /// Determination.
    pub determination: Option<Determination>,
    /// A comment to add.
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
