//! A tower [`Layer`] that measures a route against an SLO.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::clock::Stamp;
use super::registry::SloRef;
use super::timer::Outcome;

/// Applies an SLO to every request through the wrapped service: latency until the
/// response is ready; a 5xx response or an `Err` counts as an error; a request
/// dropped before its response counts as cancelled.
///
/// ```
/// use std::time::Duration;
/// use finch_core::{SloBuilder, slo::SloLayer};
///
/// let slo = SloBuilder::new("doc.layer.get_recipe").p99(Duration::from_millis(50)).register()?;
/// let layer = SloLayer::new(slo);
/// // axum: Router::new().route("/recipes/{id}", get(handler).layer(layer))
/// # let _ = layer;
/// # Ok::<(), finch_core::SloError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SloLayer {
    slo: SloRef,
}

impl SloLayer {
    /// A layer recording into `slo`.
    pub fn new(slo: SloRef) -> Self {
        SloLayer { slo }
    }
}

impl<S> Layer<S> for SloLayer {
    type Service = SloService<S>;

    fn layer(&self, inner: S) -> SloService<S> {
        SloService {
            inner,
            slo: self.slo.clone(),
        }
    }
}

/// The service [`SloLayer`] produces.
#[derive(Clone, Debug)]
pub struct SloService<S> {
    inner: S,
    slo: SloRef,
}

impl<S, Req, B> Service<Req> for SloService<S>
where
    S: Service<Req, Response = http::Response<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.slo.begin();
        ResponseFuture {
            inner: self.inner.call(req),
            slo: Some(self.slo.clone()),
            start: Stamp::now(),
        }
    }
}

pin_project! {
    /// The response future of [`SloService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        slo: Option<SloRef>,
        start: Stamp,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(slo) = this.slo.take() {
                let outcome = if std::thread::panicking() {
                    Outcome::Panicked
                } else {
                    Outcome::Cancelled
                };
                slo.complete(this.start.elapsed_nanos(), outcome);
            }
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(slo) = this.slo.take() {
            let failed = match &result {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            slo.complete(this.start.elapsed_nanos(), Outcome::from_failed(failed));
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::SloBuilder;

    #[tokio::test]
    async fn server_errors_count_and_dropped_requests_are_cancelled() {
        let slo = SloBuilder::new("test.layer.route")
            .p99(Duration::from_millis(10))
            .errors(0.01)
            .register()
            .unwrap();
        let mut reader = slo.reader();
        let svc = ServiceBuilder::new()
            .layer(SloLayer::new(slo.clone()))
            .service(service_fn(|status: u16| async move {
                if status == 0 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Infallible>(http::Response::builder().status(status).body(()).unwrap())
            }));
        for status in [200, 404, 503] {
            let resp = svc.clone().oneshot(status).await.unwrap();
            assert_eq!(resp.status().as_u16(), status);
        }
        let pending = svc.clone().oneshot(0);
        assert!(
            tokio::time::timeout(Duration::from_millis(5), pending)
                .await
                .is_err()
        );
        let w = reader.drain(Duration::from_secs(1));
        assert_eq!((w.calls, w.errors, w.cancelled), (4, 1, 1));
    }
}
