//! MDE indicators (`/api/indicators`): the indicator, import results; submit, import and batch-delete
//! bodies.

use super::{Lenient, Timestamp, local_id, model, open_enum};
use crate::ids::{DomainName, Md5, Sha1, Sha256, UrlIndicator};
use serde::Serialize;
use std::net::IpAddr;

local_id!(
    /// An indicator id (numeric in every documented example): 1–64 ASCII letters, digits or `-`.
    IndicatorId,
    "indicator id",
    |s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
);

open_enum!(
    /// Indicator type.
    IndicatorType {
        /// `FileSha1`.
        FileSha1 = "FileSha1",
        /// `FileMd5`.
        FileMd5 = "FileMd5",
        /// `CertificateThumbprint`.
        CertificateThumbprint = "CertificateThumbprint",
        /// `FileSha256`.
        FileSha256 = "FileSha256",
        /// `IpAddress`.
        IpAddress = "IpAddress",
        /// `DomainName`.
        DomainName = "DomainName",
        /// `Url`.
        Url = "Url",
    }
);

open_enum!(
    /// What the sensor does on a match.
    IndicatorAction {
        /// `Alert`.
        Alert = "Alert",
        /// `Warn`.
        Warn = "Warn",
        /// `Block`.
        Block = "Block",
        /// `Audit` (needs `generateAlert: true`).
        Audit = "Audit",
        /// `BlockAndRemediate`.
        BlockAndRemediate = "BlockAndRemediate",
        /// `AlertAndBlock`.
        AlertAndBlock = "AlertAndBlock",
        /// `Allowed`.
        Allowed = "Allowed",
    }
);

open_enum!(
    /// Indicator severity.
    IndicatorSeverity {
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

/// A typed indicator value: decides both `indicatorValue` and `indicatorType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndicatorValue {
    /// `FileSha1`.
    Sha1(Sha1),
    /// `FileSha256`.
    Sha256(Sha256),
    /// `FileMd5`.
    Md5(Md5),
    /// `CertificateThumbprint` (a SHA-1 thumbprint).
    CertificateThumbprint(Sha1),
    /// `IpAddress` (no CIDR: the API does not take it).
    Ip(IpAddr),
    /// `DomainName`.
    Domain(DomainName),
    /// `Url`.
    Url(UrlIndicator),
}

impl IndicatorValue {
    /// The `indicatorType` for this value.
    pub fn indicator_type(&self) -> IndicatorType {
        match self {
            Self::Sha1(_) => IndicatorType::FileSha1,
            Self::Sha256(_) => IndicatorType::FileSha256,
            Self::Md5(_) => IndicatorType::FileMd5,
            Self::CertificateThumbprint(_) => IndicatorType::CertificateThumbprint,
            Self::Ip(_) => IndicatorType::IpAddress,
            Self::Domain(_) => IndicatorType::DomainName,
            Self::Url(_) => IndicatorType::Url,
        }
    }
    /// The `indicatorValue` text.
    pub fn value(&self) -> String {
        match self {
            Self::Sha1(h) | Self::CertificateThumbprint(h) => h.to_string(),
            Self::Sha256(h) => h.to_string(),
            Self::Md5(h) => h.to_string(),
            Self::Ip(ip) => ip.to_string(),
            Self::Domain(d) => d.to_string(),
            Self::Url(u) => u.as_str().to_string(),
        }
    }
}

model! {
    /// An indicator.
    pub struct Indicator {
        /// Id.
        pub id: Lenient<IndicatorId>,
        /// Value.
        pub indicator_value: Option<String>,
        /// Type.
        pub indicator_type: Option<IndicatorType>,
        /// Action.
        pub action: Option<IndicatorAction>,
        /// Application.
        pub application: Option<String>,
        /// Source (app or user name).
        pub source: Option<String>,
        /// `User`, `AadApp`.
        pub source_type: Option<String>,
        /// Title.
        pub title: Option<String>,
        /// Created.
        pub creation_time_date_time_utc: Option<Timestamp>,
        /// Creator id.
        pub created_by: Option<String>,
        /// Creator name.
        pub created_by_display_name: Option<String>,
        /// Expires.
        pub expiration_time: Option<Timestamp>,
        /// Last update.
        pub last_update_time: Option<Timestamp>,
        /// Last updater.
        pub last_updated_by: Option<String>,
        /// Severity.
        pub severity: Option<IndicatorSeverity>,
        /// Description.
        pub description: Option<String>,
        /// Recommended actions.
        pub recommended_actions: Option<String>,
        /// Device groups by name.
        pub rbac_group_names: Option<Vec<String>>,
        /// Device groups by id.
        pub rbac_group_ids: Option<Vec<serde_json::Value>>,
        /// Raises an alert on a match.
        pub generate_alert: Option<bool>,
    }
}

model! {
    /// One item of the import answer.
    pub struct IndicatorImportResult {
        /// Id of the created indicator.
        pub id: Option<Lenient<IndicatorId>>,
        /// The value.
        pub indicator: Option<String>,
        /// Whether this item failed (the call answers 200 either way: check every item).
        pub is_failed: Option<bool>,
        /// Why.
        pub failure_reason: Option<String>,
    }
}

/// Body of `POST /api/indicators` (and one item of an import).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorSubmit {
    /// Value (set together with `indicator_type` by [`IndicatorSubmit::new`]).
    pub indicator_value: String,
    /// Type.
    pub indicator_type: IndicatorType,
    /// Title.
    pub title: String,
    /// Application (new indicators only).
    pub application: Option<String>,
    /// Expiry.
    pub expiration_time: Option<Timestamp>,
    /// Action.
    pub action: IndicatorAction,
    /// Severity.
    pub severity: Option<IndicatorSeverity>,
    /// Description.
    pub description: String,
    /// Recommended actions.
    pub recommended_actions: Option<String>,
    /// Device groups.
    pub rbac_group_names: Option<Vec<String>>,
    /// End-user notification URL.
    pub educate_url: Option<String>,
    /// Raise an alert (must be true for `Audit`).
    pub generate_alert: Option<bool>,
}

impl IndicatorSubmit {
    /// The required fields; the optional ones start unset.
    pub fn new(
        value: &IndicatorValue,
        action: IndicatorAction,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            indicator_value: value.value(),
            indicator_type: value.indicator_type(),
            title: title.into(),
            application: None,
            expiration_time: None,
            action,
            severity: None,
            description: description.into(),
            recommended_actions: None,
            rbac_group_names: None,
            educate_url: None,
            generate_alert: None,
        }
    }
}

/// Body of `POST /api/indicators/import` (at most 500).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndicatorImport {
    /// The indicators.
    pub indicators: Vec<IndicatorSubmit>,
}

/// Body of `POST /api/indicators/BatchDelete` (at most 500).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndicatorBatchDelete {
    /// The ids.
    pub indicator_ids: Vec<IndicatorId>,
}
