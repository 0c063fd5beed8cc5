//! MDE users: related alerts and machines. `{id}` is the account name only, not the UPN
//! (`user1@contoso.com` → `/api/users/user1/alerts`).

use super::{get, seg};
use crate::{
    auth::TokenSource,
    defender::{
        Call, Deadline, DefenderClient, DefenderError, Endpoint,
        models::{ODataList, alerts::Alert, machines::Machine},
    },
    ids::{AccountName, TenantName},
};

fn user_path(u: &AccountName, tail: &str) -> String {
    format!("/api/users/{}{tail}", seg(u.as_str()))
}

/// `GET /api/users/{id}/alerts`.
pub fn alerts_call(user: &AccountName) -> Call {
    get(Endpoint::MdeUsersAlerts, user_path(user, "/alerts"))
}
/// `GET /api/users/{id}/machines`.
pub fn machines_call(user: &AccountName) -> Call {
    get(Endpoint::MdeUsersMachines, user_path(user, "/machines"))
}

impl<T: TokenSource> DefenderClient<T> {
    /// Alerts related to a user.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn user_alerts(
        &self,
        tenant: &TenantName,
        user: &AccountName,
        deadline: Deadline,
    ) -> Result<ODataList<Alert>, DefenderError> {
        self.call(tenant, alerts_call(user), deadline).await
    }

    /// Machines a user logged on to.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    pub async fn user_machines(
        &self,
        tenant: &TenantName,
        user: &AccountName,
        deadline: Deadline,
    ) -> Result<ODataList<Machine>, DefenderError> {
        self.call(tenant, machines_call(user), deadline).await
    }
}
