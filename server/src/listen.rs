//! Serving the API's HTTP/1.1 connections with hyper's own connection
//! builder rather than `axum::serve`, for the limit that one cannot set: a
//! client that opens a connection and sends its request headers slowly (or
//! never) would otherwise hold the connection, and a task, for as long as
//! it likes. Bodies are bounded separately, in the router
//! (`body_timeout_ms`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `stop` completes, then stops taking
/// connections and waits for those open to finish their requests (the
/// caller bounds that wait). Each request goes to the router `app` holds
/// when it arrives: the start-up's answers while the store is read, the
/// API once it is ready, on connections kept alive across the swap too.
///
/// Each connection has `header_timeout` to send a request's headers, the
/// first request's and each later one's on a kept-alive connection; after
/// it the connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Arc<ArcSwap<Router>>,
    header_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    refused(&e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are small and often streamed (`/v1/stream`): send each
        // as it is written.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let current = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let router = Router::clone(&app.load());
            tower::ServiceExt::oneshot(router, req)
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(current));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that hung up or timed out: nothing to answer.
            if let Err(e) = conn.await {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// After a failed `accept`: a connection that failed before it was taken
/// is the client's business; anything else (out of file descriptors) is
/// the machine's, and retrying at once would spin.
async fn refused(e: &std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    ) {
        return;
    }
    tracing::warn!("cannot accept a connection: {e}; trying again in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
