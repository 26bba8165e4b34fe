//! An open event's `attr` object, set aside while nothing reads it.
//!
//! At a city's volume an event waits hours of simulated time between two
//! of its changes, and its attribute map (a tree node and a string per
//! key, allocated when it arrived) has left the caches long before its
//! life ends: freeing it then costs a cache miss per allocation. When the
//! policy reads attributes only while deciding ([`reads_attrs_later`] is
//! false), the run frees the map while it is still hot and puts it back
//! only to decide the event again (a reopen). A generated event's map is
//! drawn again from the generator's state kept in the slot (see
//! [`Redraw`]); a replayed one is kept as MessagePack bytes.

use serde_json::Value;
use smallvec::SmallVec;

use crate::cond::{Cond, Field};
use crate::model::{Policy, ThresholdMetric, TriggerDef};
use crate::sim::arrivals::{ArrivalPlan, Redraw};

/// Bytes kept in place: an object of a few flags and numbers fits, a
/// larger one goes to the heap.
type Bytes = SmallVec<[u8; 40]>;

/// An `attr` object taken out of its event; see the module documentation.
#[derive(Debug, Clone, Default)]
pub(super) enum SetAside {
    /// Nothing was taken.
    #[default]
    Nothing,
    /// The object as MessagePack bytes.
    Bytes(Bytes),
    /// How the generator drew the object.
    Redraw(Redraw),
}

impl SetAside {
    /// Takes `attr` out (leaving `null`). With `redraw` nothing needs
    /// keeping but the generator's state; without, the object is written
    /// as MessagePack, which gives every JSON value back as it was (an
    /// integer as the same integer, a float as the same bits), and left
    /// where it is if it cannot be written.
    pub fn take(attr: &mut Value, redraw: Option<Redraw>) -> SetAside {
        if attr.is_null() {
            return SetAside::Nothing;
        }
        let kept = match redraw {
            Some(r) => SetAside::Redraw(r),
            None => {
                let mut bytes = Bytes::new();
                if rmp_serde::encode::write(&mut bytes, &*attr).is_err() {
                    return SetAside::Nothing;
                }
                SetAside::Bytes(bytes)
            }
        };
        *attr = Value::Null;
        kept
    }

    /// Drops `attr` again after it was given back (what was kept stays).
    pub fn drop_again(&self, attr: &mut Value) {
        if !matches!(self, SetAside::Nothing) {
            *attr = Value::Null;
        }
    }

    /// Puts the object back into `attr` (if one was taken); `arrivals`
    /// is the plan a redrawn object came from.
    pub fn give_back(&self, attr: &mut Value, arrivals: Option<&ArrivalPlan>) {
        let back = match self {
            SetAside::Nothing => None,
            SetAside::Bytes(b) => rmp_serde::from_slice::<Value>(b).ok(),
            SetAside::Redraw(r) => arrivals.map(|a| a.redraw(r)),
        };
        if let Some(v) = back {
            *attr = v;
        }
    }
}

/// Whether some condition of `policy` can read an event's attributes
/// after it was decided: a ladder's `when` step or a threshold's
/// `count(COND)` (both may be checked on later changes).
pub(super) fn reads_attrs_later(policy: &Policy) -> bool {
    let reads = |c: &Cond| c.reads_any(|f| matches!(f, Field::Attr(_)));
    let ladders = std::iter::once(&policy.ladder).chain(policy.grade_ladders.iter().flatten());
    let steps = ladders
        .flat_map(|l| &l.steps)
        .any(|s| matches!(&s.trigger, TriggerDef::When(c) if reads(c)));
    let thresholds = policy
        .thresholds
        .iter()
        .any(|t| matches!(&t.metric, ThresholdMetric::Count(Some(c)) if reads(c)));
    steps || thresholds
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_object_comes_back_exactly() {
        let cases = [
            serde_json::json!({"blocks_road": true, "vehicles": 2, "area_m2": 2.35}),
            serde_json::json!({"a": {"b": [1, -7, 0.1, null, "x"]}, "big": u64::MAX, "neg": i64::MIN}),
            serde_json::json!({"long": "a string far longer than the forty bytes kept in place"}),
            serde_json::json!({"float_integer": 3.0, "int": 3}),
        ];
        for original in cases {
            let mut attr = original.clone();
            let kept = SetAside::take(&mut attr, None);
            assert!(attr.is_null(), "taken out: {original}");
            kept.give_back(&mut attr, None);
            assert_eq!(attr, original);
            // `3.0` stays a float and `3` an integer.
            assert_eq!(attr.to_string(), original.to_string());
        }
    }

    #[test]
    fn nothing_is_taken_from_null() {
        let mut attr = Value::Null;
        let kept = SetAside::take(&mut attr, None);
        assert!(matches!(kept, SetAside::Nothing));
        kept.give_back(&mut attr, None);
        assert!(attr.is_null());
    }

    fn policy(extra: &str) -> Policy {
        let text = format!(
            r#"
policy "t" {{ version "1" timezone "Asia/Shanghai" }}
levels grid < street
grades blue < red
grade blue {{ level grid respond 2h resolve 24h }}
grade red  {{ level street respond 30m resolve 72h }}
department urban "城管" {{ level street }}
category a {{ lead urban  grade red when attr.n > 1  grade blue }}
fallback {{ lead urban grade blue }}
{extra}"#
        );
        crate::compile_texts(&[("p.whistle", &text)]).expect("compiles")
    }

    #[test]
    fn conditions_read_later_are_found() {
        // Deciding reads `attr.n`: that alone keeps nothing.
        let quiet = policy(
            "escalate {\n  when reopened >= 2 -> raise to street\n}\n\
             threshold t {\n  metric count(category == a) by grid over 1d\n  when >= 3\n  alert street\n}\n",
        );
        assert!(!reads_attrs_later(&quiet));
        let step = policy("escalate for red {\n  when attr.n > 3 -> raise to street\n}\n");
        assert!(reads_attrs_later(&step));
        let threshold = policy(
            "threshold t {\n  metric count(has attr.n) by grid over 1d\n  when >= 3\n  alert street\n}\n",
        );
        assert!(reads_attrs_later(&threshold));
    }
}
