//! Webhook delivery from the outbox. Items are written in the same
//! transaction as the transitions they report, claimed here with a lease,
//! posted, and marked done; a failure is retried with exponential backoff
//! (1 s, 2 s, 4 s, ... up to 10 minutes), so nothing is lost across a
//! restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jiff::{SignedDuration, Timestamp};

use crate::config::WebhookConfig;
use crate::store::Store;

/// Starts the delivery loop (only when webhooks are configured).
pub fn spawn(store: Arc<dyn Store>, hooks: Vec<WebhookConfig>) {
    if hooks.is_empty() {
        return;
    }
    let urls: HashMap<String, String> = hooks.into_iter().map(|h| (h.name, h.url)).collect();
    tokio::spawn(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        loop {
            let now = Timestamp::now();
            let items = match store.outbox_claim(now, 30, 64).await {
                Ok(items) => items,
                Err(e) => {
                    tracing::error!("outbox: {e}");
                    Vec::new()
                }
            };
            if items.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            for item in items {
                let Some(url) = urls.get(&item.target) else {
                    // A webhook removed from the config: nothing to deliver to.
                    let _ = store.outbox_done(item.id).await;
                    continue;
                };
                match post(&client, url, &item.payload, item.id, item.attempts + 1).await {
                    Ok(()) => {
                        let _ = store.outbox_done(item.id).await;
                    }
                    Err(e) => {
                        metrics::counter!("whistle_webhook_failures_total", "webhook" => item.target.clone()).increment(1);
                        let backoff = 1i64 << item.attempts.clamp(0, 9);
                        // The first failure and then every doubling of
                        // attempts: a receiver down for a day writes a
                        // few lines, not thousands.
                        if item.attempts <= 0 || (item.attempts + 1).count_ones() == 1 {
                            tracing::warn!(
                                "webhook `{}`: delivery {} failed (attempt {}): {e}; retried in {} s",
                                item.target,
                                item.id,
                                item.attempts + 1,
                                backoff.min(600)
                            );
                        }
                        let next = now
                            .checked_add(SignedDuration::from_secs(backoff.min(600)))
                            .unwrap_or(now);
                        let _ = store.outbox_retry(item.id, next, &e).await;
                    }
                }
            }
        }
    });
}

async fn post(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    url: &str,
    payload: &serde_json::Value,
    delivery: i64,
    attempt: i64,
) -> Result<(), String> {
    let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
    // Delivery is at least once (a receiver slower than the timeout gets
    // the item again): the id lets it drop a repeat.
    let req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("whistle-delivery", delivery)
        .header("whistle-attempt", attempt)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status()))
    }
}
