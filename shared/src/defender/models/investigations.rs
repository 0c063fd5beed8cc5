//! MDE automated investigations (`/api/investigations`).

use super::{Lenient, Timestamp, alerts::InvestigationState, local_id, model};
use crate::ids::{AlertId, MachineId};

local_id!(
    /// An investigation id, or — where the docs allow it — the triggering alert's id: 1–128 ASCII
    /// letters, digits, `_` or `-`.
    InvestigationId,
    "investigation id",
    |s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
);

model! {
    /// An automated investigation.
    pub struct Investigation {
        /// Id.
        pub id: Lenient<InvestigationId>,
        /// Started.
        pub start_time: Option<Timestamp>,
        /// Ended.
        pub end_time: Option<Timestamp>,
        /// State.
        pub state: Option<InvestigationState>,
        /// Who cancelled it.
        pub cancelled_by: Option<String>,
        /// Detail.
        pub status_details: Option<String>,
        /// Device.
        pub machine_id: Option<Lenient<MachineId>>,
        /// Device name.
        pub computer_dns_name: Option<String>,
        /// The alert that started it.
        pub triggering_alert_id: Option<Lenient<AlertId>>,
    }
}
