//! User (delegated) context: the device-code sign-in that `defender-functions login` runs once, and
//! the refresh-token grant every later token comes from.
//!
//! Both go through the `oauth2` crate (without its `reqwest` feature): [`OAuthHttp`] adapts our one
//! reqwest 0.13 client to `oauth2::AsyncHttpClient`. `oauth2`'s device-code poll keeps only
//! `error`/`error_description` of Entra's answers, so the adapter also keeps the body of the last
//! non-2xx answer: that is where the AADSTS codes and the trace id of a refusal are read from.
//!
//! The poll honours `interval`, waits on `authorization_pending`, adds 5 s on `slow_down` (both in
//! `oauth2`), and stops on `expired_token`, `authorization_declined` and any other error. Time and
//! waiting come from the injected [`Clock`].

use super::{
    AccessToken, DEFAULT_LIFETIME_S,
    credential::{CredentialKind, TenantCredential},
    error::{AuthError, CredentialRef, EntraRefusal, RequestContext, refused},
};
use crate::{
    clock::Clock,
    ids::{ClientId, TenantId, TenantName},
    secret::SecretString,
    vault::SecretStore,
};
use chrono::Duration as ChronoDuration;
use oauth2::{
    AuthType, DeviceAuthorizationUrl, RefreshToken, RequestTokenError, Scope, StandardDeviceAuthorizationResponse,
    TokenResponse, TokenUrl, basic::BasicClient,
};
use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

/// What to show the user: open `verification_uri`, enter `user_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodePrompt {
    /// The code the user types (shown to them; not a secret).
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// Ready-made text: "To sign in, open ... and enter the code ...".
    pub message: String,
    /// How long the code is valid.
    pub expires_in: Duration,
}

/// A device-code sign-in to run.
#[derive(Debug, Clone)]
pub struct DeviceCodeLogin {
    /// The tenant's name in the registry (for messages).
    pub tenant: TenantName,
    /// Directory (tenant) id.
    pub tenant_id: TenantId,
    /// The public client application.
    pub client_id: ClientId,
    /// Entra authority host (https).
    pub authority: url::Url,
    /// What to consent to, e.g. `https://graph.microsoft.com/.default`; `offline_access` is added.
    pub scope: String,
    /// The vault secret the refresh token is written to.
    pub refresh_token_secret: String,
}

impl DeviceCodeLogin {
    /// The sign-in for a tenant configured with [`CredentialKind::User`].
    ///
    /// # Errors
    /// [`AuthError::Config`] when the tenant's credential is not a user context.
    pub fn for_tenant(tenant: &TenantName, cred: &TenantCredential, scope: &str) -> Result<Self, AuthError> {
        let CredentialKind::User { refresh_token_secret } = &cred.kind else {
            return Err(AuthError::Config {
                tenant: tenant.to_string(),
                reason: "device-code sign-in needs a user-context credential".into(),
            });
        };
        Ok(Self {
            tenant: tenant.clone(),
            tenant_id: cred.tenant_id.clone(),
            client_id: cred.client_id.clone(),
            authority: cred.authority.clone(),
            scope: scope.to_string(),
            refresh_token_secret: refresh_token_secret.clone(),
        })
    }

    fn credential(&self) -> TenantCredential {
        TenantCredential {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            authority: self.authority.clone(),
            kind: CredentialKind::User { refresh_token_secret: self.refresh_token_secret.clone() },
        }
    }
}

/// A completed sign-in.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// Who signed in (`upn` of the first access token), when the token says.
    pub user: Option<String>,
    /// The scopes Entra granted.
    pub scopes: Vec<String>,
    /// Where the refresh token was stored.
    pub refresh_token_secret: String,
    /// The first access token (for `scope`).
    pub access: AccessToken,
}

/// The adapter's transport error.
#[derive(Debug, thiserror::Error)]
pub enum OAuthHttpError {
    /// reqwest failed.
    #[error("token request failed")]
    Http(#[source] reqwest::Error),
    /// A response could not be rebuilt for `oauth2`.
    #[error("cannot build the response")]
    Build(#[source] oauth2::http::Error),
}

/// What the adapter's closure returns.
pub type OAuthFuture = std::pin::Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, OAuthHttpError>> + Send>>;

/// `oauth2::AsyncHttpClient` over a reqwest 0.13 client, keeping the last error body.
#[derive(Debug, Clone)]
pub struct OAuthHttp {
    http: reqwest::Client,
    last_error: Arc<Mutex<Option<ErrorBody>>>,
}

/// Status and body of a non-2xx answer.
type ErrorBody = (u16, Vec<u8>);

impl OAuthHttp {
    /// Wraps a client.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, last_error: Arc::new(Mutex::new(None)) }
    }

    /// Status and body of the last non-2xx answer (cleared by every 2xx).
    pub fn last_error(&self) -> Option<ErrorBody> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// One request (what `oauth2` calls through the closure from [`OAuthHttp::client`]).
    ///
    /// # Errors
    /// Transport failures.
    pub fn call(
        &self,
        request: oauth2::HttpRequest,
    ) -> impl Future<Output = Result<oauth2::HttpResponse, OAuthHttpError>> + Send + 'static {
        let http = self.http.clone();
        let last_error = self.last_error.clone();
        async move {
            let request = reqwest::Request::try_from(request).map_err(OAuthHttpError::Http)?;
            let resp = http.execute(request).await.map_err(OAuthHttpError::Http)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(OAuthHttpError::Http)?.to_vec();
            *last_error.lock().unwrap_or_else(PoisonError::into_inner) =
                (!status.is_success()).then(|| (status.as_u16(), body.clone()));
            let mut builder = oauth2::http::Response::builder().status(status);
            if let Some(h) = builder.headers_mut() {
                *h = headers;
            }
            builder.body(body).map_err(OAuthHttpError::Build)
        }
    }

    /// The closure `oauth2` takes as its HTTP client.
    pub fn client(&self) -> impl Fn(oauth2::HttpRequest) -> OAuthFuture + '_ {
        move |request| Box::pin(self.call(request))
    }
}

/// Maps an `oauth2` failure, reading Entra's own error body (AADSTS codes, trace id) when the
/// adapter saw it.
fn map_oauth_error<TE: oauth2::ErrorResponse + 'static>(
    e: RequestTokenError<OAuthHttpError, TE>,
    adapter: &OAuthHttp,
    ctx: &RequestContext,
) -> AuthError {
    let seen = adapter.last_error().and_then(|(status, body)| EntraRefusal::from_body(status, &body, ctx));
    match e {
        RequestTokenError::ServerResponse(reported) => {
            let reported = serde_json::to_value(&reported).unwrap_or_default();
            let error = reported.get("error").and_then(|v| v.as_str()).unwrap_or_default();
            match seen {
                Some(r) if r.error == error => refused(r),
                // oauth2 decided on its own (its poll deadline passed): report what it said.
                _ => match EntraRefusal::from_body(400, reported.to_string().as_bytes(), ctx) {
                    Some(r) => refused(r),
                    None => AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status: 400 },
                },
            }
        }
        // A body that did not parse is never echoed: it may hold a token.
        RequestTokenError::Parse(..) => match seen {
            Some(r) => refused(r),
            None => AuthError::InvalidResponse {
                tenant: ctx.tenant.clone(),
                status: adapter.last_error().map_or(200, |(s, _)| s),
            },
        },
        RequestTokenError::Request(OAuthHttpError::Http(e)) => AuthError::Http(e),
        RequestTokenError::Request(OAuthHttpError::Build(_)) | RequestTokenError::Other(_) => {
            AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status: 0 }
        }
    }
}

fn token_url(cred: &TenantCredential, tenant: &str) -> Result<TokenUrl, AuthError> {
    TokenUrl::new(cred.token_url())
        .map_err(|_| AuthError::Config { tenant: tenant.to_string(), reason: "the token URL is not valid".into() })
}

/// Rebuilds an [`AccessToken`] from an `oauth2` token response.
fn access_token(resp: &impl TokenResponse, issued: chrono::DateTime<chrono::Utc>) -> AccessToken {
    let lifetime = resp
        .expires_in()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .map_or(ChronoDuration::seconds(DEFAULT_LIFETIME_S), ChronoDuration::seconds);
    AccessToken { secret: SecretString::new(resp.access_token().secret().clone()), expires_at: issued + lifetime }
}

/// What a refresh grant returned.
pub(crate) struct Grant {
    pub access: AccessToken,
    pub refresh_token: Option<SecretString>,
}

/// The `refresh_token` grant for a public client.
pub(crate) async fn refresh_grant(
    http: &reqwest::Client,
    cred: &TenantCredential,
    refresh_token: &SecretString,
    scope: &str,
    ctx: &RequestContext,
    clock: &dyn Clock,
) -> Result<Grant, AuthError> {
    let adapter = OAuthHttp::new(http.clone());
    let client = BasicClient::new(oauth2::ClientId::new(cred.client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url(cred, &ctx.tenant)?);
    let issued = clock.utc_now();
    let rt = RefreshToken::new(refresh_token.expose().to_string());
    let resp = client
        .exchange_refresh_token(&rt)
        .add_scope(Scope::new(scope.to_string()))
        .add_scope(Scope::new("offline_access".to_string()))
        .request_async(&adapter.client())
        .await
        .map_err(|e| map_oauth_error(e, &adapter, ctx))?;
    Ok(Grant {
        access: access_token(&resp, issued),
        refresh_token: resp.refresh_token().map(|t| SecretString::new(t.secret().clone())),
    })
}

/// Signs a user in with the device-code flow and stores the refresh token in the vault.
///
/// `on_prompt` receives the user code and verification URL to print; the function then polls the
/// token endpoint until the user approves, declines, or the code expires.
///
/// # Errors
/// [`AuthError::Entra`] (declined, expired code, app not a public client, ...), [`AuthError::Http`],
/// [`AuthError::StoreRefreshToken`] when the vault refuses the write, [`AuthError::InvalidResponse`]
/// when Entra grants no refresh token.
pub async fn device_code_login(
    http: &reqwest::Client,
    store: &dyn SecretStore,
    login: &DeviceCodeLogin,
    clock: &dyn Clock,
    on_prompt: impl FnOnce(&DeviceCodePrompt),
) -> Result<LoginOutcome, AuthError> {
    let ctx = login_context(login);
    let adapter = OAuthHttp::new(http.clone());
    let (client, details) = device_authorization(login, &ctx, &adapter).await?;
    let prompt = prompt_of(&details);
    tracing::info!(tenant = %login.tenant, client_id = %login.client_id, "device-code sign-in started");
    on_prompt(&prompt);
    let resp = client
        .exchange_device_access_token(&details)
        .set_time_fn(|| clock.utc_now())
        .request_async(&adapter.client(), |d| clock.sleep(d), None)
        .await
        .map_err(|e| map_oauth_error(e, &adapter, &ctx))?;
    let access = access_token(&resp, clock.utc_now());
    let refresh = resp.refresh_token().map(|t| SecretString::new(t.secret().clone()));
    let scopes = resp.scopes().map(|s| s.iter().map(|x| x.to_string()).collect()).unwrap_or_default();
    keep_refresh_token(store, login, &ctx, access, refresh, scopes, 200).await
}

/// The public client a device-code sign-in uses (device-authorization and token endpoints set).
type DeviceClient = BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The first request of every device-code sign-in: the device-authorization endpoint.
async fn device_authorization(
    login: &DeviceCodeLogin,
    ctx: &RequestContext,
    adapter: &OAuthHttp,
) -> Result<(DeviceClient, StandardDeviceAuthorizationResponse), AuthError> {
    let cred = login.credential();
    let config = |reason: &str| AuthError::Config { tenant: ctx.tenant.clone(), reason: reason.to_string() };
    if login.authority.scheme() != "https" {
        return Err(config("the authority must be an https URL"));
    }
    let device_url =
        DeviceAuthorizationUrl::new(cred.devicecode_url()).map_err(|_| config("the device-code URL is not valid"))?;
    let client = BasicClient::new(oauth2::ClientId::new(login.client_id.to_string()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(device_url)
        .set_token_uri(token_url(&cred, &ctx.tenant)?);
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new(login.scope.clone()))
        .add_scope(Scope::new("offline_access".to_string()))
        // An ID token naming who signed in (`oid`, `tid`, `preferred_username` need `profile`).
        .add_scope(Scope::new("openid".to_string()))
        .add_scope(Scope::new("profile".to_string()))
        .request_async(&adapter.client())
        .await
        .map_err(|e| map_oauth_error(e, adapter, ctx))?;
    Ok((client, details))
}

fn prompt_of(details: &StandardDeviceAuthorizationResponse) -> DeviceCodePrompt {
    DeviceCodePrompt {
        user_code: details.user_code().secret().clone(),
        verification_uri: details.verification_uri().to_string(),
        message: format!(
            "To sign in, open {} and enter the code {}",
            details.verification_uri().as_str(),
            details.user_code().secret()
        ),
        expires_in: details.expires_in(),
    }
}

/// The end of every device-code sign-in: the refresh token into the vault (none granted is an error).
async fn keep_refresh_token(
    store: &dyn SecretStore,
    login: &DeviceCodeLogin,
    ctx: &RequestContext,
    access: AccessToken,
    refresh: Option<SecretString>,
    scopes: Vec<String>,
    status: u16,
) -> Result<LoginOutcome, AuthError> {
    let Some(refresh) = refresh else {
        tracing::warn!(tenant = %login.tenant, client_id = %login.client_id, "entra granted no refresh token (offline_access refused?)");
        return Err(AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status });
    };
    store.set(&login.refresh_token_secret, &refresh).await.map_err(|source| AuthError::StoreRefreshToken {
        tenant: ctx.tenant.clone(),
        secret: login.refresh_token_secret.clone(),
        source: Box::new(source),
    })?;
    let user = access.claims().ok().and_then(|c| c.upn);
    let vault_secret_name = &login.refresh_token_secret;
    tracing::info!(tenant = %login.tenant, client_id = %login.client_id, %vault_secret_name, "device-code sign-in complete; stored in the vault");
    Ok(LoginOutcome { user, scopes, refresh_token_secret: login.refresh_token_secret.clone(), access })
}

/// A device-code sign-in started by [`device_code_begin`] and polled, one request at a time, by
/// [`device_code_poll`]: for a caller that cannot wait the whole sign-in in one process (a Lambda
/// whose timeout is shorter than the code's life keeps this between invocations).
///
/// `device_code` is a secret: whoever holds it (with the public client id) can redeem the sign-in
/// once the user approves. Keep it where secrets are kept, never in a queue message or a log.
#[derive(Debug, Clone)]
pub struct DeviceCodeStarted {
    /// The code the token endpoint is polled with.
    pub device_code: SecretString,
    /// What to show the user.
    pub prompt: DeviceCodePrompt,
    /// Poll no more often than this (Entra's `interval`).
    pub interval: Duration,
    /// When the code expires (from `expires_in`, on the injected clock).
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// One poll's answer.
#[derive(Debug, Clone)]
pub enum DevicePoll {
    /// Not approved yet: poll again after `interval` (raised by 5 s on `slow_down`).
    Pending {
        /// The wait before the next poll.
        interval: Duration,
    },
    /// Approved: the refresh token is in the vault.
    Done(Box<LoginOutcome>),
}

fn login_context(login: &DeviceCodeLogin) -> RequestContext {
    RequestContext {
        tenant: login.tenant.to_string(),
        tenant_id: login.tenant_id.to_string(),
        client_id: login.client_id.to_string(),
        scope: login.scope.clone(),
        authority: login.authority.to_string(),
        credential: CredentialRef::DeviceCode,
    }
}

/// Starts a device-code sign-in: one request to the device-authorization endpoint.
///
/// # Errors
/// [`AuthError::Config`] (authority not https), [`AuthError::Entra`] (not a public client, ...),
/// [`AuthError::Http`].
pub async fn device_code_begin(
    http: &reqwest::Client,
    login: &DeviceCodeLogin,
    clock: &dyn Clock,
) -> Result<DeviceCodeStarted, AuthError> {
    let ctx = login_context(login);
    let (_, details) = device_authorization(login, &ctx, &OAuthHttp::new(http.clone())).await?;
    let prompt = prompt_of(&details);
    let expires_in = prompt.expires_in;
    tracing::info!(tenant = %login.tenant, client_id = %login.client_id, "device-code sign-in started (polled in steps)");
    Ok(DeviceCodeStarted {
        device_code: SecretString::new(details.device_code().secret().clone()),
        prompt,
        interval: details.interval(),
        expires_at: clock.utc_now() + ChronoDuration::from_std(expires_in).unwrap_or(ChronoDuration::zero()),
    })
}

#[derive(serde::Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

/// Who completed a device-code sign-in, from the ID token Entra returned with the tokens (the
/// sign-in asks for `openid profile`). The access token is for the resource and opaque to us; the ID
/// token is addressed to our client.
///
/// The token came straight from the token endpoint over TLS, so its signature is not checked (OpenID
/// Connect Core §3.1.3.7); its `aud` must be our client id and its `tid` our tenant, or it is not
/// taken as an identity at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedInUser {
    /// The user's immutable object id in the tenant (`oid`).
    pub oid: Option<String>,
    /// The tenant the user signed in to (`tid`).
    pub tid: Option<String>,
    /// The sign-in name (`preferred_username`, usually the UPN; mutable, so compared, never stored as a key).
    pub preferred_username: Option<String>,
    /// `upn`, when the app registration asks for it as an optional claim.
    pub upn: Option<String>,
}

impl SignedInUser {
    /// Reads the ID token of a sign-in by `client_id` in `tenant_id`; `None` when it is unreadable or
    /// addressed to another client or tenant.
    pub fn from_id_token(id_token: &str, client_id: &str, tenant_id: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(default)]
            aud: Option<String>,
            #[serde(default)]
            tid: Option<String>,
            #[serde(default)]
            oid: Option<String>,
            #[serde(default)]
            preferred_username: Option<String>,
            #[serde(default)]
            upn: Option<String>,
        }
        let raw: Raw = super::jwt_payload(id_token)?;
        let same = |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
        if !same(&raw.aud, client_id) || !same(&raw.tid, tenant_id) {
            return None;
        }
        Some(Self { oid: raw.oid, tid: raw.tid, preferred_username: raw.preferred_username, upn: raw.upn })
    }

    /// The sign-in name to show and compare: `upn` when present, else `preferred_username`.
    pub fn name(&self) -> Option<&str> {
        self.upn.as_deref().or(self.preferred_username.as_deref())
    }
}

/// An approved device-code sign-in whose refresh token is not stored yet: the caller checks
/// [`Redeemed::signed_in`] and then [`Redeemed::keep`]s it — or drops it, and nothing was written.
/// No `Debug` of the tokens (they are [`SecretString`]s).
#[derive(Debug)]
pub struct Redeemed {
    /// Who signed in (`None`: Entra sent no usable ID token).
    pub signed_in: Option<SignedInUser>,
    access: AccessToken,
    refresh: Option<SecretString>,
    scopes: Vec<String>,
    status: u16,
}

impl Redeemed {
    /// Stores the refresh token in the vault (as [`device_code_login`] does).
    ///
    /// # Errors
    /// [`AuthError::StoreRefreshToken`]; [`AuthError::InvalidResponse`] when Entra granted no refresh token.
    pub async fn keep(self, store: &dyn SecretStore, login: &DeviceCodeLogin) -> Result<LoginOutcome, AuthError> {
        let ctx = login_context(login);
        keep_refresh_token(store, login, &ctx, self.access, self.refresh, self.scopes, self.status).await
    }
}

/// One poll's answer, nothing stored yet ([`device_code_redeem`]).
#[derive(Debug)]
pub enum DeviceRedeem {
    /// Not approved yet: poll again after `interval`.
    Pending {
        /// The wait before the next poll.
        interval: Duration,
    },
    /// Approved: check who, then [`Redeemed::keep`].
    Approved(Box<Redeemed>),
}

/// Polls the token endpoint once for a started sign-in; on approval stores the refresh token in the
/// vault (as [`device_code_login`] does). A caller that must check who signed in before anything is
/// stored uses [`device_code_redeem`].
///
/// # Errors
/// [`AuthError::Entra`] for `expired_token`, `authorization_declined`, an already redeemed code and
/// any other refusal; [`AuthError::Http`]; [`AuthError::StoreRefreshToken`];
/// [`AuthError::InvalidResponse`] when the answer is not a token (or holds no refresh token).
pub async fn device_code_poll(
    http: &reqwest::Client,
    store: &dyn SecretStore,
    login: &DeviceCodeLogin,
    device_code: &SecretString,
    interval: Duration,
    clock: &dyn Clock,
) -> Result<DevicePoll, AuthError> {
    match device_code_redeem(http, login, device_code, interval, clock).await? {
        DeviceRedeem::Pending { interval } => Ok(DevicePoll::Pending { interval }),
        DeviceRedeem::Approved(r) => r.keep(store, login).await.map(|o| DevicePoll::Done(Box::new(o))),
    }
}

/// Polls the token endpoint once for a started sign-in; on approval answers the tokens and who
/// signed in, **without** storing anything.
///
/// # Errors
/// [`AuthError::Entra`] for `expired_token`, `authorization_declined`, an already redeemed code and
/// any other refusal; [`AuthError::Http`]; [`AuthError::InvalidResponse`] when the answer is not a token.
pub async fn device_code_redeem(
    http: &reqwest::Client,
    login: &DeviceCodeLogin,
    device_code: &SecretString,
    interval: Duration,
    clock: &dyn Clock,
) -> Result<DeviceRedeem, AuthError> {
    let cred = login.credential();
    let ctx = login_context(login);
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", login.client_id.as_str()),
        ("device_code", device_code.expose()),
    ];
    let issued = clock.utc_now();
    let resp = http.post(cred.token_url()).form(&form).send().await.map_err(AuthError::Http)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(AuthError::Http)?;
    if !(200..300).contains(&status) {
        let error = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_default();
        return match error.as_str() {
            "authorization_pending" => Ok(DeviceRedeem::Pending { interval }),
            "slow_down" => Ok(DeviceRedeem::Pending { interval: interval + Duration::from_secs(5) }),
            _ => Err(match EntraRefusal::from_body(status, &body, &ctx) {
                Some(r) => refused(r),
                None => AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status },
            }),
        };
    }
    // A body that did not parse is never echoed: it holds a token.
    let token: TokenBody =
        serde_json::from_slice(&body).map_err(|_| AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status })?;
    let lifetime = token.expires_in.unwrap_or(DEFAULT_LIFETIME_S);
    let access = AccessToken {
        secret: SecretString::new(token.access_token),
        expires_at: issued + ChronoDuration::seconds(lifetime),
    };
    let scopes = token.scope.map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    let signed_in = token
        .id_token
        .as_deref()
        .and_then(|t| SignedInUser::from_id_token(t, login.client_id.as_str(), login.tenant_id.as_str()));
    Ok(DeviceRedeem::Approved(Box::new(Redeemed {
        signed_in,
        access,
        refresh: token.refresh_token.map(SecretString::new),
        scopes,
        status,
    })))
}
