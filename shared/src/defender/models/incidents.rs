//! Defender XDR incidents (`/api/incidents`): the incident with its alerts, devices and entities;
//! the update body.

use super::{
    Comment, Lenient, Timestamp,
    alerts::{AlertSeverity, Classification, Determination, EntityType, InvestigationState},
    model, open_enum,
};
use crate::ids::{AlertId, IncidentId, MachineId};
use serde::Serialize;

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

model! {
    /// An XDR incident.
    pub struct Incident {
        /// Id.
        pub incident_id: IncidentId,
        /// Portal link.
        pub incident_uri: Option<String>,
        /// The incident this one was merged into.
        pub redirect_incident_id: Option<IncidentId>,
        /// Name.
        pub incident_name: Option<String>,
        /// Created.
        pub created_time: Option<Timestamp>,
        /// Last update.
        pub last_update_time: Option<Timestamp>,
        /// Owner.
        pub assigned_to: Option<String>,
        /// Classification.
        pub classification: Option<Classification>,
        /// Determination.
        pub determination: Option<Determination>,
        /// Status.
        pub status: Option<IncidentStatus>,
        /// Severity.
        pub severity: Option<AlertSeverity>,
        /// Tags.
        pub tags: Option<Vec<String>>,
        /// Comments.
        pub comments: Option<Vec<Comment>>,
        /// Alerts.
        pub alerts: Option<Vec<IncidentAlert>>,
    }
}

model! {
    /// An alert inside an XDR incident (any Microsoft detection source).
    pub struct IncidentAlert {
        /// Id (formats differ by source; kept as sent).
        pub alert_id: Lenient<AlertId>,
        /// Incident.
        pub incident_id: Option<IncidentId>,
        /// `MicrosoftDefenderATP`, `OfficeATP`, `MicrosoftCloudAppSecurity`, ... (an open set).
        pub service_source: Option<String>,
        /// Created.
        pub creation_time: Option<Timestamp>,
        /// Last update.
        pub last_updated_time: Option<Timestamp>,
        /// Resolved.
        pub resolved_time: Option<Timestamp>,
        /// First activity.
        pub first_activity: Option<Timestamp>,
        /// Last activity.
        pub last_activity: Option<Timestamp>,
        /// Title.
        pub title: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Category.
        pub category: Option<String>,
        /// Status (`New`, `InProgress`, `Resolved`).
        pub status: Option<super::alerts::AlertStatus>,
        /// Severity.
        pub severity: Option<AlertSeverity>,
        /// Investigation.
        pub investigation_id: Option<i64>,
        /// Investigation state.
        pub investigation_state: Option<InvestigationState>,
        /// Classification.
        pub classification: Option<Classification>,
        /// Determination.
        pub determination: Option<Determination>,
        /// Detection source.
        pub detection_source: Option<String>,
        /// Owner.
        pub assigned_to: Option<String>,
        /// Actor.
        pub actor_name: Option<String>,
        /// Threat family.
        pub threat_family_name: Option<String>,
        /// MITRE techniques.
        pub mitre_techniques: Option<Vec<String>>,
        /// Devices.
        pub devices: Option<Vec<IncidentDevice>>,
        /// Entities.
        pub entities: Option<Vec<IncidentEntity>>,
    }
}

model! {
    /// A device inside an XDR incident alert.
    pub struct IncidentDevice {
        /// MDE device id.
        pub mdatp_device_id: Option<Lenient<MachineId>>,
        /// Entra device id.
        pub aad_device_id: Option<String>,
        /// Name.
        pub device_dns_name: Option<String>,
        /// OS platform.
        pub os_platform: Option<String>,
        /// OS version.
        pub version: Option<String>,
        /// Processor.
        pub os_processor: Option<String>,
        /// OS build.
        pub os_build: Option<i64>,
        /// Sensor health.
        pub health_status: Option<super::machines::HealthStatus>,
        /// Risk score.
        pub risk_score: Option<super::machines::RiskLevel>,
        /// Device group name.
        pub rbac_group_name: Option<String>,
        /// Device group id.
        pub rbac_group_id: Option<super::NumberOrText>,
        /// First seen.
        pub first_seen: Option<Timestamp>,
    }
}

model! {
    /// An entity inside an XDR incident alert (file, process, user, IP, URL, mailbox, ...).
    pub struct IncidentEntity {
        /// Kind.
        pub entity_type: Option<EntityType>,
        ..file_and_process,
        /// IP.
        pub ip_address: Option<String>,
        /// URL.
        pub url: Option<String>,
        ..account,
        /// Mailbox display name.
        pub mailbox_display_name: Option<String>,
        /// Mailbox address.
        pub mailbox_address: Option<String>,
        /// Mail cluster criteria.
        pub cluster_by: Option<String>,
        /// Sender.
        pub sender: Option<String>,
        /// Recipient.
        pub recipient: Option<String>,
        /// Subject.
        pub subject: Option<String>,
        /// Delivery action.
        pub delivery_action: Option<String>,
        /// Security group id.
        pub security_group_id: Option<String>,
        /// Security group name.
        pub security_group_name: Option<String>,
        /// Registry hive.
        pub registry_hive: Option<String>,
        /// Registry key.
        pub registry_key: Option<String>,
        /// Registry value type.
        pub registry_value_type: Option<String>,
        /// Registry value.
        pub registry_value: Option<String>,
        /// MDE device id.
        pub device_id: Option<Lenient<MachineId>>,
    }
}

/// Body of `PATCH /api/incidents/{id}`: only the fields set are sent.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentUpdate {
    /// Status.
    pub status: Option<IncidentStatus>,
    /// Owner.
    pub assigned_to: Option<String>,
    /// Classification.
    pub classification: Option<Classification>,
    /// Determination (only with `TruePositive`).
    pub determination: Option<Determination>,
    /// Tags (replaces the list).
    pub tags: Option<Vec<String>>,
    /// A comment to add.
    pub comment: Option<String>,
}
