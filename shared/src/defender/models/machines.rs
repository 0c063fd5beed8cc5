//! MDE machines (`/api/machines`): the machine, logon users, installed software, discovered
//! vulnerabilities; the tag bodies.

use super::{Extra, Lenient, Timestamp, local_id, open_enum};
use crate::ids::MachineId;
use serde::{Deserialize, Serialize};

open_enum!(
    /// Sensor health.
    HealthStatus {
        /// `Active`.
        Active = "Active",
        /// `Inactive`.
        Inactive = "Inactive",
        /// `ImpairedCommunication`.
        ImpairedCommunication = "ImpairedCommunication",
        /// `NoSensorData`.
        NoSensorData = "NoSensorData",
        /// `NoSensorDataImpairedCommunication`.
        NoSensorDataImpairedCommunication = "NoSensorDataImpairedCommunication",
        /// `Unknown`.
        Unknown = "Unknown",
    }
);

open_enum!(
    /// Risk score and exposure level.
    RiskLevel {
        /// `None`.
        None = "None",
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
    /// Device value.
    DeviceValue {
        /// `Normal`.
        Normal = "Normal",
        /// `Low`.
        Low = "Low",
        /// `High`.
        High = "High",
    }
);

open_enum!(
    /// Add or remove a tag.
    TagAction {
        /// `Add`.
        Add = "Add",
        /// `Remove`.
        Remove = "Remove",
    }
);

/// An MDE machine (device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// Device id (40 hex in practice; kept as sent).
    pub id: Lenient<MachineId>,
    /// Fully qualified name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_dns_name: Option<String>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// OS platform (`Windows10`, `Linux`, ...; an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_platform: Option<String>,
    /// OS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Processor (deprecated by the docs in favour of `osArchitecture`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_processor: Option<String>,
    /// Architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_architecture: Option<String>,
    /// Last local IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ip_address: Option<String>,
    /// Last external IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_external_ip_address: Option<String>,
    /// OS build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_build: Option<i64>,
    /// Sensor health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
    /// Device value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_value: Option<DeviceValue>,
    /// Device group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_id: Option<super::NumberOrText>,
    /// Device group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_name: Option<String>,
    /// Risk score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_score: Option<RiskLevel>,
    /// Exposure level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_level: Option<RiskLevel>,
    /// Entra joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_aad_joined: Option<bool>,
    /// Entra device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_device_id: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_tags: Option<Vec<String>>,
    /// Network interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<MachineIpAddress>>,
    /// `Onboarded`, `CanBeOnboarded`, ... (an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding_status: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One interface address of a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineIpAddress {
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Interface type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `Up`, `Down`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operational_status: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A user as MDE sees it: `/api/machines/{id}/logonusers` items and `/api/alerts/{id}/user`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MdeUser {
    /// `domain\name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// Domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_domain: Option<String>,
    /// SID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// First seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// Last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Timestamp>,
    /// Device the user is seen on most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub most_prevalent_machine_id: Option<Lenient<MachineId>>,
    /// Device the user is seen on least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub least_prevalent_machine_id: Option<Lenient<MachineId>>,
    /// Logon types (`Interactive`, `Network`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_types: Option<String>,
    /// Number of devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_on_machines_count: Option<i64>,
    /// Domain admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_domain_admin: Option<bool>,
    /// Only network logons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_only_network_user: Option<bool>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Installed software (`/api/machines/{id}/software`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Software {
    /// `vendor-_-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Known weaknesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weaknesses: Option<i64>,
    /// A public exploit exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_exploit: Option<bool>,
    /// An active alert exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_alert: Option<bool>,
    /// Exposed devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_machines: Option<i64>,
    /// Impact on the exposure score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_score: Option<f64>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A vulnerability discovered on a machine (`/api/machines/{id}/vulnerabilities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerability {
    /// CVE id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Severity (`Low`, `Medium`, `High`, `Critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// CVSS v3 score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_v3: Option<f64>,
    /// Exposed devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_machines: Option<i64>,
    /// Published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<Timestamp>,
    /// Updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_on: Option<Timestamp>,
    /// A public exploit exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_exploit: Option<bool>,
    /// The exploit is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_verified: Option<bool>,
    /// The exploit is in a kit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_in_kit: Option<bool>,
    /// Exploit types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_types: Option<Vec<String>>,
    /// Exploit URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_uris: Option<Vec<String>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

local_id!(
    /// A machine tag: 1–200 characters, no control characters.
    MachineTag,
    "machine tag",
    |s| !s.is_empty() && s.chars().count() <= 200 && !s.chars().any(char::is_control)
);

/// Body of `POST /api/machines/{id}/tags`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRequest {
    /// The tag.
    pub value: MachineTag,
    /// `Add` or `Remove`.
    pub action: TagAction,
}

/// Body of `POST /api/machines/AddOrRemoveTagForMultipleMachines` (at most 500 machines).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagMultipleRequest {
    /// The tag.
    pub value: MachineTag,
    /// `Add` or `Remove`.
    pub action: TagAction,
    /// The machines.
    pub machine_ids: Vec<MachineId>,
}
