//! The advanced-hunting schema as Microsoft documents it, for the tables the simulator serves and our
//! queries read: each column with the type a hunting answer declares for it — never a type guessed
//! from the values (a column of small numbers is still `Int64` where the schema says `long`, a column
//! that is all null still has its type).
//!
//! Source: the schema reference pages `advanced-hunting-<table>-table` (MicrosoftDocs/defender-docs,
//! `defender-xdr/`, 2024-09), whose KQL types an answer's `Schema`/`schema` spells as .NET type names:
//! `datetime` → `DateTime`, `string` → `String`, `long` → `Int64`, `int` → `Int32`, `bool`/`boolean`
//! → `SByte` (a recorded MDE answer declares the `boolean` `IsAzureInfoProtectionApplied` as
//! `SByte`, and its `int` `RequestSourcePort` as `Int32`: contract/real-responses/
//! cisco_relay__advanced_hunting.json), `dynamic` → `Object`.

/// A column group's KQL schema text, `Name:type` pairs as the reference pages list them; the groups a
/// table shares with others (the event's device, the initiating process's account and image, its
/// remote session) are written once.
type Group = &'static str;

/// Columns that share a prefix: `prefixed!("Initiating"; "A:string" "B:long")` is
/// `"InitiatingA:string InitiatingB:long "`.
macro_rules! prefixed {
    ($p:expr; $($column:literal)+) => {
        concat!($($p, $column, " "),+)
    };
}

/// A process image's hashes: `{p}SHA1`, `{p}SHA256`, `{p}MD5`.
macro_rules! hashes {
    ($p:literal) => {
        prefixed!($p; "SHA1:string" "SHA256:string" "MD5:string")
    };
}

/// An image's version information: `{p}VersionInfoCompanyName` … `{p}VersionInfoFileDescription`.
macro_rules! version_info {
    ($p:literal) => {
        prefixed!(concat!($p, "VersionInfo");
            "CompanyName:string" "ProductName:string" "ProductVersion:string"
            "InternalFileName:string" "OriginalFileName:string" "FileDescription:string")
    };
}

/// An account: `{p}Domain`, `{p}Name`, `{p}Sid`, `{p}Upn`, `{p}ObjectId`.
macro_rules! account {
    ($p:literal) => {
        prefixed!($p; "Domain:string" "Name:string" "Sid:string" "Upn:string" "ObjectId:string")
    };
}

/// Every `Device*Events` table opens with these.
const EVENT: Group = "Timestamp:datetime DeviceId:string DeviceName:string ActionType:string";
const INITIATING_ACCOUNT: Group = account!("InitiatingProcessAccount");
/// The initiating image's hashes, name and size, in the order three of the four tables list them.
const INITIATING_IMAGE: Group =
    concat!(hashes!("InitiatingProcess"), " InitiatingProcessFileName:string InitiatingProcessFileSize:long");
/// The initiating image's version information, then the process: in every table, in this order.
const INITIATING_PROCESS: Group = concat!(
    version_info!("InitiatingProcess"),
    " InitiatingProcessId:long InitiatingProcessCommandLine:string InitiatingProcessCreationTime:datetime"
);
const INITIATING_PARENT: Group = "InitiatingProcessParentId:long InitiatingProcessParentFileName:string InitiatingProcessParentCreationTime:datetime";
const INITIATING_ELEVATION: Group = "InitiatingProcessIntegrityLevel:string InitiatingProcessTokenElevation:string";
const REPORT: Group = "ReportId:long AppGuardContainerId:string";
const REMOTE_SESSION: Group = "InitiatingProcessSessionId:long IsInitiatingProcessRemoteSession:bool \
     InitiatingProcessRemoteSessionDeviceName:string InitiatingProcessRemoteSessionIP:string";

/// `(table, column groups)`, the columns in the documented order.
pub const TABLES: &[(&str, &[Group])] = &[
    (
        "DeviceProcessEvents",
        &[
            EVENT,
            "FileName:string FolderPath:string",
            hashes!(""),
            "FileSize:long",
            version_info!("Process"),
            "ProcessId:long ProcessCommandLine:string ProcessIntegrityLevel:string \
             ProcessTokenElevation:string ProcessCreationTime:datetime",
            account!("Account"),
            "LogonId:long",
            INITIATING_ACCOUNT,
            "InitiatingProcessLogonId:long",
            INITIATING_ELEVATION,
            INITIATING_IMAGE,
            INITIATING_PROCESS,
            "InitiatingProcessFolderPath:string",
            INITIATING_PARENT,
            "InitiatingProcessSignerType:string InitiatingProcessSignatureStatus:string",
            REPORT,
            "AdditionalFields:string",
        ],
    ),
    (
        "DeviceNetworkEvents",
        &[
            EVENT,
            "RemoteIP:string RemotePort:int RemoteUrl:string LocalIP:string LocalPort:int Protocol:string \
             LocalIPType:string RemoteIPType:string",
            INITIATING_IMAGE,
            INITIATING_PROCESS,
            "InitiatingProcessFolderPath:string InitiatingProcessParentFileName:string \
             InitiatingProcessParentId:long InitiatingProcessParentCreationTime:datetime",
            INITIATING_ACCOUNT,
            INITIATING_ELEVATION,
            REPORT,
            "AdditionalFields:string",
            REMOTE_SESSION,
        ],
    ),
    (
        "DeviceFileEvents",
        &[
            EVENT,
            "FileName:string FolderPath:string",
            hashes!(""),
            "FileOriginUrl:string FileOriginReferrerUrl:string FileOriginIP:string PreviousFolderPath:string \
             PreviousFileName:string FileSize:long",
            INITIATING_ACCOUNT,
            "InitiatingProcessMD5:string InitiatingProcessSHA1:string InitiatingProcessSHA256:string \
             InitiatingProcessFolderPath:string InitiatingProcessFileName:string InitiatingProcessFileSize:long",
            INITIATING_PROCESS,
            INITIATING_ELEVATION,
            INITIATING_PARENT,
            "RequestProtocol:string RequestSourceIP:string RequestSourcePort:int RequestAccountName:string \
             RequestAccountDomain:string RequestAccountSid:string ShareName:string SensitivityLabel:string \
             SensitivitySubLabel:string IsAzureInfoProtectionApplied:bool",
            REPORT,
            "AdditionalFields:string",
            REMOTE_SESSION,
        ],
    ),
    (
        "DeviceRegistryEvents",
        &[
            EVENT,
            "RegistryKey:string RegistryValueType:string RegistryValueName:string RegistryValueData:string \
             PreviousRegistryKey:string PreviousRegistryValueName:string PreviousRegistryValueData:string",
            INITIATING_ACCOUNT,
            INITIATING_IMAGE,
            INITIATING_PROCESS,
            "InitiatingProcessFolderPath:string",
            INITIATING_PARENT,
            INITIATING_ELEVATION,
            REPORT,
            REMOTE_SESSION,
        ],
    ),
];

/// The .NET type name an answer declares for a KQL type (the table in this module's header).
fn dotnet(kql: &str) -> Option<&'static str> {
    Some(match kql {
        "datetime" => "DateTime",
        "string" => "String",
        "long" => "Int64",
        "int" => "Int32",
        "bool" => "SByte",
        "dynamic" => "Object",
        _ => return None,
    })
}

/// The `(column, KQL type)` pairs of one table, in order.
fn columns(groups: &'static [Group]) -> impl Iterator<Item = (&'static str, &'static str)> {
    groups.iter().flat_map(|g| g.split_whitespace()).filter_map(|c| c.split_once(':'))
}

/// The declared type of `column` in `table`, when the schema names both.
pub fn declared(table: &str, column: &str) -> Option<&'static str> {
    let (_, groups) = TABLES.iter().find(|(t, _)| *t == table)?;
    columns(groups).find(|(c, _)| *c == column).and_then(|(_, t)| dotnet(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_name_colon_known_type_once_per_table() {
        for (table, groups) in TABLES {
            let tokens: Vec<&str> = groups.iter().flat_map(|g| g.split_whitespace()).collect();
            let mut names: Vec<&str> = Vec::new();
            for token in tokens {
                let (name, kql) = token.split_once(':').unwrap_or((token, ""));
                assert!(dotnet(kql).is_some(), "{table}: {token}");
                assert!(!names.contains(&name), "{table}: {name} twice");
                names.push(name);
            }
        }
        assert_eq!(declared("DeviceNetworkEvents", "RemotePort"), Some("Int32"));
        assert_eq!(declared("DeviceProcessEvents", "ProcessVersionInfoCompanyName"), Some("String"));
        assert_eq!(declared("DeviceRegistryEvents", "AdditionalFields"), None);
    }

    #[test]
    fn the_recorded_answer_s_types_are_the_declared_ones() {
        // Every column of the recorded MDE answer (DeviceFileEvents) has the type the schema declares.
        let rec: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../contract/real-responses/cisco_relay__advanced_hunting.json"
        ))
        .unwrap_or_default();
        let schema = rec["entities"][0]["Schema"].as_array().cloned().unwrap_or_default();
        assert!(schema.len() > 40, "the recorded schema is read");
        for c in &schema {
            let (name, ty) = (c["Name"].as_str().unwrap_or(""), c["Type"].as_str().unwrap_or(""));
            assert_eq!(declared("DeviceFileEvents", name), Some(ty), "{name}");
        }
    }
}
