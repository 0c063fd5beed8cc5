//! OIDC discovery and the JWKS endpoints.

use super::*;

pub(super) async fn openid_configuration(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    let tenant = match check_tenant(&sim, &uri) {
        Ok(t) => t,
        Err(e) => return e.render(sim.now()),
    };
    let base = &sim.base_url;
    Json(json!({
        "token_endpoint": sim.token_url(&tenant),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": sim.issuer(&tenant),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "grant_types_supported": ["client_credentials", DEVICE_CODE_GRANT, "refresh_token"],
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "idtyp", "roles", "scp", "upn", "uti", "ver"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

pub(super) async fn tenant_keys(State(sim): State<Arc<Sim>>, uri: Uri) -> Response {
    match check_tenant(&sim, &uri) {
        Ok(_) => Json(json!({"keys": [sim.keys.jwk.clone()]})).into_response(),
        Err(e) => e.render(sim.now()),
    }
}

pub(super) async fn common_keys(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"keys": [sim.keys.jwk.clone()]}))
}
