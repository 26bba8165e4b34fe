//! [`Name`]: a shared, immutable name (of a grade, level, unit or department)
//! as a case stores it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arcstr::ArcStr;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name from the policy or the area tree, shared with it.
///
/// A case stores names rather than the policy's interned ids, so that it
/// survives a policy reload. The policy's own names (its levels, grades,
/// departments, ladder steps and hash) are made once for the life of the
/// process ([`Name::lasting`]): a case takes a dozen of them and a year of
/// a city opens ten million cases, and cloning and dropping a lasting name
/// touches no reference count (two atomic instructions each, each waiting
/// for every store before it to land: with them, opening and dropping
/// cases took a tenth of a simulated year's time). Any other name is
/// shared by reference count. Either kind is one pointer ([`ArcStr`]).
/// Names compare, order and hash as their text, and serialise as a plain
/// JSON string.
#[derive(Clone)]
pub struct Name(ArcStr);

/// The lasting names: each text kept once, for good. Only a policy's
/// names are made lasting, so this grows with the distinct names of the
/// policies loaded, not with events.
fn lasting(s: &str) -> ArcStr {
    static POOL: OnceLock<Mutex<FxHashMap<&'static str, ArcStr>>> = OnceLock::new();
    let mut pool = POOL
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = pool.get(s) {
        return kept.clone();
    }
    let kept = ArcStr::from(s);
    pool.insert(kept.leak(), kept.clone());
    kept
}

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A name of a policy, kept for the life of the process (once per
    /// distinct text) so that its clones cost a copy; see [`Name`].
    pub fn lasting(s: &str) -> Name {
        Name(lasting(s))
    }

    /// Whether the name is lasting ([`Name::lasting`]): cloning it writes
    /// no reference count.
    pub fn is_lasting(&self) -> bool {
        ArcStr::is_static(&self.0)
    }

    /// Whether the name is `s`'s text.
    pub fn is(&self, s: &Arc<str>) -> bool {
        self.as_str() == &**s
    }

    /// Whether two names are one and the same (every clone of a name, and
    /// every lasting name of one text): a pointer comparison, which reads
    /// neither name. Names that are not may still be the same text.
    pub fn ptr_eq(&self, other: &Name) -> bool {
        ArcStr::ptr_eq(&self.0, &other.0)
    }

    /// Whether two names are the same text, told by the pointer first (a
    /// name cloned from another, and every lasting name of one text, share
    /// it).
    pub fn same(&self, other: &Name) -> bool {
        self.0 == other.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.same(other)
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// As the text hashes, so that a map keyed by names is searched by `&str`.
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

/// Names hash and compare as their text, so a map keyed by names can be
/// searched with a `&str`.
impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Name {
        Name(ArcStr::from(&*s))
    }
}

impl From<&Arc<str>> for Name {
    fn from(s: &Arc<str>) -> Name {
        Name(ArcStr::from(&**s))
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(ArcStr::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(ArcStr::from(s))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases, steps and transitions hold many names: either kind is one
    /// pointer.
    #[test]
    fn a_name_of_either_kind_is_one_word() {
        assert_eq!(std::mem::size_of::<Name>(), 8);
        assert_eq!(std::mem::size_of::<Option<Name>>(), 8);
    }

    #[test]
    fn is_compares_text_whether_or_not_shared() {
        let hash: Arc<str> = Arc::from("9f2c");
        assert!(Name::from(&hash).is(&hash));
        // Read back from a store: the same text, another allocation.
        assert!(Name::from("9f2c").is(&hash));
        assert!(!Name::from("9f2d").is(&hash));
        assert!(!Name::from("9f2").is(&hash));
        assert!(Name::lasting("9f2c").is(&hash));
        assert!(!Name::lasting("9f2d").is(&hash));
    }

    /// A lasting name is its text: equal, ordered and hashed as a shared
    /// one of the same text, and two of one text share it.
    #[test]
    fn a_lasting_name_is_its_text() {
        use std::collections::HashSet;
        let (a, b) = (Name::lasting("街道"), Name::from("街道"));
        assert_eq!(a, b);
        assert!(a.same(&b) && b.same(&a));
        assert!(a.same(&Name::lasting(&String::from("街道"))));
        assert!(!a.same(&Name::lasting("社区")));
        assert_eq!(a.cmp(&Name::from("社区")), b.cmp(&Name::from("社区")));
        let set: HashSet<Name> = [a.clone()].into();
        assert!(set.contains("街道") && set.contains(&b));
        assert_eq!(serde_json::to_string(&a).ok().as_deref(), Some("\"街道\""));
        assert!(std::ptr::eq(a.as_str(), Name::lasting("街道").as_str()));
    }
}
