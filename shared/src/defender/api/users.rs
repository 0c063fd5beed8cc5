//! MDE users: related alerts and machines. `{id}` is the account name only, not the UPN
//! (`user1@contoso.com` → `/api/users/user1/alerts`).

use super::request;
use crate::{
    defender::{
        Call, DefenderClient, Endpoint,
        models::{ODataList, alerts::Alert, machines::Machine},
    },
    ids::AccountName,
};

calls! {
    /// `GET /api/users/{id}/alerts`.
    fn alerts_call(user: &AccountName) -> Call = request(Endpoint::MdeUsersAlerts, &[user]);
    /// Alerts related to a user.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call user_alerts -> ODataList<Alert>;
    /// `GET /api/users/{id}/machines`.
    fn machines_call(user: &AccountName) -> Call = request(Endpoint::MdeUsersMachines, &[user]);
    /// Machines a user logged on to.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call user_machines -> ODataList<Machine>;
}
