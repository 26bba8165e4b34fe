//! An event's [`Facts`] in 8 bytes, as the monitor keeps them for every
//! event in its windows (a third of what `Facts` takes).

use crate::lifecycle::Facts;

/// `Facts`, packed: two bits per `Option<bool>` (0 none, 2 false, 3 true),
/// one per `bool`, and the whole seconds from report to resolution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Packed {
    bits: u32,
    /// Resolution seconds (when `RESOLVED` is set), saturated to u32.
    secs: u32,
}

const OTR: u32 = 0; // on_time_response, 2 bits
const OTS: u32 = 2; // on_time_resolution, 2 bits
const OVERDUE: u32 = 4;
const SATISFIED: u32 = 5; // 2 bits
const FIRST: u32 = 7; // 2 bits
const ESCALATED: u32 = 9;
const REOPENED: u32 = 10;
const ACTIVE: u32 = 11;
const SOURCE: u32 = 12; // 2 bits
const RESOLVED: u32 = 14;
const RESPOND_PENDING: u32 = 15;
const RESOLVE_PENDING: u32 = 16;

fn put(o: Option<bool>, at: u32) -> u32 {
    match o {
        None => 0,
        Some(false) => 2 << at,
        Some(true) => 3 << at,
    }
}

fn get(bits: u32, at: u32) -> Option<bool> {
    match (bits >> at) & 3 {
        2 => Some(false),
        3 => Some(true),
        _ => None,
    }
}

fn flag(bits: u32, at: u32) -> bool {
    bits & (1 << at) != 0
}

impl Packed {
    /// `f`, with which deadlines are pending (`Case::facts_pending`).
    pub fn pack(f: &Facts, pending: [bool; 2]) -> Packed {
        let secs = super::super::assess::resolution_secs(f);
        let bits = put(f.on_time_response, OTR)
            | put(f.on_time_resolution, OTS)
            | u32::from(f.overdue) << OVERDUE
            | put(f.satisfied, SATISFIED)
            | put(f.first_contact, FIRST)
            | u32::from(f.escalated) << ESCALATED
            | u32::from(f.reopened) << REOPENED
            | u32::from(f.active_discovery) << ACTIVE
            | put(f.source_resolution, SOURCE)
            | u32::from(secs.is_some()) << RESOLVED
            | u32::from(pending[0]) << RESPOND_PENDING
            | u32::from(pending[1]) << RESOLVE_PENDING;
        Packed {
            bits,
            secs: secs.map_or(0, |s| u32::try_from(s.max(0)).unwrap_or(u32::MAX)),
        }
    }

    #[cfg(test)]
    pub fn unpack(self) -> Facts {
        let b = self.bits;
        Facts {
            on_time_response: get(b, OTR),
            on_time_resolution: get(b, OTS),
            overdue: flag(b, OVERDUE),
            satisfied: get(b, SATISFIED),
            first_contact: get(b, FIRST),
            escalated: flag(b, ESCALATED),
            reopened: flag(b, REOPENED),
            active_discovery: flag(b, ACTIVE),
            source_resolution: get(b, SOURCE),
            resolution_hours: flag(b, RESOLVED).then(|| f64::from(self.secs) / 3600.0),
        }
    }

    /// The bits the share at index `i` of `share_parts` reads (all of
    /// them for an index it does not have).
    pub fn share_bits(i: usize) -> u32 {
        match i {
            0 => 3 << OTR,
            1 => 3 << OTS,
            2 => 1 << OVERDUE,
            3 => 3 << SATISFIED,
            4 => 3 << FIRST,
            5 => 1 << ESCALATED,
            6 => 1 << REOPENED,
            7 => 1 << ACTIVE,
            8 => 3 << SOURCE,
            _ => u32::MAX,
        }
    }

    /// The bit the resolution seconds hang on.
    pub const RESOLUTION: u32 = 1 << RESOLVED;

    /// The event's part in the share at index `i` of `share_parts`
    /// (`None`: it does not count for it), read from its bits alone.
    pub fn share(self, i: usize) -> Option<bool> {
        let b = self.bits;
        match i {
            0 => get(b, OTR),
            1 => get(b, OTS),
            2 => Some(flag(b, OVERDUE)),
            3 => get(b, SATISFIED),
            4 => get(b, FIRST),
            5 => Some(flag(b, ESCALATED)),
            6 => Some(flag(b, REOPENED)),
            7 => Some(flag(b, ACTIVE)),
            8 => get(b, SOURCE),
            _ => None,
        }
    }

    /// Whole seconds from report to resolution, once resolved.
    pub fn resolution_secs(self) -> Option<i64> {
        flag(self.bits, RESOLVED).then_some(i64::from(self.secs))
    }

    /// The facts once the respond deadline (`resolve`: the resolve
    /// deadline) passed unmet: missed, and overdue.
    pub fn missed(self, resolve: bool) -> Packed {
        let (at, pending) = if resolve {
            (OTS, RESOLVE_PENDING)
        } else {
            (OTR, RESPOND_PENDING)
        };
        Packed {
            bits: (self.bits & !(3 << at) & !(1 << pending)) | 2 << at | 1 << OVERDUE,
            secs: self.secs,
        }
    }

    /// Whether `self` and `o` differ in the bits of `mask`, or (`secs`)
    /// in the resolution seconds.
    pub fn differs(self, o: Packed, mask: u32, secs: bool) -> bool {
        (self.bits ^ o.bits) & mask != 0 || (secs && self.secs != o.secs)
    }

    /// Whether the respond deadline is still to be met or missed.
    pub fn respond_pending(self) -> bool {
        flag(self.bits, RESPOND_PENDING)
    }

    /// Whether the resolve deadline is still to be met or missed.
    pub fn resolve_pending(self) -> bool {
        flag(self.bits, RESOLVE_PENDING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_round_trips() {
        let opts = [None, Some(false), Some(true)];
        let mut n = 0;
        for a in opts {
            for b in opts {
                for c in opts {
                    for (i, d) in opts.iter().enumerate() {
                        let f = Facts {
                            on_time_response: a,
                            on_time_resolution: b,
                            overdue: i == 1,
                            satisfied: c,
                            first_contact: *d,
                            escalated: i == 2,
                            reopened: i != 0,
                            active_discovery: a == Some(true),
                            source_resolution: b.or(*d),
                            resolution_hours: (i > 0).then_some(i as f64 * 7_321.0 / 3600.0),
                        };
                        let pending = [a.is_none(), i == 3];
                        let p = Packed::pack(&f, pending);
                        assert_eq!(p.unpack(), f);
                        assert_eq!([p.respond_pending(), p.resolve_pending()], pending);
                        let parts = crate::assess::share_parts(&f);
                        for (i, part) in parts.iter().enumerate() {
                            assert_eq!(p.share(i), *part, "share {i} of {f:?}");
                        }
                        assert_eq!(p.share(parts.len()), None);
                        assert_eq!(p.resolution_secs(), crate::assess::resolution_secs(&f));
                        for resolve in [false, true] {
                            let mut missed = f;
                            if resolve {
                                missed.on_time_resolution = Some(false);
                            } else {
                                missed.on_time_response = Some(false);
                            }
                            missed.overdue = true;
                            let mut still = pending;
                            still[usize::from(resolve)] = false;
                            assert_eq!(p.missed(resolve), Packed::pack(&missed, still), "{f:?}");
                        }
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 81);
    }

    /// Two facts that give a share a different part differ in its bits.
    #[test]
    fn a_share_reads_only_its_bits() {
        use crate::assess::share_parts;
        let opts = [None, Some(false), Some(true)];
        let mut all = Vec::new();
        for a in opts {
            for b in opts {
                for c in opts {
                    for flags in 0..16u8 {
                        all.push(Facts {
                            on_time_response: a,
                            on_time_resolution: b,
                            overdue: flags & 1 != 0,
                            satisfied: c,
                            first_contact: a.xor(c),
                            escalated: flags & 2 != 0,
                            reopened: flags & 4 != 0,
                            active_discovery: flags & 8 != 0,
                            source_resolution: b.or(c),
                            resolution_hours: None,
                        });
                    }
                }
            }
        }
        let mut checked = 0;
        for x in &all {
            for y in &all {
                let (px, py) = (Packed::pack(x, [false; 2]), Packed::pack(y, [false; 2]));
                for i in 0..9 {
                    let same = share_parts(x)[i] == share_parts(y)[i];
                    assert_eq!(
                        !same,
                        px.differs(py, Packed::share_bits(i), false),
                        "share {i}: {x:?} / {y:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 432 * 432 * 9);
    }
}
