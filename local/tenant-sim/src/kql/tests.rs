//! Unit tests of the KQL subset.

use super::*;
use serde_json::json;

fn row(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => panic!("row must be an object"),
    }
}

fn tables() -> BTreeMap<String, Vec<Row>> {
    let procs = vec![
        row(json!({
            "Timestamp": "2020-02-05T01:10:26.2648757Z", "FileName": "csc.exe",
            "InitiatingProcessFileName": "powershell.exe",
            "ProcessCommandLine": "csc.exe /noconfig @C:\\Users\\a\\AppData\\Local\\Temp\\x.cmdline",
            "DeviceId": "d1", "ProcessId": 100, "IsAdmin": true, "Score": 1.5,
            "AdditionalFields": {"a": 1}
        })),
        row(json!({
            "Timestamp": "2020-02-05T03:00:00Z", "FileName": "cmd.exe",
            "InitiatingProcessFileName": "PowerShell.EXE",
            "ProcessCommandLine": "cmd.exe /c whoami",
            "DeviceId": "d2", "ProcessId": 200, "IsAdmin": false, "Score": 2.5,
            "AdditionalFields": null
        })),
        row(json!({
            "Timestamp": "2020-02-04T12:00:00.5Z", "FileName": "conhost.exe",
            "InitiatingProcessFileName": "powershell.exe",
            "ProcessCommandLine": "conhost.exe 0xffffffff -ForceV1 appdata\\roaming",
            "DeviceId": "d1", "ProcessId": 300, "IsAdmin": false, "Score": null,
            "AdditionalFields": [1, 2]
        })),
        row(json!({
            "Timestamp": "2020-01-20T00:00:00Z", "FileName": "notepad.exe",
            "InitiatingProcessFileName": "explorer.exe",
            "ProcessCommandLine": "notepad.exe C:\\AppData\\notes.txt",
            "DeviceId": "d3", "ProcessId": 400, "IsAdmin": true, "Score": 0.5
        })),
        row(json!({
            "Timestamp": "2020-02-05T23:00:00Z", "FileName": "whoami.exe",
            "InitiatingProcessFileName": "powershell.exe",
            "ProcessCommandLine": "",
            "DeviceId": "d2", "ProcessId": 500, "IsAdmin": false, "Score": 3.0,
            "AdditionalFields": null
        })),
    ];
    let registry = (0..12)
        .map(|i| row(json!({"Timestamp": "2020-02-01T00:00:00Z", "RegistryKey": format!("HKLM\\k{i}")})))
        .collect();
    let mut t = BTreeMap::new();
    t.insert("DeviceProcessEvents".to_string(), procs);
    t.insert("DeviceRegistryEvents".to_string(), registry);
    t.insert("EmptyEvents".to_string(), Vec::new());
    t
}

fn now() -> DateTime<Utc> {
    parse_datetime("2020-02-06T00:00:00Z").unwrap()
}

fn run(q: &str) -> Result<Output, KqlError> {
    parse(q)?.run(&tables(), now(), 100_000)
}

fn ok(q: &str) -> Output {
    match run(q) {
        Ok(o) => o,
        Err(e) => panic!("query {q:?} failed: {e}"),
    }
}

fn col(q: &str, c: &str) -> Vec<Value> {
    ok(q).rows.iter().map(|r| r.get(c).cloned().unwrap_or(Value::Null)).collect()
}

fn files(q: &str) -> Vec<String> {
    col(q, "FileName").into_iter().map(|v| v.as_str().unwrap_or("<none>").to_string()).collect()
}

fn names(o: &Output) -> Vec<(&str, &str)> {
    o.schema.iter().map(|c| (c.name.as_str(), c.kind.as_str())).collect()
}

const P: &str = "DeviceProcessEvents";

// Documented examples --------------------------------------------------

#[test]
fn documented_example_powershell_appdata() {
    let q = "DeviceProcessEvents |where InitiatingProcessFileName =~ 'powershell.exe' |where ProcessCommandLine contains 'appdata'|project Timestamp, FileName, InitiatingProcessFileName, DeviceId|limit 2";
    let o = ok(q);
    assert_eq!(
        names(&o),
        vec![
            ("Timestamp", "DateTime"),
            ("FileName", "String"),
            ("InitiatingProcessFileName", "String"),
            ("DeviceId", "String")
        ]
    );
    assert_eq!(o.rows.len(), 2);
    assert!(!o.truncated);
    assert_eq!(
        Value::Object(o.rows[0].clone()),
        json!({"Timestamp": "2020-02-05T01:10:26.2648757Z", "FileName": "csc.exe",
               "InitiatingProcessFileName": "powershell.exe", "DeviceId": "d1"})
    );
    let keys: Vec<&String> = o.rows[1].keys().collect();
    assert_eq!(keys, ["Timestamp", "FileName", "InitiatingProcessFileName", "DeviceId"]);
    assert_eq!(o.rows[1]["FileName"], json!("conhost.exe"));
    assert_eq!(parse(q).unwrap().table(), "DeviceProcessEvents");
}

#[test]
fn documented_example_with_spaces_matches_compact_form() {
    let spaced = "DeviceProcessEvents | where InitiatingProcessFileName =~ 'powershell.exe' | where ProcessCommandLine contains 'appdata' | project Timestamp, FileName, InitiatingProcessFileName, DeviceId | limit 2";
    let compact = "DeviceProcessEvents|where InitiatingProcessFileName=~'powershell.exe'|where ProcessCommandLine contains 'appdata'|project Timestamp,FileName,InitiatingProcessFileName,DeviceId|limit 2";
    assert_eq!(ok(spaced), ok(compact));
}

#[test]
fn documented_example_order_by_timestamp_desc() {
    let q = "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2";
    let o = ok(q);
    assert_eq!(o.schema.len(), 3);
    assert_eq!(files(q), ["whoami.exe", "cmd.exe"]);
    assert_eq!(o.rows[0]["Timestamp"], json!("2020-02-05T23:00:00Z"));
}

#[test]
fn documented_example_registry_limit_10() {
    let o = ok("DeviceRegistryEvents | limit 10");
    assert_eq!(o.rows.len(), 10);
    assert_eq!(names(&o), vec![("Timestamp", "DateTime"), ("RegistryKey", "String")]);
    assert_eq!(o.rows[9]["RegistryKey"], json!("HKLM\\k9"));
}

// where: comparisons ---------------------------------------------------

#[test]
fn equality_is_case_sensitive_and_tilde_is_not() {
    let q = |op: &str| files(&format!("{P} | where InitiatingProcessFileName {op} 'powershell.exe'"));
    assert_eq!(q("=="), ["csc.exe", "conhost.exe", "whoami.exe"]);
    assert_eq!(q("!="), ["cmd.exe", "notepad.exe"]);
    assert_eq!(q("=~"), ["csc.exe", "cmd.exe", "conhost.exe", "whoami.exe"]);
    assert_eq!(q("!~"), ["notepad.exe"]);
}

#[test]
fn numeric_comparisons() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("ProcessId < 300"), ["csc.exe", "cmd.exe"]);
    assert_eq!(q("ProcessId <= 300"), ["csc.exe", "cmd.exe", "conhost.exe"]);
    assert_eq!(q("ProcessId > 300"), ["notepad.exe", "whoami.exe"]);
    assert_eq!(q("ProcessId >= 400"), ["notepad.exe", "whoami.exe"]);
    assert_eq!(q("ProcessId == 200"), ["cmd.exe"]);
    assert_eq!(q("ProcessId != 200").len(), 4);
    assert_eq!(q("Score > 2"), ["cmd.exe", "whoami.exe"]);
    assert_eq!(q("Score == 3"), ["whoami.exe"]);
    assert_eq!(q("ProcessId > 150.5"), ["cmd.exe", "conhost.exe", "notepad.exe", "whoami.exe"]);
    assert_eq!(q("ProcessId > -1").len(), 5);
    // null never compares, not even with !=
    assert_eq!(q("Score != 1.5"), ["cmd.exe", "notepad.exe", "whoami.exe"]);
    // mismatched types compare false
    assert!(q("ProcessId == '100'").is_empty());
}

#[test]
fn string_ordering_comparison() {
    assert_eq!(files(&format!("{P} | where DeviceId > 'd2'")), ["notepad.exe"]);
}

#[test]
fn boolean_column_predicates() {
    assert_eq!(files(&format!("{P} | where IsAdmin")), ["csc.exe", "notepad.exe"]);
    assert_eq!(files(&format!("{P} | where IsAdmin == false")).len(), 3);
    assert_eq!(files(&format!("{P} | where not(IsAdmin)")).len(), 3);
    assert_eq!(files(&format!("{P} | where true")).len(), 5);
    assert!(files(&format!("{P} | where false")).is_empty());
}

#[test]
fn non_boolean_predicate_is_rejected() {
    let e = run(&format!("{P} | where FileName")).unwrap_err();
    assert!(matches!(e, KqlError::Semantic(_)), "{e:?}");
    assert!(run(&format!("{P} | where 5")).is_err());
}

// where: string operators ------------------------------------------------

#[test]
fn contains_operators() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("ProcessCommandLine contains 'APPDATA'"), ["csc.exe", "conhost.exe", "notepad.exe"]);
    assert_eq!(q("ProcessCommandLine !contains 'appdata'"), ["cmd.exe", "whoami.exe"]);
    assert_eq!(q("ProcessCommandLine contains_cs 'AppData'"), ["csc.exe", "notepad.exe"]);
    assert_eq!(q("ProcessCommandLine !contains_cs 'AppData'"), ["cmd.exe", "conhost.exe", "whoami.exe"]);
}

#[test]
fn has_matches_whole_terms_only() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("ProcessCommandLine has 'WHOAMI'"), ["cmd.exe"]);
    assert!(q("ProcessCommandLine has 'whoam'").is_empty());
    assert_eq!(q("ProcessCommandLine has 'appdata'"), ["csc.exe", "conhost.exe", "notepad.exe"]);
    assert!(q("ProcessCommandLine has 'roam'").is_empty());
    assert_eq!(q("ProcessCommandLine has 'notes.txt'"), ["notepad.exe"]);
    assert_eq!(q("ProcessCommandLine !has 'whoami'").len(), 4);
    assert_eq!(q("ProcessCommandLine has_cs 'AppData'"), ["csc.exe", "notepad.exe"]);
    assert!(q("ProcessCommandLine has_cs 'APPDATA'").is_empty());
    assert_eq!(q("ProcessCommandLine !has_cs 'AppData'").len(), 3);
}

#[test]
fn has_term_boundaries() {
    assert!(has_term("cmd.exe /c whoami", "whoami"));
    assert!(has_term("cmd.exe /c whoami", "exe"));
    assert!(has_term("cmd.exe /c whoami", "/c who"[..2].trim()));
    assert!(!has_term("notwhoami", "whoami"));
    assert!(!has_term("whoamis", "whoami"));
    assert!(has_term("a.b", ".b"));
    assert!(has_term("anything", ""));
}

#[test]
fn prefix_and_suffix_operators() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("FileName startswith 'C'"), ["csc.exe", "cmd.exe", "conhost.exe"]);
    assert_eq!(q("FileName !startswith 'c'"), ["notepad.exe", "whoami.exe"]);
    assert_eq!(q("InitiatingProcessFileName endswith '.EXE'").len(), 5);
    assert_eq!(q("InitiatingProcessFileName endswith_cs '.EXE'"), ["cmd.exe"]);
    assert_eq!(q("InitiatingProcessFileName !endswith 'shell.exe'"), ["notepad.exe"]);
    assert!(q("FileName startswith_cs 'C'").is_empty());
    assert_eq!(q("FileName !startswith_cs 'C'").len(), 5);
    assert_eq!(q("FileName !endswith_cs 'exe'").len(), 0);
}

#[test]
fn in_operators() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("FileName in ('cmd.exe', 'CSC.EXE', 'nope')"), ["cmd.exe"]);
    assert_eq!(q("FileName in~ ('cmd.exe', 'CSC.EXE')"), ["csc.exe", "cmd.exe"]);
    assert_eq!(q("FileName !in ('cmd.exe', 'csc.exe')"), ["conhost.exe", "notepad.exe", "whoami.exe"]);
    assert_eq!(q("FileName !in~ ('CMD.exe')").len(), 4);
    assert_eq!(q("ProcessId in (100, 500)"), ["csc.exe", "whoami.exe"]);
}

#[test]
fn between_numbers_and_datetimes() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("ProcessId between (200 .. 400)"), ["cmd.exe", "conhost.exe", "notepad.exe"]);
    assert_eq!(q("ProcessId !between (200 .. 400)"), ["csc.exe", "whoami.exe"]);
    assert_eq!(q("Score between (1..2.5)"), ["csc.exe", "cmd.exe"]);
    assert_eq!(q("Timestamp between (datetime(2020-02-05) .. datetime(2020-02-05T03:00:00Z))"), ["csc.exe", "cmd.exe"]);
    assert_eq!(q("Timestamp between (datetime(2020-02-05) .. 1d)"), ["csc.exe", "cmd.exe", "whoami.exe"]);
    assert_eq!(q("Timestamp between (ago(1d) .. now())").len(), 3);
}

#[test]
fn isempty_and_isnull() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("isempty(ProcessCommandLine)"), ["whoami.exe"]);
    assert_eq!(q("isnotempty(ProcessCommandLine)").len(), 4);
    assert_eq!(q("isempty(Score)"), ["conhost.exe"]);
    assert_eq!(q("isnull(Score)"), ["conhost.exe"]);
    assert_eq!(q("isnotnull(Score)").len(), 4);
    assert_eq!(q("isnull(AdditionalFields)"), ["cmd.exe", "notepad.exe", "whoami.exe"]);
    assert!(q("isnull(FileName)").is_empty());
}

#[test]
fn logical_operators_and_precedence() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("DeviceId == 'd1' and IsAdmin"), ["csc.exe"]);
    assert_eq!(q("DeviceId == 'd3' or FileName == 'cmd.exe'"), ["cmd.exe", "notepad.exe"]);
    // and binds tighter than or
    assert_eq!(q("DeviceId == 'd3' or DeviceId == 'd1' and IsAdmin"), ["csc.exe", "notepad.exe"]);
    assert_eq!(q("(DeviceId == 'd3' or DeviceId == 'd1') and not(IsAdmin)"), ["conhost.exe"]);
    assert_eq!(q("not(DeviceId == 'd1' or DeviceId == 'd2')"), ["notepad.exe"]);
}

#[test]
fn string_literal_forms() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q(r#"ProcessCommandLine contains "C:\\AppData""#), ["notepad.exe"]);
    assert_eq!(q(r#"ProcessCommandLine contains @"C:\AppData""#), ["notepad.exe"]);
    assert_eq!(q(r"ProcessCommandLine contains @'C:\AppData'"), ["notepad.exe"]);
    assert_eq!(q("FileName == 'cmd.exe' // trailing comment"), ["cmd.exe"]);
}

// datetimes ---------------------------------------------------------------

#[test]
fn datetime_literal_comparisons() {
    let q = |p: &str| files(&format!("{P} | where {p}"));
    assert_eq!(q("Timestamp > datetime(2020-02-05T01:10:26Z)"), ["csc.exe", "cmd.exe", "whoami.exe"]);
    assert_eq!(q("Timestamp == datetime(2020-02-05T01:10:26.2648757Z)"), ["csc.exe"]);
    assert_eq!(q("Timestamp < datetime(2020-02-01)"), ["notepad.exe"]);
    assert_eq!(q("Timestamp >= datetime('2020-02-05 03:00:00')"), ["cmd.exe", "whoami.exe"]);
    assert_eq!(q("Timestamp <= datetime(2020-02-04T12:00:00.5Z)"), ["conhost.exe", "notepad.exe"]);
    // a string literal compared with a datetime column is read as a datetime
    assert_eq!(q("Timestamp > '2020-02-05T03:00:00.0000001Z'"), ["whoami.exe"]);
    assert!(q("Timestamp == datetime(null)").is_empty());
}

#[test]
fn ago_uses_injected_clock() {
    let t = tables();
    let q = parse(&format!("{P} | where Timestamp > ago(1d) | project FileName")).unwrap();
    let o = q.run(&t, now(), 100).unwrap();
    let got: Vec<&Value> = o.rows.iter().map(|r| &r["FileName"]).collect();
    assert_eq!(got, [&json!("csc.exe"), &json!("cmd.exe"), &json!("whoami.exe")]);
    // Moving the clock forward a week leaves nothing.
    let later = parse_datetime("2020-02-13T00:00:00Z").unwrap();
    assert!(q.run(&t, later, 100).unwrap().rows.is_empty());
    // Moving it back a month keeps everything.
    let earlier = parse_datetime("2020-01-20T12:00:00Z").unwrap();
    assert_eq!(q.run(&t, earlier, 100).unwrap().rows.len(), 5);
}

#[test]
fn ago_units() {
    let q = |p: &str| files(&format!("{P} | where Timestamp >= ago({p})"));
    assert_eq!(q("12h"), ["whoami.exe"]);
    assert_eq!(q("60m"), ["whoami.exe"]);
    assert_eq!(q("3600s"), ["whoami.exe"]);
    assert_eq!(q("3600000ms"), ["whoami.exe"]);
    assert_eq!(q("59m").len(), 0);
    assert_eq!(q("1.5d").len(), 4);
    assert_eq!(q("30d").len(), 5);
    assert_eq!(q("61min"), ["whoami.exe"]);
    assert_eq!(q("3601sec"), ["whoami.exe"]);
}

#[test]
fn now_function() {
    assert_eq!(files(&format!("{P} | where Timestamp < now()")).len(), 5);
    assert!(files(&format!("{P} | where Timestamp > now()")).is_empty());
}

#[test]
fn invalid_datetime_and_timespan_are_syntax_errors() {
    assert!(matches!(parse(&format!("{P} | where Timestamp > datetime(yesterday)")), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse(&format!("{P} | where Timestamp > ago(7y)")), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse(&format!("{P} | where Timestamp > ago(7)")), Err(KqlError::Syntax { .. })));
    assert!(parse(&format!("{P} | where Timestamp > ago(99999999999999999d)")).is_err());
}

// project / project-away / extend ----------------------------------------

#[test]
fn project_rename_and_literals_with_inferred_types() {
    let o = ok(&format!(
        "{P} | project Id = ProcessId, FileName, Admin = IsAdmin, Score, Fields = AdditionalFields, Tag = 'x', N = 7, F = 1.25, B = true, When = datetime(2020-01-01), Now = now()"
    ));
    assert_eq!(
        names(&o),
        vec![
            ("Id", "Int64"),
            ("FileName", "String"),
            ("Admin", "Boolean"),
            ("Score", "Double"),
            ("Fields", "Dynamic"),
            ("Tag", "String"),
            ("N", "Int64"),
            ("F", "Double"),
            ("B", "Boolean"),
            ("When", "DateTime"),
            ("Now", "DateTime"),
        ]
    );
    assert_eq!(
        Value::Object(o.rows[0].clone()),
        json!({"Id": 100, "FileName": "csc.exe", "Admin": true, "Score": 1.5,
               "Fields": {"a": 1}, "Tag": "x", "N": 7, "F": 1.25, "B": true,
               "When": "2020-01-01T00:00:00.0000000Z", "Now": "2020-02-06T00:00:00.0000000Z"})
    );
    assert_eq!(o.rows[3]["Fields"], Value::Null);
}

#[test]
fn project_unknown_and_duplicate_columns() {
    assert_eq!(run(&format!("{P} | project Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    assert!(matches!(run(&format!("{P} | project FileName, FileName")), Err(KqlError::Semantic(_))));
    // a projected-away column can no longer be used
    assert_eq!(
        run(&format!("{P} | project FileName | where DeviceId == 'd1'")),
        Err(KqlError::UnknownColumn("DeviceId".into()))
    );
}

#[test]
fn project_away_removes_columns() {
    let o = ok(&format!("{P} | project-away ProcessCommandLine, AdditionalFields, Score"));
    let n: Vec<&str> = o.schema.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(n, ["Timestamp", "FileName", "InitiatingProcessFileName", "DeviceId", "ProcessId", "IsAdmin"]);
    assert!(o.rows.iter().all(|r| r.len() == 6 && !r.contains_key("Score")));
    assert_eq!(run(&format!("{P} | project-away Nope")), Err(KqlError::UnknownColumn("Nope".into())));
}

#[test]
fn extend_adds_copies_and_replaces() {
    let o = ok(&format!("{P} | project FileName, DeviceId | extend Copy = DeviceId, Src = 'seed', DeviceId = 5"));
    assert_eq!(names(&o), vec![("FileName", "String"), ("DeviceId", "Int64"), ("Copy", "String"), ("Src", "String")]);
    assert_eq!(
        Value::Object(o.rows[1].clone()),
        json!({"FileName": "cmd.exe", "DeviceId": 5, "Copy": "d2", "Src": "seed"})
    );
    let keys: Vec<&String> = o.rows[1].keys().collect();
    assert_eq!(keys, ["FileName", "DeviceId", "Copy", "Src"]);
    let o = ok(&format!("{P} | extend Seen = ago(1h) | project Seen | take 1"));
    assert_eq!(o.rows[0]["Seen"], json!("2020-02-05T23:00:00.0000000Z"));
    assert_eq!(o.schema[0].kind, ColumnType::DateTime);
}

#[test]
fn extend_rejects_computed_expressions() {
    for q in [
        format!("{P} | extend X = ProcessId + 1"),
        format!("{P} | extend X = tolower(FileName)"),
        format!("{P} | extend X = strcat('a', 'b')"),
        format!("{P} | extend X = 1d"),
        format!("{P} | project X = ProcessId * 2"),
    ] {
        assert!(matches!(run(&q), Err(KqlError::Unsupported(_))), "{q}");
    }
    assert!(matches!(parse(&format!("{P} | extend FileName")), Err(KqlError::Syntax { .. })));
}

// take / top / order -------------------------------------------------------

#[test]
fn take_and_limit() {
    assert_eq!(files(&format!("{P} | take 2")), ["csc.exe", "cmd.exe"]);
    assert_eq!(files(&format!("{P} | limit 1")), ["csc.exe"]);
    assert!(files(&format!("{P} | take 0")).is_empty());
    assert_eq!(files(&format!("{P} | take 99")).len(), 5);
    assert!(matches!(parse(&format!("{P} | take -1")), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse(&format!("{P} | take")), Err(KqlError::Syntax { .. })));
}

#[test]
fn top_defaults_to_descending() {
    assert_eq!(files(&format!("{P} | top 2 by ProcessId")), ["whoami.exe", "notepad.exe"]);
    assert_eq!(files(&format!("{P} | top 2 by ProcessId asc")), ["csc.exe", "cmd.exe"]);
    assert_eq!(files(&format!("{P} | top 1 by Timestamp desc")), ["whoami.exe"]);
    // nulls last when descending
    assert_eq!(files(&format!("{P} | top 5 by Score"))[4], "conhost.exe");
    assert_eq!(run(&format!("{P} | top 2 by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
}

#[test]
fn order_and_sort() {
    for (sort, expected) in [
        ("order by Timestamp", ["whoami.exe", "cmd.exe", "csc.exe", "conhost.exe", "notepad.exe"]),
        ("sort by Timestamp asc", ["notepad.exe", "conhost.exe", "csc.exe", "cmd.exe", "whoami.exe"]),
        // multiple keys; ties keep table order (stable)
        ("order by DeviceId asc, ProcessId desc", ["conhost.exe", "csc.exe", "whoami.exe", "cmd.exe", "notepad.exe"]),
        ("order by IsAdmin", ["csc.exe", "notepad.exe", "cmd.exe", "conhost.exe", "whoami.exe"]),
    ] {
        assert_eq!(files(&format!("{P} | {sort}")), expected, "{sort}");
    }
    // nulls first for asc by default, and overridable
    assert_eq!(files(&format!("{P} | order by Score asc"))[0], "conhost.exe");
    assert_eq!(files(&format!("{P} | order by Score asc nulls last"))[4], "conhost.exe");
    assert_eq!(files(&format!("{P} | order by Score desc nulls first"))[0], "conhost.exe");
    assert_eq!(run(&format!("{P} | order by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
}

#[test]
fn datetime_sort_uses_instants_not_text() {
    let mut t = BTreeMap::new();
    t.insert(
        "T".to_string(),
        vec![
            row(json!({"Timestamp": "2020-02-05T01:00:00Z", "N": 1})),
            row(json!({"Timestamp": "2020-02-05T01:00:00.5Z", "N": 2})),
            row(json!({"Timestamp": "2020-02-05T02:00:00+02:00", "N": 3})),
        ],
    );
    let o = parse("T | order by Timestamp asc").unwrap().run(&t, now(), 10).unwrap();
    let got: Vec<&Value> = o.rows.iter().map(|r| &r["N"]).collect();
    assert_eq!(got, [&json!(3), &json!(1), &json!(2)]);
}

// summarize / count / distinct ---------------------------------------------

#[test]
fn summarize_count_by_column() {
    let o = ok(&format!("{P} | summarize count() by DeviceId"));
    assert_eq!(names(&o), vec![("DeviceId", "String"), ("count_", "Int64")]);
    assert_eq!(
        Value::Array(o.rows.into_iter().map(Value::Object).collect()),
        json!([{"DeviceId": "d1", "count_": 2}, {"DeviceId": "d2", "count_": 2}, {"DeviceId": "d3", "count_": 1}])
    );
}

#[test]
fn summarize_by_two_columns_and_named_count() {
    let o = ok(&format!("{P} | summarize Total = count() by DeviceId, IsAdmin | order by Total desc"));
    assert_eq!(names(&o), vec![("DeviceId", "String"), ("IsAdmin", "Boolean"), ("Total", "Int64")]);
    assert_eq!(o.rows.len(), 4);
    assert_eq!(Value::Object(o.rows[0].clone()), json!({"DeviceId": "d2", "IsAdmin": false, "Total": 2}));
}

#[test]
fn summarize_without_by_and_over_nothing() {
    let o = ok(&format!("{P} | where ProcessId > 250 | summarize count()"));
    assert_eq!(names(&o), vec![("count_", "Int64")]);
    assert_eq!(o.rows, vec![row(json!({"count_": 3}))]);
    let o = ok(&format!("{P} | where ProcessId > 9999 | summarize count()"));
    assert_eq!(o.rows, vec![row(json!({"count_": 0}))]);
    let o = ok(&format!("{P} | where ProcessId > 9999 | summarize count() by DeviceId"));
    assert!(o.rows.is_empty());
    let o = ok(&format!("{P} | summarize by DeviceId"));
    assert_eq!(col(&format!("{P} | summarize by DeviceId"), "DeviceId"), [json!("d1"), json!("d2"), json!("d3")]);
    assert_eq!(names(&o), vec![("DeviceId", "String")]);
}

#[test]
fn summarize_groups_nulls_together() {
    let o = ok(&format!("{P} | summarize count() by AdditionalFields"));
    assert_eq!(o.rows.len(), 3);
    assert_eq!(o.rows[1], row(json!({"AdditionalFields": null, "count_": 3})));
    assert_eq!(o.schema[0].kind, ColumnType::Dynamic);
}

#[test]
fn summarize_rejects_other_aggregations() {
    for (q, what) in [
        ("summarize dcount(DeviceId)", "aggregation function 'dcount'"),
        ("summarize count() by bin(Timestamp, 1d)", "function 'bin'"),
        ("summarize count(), dcount(DeviceId)", "multiple aggregations in 'summarize'"),
        ("summarize make_set(FileName) by DeviceId", "aggregation function 'make_set'"),
    ] {
        assert_eq!(run(&format!("{P} | {q}")), Err(KqlError::Unsupported(what.into())), "{q}");
    }
    assert_eq!(run(&format!("{P} | summarize count() by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
}

#[test]
fn count_operator() {
    let o = ok(&format!("{P} | where DeviceId == 'd1' | count"));
    assert_eq!(names(&o), vec![("Count", "Int64")]);
    assert_eq!(o.rows, vec![row(json!({"Count": 2}))]);
    assert_eq!(ok("EmptyEvents | count").rows, vec![row(json!({"Count": 0}))]);
}

#[test]
fn distinct_operator() {
    let o = ok(&format!("{P} | distinct DeviceId, IsAdmin"));
    assert_eq!(names(&o), vec![("DeviceId", "String"), ("IsAdmin", "Boolean")]);
    assert_eq!(o.rows.len(), 4);
    assert_eq!(o.rows[3], row(json!({"DeviceId": "d3", "IsAdmin": true})));
    assert_eq!(col(&format!("{P} | distinct InitiatingProcessFileName"), "InitiatingProcessFileName").len(), 3);
    assert_eq!(ok(&format!("{P} | project DeviceId | distinct *")).rows.len(), 3);
    assert_eq!(run(&format!("{P} | distinct Nope")), Err(KqlError::UnknownColumn("Nope".into())));
}

// truncation, schema, empty tables -------------------------------------------

#[test]
fn truncation_flag_with_max_rows() {
    let t = tables();
    let q = parse("DeviceRegistryEvents").unwrap();
    let o = q.run(&t, now(), 5).unwrap();
    assert_eq!(o.rows.len(), 5);
    assert!(o.truncated);
    let o = q.run(&t, now(), 12).unwrap();
    assert_eq!(o.rows.len(), 12);
    assert!(!o.truncated);
    let o = q.run(&t, now(), 0).unwrap();
    assert!(o.rows.is_empty() && o.truncated);
    let o = parse("DeviceRegistryEvents | take 5").unwrap().run(&t, now(), 5).unwrap();
    assert!(!o.truncated);
}

#[test]
fn full_table_schema_and_row_normalisation() {
    let o = ok(P);
    assert_eq!(
        names(&o),
        vec![
            ("Timestamp", "DateTime"),
            ("FileName", "String"),
            ("InitiatingProcessFileName", "String"),
            ("ProcessCommandLine", "String"),
            ("DeviceId", "String"),
            ("ProcessId", "Int64"),
            ("IsAdmin", "Boolean"),
            ("Score", "Double"),
            ("AdditionalFields", "Dynamic"),
        ]
    );
    // row 3 had no AdditionalFields key: it is filled with null, in schema order
    let keys: Vec<&String> = o.rows[3].keys().collect();
    assert_eq!(keys.len(), 9);
    assert_eq!(keys[8], "AdditionalFields");
    assert_eq!(o.rows[3]["AdditionalFields"], Value::Null);
}

#[test]
fn all_null_column_is_string_and_keys_unioned() {
    let mut t = BTreeMap::new();
    t.insert("T".to_string(), vec![row(json!({"A": null})), row(json!({"A": null, "B": "2020-02-05T01:10:26Z"}))]);
    let o = parse("T").unwrap().run(&t, now(), 10).unwrap();
    assert_eq!(names(&o), vec![("A", "String"), ("B", "DateTime")]);
    assert_eq!(o.rows[0], row(json!({"A": null, "B": null})));
    // a null string reads as "" (KQL strings are never null)
    let o = parse("T | where isempty(A) and A == ''").unwrap().run(&t, now(), 10).unwrap();
    assert_eq!(o.rows.len(), 2);
}

#[test]
fn empty_table_has_open_schema() {
    let o = ok("EmptyEvents | where Anything == 'x' | project Anything, Other");
    assert!(o.rows.is_empty());
    assert_eq!(names(&o), vec![("Anything", "String"), ("Other", "String")]);
    assert_eq!(ok("EmptyEvents").schema, Vec::<Column>::new());
}

#[test]
fn column_type_names() {
    use ColumnType as C;
    let names = [C::DateTime, C::String, C::Int64, C::Double, C::Boolean, C::Dynamic].map(|k| k.as_str());
    assert_eq!(names, ["DateTime", "String", "Int64", "Double", "Boolean", "Dynamic"]);
}

// errors -----------------------------------------------------------------------

#[test]
fn unknown_table_error() {
    let e = run("Foo | take 1").unwrap_err();
    assert_eq!(e, KqlError::UnknownTable("Foo".into()));
    assert_eq!(e.to_string(), "'Foo' could not be resolved to a table");
    // table names are case-sensitive
    assert!(matches!(run("deviceprocessevents"), Err(KqlError::UnknownTable(_))));
}

#[test]
fn unknown_column_error() {
    let e = run(&format!("{P} | where Bogus == 1")).unwrap_err();
    assert_eq!(e, KqlError::UnknownColumn("Bogus".into()));
    assert_eq!(e.to_string(), "failed to resolve column 'Bogus'");
    // detected even when no row reaches the operator
    assert_eq!(
        run(&format!("{P} | where false | where Bogus contains 'x'")),
        Err(KqlError::UnknownColumn("Bogus".into()))
    );
    assert_eq!(run(&format!("{P} | where FileName in ('a', Bogus)")), Err(KqlError::UnknownColumn("Bogus".into())));
}

#[test]
fn unsupported_operators_are_named() {
    for (q, what) in [
        (format!("{P} | join (DeviceRegistryEvents) on DeviceId"), "operator 'join'"),
        ("let x = 1; DeviceProcessEvents".to_string(), "operator 'let'"),
        ("union DeviceProcessEvents, DeviceRegistryEvents".to_string(), "operator 'union'"),
        (format!("{P} | union DeviceRegistryEvents"), "operator 'union'"),
        (format!("{P} | parse ProcessCommandLine with * 'x' y"), "operator 'parse'"),
        (format!("{P} | make-series count() on Timestamp step 1d"), "operator 'make-series'"),
        (format!("{P} | mv-expand AdditionalFields"), "operator 'mv-expand'"),
        (format!("{P} | project-rename X = FileName"), "operator 'project-rename'"),
        (format!("{P} | invoke Foo()"), "operator 'invoke'"),
        (format!("{P} | where tolower(FileName) == 'x'"), "function 'tolower'"),
        (format!("{P} | where FileName matches regex 'x'"), "operator 'matches'"),
        (format!("{P} | where FileName has_any ('x')"), "operator 'has_any'"),
        (format!("{P} | where ProcessId + 1 > 2"), "arithmetic operator '+'"),
        (format!("{P} | project tolower(FileName)"), "function 'tolower'"),
        (format!("{P} | order by strlen(FileName)"), "function 'strlen'"),
        ("DeviceEvents()".to_string(), "function 'DeviceEvents'"),
    ] {
        let e = run(&q).unwrap_err();
        assert_eq!(e, KqlError::Unsupported(what.into()), "{q}");
        assert!(e.to_string().ends_with("is not supported by this simulator"));
    }
}

#[test]
fn syntax_errors_report_positions() {
    let e = parse("DeviceProcessEvents | where").unwrap_err();
    assert_eq!(e, KqlError::Syntax { pos: 27, message: "expected a value or column, found end of query".into() });
    assert_eq!(e.to_string(), "syntax error at position 27: expected a value or column, found end of query");
    let e = parse("DeviceProcessEvents | where FileName == 'x").unwrap_err();
    assert!(matches!(e, KqlError::Syntax { pos: 40, .. }), "{e:?}");
    let e = parse("DeviceProcessEvents | where FileName = 'x'").unwrap_err();
    assert!(matches!(e, KqlError::Syntax { pos: 37, .. }), "{e:?}");
    let e = parse("DeviceProcessEvents | take 1 2").unwrap_err();
    assert!(matches!(e, KqlError::Syntax { pos: 29, .. }), "{e:?}");
    let e = parse("DeviceProcessEvents # x").unwrap_err();
    assert!(matches!(e, KqlError::Syntax { pos: 20, .. }), "{e:?}");
    assert!(matches!(parse(""), Err(KqlError::Syntax { pos: 0, .. })));
    assert!(matches!(parse("   "), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T |"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | where (a == 1"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | order Timestamp"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | top 5 Timestamp"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | where a in 'x'"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | where a between (1, 2)"), Err(KqlError::Syntax { .. })));
    assert!(matches!(parse("T | where a == 99999999999999999999"), Err(KqlError::Syntax { .. })));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let q = format!("T | where {}a == 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(parse(&q), Err(KqlError::Syntax { .. })));
    let q = format!("T | where {}a{}", "not(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(parse(&q), Err(KqlError::Syntax { .. })));
    let q = format!("T | where {}a == 1{}", "(".repeat(20), ")".repeat(20));
    assert!(parse(&q).is_ok());
}

#[test]
fn query_is_clone_and_debug() {
    let q = parse(&format!("{P} | where FileName has 'x' | take 1")).unwrap();
    let c = q.clone();
    assert_eq!(c.table(), P);
    assert!(format!("{c:?}").contains("Take(1)"));
}

#[test]
fn never_panics_on_truncations_and_noise() {
    let t = tables();
    let seeds = [
        "DeviceProcessEvents |where InitiatingProcessFileName =~ 'powershell.exe' |where ProcessCommandLine contains 'appdata'|project Timestamp, FileName, InitiatingProcessFileName, DeviceId|limit 2",
        "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2",
        "DeviceProcessEvents | where Timestamp between (datetime(2020-02-05T01:10:26Z) .. 1d) and not(FileName in~ ('a', \"b\")) or ProcessId !in (1, -2, 3.5) | extend X = ago(1.5h), Y = @'c:\\x' | top 3 by Timestamp asc nulls last",
        "DeviceProcessEvents | where isnotempty(ProcessCommandLine) and FileName !has_cs 'x' // c\n| summarize N = count() by DeviceId, IsAdmin | sort by N desc | project-away IsAdmin | distinct *",
        "EmptyEvents | where A startswith 'é∑' | summarize by A | count",
        "DeviceProcessEvents | project-away Score | take 3 | order by ProcessId asc, Timestamp | distinct DeviceId | count",
    ];
    let (mut checked, mut parsed_ok, mut ran_ok) = (0usize, 0usize, 0usize);
    let mut try_query = |q: &str| {
        checked += 1;
        if let Ok(parsed) = parse(q) {
            parsed_ok += 1;
            if parsed.run(&t, now(), 3).is_ok() {
                ran_ok += 1;
            }
        }
    };
    for seed in seeds {
        for i in 0..=seed.len() {
            if let Some(prefix) = seed.get(..i) {
                try_query(prefix);
            }
            if let Some(suffix) = seed.get(i..) {
                try_query(suffix);
            }
        }
    }
    // Deterministic pseudo-random punctuation soup, plus splices into seeds.
    let alphabet: Vec<char> = "|()'\",.=!~<>-+*/%@[]{}#;:\\ \n\t0123456789dhmsab_éwhereprojectin~".chars().collect();
    let mut next = crate::xorshift(0x9E37_79B9_7F4A_7C15);
    for round in 0..4000 {
        let len = (next() % 40) as usize;
        let noise: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        try_query(&noise);
        let seed = seeds[round % seeds.len()];
        let cut = (next() as usize) % (seed.len() + 1);
        if let (Some(a), Some(b)) = (seed.get(..cut), seed.get(cut..)) {
            try_query(&format!("{a}{noise}{b}"));
        }
    }
    let seed_bytes: usize = seeds.iter().map(|s| s.len() + 1).sum();
    assert!(checked >= 4000 + 2 * seed_bytes - 64, "{checked}");
    assert!(parsed_ok > 100 && ran_ok > 50, "{parsed_ok} {ran_ok}");
}
