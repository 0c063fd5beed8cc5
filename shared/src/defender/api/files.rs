//! MDE files: info, statistics, related alerts and machines.

use super::{get, get_with, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{
            ODataList,
            alerts::Alert,
            files::{FileHash, FileInfo, FileStats},
            machines::Machine,
        },
    },
    ids::TenantName,
};

/// The documented maximum of `lookBackHours` (30 days).
pub const MAX_LOOK_BACK_HOURS: u32 = 720;

/// The path of a file by hash, in the lower-case hex the API answers with (a hash may arrive in any
/// case; no page says the API matches it without its case).
fn file_path(id: &FileHash, tail: &str) -> String {
    format!("/api/files/{}{tail}", seg(&id.to_string().to_ascii_lowercase()))
}

pub(crate) fn look_back(hours: Option<u32>) -> Vec<(String, String)> {
    hours.map(|h| vec![("lookBackHours".to_string(), h.clamp(1, MAX_LOOK_BACK_HOURS).to_string())]).unwrap_or_default()
}

/// `GET /api/files/{id}`.
pub fn get_call(id: &FileHash) -> Call {
    get(Endpoint::MdeFilesGet, file_path(id, ""))
}
/// `GET /api/files/{id}/stats[?lookBackHours=N]` (N capped at 720).
pub fn stats_call(id: &FileHash, look_back_hours: Option<u32>) -> Call {
    get_with(Endpoint::MdeFilesStats, file_path(id, "/stats"), look_back(look_back_hours))
}
/// `GET /api/files/{id}/alerts`.
pub fn alerts_call(id: &FileHash) -> Call {
    get(Endpoint::MdeFilesAlerts, file_path(id, "/alerts"))
}
/// `GET /api/files/{id}/machines`.
pub fn machines_call(id: &FileHash) -> Call {
    get(Endpoint::MdeFilesMachines, file_path(id, "/machines"))
}

impl<T: TokenSource> DefenderClient<T> {
    /// A file by SHA-1 or SHA-256.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when unknown).
    pub async fn get_file(
        &self,
        tenant: &TenantName,
        id: &FileHash,
        deadline: Deadline,
    ) -> Result<FileInfo, DefenderError> {
        self.call(tenant, get_call(id), deadline).await
    }

    /// A file's organisation statistics over the last `look_back_hours` (default 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn file_stats(
        &self,
        tenant: &TenantName,
        id: &FileHash,
        look_back_hours: Option<u32>,
        deadline: Deadline,
    ) -> Result<FileStats, DefenderError> {
        self.call(tenant, stats_call(id, look_back_hours), deadline).await
    }

    /// Alerts related to a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn file_alerts(
        &self,
        tenant: &TenantName,
        id: &FileHash,
        deadline: Deadline,
    ) -> Result<ODataList<Alert>, DefenderError> {
        self.call(tenant, alerts_call(id), deadline).await
    }

    /// Machines that saw a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn file_machines(
        &self,
        tenant: &TenantName,
        id: &FileHash,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, machines_call(id), deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_goes_to_the_files_api_lower_cased() {
        let upper = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709";
        let id = FileHash::Sha1(upper.parse().unwrap());
        let lower = upper.to_ascii_lowercase();
        assert_eq!(get_call(&id).path, format!("/api/files/{lower}"));
        assert_eq!(stats_call(&id, None).path, format!("/api/files/{lower}/stats"));
        assert_eq!(alerts_call(&id).path, format!("/api/files/{lower}/alerts"));
        assert_eq!(machines_call(&id).path, format!("/api/files/{lower}/machines"));
        let s256 = FileHash::Sha256(format!("{}{}", "AB".repeat(16), "cd".repeat(16)).parse().unwrap());
        assert_eq!(get_call(&s256).path, format!("/api/files/{}{}", "ab".repeat(16), "cd".repeat(16)));
    }
}
