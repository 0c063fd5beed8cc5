//! MDE files (`/api/files/{sha1|sha256}`): file information and organisation statistics.

use super::{Timestamp, model};
use crate::ids::{Md5, Sha1, Sha256};
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

model! {
    /// A file (`/api/files/{id}`; also the items of `/api/alerts/{id}/files`).
    pub struct FileInfo {
        /// SHA-1.
        pub sha1: Option<Sha1>,
        /// SHA-256.
        pub sha256: Option<Sha256>,
        /// MD5.
        pub md5: Option<Md5>,
        /// Devices worldwide.
        pub global_prevalence: Option<i64>,
        /// First seen worldwide.
        pub global_first_observed: Option<Timestamp>,
        /// Last seen worldwide.
        pub global_last_observed: Option<Timestamp>,
        /// Size in bytes.
        pub size: Option<i64>,
        /// Type.
        pub file_type: Option<String>,
        /// Portable executable.
        pub is_pe_file: Option<bool>,
        /// Publisher.
        pub file_publisher: Option<String>,
        /// Product.
        pub file_product_name: Option<String>,
        /// Signer.
        pub signer: Option<String>,
        /// Certificate issuer.
        pub issuer: Option<String>,
        /// Signer certificate hash.
        pub signer_hash: Option<String>,
        /// Valid signature.
        pub is_valid_certificate: Option<bool>,
        /// `Unknown`, `Clean`, `Pua`, `Malware`, ... (an open set).
        pub determination_type: Option<String>,
        /// Determination detail (`PUA:Win32/FusionCore`).
        pub determination_value: Option<String>,
    }
}

model! {
    /// File statistics (`/api/files/{id}/stats`).
    pub struct FileStats {
        /// SHA-1.
        pub sha1: Option<Sha1>,
        ..in_org_stats,
        /// Devices worldwide (documented spelling `globallyPrevalence`).
        pub globally_prevalence: Option<i64>,
        /// First seen worldwide.
        pub global_first_observed: Option<Timestamp>,
        /// Last seen worldwide.
        pub global_last_observed: Option<Timestamp>,
        /// Most common names.
        pub top_file_names: Option<Vec<String>>,
    }
}
