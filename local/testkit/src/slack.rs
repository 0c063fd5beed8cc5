//! What Slack sends the chat-ops callback, as the tests send it.

/// The form body of `/defender <text>` typed by `user` in `channel` of the demo workspace (`T0001`,
/// app `A0DEFENDER`), answered at `response_url`: every field Slack posts, the legacy verification
/// token included (the callback must ignore it: it checks the signature).
pub fn slash_form(user: &str, channel: &str, text: &str, response_url: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "gIkuvaNzQIHg97ATvDxqgjtO")
        .append_pair("team_id", "T0001")
        .append_pair("api_app_id", "A0DEFENDER")
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
