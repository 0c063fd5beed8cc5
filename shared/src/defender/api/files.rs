//! MDE files: info, statistics, related alerts and machines.

use super::{request, with_query};
use crate::defender::{
    Call, DefenderClient, Endpoint,
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
    /// `GET /api/files/{id}`.
    fn get_call(id: &FileHash) -> Call = request(Endpoint::MdeFilesGet, &[id]);
    /// A file by SHA-1 or SHA-256.
    ///
    /// # Errors
    /// As [`DefenderClient::call`] (`404` when unknown).
    call get_file -> FileInfo;
    /// `GET /api/files/{id}/stats[?lookBackHours=N]` (N capped at 720).
    fn stats_call(id: &FileHash, look_back_hours: Option<u32>) -> Call
        = with_query(Endpoint::MdeFilesStats, &[id], look_back(look_back_hours));
    /// A file's organisation statistics over the last `look_back_hours` (default 30 days).
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_stats -> FileStats;
    /// `GET /api/files/{id}/alerts`.
    fn alerts_call(id: &FileHash) -> Call = request(Endpoint::MdeFilesAlerts, &[id]);
    /// Alerts related to a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_alerts -> ODataList<Alert>;
    /// `GET /api/files/{id}/machines`.
    fn machines_call(id: &FileHash) -> Call = request(Endpoint::MdeFilesMachines, &[id]);
    /// Machines that saw a file.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call file_machines -> ODataList<Machine>;
}
