//! MDE machines (`/api/machines`): the machine, logon users, installed software, discovered
//! vulnerabilities; the tag bodies.

use super::{Lenient, Timestamp, local_id, model, open_enum};
use crate::ids::MachineId;
use serde::Serialize;

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

model! {
    /// An MDE machine (device).
    pub struct Machine {
        /// Device id (40 hex in practice; kept as sent).
        pub id: Lenient<MachineId>,
        /// Fully qualified name.
        pub computer_dns_name: Option<String>,
        /// First seen.
        pub first_seen: Option<Timestamp>,
        /// Last seen.
        pub last_seen: Option<Timestamp>,
        /// OS platform (`Windows10`, `Linux`, ...; an open set).
        pub os_platform: Option<String>,
        /// OS version.
        pub version: Option<String>,
        /// Processor (deprecated by the docs in favour of `osArchitecture`).
        pub os_processor: Option<String>,
        /// Architecture.
        pub os_architecture: Option<String>,
        /// Last local IP.
        pub last_ip_address: Option<String>,
        /// Last external IP.
        pub last_external_ip_address: Option<String>,
        /// OS build.
        pub os_build: Option<i64>,
        /// Sensor health.
        pub health_status: Option<HealthStatus>,
        /// Device value.
        pub device_value: Option<DeviceValue>,
        /// Device group id.
        pub rbac_group_id: Option<super::NumberOrText>,
        /// Device group name.
        pub rbac_group_name: Option<String>,
        /// Risk score.
        pub risk_score: Option<RiskLevel>,
        /// Exposure level.
        pub exposure_level: Option<RiskLevel>,
        /// Entra joined.
        pub is_aad_joined: Option<bool>,
        /// Entra device id.
        pub aad_device_id: Option<String>,
        /// Tags.
        pub machine_tags: Option<Vec<String>>,
        /// Network interfaces.
        pub ip_addresses: Option<Vec<MachineIpAddress>>,
        /// `Onboarded`, `CanBeOnboarded`, ... (an open set).
        pub onboarding_status: Option<String>,
    }
}

model! {
    /// One interface address of a machine.
    pub struct MachineIpAddress {
        /// Address.
        pub ip_address: Option<String>,
        /// MAC.
        pub mac_address: Option<String>,
        /// Interface type.
        #[serde(rename = "type")]
        pub kind: Option<String>,
        /// `Up`, `Down`, ...
        pub operational_status: Option<String>,
    }
}

model! {
    /// A user as MDE sees it: `/api/machines/{id}/logonusers` items and `/api/alerts/{id}/user`.
    pub struct MdeUser {
        /// `domain\name`.
        pub id: Option<String>,
        /// Name.
        pub account_name: Option<String>,
        /// Domain.
        pub account_domain: Option<String>,
        /// SID.
        pub account_sid: Option<String>,
        /// First seen.
        pub first_seen: Option<Timestamp>,
        /// Last seen.
        pub last_seen: Option<Timestamp>,
        /// Device the user is seen on most.
        pub most_prevalent_machine_id: Option<Lenient<MachineId>>,
        /// Device the user is seen on least.
        pub least_prevalent_machine_id: Option<Lenient<MachineId>>,
        /// Logon types (`Interactive`, `Network`, ...).
        pub logon_types: Option<String>,
        /// Number of devices.
        pub log_on_machines_count: Option<i64>,
        /// Domain admin.
        pub is_domain_admin: Option<bool>,
        /// Only network logons.
        pub is_only_network_user: Option<bool>,
    }
}

model! {
    /// Installed software (`/api/machines/{id}/software`).
    pub struct Software {
        /// `vendor-_-name`.
        pub id: Option<String>,
        /// Name.
        pub name: Option<String>,
        /// Vendor.
        pub vendor: Option<String>,
        /// Known weaknesses.
        pub weaknesses: Option<i64>,
        /// A public exploit exists.
        pub public_exploit: Option<bool>,
        /// An active alert exists.
        pub active_alert: Option<bool>,
        /// Exposed devices.
        pub exposed_machines: Option<i64>,
        /// Impact on the exposure score.
        pub impact_score: Option<f64>,
    }
}

model! {
    /// A vulnerability discovered on a machine (`/api/machines/{id}/vulnerabilities`).
    pub struct Vulnerability {
        /// CVE id.
        pub id: Option<String>,
        /// Name.
        pub name: Option<String>,
        /// Description.
        pub description: Option<String>,
        /// Severity (`Low`, `Medium`, `High`, `Critical`).
        pub severity: Option<String>,
        /// CVSS v3 score.
        pub cvss_v3: Option<f64>,
        /// Exposed devices.
        pub exposed_machines: Option<i64>,
        /// Published.
        pub published_on: Option<Timestamp>,
        /// Updated.
        pub updated_on: Option<Timestamp>,
        /// A public exploit exists.
        pub public_exploit: Option<bool>,
        /// The exploit is verified.
        pub exploit_verified: Option<bool>,
        /// The exploit is in a kit.
        pub exploit_in_kit: Option<bool>,
        /// Exploit types.
        pub exploit_types: Option<Vec<String>>,
        /// Exploit URIs.
        pub exploit_uris: Option<Vec<String>>,
    }
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
