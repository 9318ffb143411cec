//! Prometheus exposition of finch's metrics and an axum router that serves it
//! with the loop's JSON status and operator pins, behind a bearer token and a
//! Host allow-list.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::decision::{Decision, DecisionOutcome};
use crate::error::{ConfigError, Error, KnobError};
use crate::handle::{Handle, Remote};

/// Renders every metric recorded through the `metrics` facade (finch's and the
/// application's) in the Prometheus text format.
///
/// ```
/// let exporter = finch_core::export::PrometheusExporter::install()?;
/// metrics::counter!("requests_total").increment(1);
/// assert!(exporter.render().contains("requests_total 1"));
/// # Ok::<(), finch_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PrometheusExporter {
    handle: PrometheusHandle,
}

impl PrometheusExporter {
    /// Installs a Prometheus recorder as the process's `metrics` recorder.
    ///
    /// Fails if another recorder is installed already; build one with
    /// `metrics_exporter_prometheus` yourself and use [`from_handle`](Self::from_handle)
    /// to combine them.
    pub fn install() -> Result<Self, Error> {
        let handle = PrometheusBuilder::new().install_recorder().map_err(|e| {
            Error::Config(ConfigError::new(
                "PrometheusExporter::install",
                format!(
                    "cannot install the Prometheus recorder ({e}); if the application installs \
                     its own, pass its handle to `PrometheusExporter::from_handle`"
                ),
            ))
        })?;
        Ok(Self { handle })
    }

    /// Wraps the handle of a recorder the application installed.
    pub fn from_handle(handle: PrometheusHandle) -> Self {
        Self { handle }
    }

    /// The current exposition (runs the recorder's upkeep first).
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// The shortest operator token accepted, in characters.
const MIN_TOKEN_LEN: usize = 32;

/// Who may use the operator routes: the bearer token they must send, and the
/// `Host` names the server is reached by.
///
/// The token is compared in constant time. The Host allow-list defends against
/// DNS rebinding: a web page whose name an attacker re-points at `127.0.0.1`
/// reaches the port, but its requests carry the attacker's host name and are
/// refused. An entry with a port (`127.0.0.1:9100`) matches exactly; one
/// without (`localhost`) matches that name on any port.
///
/// ```
/// use finch_core::export::OperatorAccess;
///
/// let token = "0123456789abcdef0123456789abcdef"; // read it from a secret, not the source
/// let access = OperatorAccess::new(token, ["127.0.0.1:9100", "localhost:9100"])?;
/// assert!(OperatorAccess::new("short", ["127.0.0.1:9100"]).is_err());
/// assert!(OperatorAccess::new(token, Vec::<String>::new()).is_err());
/// # let _ = access;
/// # Ok::<(), finch_core::Error>(())
/// ```
#[derive(Clone)]
pub struct OperatorAccess {
    token: Arc<[u8]>,
    hosts: Arc<[String]>,
}

impl std::fmt::Debug for OperatorAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorAccess")
            .field("token", &"<redacted>")
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl OperatorAccess {
    /// Access for requests carrying `Authorization: Bearer <token>` and a `Host`
    /// header among `hosts`.
    ///
    /// Fails, naming the fix, when the token is shorter than 32 characters or
    /// holds anything but visible ASCII, when `hosts` is empty, or when an entry
    /// is not a bare `name` or `name:port` (no scheme, path or spaces).
    pub fn new<H>(token: &str, hosts: impl IntoIterator<Item = H>) -> Result<Self, Error>
    where
        H: AsRef<str>,
    {
        if token.len() < MIN_TOKEN_LEN {
            return Err(Error::Config(ConfigError::new(
                "OperatorAccess::new",
                format!(
                    "the operator token has {} characters; give at least {MIN_TOKEN_LEN} random \
                     ones (for example the output of `openssl rand -hex 32`)",
                    token.len()
                ),
            )));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config(ConfigError::new(
                "OperatorAccess::new",
                "the operator token must be visible ASCII without spaces, to travel in an \
                 `Authorization` header; use hex or base64 characters",
            )));
        }
        let hosts = hosts
            .into_iter()
            .map(|h| host_entry(h.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            return Err(Error::Config(ConfigError::new(
                "OperatorAccess::new",
                "the operator routes need at least one allowed Host, such as \
                 `127.0.0.1:9100` (the address clients use to reach them)",
            )));
        }
        Ok(Self {
            token: token.as_bytes().into(),
            hosts: hosts.into(),
        })
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.iter().any(|allowed| {
            host == *allowed
                || (!has_port(allowed)
                    && host.strip_prefix(allowed.as_str()).is_some_and(|rest| {
                        rest.strip_prefix(':')
                            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    }))
        })
    }

    fn token_matches(&self, given: &[u8]) -> bool {
        constant_time_eq(&self.token, given)
    }
}

/// Checks and normalises (lower case) one allowed Host.
fn host_entry(entry: &str) -> Result<String, Error> {
    let host = entry.trim().to_ascii_lowercase();
    let bare = !host.is_empty()
        && !host.contains("://")
        && !host.contains('/')
        && host.bytes().all(|b| b.is_ascii_graphic());
    if bare {
        Ok(host)
    } else {
        Err(Error::Config(ConfigError::new(
            "OperatorAccess::new",
            format!(
                "operator host {entry:?} is not a host name; give it as `name` or `name:port`, \
                 as clients send it in the Host header (for example `127.0.0.1:9100`)"
            ),
        )))
    }
}

/// Whether a normalised host ends in `:port` (an IPv6 literal's colons are inside brackets).
fn has_port(host: &str) -> bool {
    let after_bracket = host.rsplit_once(']').map_or(host, |(_, rest)| rest);
    after_bracket.contains(':')
}

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!*e);
        diff |= e ^ g;
    }
    std::hint::black_box(diff) == 0
}

#[derive(Clone)]
struct Routes {
    remote: Remote,
    exporter: PrometheusExporter,
}

/// Operator routes for a running loop, to serve on an address only operators
/// reach (a separate listener on loopback, say), not merged into a public router:
///
/// - `GET /metrics`: the Prometheus exposition;
/// - `GET /finch/status`: [`Handle::status`] as JSON;
/// - `PUT /finch/knobs/{name}/pin` with the value as the body: pins a knob;
/// - `DELETE /finch/knobs/{name}/pin`: hands it back to the loop.
///
/// Every request must carry `Authorization: Bearer <token>` (else `401`) and a
/// `Host` that [`OperatorAccess`] allows (else `403`); with Prometheus, set the
/// scrape job's `authorization: { credentials: <token> }`. A pin whose value is
/// invalid answers `400`, one whose applier fails `422`; either way the knob
/// keeps its earlier value and pin. A pin runs to its end even when the client
/// disconnects, so a published value always has its decision logged.
///
/// The routes hold no reference that keeps the loop alive: once the [`Handle`]
/// is dropped or shut down, the status route reports `running: false` and pins
/// fail with `409 Conflict`.
///
/// ```
/// # fn admin(finch: &finch_core::Handle) -> Result<axum::Router, finch_core::Error> {
/// use finch_core::export::{OperatorAccess, PrometheusExporter, router};
///
/// let token = std::env::var("FINCH_OPERATOR_TOKEN")
///     .map_err(|_| finch_core::Error::Config(finch_core::ConfigError::new(
///         "FINCH_OPERATOR_TOKEN",
///         "set it to at least 32 random characters",
///     )))?;
/// let access = OperatorAccess::new(&token, ["127.0.0.1:9100", "localhost:9100"])?;
/// let admin = router(finch, PrometheusExporter::install()?, access);
/// // Serve `admin` with `axum::serve` on a listener bound to 127.0.0.1:9100,
/// // apart from the application's public router.
/// # Ok(admin)
/// # }
/// ```
pub fn router(handle: &Handle, exporter: PrometheusExporter, access: OperatorAccess) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/finch/status", get(status))
        .route("/finch/knobs/{name}/pin", put(pin).delete(unpin))
        .with_state(Routes {
            remote: handle.remote(),
            exporter,
        })
        .layer(middleware::from_fn_with_state(access, guard))
}

/// Refuses requests with a foreign Host (`403`) or without the token (`401`).
async fn guard(State(access): State<OperatorAccess>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_string()));
    match host {
        Some(h) if access.host_allowed(&h) => {}
        Some(h) => {
            return failure(
                StatusCode::FORBIDDEN,
                format!(
                    "Host {h:?} is not one of the operator routes' hosts ({}); reach them by \
                     one of those names, or add this one to `OperatorAccess::new`",
                    access.hosts.join(", ")
                ),
            );
        }
        None => {
            return failure(
                StatusCode::FORBIDDEN,
                "the request has no Host header; send the host the operator routes are reached by"
                    .into(),
            );
        }
    }
    match bearer(request.headers()) {
        Some(token) if access.token_matches(token) => next.run(request).await,
        given => {
            let problem = if given.is_some() {
                "the operator token is wrong"
            } else {
                "the operator routes need a token"
            };
            let mut response = failure(
                StatusCode::UNAUTHORIZED,
                format!("{problem}; send it as `Authorization: Bearer <token>`"),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

async fn metrics(State(r): State<Routes>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        r.exporter.render(),
    )
        .into_response()
}

async fn status(State(r): State<Routes>) -> Response {
    Json(r.remote.status()).into_response()
}

async fn pin(State(r): State<Routes>, Path(name): Path<String>, body: String) -> Response {
    decision(r.remote.pin(&name, body.trim()).await)
}

async fn unpin(State(r): State<Routes>, Path(name): Path<String>) -> Response {
    decision(r.remote.unpin(&name).await)
}

/// The body of a failed request.
#[derive(serde::Serialize)]
struct Failure {
    error: String,
}

fn failure(code: StatusCode, error: String) -> Response {
    (code, Json(Failure { error })).into_response()
}

fn decision(result: Result<Decision, Error>) -> Response {
    match result {
        Ok(d) => match &d.outcome {
            DecisionOutcome::ApplyFailed { reason } => {
                let knobs = d
                    .changes
                    .iter()
                    .map(|c| format!("`{}` keeps {}", c.knob, c.from))
                    .collect::<Vec<_>>()
                    .join(", ");
                failure(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{reason}; nothing changed ({knobs}, with any earlier pin); fix what \
                         the applier reports or pin another value"
                    ),
                )
            }
            _ => Json(d).into_response(),
        },
        Err(e) => {
            let code = match &e {
                Error::Stopped => StatusCode::CONFLICT,
                Error::Knob(KnobError::Unknown { .. }) => StatusCode::NOT_FOUND,
                Error::Knob(_) | Error::Config(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            failure(code, crate::error::Chain(&e).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"abcdef", b"abcdef"));
        assert!(!constant_time_eq(b"abcdef", b"abcdeg"));
        assert!(!constant_time_eq(b"abcdef", b"abcde"));
        assert!(!constant_time_eq(b"abcdef", b"abcdefg"));
        assert!(!constant_time_eq(b"abcdef", b""));
    }

    #[test]
    fn hosts_match_exactly_or_on_any_port_when_the_entry_has_none() -> Result<(), Error> {
        let access = OperatorAccess::new(
            "0123456789abcdef0123456789abcdef",
            ["127.0.0.1:9100", "LOCALHOST", "[::1]"],
        )?;
        assert!(access.host_allowed("127.0.0.1:9100"));
        assert!(!access.host_allowed("127.0.0.1:9101"));
        assert!(!access.host_allowed("127.0.0.1"));
        assert!(access.host_allowed("localhost"));
        assert!(access.host_allowed("localhost:8080"));
        assert!(!access.host_allowed("localhost.evil.com"));
        assert!(!access.host_allowed("localhost:"));
        assert!(access.host_allowed("[::1]:9100"));
        assert!(!access.host_allowed("evil.com:9100"));
        Ok(())
    }

    #[test]
    fn bad_settings_name_the_fix() {
        let long = "0123456789abcdef0123456789abcdef";
        for (token, hosts, fix) in [
            ("short", vec!["127.0.0.1:1"], "at least 32"),
            (
                "0123456789abcdef 0123456789abcdef",
                vec!["127.0.0.1:1"],
                "visible ASCII",
            ),
            (long, vec![], "at least one allowed Host"),
            (long, vec!["http://127.0.0.1:1"], "`name:port`"),
            (long, vec!["127.0.0.1:1/x"], "`name:port`"),
        ] {
            match OperatorAccess::new(token, hosts) {
                Err(e) => assert!(e.to_string().contains(fix), "{e}"),
                Ok(_) => panic!("{token:?} was accepted"),
            }
        }
    }
}
