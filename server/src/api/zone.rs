//! Instants in the answers about events, written with the policy time
//! zone's offset at each instant, as a decision writes its deadlines
//! (LANGUAGE.md section 4): a case's `resolve_by` reads as the decision's
//! did, not eight hours off in UTC. The store keeps them in UTC.

use jiff::Timestamp;
use serde_json::Value;
use whistle_engine::Policy;
use whistle_engine::decision_json::instant;

/// The fields of a case, its event, its steps, summons and history that
/// hold an instant.
const INSTANTS: &[&str] = &[
    "reported_at",
    "received_at",
    "clock_start",
    "respond_by",
    "resolve_by",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "due",
    "fired_at",
    "summoned_at",
    "ack_by",
    "acked_at",
    "at",
];

/// Rewrites every instant of `v` (at one of [`INSTANTS`], however deep)
/// with `policy`'s offset. Text that is not an RFC 3339 instant is left
/// as it is.
pub fn local_instants(v: &mut Value, policy: &Policy) {
    match v {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                match field {
                    Value::String(s) if INSTANTS.contains(&key.as_str()) => {
                        if let Ok(t) = s.parse::<Timestamp>() {
                            *s = instant(policy, t);
                        }
                    }
                    _ => local_instants(field, policy),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| local_instants(x, policy)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// Instants under their names take the zone's offset, however deep;
    /// other text, and text that is no instant, stay.
    #[test]
    fn instants_are_written_in_the_policy_zone() {
        let policy = whistle_engine::compile_texts(&[(
            "p.whistle",
            "policy \"t\" { version \"1\" timezone \"Asia/Shanghai\" }\nlevels grid < street\ndepartment urban { level street }\ngrades blue < red\ngrade blue { level grid respond 1h resolve 1d }\ngrade red { level street respond 1h resolve 1d }\nfallback { lead urban grade blue }\n",
        )])
        .unwrap();
        let mut v = json!({
            "resolve_by": "2026-06-03T14:00:00Z",
            "steps": [{"due": "2026-06-03T02:30:00.5Z", "label": "2026-06-03T02:30:00Z"}],
            "history": [{"at": "not a time"}],
        });
        local_instants(&mut v, &policy);
        assert_eq!(
            v,
            json!({
                "resolve_by": "2026-06-03T22:00:00+08:00",
                "steps": [{"due": "2026-06-03T10:30:00.5+08:00", "label": "2026-06-03T02:30:00Z"}],
                "history": [{"at": "not a time"}],
            })
        );
    }
}
