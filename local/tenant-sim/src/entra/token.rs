//! The token endpoints (v2 and v1): scopes and resources, minting, `client_credentials`, refresh.

use super::*;

/// A requested scope string, resolved to one resource.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    /// The resource's App ID URI as the table spells it.
    pub(super) resource: &'static str,
    pub(super) kind: Resource,
    pub(super) offline: bool,
    /// `openid` was asked for: the answer carries an ID token.
    pub(super) openid: bool,
    /// `profile` was asked for: the ID token carries `oid`, `preferred_username` and `name`.
    pub(super) profile: bool,
}

/// The canonical App ID URI for a requested resource.
pub(super) fn canonical_resource(requested: &str) -> Option<(&'static str, Resource)> {
    let r = requested.trim_end_matches('/');
    RESOURCES.iter().find(|(uri, _)| uri.eq_ignore_ascii_case(r)).map(|(uri, kind)| (*uri, *kind))
}

pub(super) fn unknown_resource(sim: &Sim, resource: &str) -> EntraError {
    bad_request(
        "invalid_resource",
        500_011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            sim.tenant_id()
        ),
    )
}

/// A client-credentials scope that is not `<resource>/.default`: Entra answers AADSTS1002012 today
/// (it answered 70011 before).
pub(super) fn invalid_client_credentials_scope(scope: &str) -> EntraError {
    bad_request(
        "invalid_scope",
        1_002_012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}

/// Parses `scope`: client credentials need exactly `<resource>/.default`; delegated flows accept
/// `<resource>/.default`, `<resource>/<Permission>`, bare Graph permissions and the OIDC scopes.
pub(super) fn parse_scope(sim: &Sim, raw: &str, delegated: bool) -> EResult<Scope> {
    let mut found: Option<(&'static str, Resource)> = None;
    let mut offline = false;
    let (mut openid, mut profile) = (false, false);
    let mut any = false;
    for item in raw.split_whitespace() {
        any = true;
        let lower = item.to_ascii_lowercase();
        if matches!(lower.as_str(), "openid" | "profile" | "email" | "offline_access") {
            if !delegated {
                return Err(invalid_client_credentials_scope(item));
            }
            offline |= lower == "offline_access";
            openid |= lower == "openid";
            profile |= lower == "profile";
            continue;
        }
        let resource = if let Some(r) = item.strip_suffix("/.default") {
            r
        } else if !delegated {
            return Err(invalid_client_credentials_scope(item));
        } else if let Some((r, _perm)) = item.rsplit_once('/') {
            r
        } else {
            "https://graph.microsoft.com"
        };
        let Some(res) = canonical_resource(resource) else { return Err(unknown_resource(sim, resource)) };
        match found {
            Some((uri, _)) if uri != res.0 => {
                return Err(bad_request(
                    "invalid_scope",
                    700_022,
                    format!(
                        "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {raw} is not valid."
                    ),
                ));
            }
            _ => found = Some(res),
        }
    }
    if !any {
        return Err(missing("scope"));
    }
    let (resource, kind) = match found {
        Some(f) => f,
        None if delegated => ("https://graph.microsoft.com", Resource::Api(Api::Graph)),
        None => return Err(missing("scope")),
    };
    Ok(Scope { resource, kind, offline, openid, profile })
}

/// The permissions of `all` that belong to `kind`.
pub(super) fn permissions_for(sim: &Sim, all: &[String], kind: Resource) -> Vec<String> {
    match kind {
        Resource::Api(api) => all.iter().filter(|p| sim.spec.permission_api(p) == Some(api)).cloned().collect(),
        Resource::Vault | Resource::BotConnector => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------------
// Minting
// ---------------------------------------------------------------------------------------------------

/// A stable GUID derived from a name (SHA-256, formatted as a v8-style UUID).
pub(super) fn stable_guid(kind: &str, name: &str) -> String {
    let digest = sha2::Sha256::digest(format!("tenant-sim:{kind}:{}", name.to_ascii_lowercase()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

pub(super) fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Who a token is for.
pub(super) enum Principal<'a> {
    App,
    User { upn: &'a str, scp: String },
}

pub(super) fn mint(sim: &Sim, tenant: &str, scope: &Scope, app: &AppReg, who: &Principal<'_>) -> EResult<String> {
    let now = sim.now().timestamp();
    let tid = sim.tenant_id();
    let (idtyp, roles, scp, upn, oid) = match who {
        Principal::App => {
            ("app", permissions_for(sim, &app.roles, scope.kind), None, None, stable_guid("app", &app.client_id))
        }
        Principal::User { upn, scp } => {
            ("user", Vec::new(), Some(scp.clone()), Some((*upn).to_string()), stable_guid("user", upn))
        }
    };
    let claims = Claims {
        aud: scope.resource.to_string(),
        iss: sim.issuer(tenant),
        iat: now,
        nbf: now,
        exp: now + LIFETIME_S,
        tid,
        appid: app.client_id.clone(),
        idtyp: idtyp.into(),
        roles,
        scp,
        upn,
        sub: oid.clone(),
        oid,
        uti: random_token(16),
        ver: "2.0".into(),
    };
    sim.keys.sign(&claims).map_err(|_| server_error())
}

/// The v2.0 ID token of a delegated sign-in, as Entra issues it from the token endpoint when the
/// request's scope held `openid`: `aud` is the client id, `iss`/`tid` the tenant, `sub` pairwise (per
/// app), and — only with `profile` — `oid`, `preferred_username` and `name` (Entra's ID token claims
/// reference). No `upn` (an optional claim the seed's apps do not ask for).
pub(super) fn mint_id_token(sim: &Sim, tenant: &str, scope: &Scope, app: &AppReg, upn: &str) -> EResult<String> {
    let now = sim.now().timestamp();
    let mut claims = json!({
        "aud": app.client_id,
        "iss": sim.issuer(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + LIFETIME_S,
        "tid": sim.tenant_id(),
        "sub": stable_guid("sub", &format!("{}:{upn}", app.client_id)),
        "ver": "2.0",
    });
    if scope.profile {
        claims["oid"] = json!(stable_guid("user", upn));
        claims["preferred_username"] = json!(upn);
        claims["name"] = json!(upn.split('@').next().unwrap_or(upn));
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(sim.keys.kid.clone());
    header.typ = Some("JWT".into());
    sim.keys.sign_value(&header, &claims).map_err(|_| server_error())
}

/// The object id the simulator gives `upn` in its tokens (`oid`).
pub fn user_oid(upn: &str) -> String {
    stable_guid("user", upn)
}

pub(super) fn app_token_body(token: String) -> Value {
    json!({"token_type": "Bearer", "expires_in": LIFETIME_S, "ext_expires_in": LIFETIME_S, "access_token": token})
}

pub(super) async fn token_v2(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = token_v2_inner(&sim, &uri, &headers, &body).await;
    respond(&sim, result)
}

pub(super) async fn token_v2_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let grant = form.need("grant_type")?;
    if form.get("resource").is_some() {
        return Err(bad_request("invalid_request", 901_002, "The 'resource' request parameter is not supported."));
    }
    match grant {
        "client_credentials" => {
            let audiences = [sim.token_url(&tenant)];
            let scope_raw = form.need("scope")?;
            let app = authenticate_client(sim, &tenant, &form, headers, &audiences).await?;
            let scope = parse_scope(sim, scope_raw, false)?;
            let token = mint(sim, &tenant, &scope, &app, &Principal::App)?;
            tracing::info!(client_id = %app.client_id, resource = scope.resource, "issued an application token");
            Ok(app_token_body(token))
        }
        DEVICE_CODE_GRANT => device_code_grant(sim, &tenant, &form),
        "refresh_token" => refresh_grant(sim, &tenant, &form, headers).await,
        other => Err(bad_request(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

pub(super) async fn token_v1(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = token_v1_inner(&sim, &uri, &headers, &body).await;
    respond(&sim, result)
}

pub(super) async fn token_v1_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let grant = form.need("grant_type")?;
    if grant != "client_credentials" {
        return Err(bad_request(
            "unsupported_grant_type",
            70_003,
            format!(
                "The app requested an unsupported grant type '{grant}'. The simulator's v1 endpoint serves client_credentials only."
            ),
        ));
    }
    let requested = form.need("resource")?;
    let audiences = [sim.token_url(&tenant), format!("{}/{tenant}/oauth2/token", sim.base_url)];
    let app = authenticate_client(sim, &tenant, &form, headers, &audiences).await?;
    let (resource, kind) = canonical_resource(requested).ok_or_else(|| unknown_resource(sim, requested))?;
    let scope = Scope { resource, kind, offline: false, openid: false, profile: false };
    let token = mint(sim, &tenant, &scope, &app, &Principal::App)?;
    tracing::info!(client_id = %app.client_id, resource, "issued an application token (v1)");
    let now = sim.now().timestamp();
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME_S.to_string(),
        "ext_expires_in": LIFETIME_S.to_string(),
        "expires_on": (now + LIFETIME_S).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "access_token": token,
    }))
}

/// Issues a delegated token (and a refresh token when `offline` or `always_refresh`).
pub(super) fn delegated_response(
    sim: &Sim,
    tenant: &str,
    scope: &Scope,
    app: &AppReg,
    upn: &str,
    always_refresh: bool,
) -> EResult<Value> {
    let user = lock(&sim.tenant).user(upn).cloned().ok_or_else(|| malformed_grant("The user no longer exists."))?;
    let perms = match scope.kind {
        Resource::Vault => vec!["user_impersonation".to_string()],
        kind => permissions_for(sim, &user.scp, kind),
    };
    let token = mint(sim, tenant, scope, app, &Principal::User { upn: &user.upn, scp: perms.join(" ") })?;
    let mut granted: Vec<String> = perms.iter().map(|p| format!("{}/{p}", scope.resource)).collect();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": "",
        "expires_in": LIFETIME_S,
        "ext_expires_in": LIFETIME_S,
        "access_token": token,
    });
    if scope.offline || always_refresh {
        granted.push("offline_access".into());
        let refresh = format!("0.SIM.{}", random_token(64));
        let grant = RefreshGrant {
            client_id: app.client_id.clone(),
            upn: user.upn.clone(),
            expires_at: sim.now() + Duration::days(REFRESH_LIFETIME_DAYS),
            redeemed: false,
        };
        lock(&sim.tenant).refresh_tokens.insert(refresh.clone(), grant);
        body["refresh_token"] = Value::String(refresh);
    }
    if scope.openid {
        granted.push("openid".into());
        if scope.profile {
            granted.push("profile".into());
        }
        body["id_token"] = Value::String(mint_id_token(sim, tenant, scope, app, &user.upn)?);
    }
    body["scope"] = Value::String(granted.join(" "));
    tracing::info!(client_id = %app.client_id, resource = scope.resource, "issued a delegated token");
    Ok(body)
}

pub(super) async fn refresh_grant(sim: &Sim, tenant: &str, form: &Form, headers: &HeaderMap) -> EResult<Value> {
    let client_id = form.need("client_id")?;
    let refresh = form.need("refresh_token")?;
    let scope_raw = form.need("scope")?;
    let app = find_app(sim, client_id, tenant)?;
    if !app.public_client {
        authenticate_client(sim, tenant, form, headers, &[sim.token_url(tenant)]).await?;
    }
    let scope = parse_scope(sim, scope_raw, true)?;
    let now = sim.now();
    let upn = {
        let mut t = lock(&sim.tenant);
        let Some(grant) = t.refresh_tokens.get_mut(refresh) else {
            return Err(unknown_grant("The refresh token was not recognized."));
        };
        if !grant.client_id.eq_ignore_ascii_case(client_id) {
            return Err(malformed_grant("The refresh token was issued to another client."));
        }
        if now >= grant.expires_at {
            return Err(bad_request(
                "invalid_grant",
                70_008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        // Entra does not revoke a refresh token when it issues a new one: the old one stays valid
        // until it expires or is revoked. A product must not rely on the rotation to retire it.
        grant.redeemed = true;
        grant.upn.clone()
    };
    delegated_response(sim, tenant, &scope, &app, &upn, true)
}
