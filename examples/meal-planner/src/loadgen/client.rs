//! A small HTTP/1 client for the load generator, restricted to loopback targets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::LoadError;

/// A loopback address the load generator may send to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target(SocketAddr);

impl Target {
    /// A target from a socket address; refuses anything but loopback.
    pub fn new(addr: SocketAddr) -> Result<Self, LoadError> {
        if addr.ip().is_loopback() {
            Ok(Target(addr))
        } else {
            Err(LoadError::Target(format!(
                "{addr} is not a loopback address; the load generator only targets 127.0.0.0/8 or ::1"
            )))
        }
    }

    /// A target from a URL such as `http://127.0.0.1:3000` or `http://localhost:3000`.
    pub fn parse(url: &str) -> Result<Self, LoadError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| LoadError::Target(format!("{url:?} is not a URL: {e}")))?;
        if uri.scheme_str() != Some("http") {
            return Err(LoadError::Target(format!(
                "{url:?}: only http:// is supported"
            )));
        }
        let host = uri
            .host()
            .ok_or_else(|| LoadError::Target(format!("{url:?} has no host")))?;
        let port = uri.port_u16().unwrap_or(80);
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| {
                    LoadError::Target(format!(
                        "{host:?} is not a loopback address (give 127.0.0.1, ::1 or localhost)"
                    ))
                })?
        };
        Target::new(SocketAddr::new(ip, port))
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.0
    }
}

/// An HTTP client bound to one [`Target`], keeping connections alive.
#[derive(Clone, Debug)]
pub struct Client {
    target: Target,
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON, if the status is a success.
    pub fn json(&self) -> Option<serde_json::Value> {
        if self.status.is_success() {
            serde_json::from_slice(&self.body).ok()
        } else {
            None
        }
    }
}

impl Client {
    /// A client for `target`.
    pub fn new(target: Target) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(512)
            .build(connector);
        Client { target, inner }
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Sends a request with an optional JSON body, anonymously.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, LoadError> {
        self.send_as(None, method, path, body).await
    }

    /// Sends a request with an optional JSON body, with `token` (a session's
    /// or the operator's) as `Authorization: Bearer`.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, LoadError> {
        let uri = format!("http://{}{path}", self.target.0);
        let bytes = match body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| LoadError::Http(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(bytes))
            .map_err(|e| LoadError::Http(e.to_string()))?;
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| LoadError::Http(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| LoadError::Http(e.to_string()))?
            .to_bytes();
        Ok(Reply { status, body })
    }
}
