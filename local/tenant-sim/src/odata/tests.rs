//! Unit tests of the OData subset.

use super::*;
use serde_json::json;

const ALERT_FIELDS: &[&str] = &[
    "alertCreationTime",
    "lastUpdateTime",
    "incidentId",
    "InvestigationId",
    "id",
    "assignedTo",
    "detectionSource",
    "lastEventTime",
    "status",
    "severity",
    "category",
    "machineTags",
    "relatedUser",
    "healthStatus",
    "lastSeen",
    "score",
    "isActive",
    "title",
    "evidence",
    "tags",
];

fn alert() -> Value {
    json!({
        "id": "da637472900382838869_1364969609",
        "incidentId": 1126093,
        "investigationId": 1234,
        "assignedTo": null,
        "severity": "Low",
        "status": "New",
        "category": "Execution",
        "detectionSource": "WindowsDefenderAtp",
        "title": "Low-reputation arbitrary code executed",
        "alertCreationTime": "2021-01-26T20:33:57.7220239Z",
        "lastUpdateTime": "2021-01-26T20:33:59.2Z",
        "lastEventTime": "2021-01-26T20:31:32.9562661Z",
        "lastSeen": "2018-08-01T16:08:35Z",
        "machineTags": ["Prod", "Finance"],
        "relatedUser": {"userName": "Alice", "domainName": "CONTOSO"},
        "score": 7.5,
        "isActive": true,
        "evidence": [
            {"entityType": "File", "sha1": "abc"},
            {"entityType": "User", "accountName": "alice"}
        ],
        "tags": []
    })
}

fn m(filter: &str) -> bool {
    Filter::parse(filter, ALERT_FIELDS).unwrap_or_else(|e| panic!("{filter}: {e}")).matches(&alert())
}

fn perr(filter: &str) -> ODataError {
    Filter::parse(filter, ALERT_FIELDS).expect_err(filter)
}

#[test]
fn eq_and_ne_on_strings_are_case_insensitive() {
    assert!(m("status eq 'new'"));
    assert!(m("status eq 'NEW'"));
    assert!(m("STATUS EQ 'New'"));
    assert!(!m("status eq 'Resolved'"));
    assert!(m("status ne 'resolved'"));
    assert!(!m("status ne 'new'"));
}

#[test]
fn ordering_operators_on_numbers() {
    assert!(m("incidentId gt 1126092"));
    assert!(!m("incidentId gt 1126093"));
    assert!(m("incidentId ge 1126093"));
    assert!(m("incidentId lt 1126094"));
    assert!(!m("incidentId lt 1126093"));
    assert!(m("incidentId le 1126093"));
    assert!(m("incidentId eq 1126093"));
    assert!(m("incidentId ne 5"));
    assert!(m("score gt 7"));
    assert!(m("score eq 7.5"));
    assert!(m("score lt 7.6"));
    assert!(m("score ge 75e-1"));
    assert!(m("incidentId gt -1"));
    assert!(m("incidentId eq 1126093L"));
}

#[test]
fn ordering_operators_on_strings_are_ordinal() {
    assert!(m("category gt 'Exe'"));
    assert!(m("category lt 'F'"));
    // Ordinal: lowercase letters sort after uppercase ones.
    assert!(m("category lt 'execution'"));
    assert!(!m("category ge 'execution'"));
    assert!(m("category ge 'Execution'"));
    assert!(m("category le 'Execution'"));
}

#[test]
fn literal_on_left_is_flipped() {
    assert!(m("1126092 lt incidentId"));
    assert!(!m("1126094 lt incidentId"));
    assert!(m("'new' eq status"));
}

#[test]
fn precedence_and_binds_tighter_than_or() {
    // true or (false and false) = true
    assert!(m("status eq 'New' or severity eq 'High' and category eq 'X'"));
    // (false and false) or true = true
    assert!(m("severity eq 'High' and category eq 'X' or status eq 'New'"));
    // (true or false) and false = false with parentheses
    assert!(!m("(status eq 'New' or severity eq 'High') and category eq 'X'"));
    assert!(m("status eq 'New' and (severity eq 'High' or severity eq 'Low')"));
}

#[test]
fn not_applies_to_next_comparison_or_group() {
    assert!(m("not status eq 'Resolved'"));
    assert!(!m("not status eq 'New'"));
    // (not false) and true
    assert!(m("not severity eq 'High' and status eq 'New'"));
    // not (true and false) = true; without parens it would be false
    assert!(m("not (status eq 'New' and severity eq 'High')"));
    assert!(!m("not status eq 'New' and severity eq 'High'"));
    assert!(m("not not status eq 'New'"));
    assert!(m("NOT(status eq 'x')"));
}

#[test]
fn nested_parentheses() {
    assert!(m("((status eq 'New'))"));
    assert!(m("(((status eq 'x') or (severity eq 'low')) and (incidentId gt 1))"));
    assert!(matches!(perr("(status eq 'New'"), ODataError::Syntax { .. }));
    assert!(matches!(perr("status eq 'New')"), ODataError::Syntax { .. }));
}

#[test]
fn in_operator_strings_and_numbers() {
    assert!(m("status in ('Resolved','new')"));
    assert!(!m("status in ('Resolved','InProgress')"));
    assert!(m("incidentId in (1, 2, 1126093)"));
    assert!(!m("incidentId in (1, 2)"));
    assert!(!m("status in ()"));
    assert!(m("assignedTo in ('x', null)"));
    assert!(m("not status in ('Resolved')"));
}

#[test]
fn string_functions_are_case_insensitive() {
    assert!(m("startswith(title,'low-REP')"));
    assert!(!m("startswith(title,'code')"));
    assert!(m("endswith(title,'EXECUTED')"));
    assert!(!m("endswith(title,'low')"));
    assert!(m("contains(title,'Arbitrary')"));
    assert!(!m("contains(title,'nothing')"));
    assert!(m("contains(title,'arbitrary') eq true"));
    assert!(!m("contains(title,'arbitrary') eq false"));
    assert!(m("contains(title,'zzz') ne true"));
    assert!(m("Contains(machineTags,'fin')"));
    assert!(!m("contains(assignedTo,'a')"));
    assert!(!m("contains(incidentId,'1')"));
}

#[test]
fn any_lambda_over_arrays() {
    assert!(m("machineTags/any(tag: tag eq 'Prod')"));
    assert!(m("machineTags/any(tag: tag eq 'prod')"));
    assert!(!m("machineTags/any(tag: tag eq 'Dev')"));
    assert!(m("machineTags/any(t: startswith(t, 'fin'))"));
    assert!(m("machineTags/any(t: t eq 'Dev' or t eq 'Finance')"));
    assert!(m("machineTags/any()"));
    assert!(!m("tags/any()"));
    assert!(!m("tags/any(t: t eq 'x')"));
    assert!(!m("title/any(t: t eq 'x')"));
    assert!(m("evidence/any(e: e/entityType eq 'user' and e/accountName eq 'ALICE')"));
    assert!(!m("evidence/any(e: e/entityType eq 'Ip')"));
    assert!(m("evidence/any(e: e/sha1 eq 'abc') and status eq 'New'"));
    assert!(m("not machineTags/any(t: t eq 'Dev')"));
    assert!(m("machineTags/any(t: t eq 'Prod') eq true"));
}

#[test]
fn all_lambda() {
    assert!(m("machineTags/all(t: t ne 'Dev')"));
    assert!(!m("machineTags/all(t: t eq 'Prod')"));
    assert!(m("tags/all(t: t eq 'x')"));
    assert!(matches!(perr("tags/all()"), ODataError::Syntax { .. }));
}

#[test]
fn eq_on_array_field_matches_any_element() {
    assert!(m("machineTags eq 'prod'"));
    assert!(m("machineTags eq 'FINANCE'"));
    assert!(!m("machineTags eq 'Dev'"));
    assert!(m("machineTags ne 'Dev'"));
    assert!(!m("machineTags ne 'Prod'"));
    assert!(m("machineTags in ('Dev','Prod')"));
}

#[test]
fn unquoted_datetimes_compare_as_instants() {
    assert!(m("lastUpdateTime ge 2019-11-22T00:00:00Z"));
    assert!(m("lastUpdateTime+ge+2019-11-22T00:00:00Z"));
    assert!(!m("lastUpdateTime lt 2019-11-22T00:00:00Z"));
    assert!(m("lastSeen gt 2018-08-01Z"));
    assert!(!m("lastSeen gt 2018-08-02Z"));
    assert!(m("lastSeen lt 2018-08-01T16:08:35.001Z"));
    assert!(m("lastSeen eq 2018-08-01T16:08:35.000Z"));
    assert!(m("lastSeen eq 2018-08-01T18:08:35+02:00"));
    assert!(m("lastSeen eq 2018-08-01T18:08:35+02:00 and status eq 'new'"));
    assert!(m("alertCreationTime gt 2021-01-01T10:00:00.123Z"));
}

#[test]
fn seven_digit_fractions_compare_exactly() {
    assert!(m("alertCreationTime eq 2021-01-26T20:33:57.7220239Z"));
    assert!(m("alertCreationTime gt 2021-01-26T20:33:57.7220238Z"));
    assert!(m("alertCreationTime lt 2021-01-26T20:33:57.722024Z"));
    assert!(m("alertCreationTime eq '2021-01-26T20:33:57.7220239Z'"));
    assert!(m("alertCreationTime ge '2021-01-26'"));
    assert!(!m("alertCreationTime ge '2021-01-27'"));
}

#[test]
fn quoted_datetime_literal_compares_as_instant_not_text() {
    // As text "2021-01-26T20:33:59.2Z" < "2021-01-26T20:33:59.20001Z"... check the instant
    // reading wins where text order would differ.
    assert!(m("lastUpdateTime eq '2021-01-26T20:33:59.200Z'"));
    assert!(m("lastUpdateTime gt '2021-01-26T21:33:59+02:00'"));
    assert!(!m("lastUpdateTime gt 2021-01-26T20:33:59.2Z"));
}

#[test]
fn date_only_is_midnight_utc() {
    let f = Filter::parse("lastSeen ge 2018-08-01Z and lastSeen lt 2018-08-02", &["lastSeen"]).unwrap();
    assert!(f.matches(&json!({"lastSeen": "2018-08-01T00:00:00Z"})));
    assert!(f.matches(&json!({"lastSeen": "2018-08-01T23:59:59.9999999Z"})));
    assert!(!f.matches(&json!({"lastSeen": "2018-07-31T23:59:59.9999999Z"})));
    assert!(!f.matches(&json!({"lastSeen": "2018-08-02T00:00:00Z"})));
    let eq = Filter::parse("lastSeen eq 2018-08-01Z", &["lastSeen"]).unwrap();
    assert!(eq.matches(&json!({"lastSeen": "2018-08-01T00:00:00.0000000Z"})));
    assert!(eq.matches(&json!({"lastSeen": "2018-08-01"})));
}

#[test]
fn datetime_literal_against_non_datetime_value_is_false() {
    assert!(!m("status eq 2018-08-01Z"));
    assert!(!m("status gt 2018-08-01Z"));
    assert!(!m("incidentId gt 2018-08-01Z"));
    assert!(m("status ne 2018-08-01Z"));
}

#[test]
fn numeric_literal_against_numeric_string_field() {
    let f = Filter::parse("id eq 42", &["id"]).unwrap();
    assert!(f.matches(&json!({"id": "42"})));
    assert!(f.matches(&json!({"id": 42})));
    assert!(f.matches(&json!({"id": 42.0})));
    assert!(!f.matches(&json!({"id": "43"})));
    assert!(!f.matches(&json!({"id": "abc"})));
    let gt = Filter::parse("id gt 9", &["id"]).unwrap();
    // Numeric, not textual ("10" < "9" as text).
    assert!(gt.matches(&json!({"id": "10"})));
    let quoted = Filter::parse("incidentId eq '1126093'", ALERT_FIELDS).unwrap();
    assert!(quoted.matches(&alert()));
    let quoted_gt = Filter::parse("incidentId gt '99'", ALERT_FIELDS).unwrap();
    assert!(quoted_gt.matches(&alert()));
    assert!(!m("status eq 5"));
}

#[test]
fn large_integers_compare_exactly() {
    let f = Filter::parse("id eq 9007199254740993", &["id"]).unwrap();
    assert!(f.matches(&json!({"id": 9007199254740993_i64})));
    assert!(!f.matches(&json!({"id": 9007199254740992_i64})));
}

#[test]
fn null_semantics() {
    assert!(m("assignedTo eq null"));
    assert!(!m("assignedTo ne null"));
    let f = |s: &str| Filter::parse(s, &["x"]).unwrap();
    let missing = json!({});
    let null = json!({"x": null});
    let present = json!({"x": "v"});
    for e in [&missing, &null] {
        assert!(f("x eq null").matches(e));
        assert!(!f("x ne null").matches(e));
        assert!(!f("x eq 'v'").matches(e));
        assert!(!f("x ne 'v'").matches(e));
        assert!(!f("x gt 1").matches(e));
        assert!(!f("x lt 2018-08-01Z").matches(e));
        assert!(!f("contains(x,'v')").matches(e));
        assert!(!f("x in ('v')").matches(e));
        assert!(!f("x gt null").matches(e));
    }
    assert!(!f("x eq null").matches(&present));
    assert!(f("x ne null").matches(&present));
    assert!(f("not x eq null").matches(&present));
    assert!(f("NULL eq x").matches(&missing));
}

#[test]
fn nested_fields_resolve_into_objects() {
    assert!(m("relatedUser/userName eq 'alice'"));
    assert!(m("relatedUser/domainName eq 'contoso'"));
    assert!(!m("relatedUser/userName eq 'bob'"));
    assert!(m("relatedUser/missing eq null"));
    assert!(m("startswith(relatedUser/userName, 'Al')"));
    let f = Filter::parse("a/b/c gt 1", &["a"]).unwrap();
    assert!(f.matches(&json!({"a": {"b": {"c": 2}}})));
    assert!(!f.matches(&json!({"a": {"b": 5}})));
    assert!(!f.matches(&json!({"a": "str"})));
}

#[test]
fn allowed_full_nested_path() {
    let f = Filter::parse("relatedUser/userName eq 'Alice'", &["relatedUser/username"]).unwrap();
    assert!(f.matches(&alert()));
    assert_eq!(
        Filter::parse("relatedUser/domainName eq 'x'", &["relatedUser/userName"]).unwrap_err(),
        ODataError::UnsupportedField("relatedUser/domainName".into())
    );
}

#[test]
fn field_names_are_case_insensitive() {
    // Documented as "InvestigationId", JSON has "investigationId".
    assert!(m("InvestigationId eq 1234"));
    assert!(m("investigationid eq 1234"));
    assert!(m("RELATEDUSER/USERNAME eq 'alice'"));
}

#[test]
fn string_escaping_with_doubled_quotes() {
    let f = Filter::parse("title eq 'O''Brien''s'", &["title"]).unwrap();
    assert!(f.matches(&json!({"title": "O'Brien's"})));
    assert!(!f.matches(&json!({"title": "O''Brien''s"})));
    let empty = Filter::parse("title eq ''", &["title"]).unwrap();
    assert!(empty.matches(&json!({"title": ""})));
    let only_quote = Filter::parse("title eq ''''", &["title"]).unwrap();
    assert!(only_quote.matches(&json!({"title": "'"})));
}

#[test]
fn plus_is_whitespace_outside_strings_only() {
    assert!(m("status+eq+'New'+and+severity+eq+'Low'"));
    let f = Filter::parse("title+eq+'a+b'", &["title"]).unwrap();
    assert!(f.matches(&json!({"title": "a+b"})));
    assert!(!f.matches(&json!({"title": "a b"})));
    assert!(m("incidentId+gt+1"));
    assert!(m("lastSeen+gt+2018-08-01Z+and+status+eq+'new'"));
}

#[test]
fn keywords_are_case_insensitive() {
    assert!(m("status EQ 'New' AND severity Ne 'High' OR incidentId Gt 5"));
    assert!(m("assignedTo Eq NULL"));
    assert!(m("isActive eq TRUE"));
    assert!(m("status IN ('new')"));
    assert!(m("STARTSWITH(title,'low')"));
    assert!(m("machineTags/ANY(t: t eq 'Prod')"));
}

#[test]
fn booleans() {
    assert!(m("isActive eq true"));
    assert!(!m("isActive eq false"));
    assert!(m("isActive ne false"));
    assert!(m("isActive"));
    assert!(!m("not isActive"));
    assert!(m("isActive and status eq 'new'"));
    assert!(m("isActive gt false"));
    let f = Filter::parse("x eq true", &["x"]).unwrap();
    assert!(f.matches(&json!({"x": "True"})));
    let q = Filter::parse("x eq 'true'", &["x"]).unwrap();
    assert!(q.matches(&json!({"x": true})));
}

#[test]
fn unsupported_field_is_an_error_naming_it() {
    assert_eq!(perr("computerDnsName eq 'x'"), ODataError::UnsupportedField("computerDnsName".into()));
    assert_eq!(perr("status eq 'New' and foo/bar gt 1"), ODataError::UnsupportedField("foo/bar".into()));
    assert_eq!(perr("startswith(nope,'x')"), ODataError::UnsupportedField("nope".into()));
    assert_eq!(perr("nope/any(t: t eq 'x')"), ODataError::UnsupportedField("nope".into()));
    assert_eq!(perr("machineTags/any(t: other eq 'x')"), ODataError::UnsupportedField("other".into()));
    assert_eq!(perr("computerDnsName eq 'x'").to_string(), "unsupported filter field 'computerDnsName'");
    assert!(Filter::parse("a eq 1", &[]).is_err());
}

#[test]
fn syntax_errors_carry_positions() {
    let e = perr("status eq 'New' and ");
    assert_eq!(e, ODataError::Syntax { context: "filter", position: 20, message: "expected an expression".into() });
    let e = perr("incidentId eq ");
    assert_eq!(e.to_string(), "invalid filter at position 14: expected a value");
    let e = perr("status eq 'New' severity");
    assert_eq!(e.to_string(), "invalid filter at position 16: unexpected 'severity'");
    let e = perr("status 'New'");
    assert!(matches!(e, ODataError::Syntax { position: 7, .. }), "{e}");
    let e = perr("status eq #");
    assert_eq!(e.to_string(), "invalid filter at position 10: unexpected character '#'");
    let e = perr("status eq severity");
    assert!(matches!(e, ODataError::Syntax { position: 10, .. }), "{e}");
    let e = perr("frobnicate(status,'x')");
    assert!(e.to_string().contains("unknown function 'frobnicate'"), "{e}");
    let e = perr("status in ('a' 'b')");
    assert!(matches!(e, ODataError::Syntax { position: 15, .. }), "{e}");
    let e = perr("lastSeen gt 2018-13-45Z");
    assert!(e.to_string().contains("invalid datetime literal"), "{e}");
    let e = perr("incidentId eq 12abc");
    assert!(e.to_string().contains("invalid number literal"), "{e}");
    let e = perr("startswith(title, 5)");
    assert!(e.to_string().contains("expected a string literal"), "{e}");
    let e = perr("incidentId eq 1e999");
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn unterminated_string_error() {
    let e = perr("status eq 'New");
    assert_eq!(e, ODataError::UnterminatedString { context: "filter", position: 10 });
    assert_eq!(e.to_string(), "invalid filter at position 10: unterminated string literal");
    assert!(matches!(perr("status eq 'a''"), ODataError::UnterminatedString { position: 10, .. }));
}

#[test]
fn empty_input_errors() {
    assert_eq!(perr(""), ODataError::Empty("filter"));
    assert_eq!(perr("   "), ODataError::Empty("filter"));
    assert_eq!(perr("+++"), ODataError::Empty("filter"));
    assert_eq!(perr("").to_string(), "empty filter expression");
    assert_eq!(OrderBy::parse(" ").unwrap_err(), ODataError::Empty("orderby"));
}

#[test]
fn fields_lists_referenced_fields_once() {
    let f = Filter::parse(
        "status eq 'New' and (severity eq 'High' or status ne 'x') and \
         machineTags/any(t: t eq 'Prod') and startswith(relatedUser/userName,'a') \
         and incidentId in (1,2)",
        ALERT_FIELDS,
    )
    .unwrap();
    assert_eq!(f.fields(), vec!["status", "severity", "machineTags", "relatedUser/userName", "incidentId"]);
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let deep = format!("{}status eq 'New'{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = perr(&deep);
    assert!(e.to_string().contains("nested too deeply"), "{e}");
    let nots = format!("{}status eq 'New'", "not ".repeat(10_000));
    assert!(perr(&nots).to_string().contains("nested too deeply"));
    let ok = format!("{}status eq 'New'{}", "(".repeat(50), ")".repeat(50));
    assert!(m(&ok));
    let lambdas = "machineTags/any(a: ".repeat(200);
    assert!(Filter::parse(&lambdas, ALERT_FIELDS).unwrap_err().to_string().contains("nested too deeply"));
    // Parentheses and lambdas share one depth budget.
    let mixed = format!(
        "{}machineTags/any(a: {}a eq 'Prod'{}){}",
        "(".repeat(40),
        "(".repeat(40),
        ")".repeat(40),
        ")".repeat(40)
    );
    assert!(perr(&mixed).to_string().contains("nested too deeply"));
    let fits = format!(
        "{}machineTags/any(a: {}a eq 'Prod'{}){}",
        "(".repeat(20),
        "(".repeat(20),
        ")".repeat(20),
        ")".repeat(20)
    );
    assert!(m(&fits));
}

#[test]
fn deepest_allowed_nesting_fits_a_small_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let lambda = format!(
                "{}machineTags/any(a: {}not a eq 'Dev'{}){}",
                "(".repeat(30),
                "(".repeat(31),
                ")".repeat(31),
                ")".repeat(30)
            );
            let parens = format!("{}status eq 'New'{}", "(".repeat(64), ")".repeat(64));
            [lambda, parens].iter().all(|s| m(s))
        })
        .unwrap();
    assert!(handle.join().unwrap());
}

#[test]
fn long_flat_chains_work() {
    let chain = vec!["incidentId ne 1"; 20_000].join(" and ");
    assert!(m(&chain));
    let chain = vec!["incidentId eq 1"; 20_000].join(" or ");
    assert!(!m(&chain));
}

#[test]
fn never_panics_on_malformed_input() {
    let valid = [
        "status eq 'New' and (severity eq 'High' or not incidentId in (1,2,3))",
        "machineTags/any(tag: tag eq 'Prod') and lastSeen gt 2018-08-01Z",
        "startswith(relatedUser/userName,'O''Brien') eq false or score ge -1.5e3",
        "alertCreationTime lt 2020-07-20T10:53:48.7657932Z and assignedTo eq null",
        "lastUpdateTime+ge+2019-11-22T00:00:00+02:00",
        "evidence/all(e: e/entityType ne 'x' and e/sha1/any(z: z eq 1))",
        "title eq 'héllo wörld ✓' or contains(title, 'ü')",
    ];
    let entity = alert();
    let check = |s: &str| {
        if let Ok(f) = Filter::parse(s, ALERT_FIELDS) {
            let _ = f.matches(&entity);
            let _ = f.fields();
        }
        if let Ok(o) = OrderBy::parse(s) {
            let mut items = vec![entity.clone(), json!({}), json!(null), json!([1])];
            o.sort(&mut items);
        }
    };
    let mut count = 0;
    for v in valid {
        assert!(Filter::parse(v, ALERT_FIELDS).is_ok(), "{v}");
        for i in 0..=v.len() {
            if let (Some(head), Some(tail)) = (v.get(..i), v.get(i..)) {
                check(head);
                check(tail);
                count += 2;
            }
        }
    }
    // Pseudo-random strings over a hostile alphabet.
    let alphabet: Vec<char> = "()',:/+- .$_eqandornotin0129TZzé✓\"\\%#@!\t\n".chars().collect();
    let words = [
        "eq",
        "and",
        "or",
        "not",
        "in",
        "any(",
        "all(",
        "status",
        "machineTags/",
        "null",
        "true",
        "2018-08-01Z",
        "2019-11-22T00:00:00",
        "'",
        "''",
        "startswith(",
        ",",
        ")",
        "t:",
        "9999999999999999999999",
        "-",
        "1.5e",
        "5L",
    ];
    let mut next = crate::xorshift(0x2545_F491_4F6C_DD1D);
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let mut s = String::new();
        for _ in 0..len {
            let r = next();
            if r.is_multiple_of(3) {
                s.push_str(words[(r / 3 % words.len() as u64) as usize]);
                s.push(' ');
            } else {
                s.push(alphabet[(r / 3 % alphabet.len() as u64) as usize]);
            }
        }
        check(&s);
        count += 1;
    }
    assert!(count > 20_000);
}

#[test]
fn matches_on_non_object_entities_is_false() {
    let f = Filter::parse("status eq 'New'", ALERT_FIELDS).unwrap();
    assert!(!f.matches(&json!(null)));
    assert!(!f.matches(&json!([1, 2])));
    assert!(!f.matches(&json!("New")));
    let n = Filter::parse("status eq null", ALERT_FIELDS).unwrap();
    assert!(n.matches(&json!(42)));
}

#[test]
fn non_ascii_case_insensitive_equality() {
    let f = Filter::parse("title eq 'ÉTÉ'", &["title"]).unwrap();
    assert!(f.matches(&json!({"title": "été"})));
    let c = Filter::parse("contains(title,'ÖL')", &["title"]).unwrap();
    assert!(c.matches(&json!({"title": "Heizöl"})));
}

#[test]
fn filter_clone_and_debug() {
    let f = Filter::parse("status eq 'New'", ALERT_FIELDS).unwrap();
    let g = f.clone();
    assert_eq!(f, g);
    assert!(format!("{g:?}").contains("Cmp"));
}

// ----- OrderBy -----

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|v| v["n"].as_i64().unwrap()).collect()
}

#[test]
fn orderby_single_key_asc_and_desc() {
    let mut items = vec![json!({"n": 1, "score": 5}), json!({"n": 2, "score": 10}), json!({"n": 3, "score": 1.5})];
    OrderBy::parse("score").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![3, 1, 2]);
    OrderBy::parse("score desc").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![2, 1, 3]);
    OrderBy::parse("score ASC").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![3, 1, 2]);
}

#[test]
fn orderby_multi_key_is_stable() {
    let mut items = vec![
        json!({"n": 1, "severity": "High", "time": "2021-01-02T00:00:00Z"}),
        json!({"n": 2, "severity": "low", "time": "2021-01-03T00:00:00Z"}),
        json!({"n": 3, "severity": "high", "time": "2021-01-03T00:00:00Z"}),
        json!({"n": 4, "severity": "Low", "time": "2021-01-01T00:00:00Z"}),
        json!({"n": 5, "severity": "HIGH", "time": "2021-01-02T00:00:00Z"}),
    ];
    OrderBy::parse("severity asc, time desc").unwrap().sort(&mut items);
    // high group: time desc (3), then 1 and 5 tie -> input order; low group: 2, 4.
    assert_eq!(ids(&items), vec![3, 1, 5, 2, 4]);
    OrderBy::parse("severity+desc,time").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![4, 2, 1, 5, 3]);
}

#[test]
fn orderby_datetimes_as_instants() {
    let mut items = vec![
        json!({"n": 1, "t": "2020-07-20T10:53:48.7657932Z"}),
        json!({"n": 2, "t": "2020-07-20T10:53:48.8Z"}),
        json!({"n": 3, "t": "2020-07-20T12:53:48+03:00"}),
        json!({"n": 4, "t": "2020-07-20Z"}),
    ];
    OrderBy::parse("t").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![4, 3, 1, 2]);
}

#[test]
fn orderby_strings_case_insensitive_and_nulls_first() {
    let mut items = vec![
        json!({"n": 1, "s": "banana"}),
        json!({"n": 2, "s": null}),
        json!({"n": 3, "s": "Apple"}),
        json!({"n": 4}),
        json!({"n": 5, "s": "cherry"}),
    ];
    OrderBy::parse("s").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![2, 4, 3, 1, 5]);
    OrderBy::parse("s desc").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![5, 1, 3, 2, 4]);
}

#[test]
fn orderby_mixed_types_rank_consistently() {
    let mut items = vec![
        json!({"n": 1, "v": "text"}),
        json!({"n": 2, "v": 3}),
        json!({"n": 3, "v": [1]}),
        json!({"n": 4, "v": "2020-01-01Z"}),
        json!({"n": 5, "v": false}),
        json!({"n": 6}),
        json!({"n": 7, "v": -1.5}),
    ];
    OrderBy::parse("v").unwrap().sort(&mut items);
    assert_eq!(ids(&items), vec![6, 5, 7, 2, 4, 1, 3]);
}

#[test]
fn orderby_nested_and_case_insensitive_field() {
    let mut items = vec![
        json!({"n": 1, "relatedUser": {"userName": "zed"}}),
        json!({"n": 2, "relatedUser": {"userName": "amy"}}),
        json!({"n": 3}),
    ];
    let o = OrderBy::parse("RelatedUser/UserName desc").unwrap();
    assert_eq!(o.keys(), vec![("RelatedUser/UserName".to_string(), true)]);
    o.sort(&mut items);
    assert_eq!(ids(&items), vec![1, 2, 3]);
}

#[test]
fn orderby_errors() {
    assert!(matches!(OrderBy::parse("a,").unwrap_err(), ODataError::Syntax { context: "orderby", position: 2, .. }));
    assert!(matches!(OrderBy::parse("a sideways").unwrap_err(), ODataError::Syntax { position: 2, .. }));
    assert!(matches!(OrderBy::parse("a/ ,b").unwrap_err(), ODataError::Syntax { .. }));
    assert!(OrderBy::parse("(a)").is_err());
    assert!(matches!(OrderBy::parse("'a").unwrap_err(), ODataError::UnterminatedString { .. }));
    assert_eq!(
        OrderBy::parse("a desc desc").unwrap_err().to_string(),
        "invalid orderby at position 7: expected ',' or end of input, found 'desc'"
    );
}

#[test]
fn orderby_keys_multi() {
    let o = OrderBy::parse("lastUpdateTime desc, id").unwrap();
    assert_eq!(o.keys(), vec![("lastUpdateTime".to_string(), true), ("id".to_string(), false)]);
}
