//! MDE machine actions (`/api/machineactions`) and live response; the bodies of every response
//! action (isolate, scan, restrict, collect, stop-and-quarantine, offboard, live response, cancel).

use super::{Extra, Lenient, Timestamp, model, open_enum};
use crate::ids::{ActionId, MachineId, Sha1};
use serde::{Deserialize, Serialize};

open_enum!(
    /// What a machine action does.
    ActionType {
        /// `RunAntiVirusScan`.
        RunAntiVirusScan = "RunAntiVirusScan",
        /// `Offboard`.
        Offboard = "Offboard",
        /// `LiveResponse`.
        LiveResponse = "LiveResponse",
        /// `CollectInvestigationPackage`.
        CollectInvestigationPackage = "CollectInvestigationPackage",
        /// `Isolate`.
        Isolate = "Isolate",
        /// `Unisolate`.
        Unisolate = "Unisolate",
        /// `StopAndQuarantineFile`.
        StopAndQuarantineFile = "StopAndQuarantineFile",
        /// `RestrictCodeExecution`.
        RestrictCodeExecution = "RestrictCodeExecution",
        /// `UnrestrictCodeExecution`.
        UnrestrictCodeExecution = "UnrestrictCodeExecution",
    }
);

open_enum!(
    /// Where a machine action is in its life.
    ActionStatus {
        /// `Pending`.
        Pending = "Pending",
        /// `InProgress`.
        InProgress = "InProgress",
        /// `Succeeded`.
        Succeeded = "Succeeded",
        /// `Failed`.
        Failed = "Failed",
        /// `TimeOut`.
        TimeOut = "TimeOut",
        /// `Cancelled`.
        Cancelled = "Cancelled",
    }
);

impl ActionStatus {
    /// Whether the action will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimeOut | Self::Cancelled)
    }
}

open_enum!(
    /// Isolation kind.
    IsolationType {
        /// `Full`.
        Full = "Full",
        /// `Selective`.
        Selective = "Selective",
        /// `UnManagedDevice`.
        UnManagedDevice = "UnManagedDevice",
    }
);

open_enum!(
    /// Antivirus scan kind.
    ScanType {
        /// `Quick`.
        Quick = "Quick",
        /// `Full`.
        Full = "Full",
    }
);

open_enum!(
    /// Live response command.
    LiveResponseCommandType {
        /// `PutFile` (param `FileName`).
        PutFile = "PutFile",
        /// `RunScript` (params `ScriptName`, `Args`).
        RunScript = "RunScript",
        /// `GetFile` (param `Path`).
        GetFile = "GetFile",
    }
);

model! {
    /// A machine action.
    ///
    /// The resource page names the update time `lastUpdateDateTimeUtc`, the list example
    /// `lastUpdateTimeUtc`; both are kept, [`MachineAction::last_update`] reads whichever is there.
    pub struct MachineAction {
        /// Action id (a GUID; kept as sent).
        pub id: Lenient<ActionId>,
        /// What it does.
        #[serde(rename = "type")]
        pub kind: Option<ActionType>,
        /// Scope (`Full`, `Selective`, `Quick`, ...).
        pub scope: Option<String>,
        /// Who asked.
        pub requestor: Option<String>,
        /// Their comment.
        pub requestor_comment: Option<String>,
        /// Status.
        pub status: Option<ActionStatus>,
        /// Target device.
        pub machine_id: Option<Lenient<MachineId>>,
        /// Target device name.
        pub computer_dns_name: Option<String>,
        /// Created.
        pub creation_date_time_utc: Option<Timestamp>,
        /// Last update (resource page spelling).
        pub last_update_date_time_utc: Option<Timestamp>,
        /// Last update (list example spelling).
        pub last_update_time_utc: Option<Timestamp>,
        /// The file a stop-and-quarantine action is about.
        /// Real answers send `""` for none.
        #[serde(default, deserialize_with = "super::empty_as_none")]
        pub related_file_info: Option<RelatedFileInfo>,
        /// Live response: overall error code.
        pub error_h_result: Option<i64>,
        /// Live response: the commands and their state.
        pub commands: Option<Vec<LiveResponseCommandEntry>>,
    }
}

impl MachineAction {
    /// The last update time, under either documented name.
    pub fn last_update(&self) -> Option<&Timestamp> {
        self.last_update_date_time_utc.as_ref().or(self.last_update_time_utc.as_ref())
    }
}

model! {
    /// `relatedFileInfo` of a machine action.
    pub struct RelatedFileInfo {
        /// The hash.
        pub file_identifier: Option<String>,
        /// `Sha1`, `Sha256`, `Md5`.
        pub file_identifier_type: Option<String>,
    }
}

/// An entry of a machine action's `commands`: the documented command result, or — as recorded in
/// real answers (`"commands": ["PutFile"]`) — just the command's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LiveResponseCommandEntry {
    /// The documented shape.
    Result(Box<LiveResponseCommandResult>),
    /// A bare command name.
    Name(String),
}

impl LiveResponseCommandEntry {
    /// The command result, when the entry has the documented shape.
    pub fn result(&self) -> Option<&LiveResponseCommandResult> {
        match self {
            Self::Result(r) => Some(r),
            Self::Name(_) => None,
        }
    }
}

model! {
    /// One command of a live response action, with its state.
    pub struct LiveResponseCommandResult {
        /// Position (for `GetLiveResponseResultDownloadLink(index=...)`).
        pub index: Option<u32>,
        /// Started.
        pub start_time: Option<Timestamp>,
        /// Ended.
        pub end_time: Option<Timestamp>,
        /// `Created`, `Completed`, `Failed` (an open set).
        pub command_status: Option<String>,
        /// Errors.
        pub errors: Option<Vec<serde_json::Value>>,
        /// The command.
        pub command: Option<LiveResponseCommand>,
    }
}

/// A live response command: `{"type": ..., "params": [{"key", "value"}]}` (request and response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResponseCommand {
    /// Command.
    #[serde(rename = "type")]
    pub kind: LiveResponseCommandType,
    /// Parameters.
    #[serde(default)]
    pub params: Vec<LiveResponseParam>,
}

impl LiveResponseCommand {
    /// `RunScript` of a library script, with optional arguments.
    pub fn run_script(script_name: impl Into<String>, args: Option<String>) -> Self {
        let mut params = vec![LiveResponseParam::new("ScriptName", script_name)];
        if let Some(a) = args {
            params.push(LiveResponseParam::new("Args", a));
        }
        Self { kind: LiveResponseCommandType::RunScript, params }
    }
    /// `GetFile` of a path on the device.
    pub fn get_file(path: impl Into<String>) -> Self {
        Self { kind: LiveResponseCommandType::GetFile, params: vec![LiveResponseParam::new("Path", path)] }
    }
    /// `PutFile` of a library file.
    pub fn put_file(file_name: impl Into<String>) -> Self {
        Self { kind: LiveResponseCommandType::PutFile, params: vec![LiveResponseParam::new("FileName", file_name)] }
    }
}

/// One `{"key", "value"}` parameter of a live response command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResponseParam {
    /// Name (`ScriptName`, `Args`, `Path`, `FileName`).
    pub key: String,
    /// Value.
    pub value: String,
}

impl LiveResponseParam {
    /// A parameter.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }
}

/// The transcript a `RunScript` result link downloads.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResponseScriptResult {
    /// Script.
    pub script_name: Option<String>,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// Standard output.
    pub script_output: Option<String>,
    /// Standard error.
    pub script_errors: Option<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{"Comment": ...}`: the body of unisolate, restrict/unrestrict code execution, collect
/// investigation package, offboard, cancel and start investigation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommentRequest {
    /// Why (required).
    pub comment: String,
}

impl CommentRequest {
    /// A body with this comment.
    pub fn new(comment: impl Into<String>) -> Self {
        Self { comment: comment.into() }
    }
}

/// Body of `POST /api/machines/{id}/isolate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IsolateRequest {
    /// Why (required).
    pub comment: String,
    /// `Full`, `Selective` or `UnManagedDevice`.
    pub isolation_type: IsolationType,
}

/// Body of `POST /api/machines/{id}/runAntiVirusScan`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanRequest {
    /// Why.
    pub comment: String,
    /// `Quick` or `Full`.
    pub scan_type: ScanType,
}

/// Body of `POST /api/machines/{id}/StopAndQuarantineFile`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopAndQuarantineRequest {
    /// Why.
    pub comment: String,
    /// The file.
    pub sha1: Sha1,
}

/// Body of `POST /api/machines/{id}/runliveresponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LiveResponseRequest {
    /// The commands, run in order.
    pub commands: Vec<LiveResponseCommand>,
    /// Why.
    pub comment: String,
}
