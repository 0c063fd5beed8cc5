//! What the fake Defender tenants of the unit tests (`src/testing.rs`) and of the OpenAPI test
//! answer with: a machine and an alert on it. Both include this file (`#[path]`) and import
//! `AlertFacts` and `MachineFacts`, which it takes from its parent.

use super::{AlertFacts, MachineFacts};

/// An active Windows 11 machine `id` named `name`, high risk, medium exposure, not seen lately.
pub fn machine(id: &str, name: &str) -> MachineFacts {
    MachineFacts {
        id: id.into(),
        computer_dns_name: Some(name.into()),
        os_platform: Some("Windows11".into()),
        health_status: Some("Active".into()),
        risk_score: Some("High".into()),
        exposure_level: Some("Medium".into()),
        last_seen: None,
        last_ip_address: Some("10.1.2.3".into()),
        logged_on_users: Vec::new(),
    }
}

/// A new alert `id` of `severity` on the machine `machine_id`, in incident 7, titled "t".
pub fn alert(id: &str, severity: &str, machine_id: &str) -> AlertFacts {
    AlertFacts {
        id: id.into(),
        title: Some("t".into()),
        severity: Some(severity.into()),
        status: Some("New".into()),
        machine_id: Some(machine_id.into()),
        incident_id: Some(7),
        created: None,
    }
}
