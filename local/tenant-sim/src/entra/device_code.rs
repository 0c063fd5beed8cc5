//! The device-code flow: the `devicecode` endpoint and the `device_code` grant.

use super::*;

pub(super) fn device_code_grant(sim: &Sim, tenant: &str, form: &Form) -> EResult<Value> {
    let client_id = form.need("client_id")?;
    let device_code = form.need("device_code")?;
    let now = sim.now();
    let (scope_raw, upn) = {
        let mut t = lock(&sim.tenant);
        let Some(code) = t.device_codes.get_mut(device_code) else {
            return Err(unknown_grant("The device_code was not recognized."));
        };
        if !code.client_id.eq_ignore_ascii_case(client_id) {
            return Err(malformed_grant("The device code was issued to another client."));
        }
        if code.redeemed {
            return Err(malformed_grant("The device code was already redeemed."));
        }
        if now >= code.expires_at {
            return Err(bad_request(
                "expired_token",
                70_020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ));
        }
        if code.declined {
            return Err(bad_request(
                "authorization_declined",
                70_000,
                "The end user denied the authorization request.",
            ));
        }
        let Some(upn) = code.approved_by.clone() else {
            let too_fast = code.last_poll.is_some_and(|last| now - last < Duration::seconds(code.interval_s));
            code.last_poll = Some(now);
            if too_fast {
                return Err(bad_request(
                    "slow_down",
                    70_016,
                    format!(
                        "OAuth 2.0 device flow error. Authorization is pending; poll no more often than every {} seconds.",
                        code.interval_s
                    ),
                ));
            }
            return Err(bad_request(
                "authorization_pending",
                70_016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ));
        };
        code.last_poll = Some(now);
        code.redeemed = true;
        (code.scope.clone(), upn)
    };
    let app = find_app(sim, client_id, tenant)?;
    let scope = parse_scope(sim, &scope_raw, true)?;
    delegated_response(sim, tenant, &scope, &app, &upn, false)
}

pub(super) async fn devicecode(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = devicecode_inner(&sim, &uri, &headers, &body);
    respond(&sim, result)
}

pub(super) fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..9).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

pub(super) fn devicecode_inner(sim: &Sim, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> EResult<Value> {
    let tenant = check_tenant(sim, uri)?;
    let form = Form::parse(headers, body)?;
    let client_id = form.need("client_id")?;
    let scope_raw = form.need("scope")?;
    let app = find_app(sim, client_id, &tenant)?;
    if !app.public_client {
        return Err(bad_request(
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. The application is not a public client.",
        ));
    }
    parse_scope(sim, scope_raw, true)?;
    let code = user_code();
    let device_code = random_token(48);
    let entry = DeviceCode {
        device_code: device_code.clone(),
        user_code: code.clone(),
        client_id: app.client_id.clone(),
        scope: scope_raw.to_string(),
        expires_at: sim.now() + Duration::seconds(DEVICE_CODE_LIFETIME_S),
        interval_s: DEVICE_CODE_INTERVAL_S,
        last_poll: None,
        approved_by: None,
        declined: false,
        redeemed: false,
    };
    lock(&sim.tenant).device_codes.insert(device_code.clone(), entry);
    tracing::info!(client_id = %app.client_id, "started a device-code sign-in");
    Ok(json!({
        "user_code": code,
        "device_code": device_code,
        "verification_uri": VERIFICATION_URI,
        "expires_in": DEVICE_CODE_LIFETIME_S,
        "interval": DEVICE_CODE_INTERVAL_S,
        "message": format!("To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {code} to authenticate."),
    }))
}
