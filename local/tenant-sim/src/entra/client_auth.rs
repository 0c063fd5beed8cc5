//! Client authentication: secrets (form or HTTP Basic), certificate and federated assertions.

use super::*;

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
pub(super) fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Authorization: Basic` credentials, URL-decoded.
pub(super) fn basic_credentials(headers: &HeaderMap) -> EResult<Option<(String, String)>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| malformed("The Authorization header is not readable."))?;
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Err(malformed("The Authorization header is malformed."));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| malformed("The Basic credentials are not base64."))?;
    let text = String::from_utf8(decoded).map_err(|_| malformed("The Basic credentials are not UTF-8."))?;
    let Some((id, secret)) = text.split_once(':') else {
        return Err(malformed("The Basic credentials lack a ':'."));
    };
    Ok(Some((form_decode(id), form_decode(secret))))
}

pub(super) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The unverified payload of a JWT (only to learn who claims to have sent it).
pub(super) fn peek_payload(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(super) fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
    bad_request(
        "unauthorized_client",
        700_016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

pub(super) fn find_app(sim: &Sim, client_id: &str, tenant: &str) -> EResult<AppReg> {
    lock(&sim.tenant).app(client_id).cloned().ok_or_else(|| app_not_found(client_id, tenant))
}

/// Authenticates a confidential client from the form and headers; returns its registration.
pub(super) async fn authenticate_client(
    sim: &Sim,
    tenant: &str,
    form: &Form,
    headers: &HeaderMap,
    audiences: &[String],
) -> EResult<AppReg> {
    let basic = basic_credentials(headers)?;
    let assertion = form.get("client_assertion");
    let assertion_type = form.get("client_assertion_type");
    match (assertion, assertion_type) {
        (Some(_), None) => return Err(missing("client_assertion_type")),
        (None, Some(_)) => return Err(missing("client_assertion")),
        (Some(_), Some(t)) if t != JWT_BEARER => {
            return Err(malformed(&format!("client_assertion_type must be '{JWT_BEARER}'.")));
        }
        _ => {}
    }
    let body_id = form.get("client_id");
    if let (Some(b), Some((h, _))) = (body_id, &basic)
        && !b.eq_ignore_ascii_case(h)
    {
        return Err(malformed("The client_id in the body does not match the one in the Authorization header."));
    }
    let assertion_id =
        assertion.and_then(peek_payload).and_then(|p| p.get("sub").and_then(Value::as_str).map(str::to_string));
    let client_id = body_id
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .or(assertion_id)
        .ok_or_else(|| missing("client_id"))?;
    let credentials = [basic.is_some(), form.get("client_secret").is_some(), assertion.is_some()];
    if credentials.iter().filter(|c| **c).count() > 1 {
        return Err(malformed("Only one client authentication method may be used per request."));
    }
    let app = find_app(sim, &client_id, tenant)?;
    let secret = form.get("client_secret").map(str::to_string).or_else(|| basic.map(|(_, s)| s));
    if app.public_client && (secret.is_some() || assertion.is_some()) {
        return Err(bad_request(
            "invalid_client",
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    if let Some(secret) = secret {
        return match &app.client_secret {
            Some(s) if constant_time_eq(s, &secret) => Ok(app),
            _ => {
                tracing::info!(client_id = %app.client_id, "token request with an invalid client secret");
                Err(unauthorized(
                    7_000_215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                        app.client_id
                    ),
                ))
            }
        };
    }
    let Some(assertion) = assertion else {
        return Err(unauthorized(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        bad_request("invalid_request", 50_027, "JWT token is invalid or malformed. The client assertion is not a JWT.")
    })?;
    let has_thumbprint = header.x5t.is_some() || header.x5t_s256.is_some();
    match (&app.certificate_pem, pick_federated(&app, assertion)) {
        (Some(pem), Some(_)) if has_thumbprint => {
            verify_certificate_assertion(sim, &app, pem, assertion, &header, audiences)?
        }
        (_, Some(fed)) => verify_federated_assertion(sim, fed, assertion, &header).await?,
        (Some(pem), None) => verify_certificate_assertion(sim, &app, pem, assertion, &header, audiences)?,
        (None, None) => {
            return Err(unauthorized(
                700_027,
                "Client assertion failed signature validation. [Reason - The key was not found. No certificate or federated credential is registered for the application.]",
            ));
        }
    }
    Ok(app)
}

/// The app's federated credential an assertion is matched against: the one with its issuer and
/// subject, else the first with its issuer, else the first (whose mismatch is then reported).
pub(super) fn pick_federated<'a>(app: &'a AppReg, assertion: &str) -> Option<&'a Federated> {
    let all: Vec<&Federated> = app.federated.iter().chain(&app.federated_credentials).collect();
    let claims = peek_payload(assertion).unwrap_or_default();
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    let (iss, sub) = (claim("iss"), claim("sub"));
    all.iter()
        .find(|f| f.issuer == iss && f.subject == sub)
        .or_else(|| all.iter().find(|f| f.issuer == iss))
        .or_else(|| all.first())
        .copied()
}

pub(super) fn b64_any(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t).ok())
}

pub(super) fn bad_signature(reason: &str) -> EntraError {
    unauthorized(700_027, format!("Client assertion failed signature validation. [Reason - {reason}]"))
}

pub(super) fn auth_failed(reason: &str) -> EntraError {
    unauthorized(50_012, format!("Authentication failed. {reason}"))
}

/// Checks `exp`/`nbf` on the simulated clock; returns `exp`.
pub(super) fn check_time(sim: &Sim, claims: &Value, max_lifetime: Option<i64>) -> EResult<i64> {
    let now = sim.now().timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| {
        bad_request("invalid_request", 90_014, "The required field 'exp' is missing from the credential.")
    })?;
    let nbf = claims.get("nbf").and_then(Value::as_i64);
    let start = nbf.or_else(|| claims.get("iat").and_then(Value::as_i64)).unwrap_or(now);
    let out_of_range =
        exp <= now || nbf.is_some_and(|n| n > now + SKEW_S) || max_lifetime.is_some_and(|max| exp - start > max);
    if out_of_range {
        return Err(unauthorized(
            700_024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                crate::clock::iso(sim.now()),
                chrono::DateTime::from_timestamp(start, 0).map(crate::clock::iso).unwrap_or_default(),
                chrono::DateTime::from_timestamp(exp, 0).map(crate::clock::iso).unwrap_or_default(),
            ),
        ));
    }
    Ok(exp)
}

pub(super) fn lenient_validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

pub(super) fn verify_certificate_assertion(
    sim: &Sim,
    app: &AppReg,
    pem: &str,
    assertion: &str,
    header: &jsonwebtoken::Header,
    audiences: &[String],
) -> EResult<()> {
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(bad_signature(&format!("The algorithm {:?} is not supported; use PS256 or RS256.", header.alg)));
    }
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| bad_signature("The registered certificate cannot be read."))?;
    let der = parsed.contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| bad_signature("The registered certificate cannot be read."))?;
    let spki = cert.public_key().subject_public_key.data.to_vec();
    let s256 = sha2::Sha256::digest(&der).to_vec();
    let s1 = sha1::Sha1::digest(&der).to_vec();
    let thumb_ok = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => b64_any(t).is_some_and(|b| b == s256),
        (None, Some(t)) => b64_any(t).is_some_and(|b| b == s1),
        (None, None) => {
            return Err(bad_signature("The key was not found. The assertion header has no x5t#S256 or x5t."));
        }
    };
    if !thumb_ok {
        return Err(auth_failed("Thumbprint of the signing certificate isn't authorized for this application."));
    }
    let key = DecodingKey::from_rsa_der(&spki);
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &lenient_validation(header.alg))
        .map_err(|_| bad_signature("The client assertion contains an invalid signature."))?;
    let claims = data.claims;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.iter().any(|x| x == a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(auth_failed(&format!(
            "Client assertion audience claim does not match the token endpoint. Expected '{}'.",
            audiences.first().map(String::as_str).unwrap_or_default()
        )));
    }
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    if !claim("iss").eq_ignore_ascii_case(&app.client_id) || !claim("sub").eq_ignore_ascii_case(&app.client_id) {
        return Err(auth_failed(
            "Client assertion application identifier (iss, sub) doesn't match 'client_id' parameter.",
        ));
    }
    let exp = check_time(sim, &claims, Some(MAX_ASSERTION_LIFETIME_S))?;
    let jti = claims.get("jti").and_then(Value::as_str).filter(|j| !j.is_empty()).ok_or_else(|| {
        bad_request("invalid_request", 90_014, "The required field 'jti' is missing from the credential.")
    })?;
    let now = sim.now();
    let key = format!("{}:{jti}", app.client_id.to_ascii_lowercase());
    let mut tenant = lock(&sim.tenant);
    tenant.used_assertions.retain(|_, until| *until > now);
    if tenant.used_assertions.contains_key(&key) {
        return Err(auth_failed("The client assertion was already used (its jti has been seen before)."));
    }
    let until = chrono::DateTime::from_timestamp(exp, 0).unwrap_or(now) + Duration::seconds(SKEW_S);
    tenant.used_assertions.insert(key, until);
    Ok(())
}

/// The JWKS of a federated issuer.
pub(super) async fn federated_jwks(sim: &Sim, fed: &Federated) -> EResult<Value> {
    if let Some(jwks) = &fed.jwks {
        return Ok(jwks.clone());
    }
    let own_issuer = crate::control::issuer_url(sim);
    let own_jwks = format!("{own_issuer}/jwks");
    let own = json!({"keys": [sim.keys.jwk.clone()]});
    let fetch_failed = || unauthorized(50_166, "Request to External OIDC endpoint failed.");
    let url = match &fed.jwks_url {
        Some(u) if u.trim_end_matches('/') == own_jwks => return Ok(own),
        Some(u) => u.clone(),
        None if fed.issuer.trim_end_matches('/') == own_issuer => return Ok(own),
        None => {
            let meta = fetch_json(&format!("{}/.well-known/openid-configuration", fed.issuer.trim_end_matches('/')))
                .await
                .ok_or_else(fetch_failed)?;
            meta.get("jwks_uri").and_then(Value::as_str).map(str::to_string).ok_or_else(fetch_failed)?
        }
    };
    fetch_json(&url).await.ok_or_else(fetch_failed)
}

pub(super) async fn fetch_json(url: &str) -> Option<Value> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().ok()?;
    let resp = client.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json::<Value>().await.ok()
}

pub(super) async fn verify_federated_assertion(
    sim: &Sim,
    fed: &Federated,
    assertion: &str,
    header: &jsonwebtoken::Header,
) -> EResult<()> {
    let Some(claims) = peek_payload(assertion) else {
        return Err(bad_request("invalid_request", 50_027, "JWT token is invalid or malformed."));
    };
    let claim = |n: &str| claims.get(n).and_then(Value::as_str).unwrap_or_default().to_string();
    let iss = claim("iss");
    if iss != fed.issuer {
        return Err(unauthorized(
            700_211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Please note that the matching is done using a case-sensitive comparison."
            ),
        ));
    }
    let jwks = federated_jwks(sim, fed).await?;
    let keys = jwks.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    let jwk = match &header.kid {
        Some(kid) => keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str())),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or_else(|| bad_signature("The key was not found in the issuer's JWKS."))?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| bad_signature("The issuer's key cannot be read."))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad_signature("The issuer's key cannot be read."))?;
    jsonwebtoken::decode::<Value>(assertion, &key, &lenient_validation(header.alg))
        .map_err(|_| bad_signature("The assertion contains an invalid signature."))?;
    let sub = claim("sub");
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == fed.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(fed.audience.as_str())),
        _ => false,
    };
    // A credential that was just added answers the same for minutes while it propagates.
    let propagating = fed.visible_from.as_deref().and_then(crate::clock::parse_iso).is_some_and(|t| sim.now() < t);
    if sub != fed.subject || !aud_ok || propagating {
        let aud = claims.get("aud").map(Value::to_string).unwrap_or_default();
        return Err(bad_request(
            "invalid_request",
            70_021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                aud.trim_matches('"')
            ),
        ));
    }
    check_time(sim, &claims, None)?;
    Ok(())
}
