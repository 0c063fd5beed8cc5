//! MDE files (`/api/files/{sha1|sha256}`): file information and organisation statistics.

use super::{Extra, Timestamp};
use crate::ids::{Md5, Sha1, Sha256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A file identifier the files API takes in its path: SHA-1 or SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileHash {
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha1(h) => h.fmt(f),
            Self::Sha256(h) => h.fmt(f),
        }
    }
}

impl From<Sha1> for FileHash {
    fn from(h: Sha1) -> Self {
        Self::Sha1(h)
    }
}

impl From<Sha256> for FileHash {
    fn from(h: Sha256) -> Self {
        Self::Sha256(h)
    }
}

/// A file (`/api/files/{id}`; also the items of `/api/alerts/{id}/files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Sha1>,
    /// SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
    /// MD5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<Md5>,
    /// Devices worldwide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_prevalence: Option<i64>,
    /// First seen worldwide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_first_observed: Option<Timestamp>,
    /// Last seen worldwide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_last_observed: Option<Timestamp>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Portable executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_pe_file: Option<bool>,
    /// Publisher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_publisher: Option<String>,
    /// Product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_product_name: Option<String>,
    /// Signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Certificate issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Signer certificate hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_hash: Option<String>,
    /// Valid signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_valid_certificate: Option<bool>,
    /// `Unknown`, `Clean`, `Pua`, `Malware`, ... (an open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination_type: Option<String>,
    /// Determination detail (`PUA:Win32/FusionCore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determination_value: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// File statistics (`/api/files/{id}/stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStats {
    /// SHA-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Sha1>,
    /// Devices in the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_prevalence: Option<i64>,
    /// First seen in the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_first_seen: Option<Timestamp>,
    /// Last seen in the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_last_seen: Option<Timestamp>,
    /// Devices worldwide (documented spelling `globallyPrevalence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globally_prevalence: Option<i64>,
    /// First seen worldwide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_first_observed: Option<Timestamp>,
    /// Last seen worldwide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_last_observed: Option<Timestamp>,
    /// Most common names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_file_names: Option<Vec<String>>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
