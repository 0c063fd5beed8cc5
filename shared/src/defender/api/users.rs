//! MDE users: related alerts and machines. `{id}` is the account name only, not the UPN
//! (`user1@contoso.com` → `/api/users/user1/alerts`).

use crate::{
    defender::{
        DefenderClient,
        models::{ODataList, alerts::Alert, machines::Machine},
    },
    ids::AccountName,
};

calls! {
    /// Alerts related to a user.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call user_alerts(user: &AccountName) -> ODataList<Alert> = alerts_call: request(MdeUsersAlerts, &[user]);
    /// Machines a user logged on to.
    ///
    /// # Errors
    /// As [`DefenderClient::call`].
    call user_machines(user: &AccountName) -> ODataList<Machine> = machines_call: request(MdeUsersMachines, &[user]);
}
