//! Prometheus exposition of finch's metrics and an axum router that serves it
//! with the loop's JSON status and operator pins.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::error::{Error, KnobError};
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
            Error::Config(format!(
                "cannot install the Prometheus recorder ({e}); if the application installs its \
                 own, pass its handle to `PrometheusExporter::from_handle`"
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

#[derive(Clone)]
struct Routes {
    remote: Remote,
    exporter: PrometheusExporter,
}

/// Routes for a running loop, to merge into the application's router:
///
/// - `GET /metrics`: the Prometheus exposition;
/// - `GET /finch/status`: [`Handle::status`] as JSON;
/// - `PUT /finch/knobs/{name}/pin` with the value as the body: pins a knob;
/// - `DELETE /finch/knobs/{name}/pin`: hands it back to the loop.
///
/// The routes hold no reference that keeps the loop alive: once the [`Handle`]
/// is dropped or shut down, the status route reports `running: false` and pins
/// fail with `409 Conflict`. Mount them where only operators can reach them.
///
/// ```
/// # fn app(finch: &finch_core::Handle) -> Result<axum::Router, finch_core::Error> {
/// use finch_core::export::{PrometheusExporter, router};
///
/// let exporter = PrometheusExporter::install()?;
/// let app = axum::Router::new().merge(router(finch, exporter));
/// // Serve `app` with `axum::serve` as usual.
/// # Ok(app)
/// # }
/// ```
pub fn router(handle: &Handle, exporter: PrometheusExporter) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/finch/status", get(status))
        .route("/finch/knobs/{name}/pin", put(pin).delete(unpin))
        .with_state(Routes {
            remote: handle.remote(),
            exporter,
        })
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

fn decision(result: Result<crate::execute::Decision, Error>) -> Response {
    match result {
        Ok(d) => Json(d).into_response(),
        Err(e) => {
            let code = match &e {
                Error::Stopped => StatusCode::CONFLICT,
                Error::Knob(KnobError::Unknown { .. }) => StatusCode::NOT_FOUND,
                Error::Knob(_) | Error::Config(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = Failure {
                error: e.to_string(),
            };
            (code, Json(body)).into_response()
        }
    }
}
