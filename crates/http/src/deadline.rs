//! `[server] request_timeout` on Tessera's own routes, armed only when a
//! request has to wait. Most answers (a cached token check, a metrics
//! scrape, a refusal) are ready the first time their future is polled: for
//! them no timer is registered, no clock is read and nothing is torn down
//! (a timer per request was a measurable share of `/v1/authz`). A request
//! that is not ready at once (a store round trip, a password hash, an LDAP
//! bind) gets its timer then, so its deadline runs from its first wait,
//! which follows its start within the same poll.
//!
//! A request past its deadline is dropped and answered `408 Request
//! Timeout`, as `tower_http::timeout::TimeoutLayer` did; the answer gets
//! Tessera's JSON error shape from the layer outside (`no_store`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;
use tower::{Layer, Service};

/// The layer: `timeout` from the first time the request has to wait.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    pub fn new(timeout: Duration) -> Self {
        DeadlineLayer { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S, R> Service<R> for Deadline<S>
where
    S: Service<R, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        DeadlineFuture {
            inner: self.inner.call(req),
            timeout: self.timeout,
            sleep: None,
        }
    }
}

pin_project! {
    /// The answer, or a 408 once the deadline passes.
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        timeout: Duration,
        // Boxed: it exists only for requests that wait, and keeps this
        // future small for the ones that do not.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        let timeout = *this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    fn service(
        wait: Option<Duration>,
    ) -> Deadline<impl Service<(), Response = Response, Error = Infallible> + Clone> {
        DeadlineLayer::new(Duration::from_secs(2)).layer(tower::service_fn(move |()| async move {
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            Ok::<_, Infallible>(StatusCode::OK.into_response())
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_answer_passes_and_a_slow_one_is_cut_at_the_deadline() {
        assert_eq!(service(None).oneshot(()).await.unwrap().status(), StatusCode::OK);
        let start = tokio::time::Instant::now();
        let waited = service(Some(Duration::from_secs(1))).oneshot(()).await.unwrap();
        assert_eq!(waited.status(), StatusCode::OK);
        let cut = service(Some(Duration::from_secs(60))).oneshot(()).await.unwrap();
        assert_eq!(cut.status(), StatusCode::REQUEST_TIMEOUT);
        // 1 s for the one that finished, 2 s for the one cut off.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
