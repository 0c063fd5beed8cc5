//! Defender XDR incidents (`/api/incidents`): the incident with its alerts, devices and entities;
//! the update body.

use super::{
    Comment, Extra, Lenient, Timestamp,
    alerts::{AlertSeverity, Classification, Determination, EntityType, InvestigationState},
    open_enum,
};
use crate::ids::{AlertId, IncidentId, MachineId, Sha1, Sha256};
use serde::{Deserialize, Serialize};

open_enum!(
    /// Incident status.
    IncidentStatus {
        /// `Active`.
        Active = "Active",
        /// `Resolved`.
        Resolved = "Resolved",
        /// `InProgress`.
        InProgress = "InProgress",
        /// `Redirected`.
        Redirected = "Redirected",
    }
);

/// An XDR incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Id.
    pub incident_id: IncidentId,
    /// Portal link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_uri: Option<String>,
    /// The incident this one was merged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_incident_id: Option<IncidentId>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_name: Option<String>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Timestamp>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination: Option<Determination>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IncidentStatus>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<Comment>>,
    /// Alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<IncidentAlert>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An alert inside an XDR incident (any Microsoft detection source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentAlert {
    /// Id (formats differ by source; kept as sent).
    pub alert_id: Lenient<AlertId>,
    /// Incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<IncidentId>,
    /// `MicrosoftDefenderATP`, `OfficeATP`, `MicrosoftCloudAppSecurity`, ... (an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_source: Option<String>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<Timestamp>,
    /// Last update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_time: Option<Timestamp>,
    /// Resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_time: Option<Timestamp>,
    /// First activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_activity: Option<Timestamp>,
    /// Last activity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Timestamp>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Status (`New`, `InProgress`, `Resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<super::alerts::AlertStatus>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Investigation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_id: Option<i64>,
    /// Investigation state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investigation_state: Option<InvestigationState>,
    /// Classification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination: Option<Determination>,
    /// Detection source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_source: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Threat family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat_family_name: Option<String>,
    /// MITRE techniques.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitre_techniques: Option<Vec<String>>,
    /// Devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<IncidentDevice>>,
    /// Entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<IncidentEntity>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A device inside an XDR incident alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentDevice {
    /// MDE device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdatp_device_id: Option<Lenient<MachineId>>,
    /// Entra device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_device_id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_dns_name: Option<String>,
    /// OS platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_platform: Option<String>,
    /// OS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_processor: Option<String>,
    /// OS build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_build: Option<i64>,
    /// Sensor health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<super::machines::HealthStatus>,
    /// Risk score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<super::machines::RiskLevel>,
    /// Device group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_name: Option<String>,
    /// Device group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_id: Option<super::NumberOrText>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entity inside an XDR incident alert (file, process, user, IP, URL, mailbox, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentEntity {
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<EntityType>,
    /// SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Lenient<Sha1>>,
    /// SHA-256.
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
    /// IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Account domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// SID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_sid: Option<String>,
    /// Entra user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_user_id: Option<String>,
    /// UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Mailbox display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_display_name: Option<String>,
    /// Mailbox address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_address: Option<String>,
    /// Mail cluster criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_by: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Delivery action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_action: Option<String>,
    /// Security group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// Security group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_name: Option<String>,
    /// Registry hive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_hive: Option<String>,
    /// Registry key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_key: Option<String>,
    /// Registry value type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_value_type: Option<String>,
    /// Registry value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_value: Option<String>,
    /// MDE device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<Lenient<MachineId>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `PATCH /api/incidents/{id}`: only the fields set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentUpdate {
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<IncidentStatus>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// Classification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Determination (only with `TruePositive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub determination: Option<Determination>,
    /// Tags (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// A comment to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}
