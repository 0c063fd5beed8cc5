//! What Slack posts to the chat-ops callback, for the demo workspace (`T0001`, app `A0DEFENDER`,
//! channel `C2147483705`): the form body of a slash command, with the fields Slack documents for it
//! (<https://api.slack.com/interactivity/slash-commands#app_command_handling>). Signing it is the
//! caller's (its secret is the test's).

/// The demo workspace.
pub const TEAM: &str = "T0001";
/// The demo Slack app (`api_app_id`; the demo policy's `slack.app_id`).
pub const APP_ID: &str = "A0DEFENDER";
/// The channel the commands come from.
pub const CHANNEL: &str = "C2147483705";

/// The form body of `/defender <text>` typed by `user` in the demo channel, its replies going to
/// `response_url`.
pub fn slash_command(user: &str, text: &str, response_url: &str) -> String {
    slash_form(user, CHANNEL, text, response_url)
}

/// The form body of `/defender <text>` typed by `user` in `channel` of the demo workspace, answered at
/// `response_url`: every field Slack posts, the legacy verification token included (the callback must
/// ignore it: it checks the signature).
pub fn slash_form(user: &str, channel: &str, text: &str, response_url: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
        .append_pair("team_id", TEAM)
        .append_pair("api_app_id", APP_ID)
        .append_pair("team_domain", "contoso")
        .append_pair("channel_id", channel)
        .append_pair("channel_name", "soc")
        .append_pair("user_id", user)
        .append_pair("user_name", &user.to_lowercase())
        .append_pair("command", "/defender")
        .append_pair("text", text)
        .append_pair("response_url", response_url)
        .append_pair("trigger_id", "13345224609.738474920.8088930838d88f008e0")
        .finish()
}
