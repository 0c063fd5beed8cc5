//! [`TenantClient`]: one tenant's handle on the shared client, every call within one deadline — what
//! a function implements its narrow use-case trait on (webhook-enrich's lookups, chat-ops' operations,
//! the export's source), instead of each keeping its own client + tenant + deadline struct.

use super::{Deadline, DefenderClient};
use crate::{auth::TokenProvider, ids::TenantName};
use std::{sync::Arc, time::Duration};

/// The shared client, one tenant, one deadline. Cheap to clone (an `Arc` and a name).
pub struct TenantClient<T = TokenProvider> {
    /// The shared client (token cache, governor and retries across tenants).
    pub client: Arc<DefenderClient<T>>,
    /// The registry tenant every call goes to.
    pub tenant: TenantName,
    /// The latest moment any call through this handle may still run or wait.
    pub deadline: Deadline,
}

/// How far ahead [`TenantClient::unbounded`] puts its deadline: far past any Lambda's 15 minutes.
const UNBOUNDED: Duration = Duration::from_secs(365 * 24 * 3600);

impl<T> TenantClient<T> {
    /// Calls in `tenant` through `client`, bounded by `deadline`.
    pub fn new(client: Arc<DefenderClient<T>>, tenant: TenantName, deadline: Deadline) -> Self {
        Self { client, tenant, deadline }
    }

    /// A handle whose calls are bounded only by the deadline each is given ([`TenantClient::within`]):
    /// for state built once at cold start and used by many invocations.
    pub fn unbounded(client: Arc<DefenderClient<T>>, tenant: TenantName) -> Self {
        Self::new(client, tenant, Deadline::after(UNBOUNDED))
    }

    /// The earlier of this handle's deadline and `call`'s.
    pub fn within(&self, call: Deadline) -> Deadline {
        self.deadline.min(call)
    }
}

impl<T> Clone for TenantClient<T> {
    fn clone(&self) -> Self {
        Self { client: self.client.clone(), tenant: self.tenant.clone(), deadline: self.deadline }
    }
}

impl<T> std::fmt::Debug for TenantClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantClient").field("tenant", &self.tenant).finish_non_exhaustive()
    }
}
