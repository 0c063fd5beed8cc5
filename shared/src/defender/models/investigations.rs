//! MDE automated investigations (`/api/investigations`).

use super::{Extra, Lenient, Timestamp, alerts::InvestigationState, local_id};
use crate::ids::{AlertId, MachineId};
use serde::{Deserialize, Serialize};

local_id!(
    /// An investigation id, or — where the docs allow it — the triggering alert's id: 1–128 ASCII
    /// letters, digits, `_` or `-`.
    InvestigationId,
    "investigation id",
    |s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
);

/// An automated investigation.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
