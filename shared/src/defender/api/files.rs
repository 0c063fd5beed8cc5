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

pub(crate) fn look_back(hours: Option<u32>) -> Vec<(String, String)> {
    hours.map(|h| vec![("lookBackHours".to_string(), h.clamp(1, MAX_LOOK_BACK_HOURS).to_string())]).unwrap_or_default()
}

calls! {
    /// A file by SHA-1 or SHA-256.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when unknown).
    call get_file(id: &FileHash) -> FileInfo = get_call: request(MdeFilesGet, &[id]);
    /// A file's organisation statistics over the last `look_back_hours` (default 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_stats(id: &FileHash, look_back_hours: Option<u32>) -> FileStats =
        /// With `lookBackHours=N` when given (N capped at 720).
        stats_call: with_query(MdeFilesStats, &[id], look_back(look_back_hours));
    /// Alerts related to a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_alerts(id: &FileHash) -> ODataList<Alert> = alerts_call: request(MdeFilesAlerts, &[id]);
    /// Machines that saw a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_machines(id: &FileHash) -> ODataList<Machine> = machines_call: request(MdeFilesMachines, &[id]);
}
