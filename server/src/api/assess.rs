//! `GET /v1/assessment` (the metrics, scores and targets of a period) and
//! `GET /v1/alerts` (threshold alerts, open or all).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use whistle_engine::assess::{Period, Report, parse_group};

use super::error::ApiError;
use crate::assessment::period_report;
use crate::state::AppState;
use crate::store::AlertCursor;

/// Query of `GET /v1/assessment`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessParams {
    period: Option<String>,
    by: Option<String>,
}

/// A query string that does not parse: 400 naming the parameter.
pub(super) fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_query", e.body_text())
}

/// `GET /v1/assessment?period=2026-06&by=street`: every built-in metric per
/// group over the events reported in the period (facts at its end, or now
/// if earlier), the `assess` scores and the targets; `by` keeps one kind of
/// group (`department`, `category` or a level).
pub async fn assessment(
    State(state): State<AppState>,
    q: Result<Query<AssessParams>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let Query(p) = q.map_err(bad_query)?;
    let policy = state.policy.load_full();
    let Some(text) = p.period else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "`period` is required: a year (2026), a quarter (2026-Q2), a month (2026-06), a day or a range of days (2026-06-01..2026-06-15)",
        ));
    };
    let period = Period::parse(&text, policy.calendar.time_zone()).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("`period`: {e}"),
        )
    })?;
    if let Some(by) = &p.by
        && parse_group(&policy, by).is_none()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!(
                "`by`: unknown group `{by}`; use department, category or a level ({})",
                policy
                    .levels
                    .iter()
                    .map(|l| &**l)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut report = period_report(
        &*state.store,
        &policy,
        &period,
        Timestamp::now(),
        &mut |_| {},
    )
    .await
    .map_err(ApiError::unavailable)?;
    if let Some(by) = &p.by {
        report = report.only(by);
    }
    Ok(Json(report))
}

/// Query of `GET /v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    open: Option<bool>,
    /// Where the previous page ended (its `next_cursor`).
    cursor: Option<String>,
    /// Signed, so that `-1` gets the range, not a parser's complaint.
    limit: Option<i64>,
}

/// Reads a `next_cursor` this server gave: `RAISED_NS.ID`.
fn alert_cursor(text: &str) -> Option<AlertCursor> {
    let (raised, id) = text.split_once('.')?;
    Some(AlertCursor {
        raised_ns: raised.parse().ok()?,
        id: id.parse().ok()?,
    })
}

/// `GET /v1/alerts?open=true&limit=&cursor=`: threshold alerts, newest
/// raised first, a page at a time.
pub async fn alerts(
    State(state): State<AppState>,
    q: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(p) = q.map_err(bad_query)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "`limit` is from 1 to 1000",
        ));
    }
    let before = match &p.cursor {
        None => None,
        Some(c) => Some(alert_cursor(c).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("`cursor` {c:?} is not one this server gave: pass the `next_cursor` of the page before"),
            )
        })?),
    };
    let list = state
        .store
        .alerts(
            p.open.unwrap_or(false),
            usize::try_from(limit).unwrap_or(1000),
            before,
        )
        .await
        .map_err(ApiError::unavailable)?;
    // A full page may have more after it.
    let next = (i64::try_from(list.len()).ok() == Some(limit))
        .then(|| list.last())
        .flatten()
        .map(|a| {
            let ns = i64::try_from(a.raised_at.as_nanosecond()).unwrap_or(i64::MAX);
            format!("{ns}.{}", a.id)
        });
    let alerts: Vec<Value> = list
        .into_iter()
        .map(|a| {
            let mut v = a.raised;
            if let Some(m) = v.as_object_mut() {
                m.remove("kind");
                m.remove("raised");
                m.remove("at");
                m.insert("id".into(), json!(a.id));
                m.insert("open".into(), json!(a.cleared_at.is_none()));
                m.insert("raised_at".into(), json!(a.raised_at));
                m.insert("cleared_at".into(), json!(a.cleared_at));
                m.insert(
                    "cleared_value".into(),
                    a.cleared
                        .as_ref()
                        .map_or(Value::Null, |c| c["value"].clone()),
                );
            }
            v
        })
        .collect();
    Ok(Json(json!({ "alerts": alerts, "next_cursor": next })))
}
