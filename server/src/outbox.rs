//! Webhook delivery from the outbox. Items are written in the same
//! transaction as the transitions they report, claimed here with a lease,
//! posted, and marked done; a failure is retried with exponential backoff
//! (1 s, 2 s, 4 s, ... up to 10 minutes), so nothing is lost across a
//! restart.
//!
//! Each webhook has a deliverer of its own, which claims only its items:
//! a receiver that hangs (each post waits for its timeout) delays its own
//! items, never another webhook's. Items of a webhook no longer configured
//! stay in the outbox, delivered if it comes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jiff::{SignedDuration, Timestamp};

use crate::config::WebhookConfig;
use crate::store::{OutboxItem, Store};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// How often, at most, one webhook's failures are logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Starts one delivery loop per configured webhook.
pub fn spawn(store: Arc<dyn Store>, hooks: Vec<WebhookConfig>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for hook in hooks {
        tokio::spawn(deliver(store.clone(), client.clone(), hook));
    }
}

/// Delivers one webhook's items, in order, for ever.
async fn deliver(store: Arc<dyn Store>, client: HttpClient, hook: WebhookConfig) {
    let mut quiet = Quiet::default();
    loop {
        let items = match store
            .outbox_claim(Timestamp::now(), 30, 64, Some(&hook.name))
            .await
        {
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
            match post(&client, &hook.url, &item).await {
                Ok(()) => {
                    let _ = store.outbox_done(item.id).await;
                }
                Err(e) => {
                    metrics::counter!("whistle_webhook_failures_total", "webhook" => hook.name.clone()).increment(1);
                    let backoff = (1i64 << item.attempts.clamp(0, 9)).min(600);
                    quiet.failed(&hook.name, &item, &e, backoff);
                    // From the failure, not the claim: a post that hung
                    // for its whole timeout is not retried at once.
                    let now = Timestamp::now();
                    let next = now
                        .checked_add(SignedDuration::from_secs(backoff))
                        .unwrap_or(now);
                    let _ = store.outbox_retry(item.id, next, &e).await;
                }
            }
        }
    }
}

/// One webhook's failures, logged at most every [`WARN_EVERY`]: a
/// receiver down for a day writes a line a minute, not one per item.
#[derive(Default)]
struct Quiet {
    warned: Option<Instant>,
    unsaid: u64,
}

impl Quiet {
    fn failed(&mut self, name: &str, item: &OutboxItem, e: &str, backoff: i64) {
        if self.warned.is_some_and(|w| w.elapsed() < WARN_EVERY) {
            self.unsaid += 1;
            return;
        }
        let more = match self.unsaid {
            0 => String::new(),
            n => format!(" ({n} more failure(s) since the last warning)"),
        };
        tracing::warn!(
            "webhook `{name}`: delivery {} failed (attempt {}): {e}; retried in {backoff} s{more}",
            item.id,
            item.attempts + 1,
        );
        self.warned = Some(Instant::now());
        self.unsaid = 0;
    }
}

async fn post(client: &HttpClient, url: &str, item: &OutboxItem) -> Result<(), String> {
    let body = serde_json::to_vec(&item.payload).map_err(|e| e.to_string())?;
    // Delivery is at least once (a receiver slower than the timeout gets
    // the item again): the id lets it drop a repeat.
    let mut req = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("whistle-delivery", item.id)
        .header("whistle-attempt", item.attempts + 1);
    // The journal entry's place and hash: the receiver's last one anchors
    // the chain's end, which the store alone cannot vouch for.
    if let Some(j) = &item.journal {
        req = req
            .header("whistle-journal-seq", j.seq)
            .header("whistle-journal-hash", j.hash.as_str());
    }
    let req = req
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
