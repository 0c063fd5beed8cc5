//! Typed calls: one method on [`DefenderClient`](super::DefenderClient) per documented endpoint.
//!
//! Each resource file has two layers: `*_call` functions that only *describe* a request (a
//! [`Call`](super::Call): the contract endpoint, its path, query, body — testable without a network)
//! and the `DefenderClient` methods that send them. A resource file declares both in one entry per
//! endpoint (`calls!`, and `lists!` for the pageable lists, defined here). The path is the contract's
//! template ([`Endpoint::path_template`]) filled with the call's path segments, which come only from
//! validated newtypes and are percent-encoded anyway; list endpoints take a typed [`ListQuery`].
//!
//! Lists the docs page with `$top`/`$skip` are streams ([`DefenderClient::pages`]): `top` is the page
//! size (default and cap: the documented maximum, [`MDE_MAX_PAGE`], [`XDR_INCIDENTS_MAX_PAGE`]) and
//! `skip` the starting offset. Each also has a `*_page` method: one request with `$top`/`$skip` as
//! given. Collections the docs give no paging for return the whole [`ODataList`] (its `next_link` is
//! kept, should the service send one).
//!
//! # Layout
//! [`alerts`], [`machines`], [`actions`] (machine actions and live response), [`files`], [`ips`],
//! [`domains`], [`users`], [`indicators`], [`investigations`], [`hunting`] (MDE, XDR, Graph),
//! [`incidents`] (XDR), [`graph`] (Graph alerts and incidents).
//!
//! [`ODataList`]: super::models::ODataList

use super::{
    Call, DefenderError, Endpoint,
    odata::{Expand, Filter, OrderBy},
};
use serde::Serialize;
use std::fmt;

/// Declares a resource's typed calls, one entry each: the [`DefenderClient`](super::DefenderClient)
/// method (its doc, then `call` — answers the decoded body — or `call_empty`, its name, the arguments it
/// takes between the tenant and the deadline, and what it answers), then after `=` the `*_call` that
/// describes its request (a [`Call`], testable without a network): its name, then the builder
/// ([`request`], [`with_query`] or [`with_body`]) of the contract's endpoint with the path segments (and
/// the query or body). The `*_call`'s doc names the endpoint (whose doc is the contract's method and
/// path); doc lines before its name add to it.
macro_rules! calls {
    ($(
        $(#[$attr:meta])*
        $send:ident $method:ident($($arg:ident: $ty:ty),*) -> $out:ty =
            $(#[$call_attr:meta])* $call:ident: $builder:ident($endpoint:ident $(, $barg:expr)*);
    )*) => {
        $(
            calls!(@call $method, $call($($arg: $ty),*), $builder($endpoint $(, $barg)*),
                $(#[$call_attr])*);
        )*

        impl<T: $crate::auth::TokenSource> DefenderClient<T> {
            $(
                $(#[$attr])*
                pub async fn $method(
                    &self,
                    tenant: &$crate::ids::TenantName,
                    $($arg: $ty,)*
                    deadline: $crate::defender::Deadline,
                ) -> Result<$out, $crate::defender::DefenderError> {
                    #[allow(deprecated)]
                    let call = calls!(@built $builder, $call($($arg),*));
                    self.$send(tenant, call, deadline).await
                }
            )*
        }
    };
    // The `*_call`'s `Call`: only a body can fail to build.
    (@built with_body, $built:expr) => {
        $built?
    };
    (@built $builder:ident, $built:expr) => {
        $built
    };
    (@call $method:ident, $call:ident($($arg:ident: $ty:ty),*), with_body($endpoint:ident $(, $barg:expr)*),
        $(#[$call_attr:meta])*) => {
        #[doc = concat!("[`Endpoint::", stringify!($endpoint), "`](crate::defender::Endpoint::", stringify!($endpoint),
            "): the request of [`DefenderClient::", stringify!($method), "`](crate::defender::DefenderClient::",
            stringify!($method), ").")]
        $(#[$call_attr])*
        ///
        /// # Errors
        /// As [`with_body`](crate::defender::api::with_body).
        pub fn $call($($arg: $ty),*) -> Result<$crate::defender::Call, $crate::defender::DefenderError> {
            $crate::defender::api::with_body($crate::defender::Endpoint::$endpoint $(, $barg)*)
        }
    };
    (@call $method:ident, $call:ident($($arg:ident: $ty:ty),*), $builder:ident($endpoint:ident $(, $barg:expr)*),
        $(#[$call_attr:meta])*) => {
        #[doc = concat!("[`Endpoint::", stringify!($endpoint), "`](crate::defender::Endpoint::", stringify!($endpoint),
            "): the request of [`DefenderClient::", stringify!($method), "`](crate::defender::DefenderClient::",
            stringify!($method), ").")]
        $(#[$call_attr])*
        pub fn $call($($arg: $ty),*) -> $crate::defender::Call {
            $crate::defender::api::$builder($crate::defender::Endpoint::$endpoint $(, $barg)*)
        }
    };
}

/// Declares a resource's pageable lists, two lines each: the [`DefenderClient`](super::DefenderClient)
/// stream ([`DefenderClient::pages`](super::DefenderClient::pages)) with its `*_call` (the stream's
/// first request, `$top` left to the stream), then the one-page method with its `*_call` (`$top`/`$skip`
/// as asked, capped at the documented maximum).
macro_rules! lists {
    ($(
        $(#[$stream_attr:meta])*
        stream $stream:ident -> $item:ty = $list:ident($resource:ty, $endpoint:ident, $max:expr);
        $(#[$page_attr:meta])*
        page $page:ident -> $page_ty:ty = $page_call:ident;
    )*) => {
        $(
            #[doc = concat!("[`Endpoint::", stringify!($endpoint), "`](crate::defender::Endpoint::",
                stringify!($endpoint), "): the first request of [`DefenderClient::", stringify!($stream),
                "`](crate::defender::DefenderClient::", stringify!($stream), ") (stream: no `$top`).")]
            pub fn $list(q: &$crate::defender::api::ListQuery<$resource>) -> $crate::defender::Call {
                $crate::defender::api::with_query($crate::defender::Endpoint::$endpoint, &[], q.stream_query())
            }

            #[doc = concat!("[`Endpoint::", stringify!($endpoint), "`](crate::defender::Endpoint::",
                stringify!($endpoint), ") with `$top`: the request of [`DefenderClient::", stringify!($page),
                "`](crate::defender::DefenderClient::", stringify!($page), ") (one page).")]
            pub fn $page_call(q: &$crate::defender::api::ListQuery<$resource>) -> $crate::defender::Call {
                $crate::defender::api::with_query($crate::defender::Endpoint::$endpoint, &[], q.page_query($max))
            }
        )*

        impl<T: $crate::auth::TokenSource> DefenderClient<T> {
            $(
                $(#[$stream_attr])*
                pub fn $stream<'a>(
                    &'a self,
                    tenant: &'a $crate::ids::TenantName,
                    query: &$crate::defender::api::ListQuery<$resource>,
                    deadline: $crate::defender::Deadline,
                ) -> futures::stream::BoxStream<'a, Result<Vec<$item>, $crate::defender::DefenderError>> {
                    self.pages(tenant, $list(query), query.page_size($max), deadline)
                }

                $(#[$page_attr])*
                pub async fn $page(
                    &self,
                    tenant: &$crate::ids::TenantName,
                    query: &$crate::defender::api::ListQuery<$resource>,
                    deadline: $crate::defender::Deadline,
                ) -> Result<$page_ty, $crate::defender::DefenderError> {
                    self.call(tenant, $page_call(query), deadline).await
                }
            )*
        }
    };
}

pub mod actions;
pub mod alerts;
pub mod domains;
pub mod files;
pub mod graph;
pub mod hunting;
pub mod incidents;
pub mod indicators;
pub mod investigations;
pub mod ips;
pub mod machines;
pub mod users;

/// Documented maximum `$top` of the MDE lists (alerts, machines, machine actions, indicators,
/// investigations).
pub const MDE_MAX_PAGE: usize = 10_000;
/// Documented maximum `$top` of the XDR incident list.
pub const XDR_INCIDENTS_MAX_PAGE: usize = 100;
/// Page size asked of Graph lists. The Graph pages state no maximum and page with `@odata.nextLink`,
/// but the live `security/incidents` answers a `$top` above 50 with a 400 (reported, e.g.
/// wazuh/wazuh#28070): 50 is the largest page every Graph security list accepts.
pub const GRAPH_PAGE: usize = 50;

/// OData options for a list of resource `R`.
pub struct ListQuery<R> {
    /// `$filter`.
    pub filter: Option<Filter<R>>,
    /// Streams: the page size (capped at the documented maximum). `*_page`: `$top`.
    pub top: Option<usize>,
    /// Rows to skip first (`$skip`).
    pub skip: Option<usize>,
    /// `$orderby`.
    pub orderby: Vec<OrderBy<R>>,
    /// `$expand`.
    pub expand: Vec<Expand<R>>,
}

impl<R> Default for ListQuery<R> {
    fn default() -> Self {
        Self { filter: None, top: None, skip: None, orderby: Vec::new(), expand: Vec::new() }
    }
}

impl<R> Clone for ListQuery<R> {
    fn clone(&self) -> Self {
        Self {
            filter: self.filter.clone(),
            top: self.top,
            skip: self.skip,
            orderby: self.orderby.clone(),
            expand: self.expand.clone(),
        }
    }
}

impl<R> fmt::Debug for ListQuery<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListQuery")
            .field("filter", &self.filter)
            .field("top", &self.top)
            .field("skip", &self.skip)
            .field("orderby", &self.orderby)
            .field("expand", &self.expand)
            .finish()
    }
}

impl<R> ListQuery<R> {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }
    /// With a filter.
    #[must_use]
    pub fn filter(mut self, f: Filter<R>) -> Self {
        self.filter = Some(f);
        self
    }
    /// With a page size / `$top`.
    #[must_use]
    pub fn top(mut self, n: usize) -> Self {
        self.top = Some(n);
        self
    }
    /// With a `$skip`.
    #[must_use]
    pub fn skip(mut self, n: usize) -> Self {
        self.skip = Some(n);
        self
    }
    /// With one more `$orderby` key.
    #[must_use]
    pub fn orderby(mut self, o: OrderBy<R>) -> Self {
        self.orderby.push(o);
        self
    }
    /// With one more `$expand`.
    #[must_use]
    pub fn expand(mut self, e: Expand<R>) -> Self {
        self.expand.push(e);
        self
    }

    fn options(&self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        if let Some(f) = &self.filter {
            q.push(("$filter".to_string(), f.to_string()));
        }
        if !self.orderby.is_empty() {
            let keys: Vec<String> = self.orderby.iter().map(ToString::to_string).collect();
            q.push(("$orderby".to_string(), keys.join(",")));
        }
        if !self.expand.is_empty() {
            let names: Vec<&str> = self.expand.iter().map(Expand::name).collect();
            q.push(("$expand".to_string(), names.join(",")));
        }
        q
    }

    /// The query of a stream's first request: the options and the starting `$skip`; `$top` is the
    /// page size the stream adds.
    pub(crate) fn stream_query(&self) -> Vec<(String, String)> {
        let mut q = self.options();
        if let Some(s) = self.skip.filter(|s| *s > 0) {
            q.push(("$skip".to_string(), s.to_string()));
        }
        q
    }

    /// The query of a single page: the options, `$top` (capped at `max`) and `$skip`.
    pub(crate) fn page_query(&self, max: usize) -> Vec<(String, String)> {
        let mut q = self.options();
        q.push(("$top".to_string(), self.page_size(max).to_string()));
        if let Some(s) = self.skip.filter(|s| *s > 0) {
            q.push(("$skip".to_string(), s.to_string()));
        }
        q
    }

    /// The page size: `top`, at least 1 and at most `max`; `max` when unset.
    pub(crate) fn page_size(&self, max: usize) -> usize {
        self.top.map_or(max, |t| t.clamp(1, max))
    }
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters and `:`/`@`.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of a call of `endpoint`: its documented template up to any `?` (a documented query is
/// the call's `query`), each `{placeholder}` filled in order with one of `params`, percent-encoded as
/// one segment. The contract is the only place a path is written.
pub(crate) fn path(endpoint: Endpoint, params: &[&dyn fmt::Display]) -> String {
    let template = endpoint.path_template();
    let template = template.split_once('?').map_or(template, |(p, _)| p);
    let mut out = String::with_capacity(template.len() + 64);
    let mut params = params.iter();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        if let Some(p) = params.next() {
            out.push_str(&seg(&p.to_string()));
        }
        rest = after.split_once('}').map_or("", |(_, a)| a);
    }
    out.push_str(rest);
    out
}

/// A call of `endpoint` (method, path template and API family are the endpoint's) with `params` in
/// its path.
pub(crate) fn request(endpoint: Endpoint, params: &[&dyn fmt::Display]) -> Call {
    Call { endpoint, path: path(endpoint, params), query: Vec::new(), body: None }
}

/// A call with a query.
pub(crate) fn with_query(endpoint: Endpoint, params: &[&dyn fmt::Display], query: Vec<(String, String)>) -> Call {
    Call { query, ..request(endpoint, params) }
}

/// A call with a JSON body (`POST` or `PATCH`, as the endpoint is documented).
///
/// # Errors
/// [`DefenderError::Decode`] if the body does not serialise (it cannot for the request types here,
/// which hold only strings, numbers and lists).
pub(crate) fn with_body<B: Serialize>(
    endpoint: Endpoint,
    params: &[&dyn fmt::Display],
    body: &B,
) -> Result<Call, DefenderError> {
    let body =
        serde_json::to_value(body).map_err(|source| DefenderError::Decode { endpoint: endpoint.name(), source })?;
    Ok(Call { body: Some(body), ..request(endpoint, params) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defender::odata::{fields::alerts, resource::Alerts};

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("abc-_.~09"), "abc-_.~09");
        assert_eq!(seg("a/b?c#d e'f%"), "a%2Fb%3Fc%23d%20e%27f%25");
        assert_eq!(seg("DOMAIN\\user"), "DOMAIN%5Cuser");
        assert_eq!(seg("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn paths_fill_the_contract_templates_in_order() {
        assert_eq!(path(Endpoint::MdeAlertsList, &[]), "/api/alerts");
        assert_eq!(path(Endpoint::MdeMachinesIsolate, &[&"a/b c"]), "/api/machines/a%2Fb%20c/isolate");
        // The documented query of a template is the call's query, not its path.
        assert_eq!(path(Endpoint::MdeMachinesFindByTag, &[]), "/api/machines/findbytag");
        assert_eq!(
            path(Endpoint::MdeMachinesFindByIp, &[&"10.1.2.3", &"2024-05-01T10:00:00Z"]),
            "/api/machines/findbyip(ip='10.1.2.3',timestamp=2024-05-01T10:00:00Z)"
        );
        assert_eq!(
            path(Endpoint::MdeMachineactionsGetLiveResponseResult, &[&"x", &3]),
            "/api/machineactions/x/GetLiveResponseResultDownloadLink(index=3)"
        );
        assert_eq!(path(Endpoint::GraphSecurityIncidentsGet, &[&42]), "/security/incidents/42");
    }

    #[test]
    fn list_queries_render_and_cap() {
        let q: ListQuery<Alerts> = ListQuery::new()
            .filter(Filter::eq(alerts::STATUS, "New"))
            .orderby(OrderBy::desc(alerts::LAST_UPDATE_TIME))
            .expand(alerts::EXPAND_EVIDENCE)
            .top(50_000)
            .skip(20);
        let page = q.page_query(MDE_MAX_PAGE);
        let get = |k: &str| page.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("$filter"), Some("status eq 'New'"));
        assert_eq!(get("$orderby"), Some("lastUpdateTime desc"));
        assert_eq!(get("$expand"), Some("evidence"));
        assert_eq!(get("$top"), Some("10000"));
        assert_eq!(get("$skip"), Some("20"));
        let stream = q.stream_query();
        assert!(stream.iter().all(|(n, _)| n != "$top"));
        assert_eq!(q.page_size(MDE_MAX_PAGE), 10_000);
        assert_eq!(ListQuery::<Alerts>::new().top(0).page_size(100), 1);
        assert_eq!(ListQuery::<Alerts>::new().page_size(100), 100);
    }
}
