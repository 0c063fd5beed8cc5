//! MDE files: info, statistics, related alerts and machines.

use crate::defender::{
    DefenderClient,
    models::{
        ODataList,
        alerts::Alert,
        files::{FileHash, FileInfo, FileStats},
        machines::Machine,
    },
};

/// The documented maximum of `lookBackHours` (30 days).
pub const MAX_LOOK_BACK_HOURS: u32 = 720;

/// A hash as the path segment, in the lower-case hex the API answers with (a hash may arrive in
/// any case; no page says the API matches it without its case).
fn lower(id: &FileHash) -> String {
    id.to_string().to_ascii_lowercase()
}

pub(crate) fn look_back(hours: Option<u32>) -> Vec<(String, String)> {
    hours.map(|h| vec![("lookBackHours".to_string(), h.clamp(1, MAX_LOOK_BACK_HOURS).to_string())]).unwrap_or_default()
}

calls! {
    /// A file by SHA-1 or SHA-256.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when unknown).
    call get_file(id: &FileHash) -> FileInfo = get_call: request(MdeFilesGet, &[&lower(id)]);
    /// A file's organisation statistics over the last `look_back_hours` (default 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_stats(id: &FileHash, look_back_hours: Option<u32>) -> FileStats =
        /// With `lookBackHours=N` when given (N capped at 720).
        stats_call: with_query(MdeFilesStats, &[&lower(id)], look_back(look_back_hours));
    /// Alerts related to a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_alerts(id: &FileHash) -> ODataList<Alert> = alerts_call: request(MdeFilesAlerts, &[&lower(id)]);
    /// Machines that saw a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_machines(id: &FileHash) -> ODataList<Machine> = machines_call: request(MdeFilesMachines, &[&lower(id)]);
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
