//! [`Name`]: a shared, immutable name (of a grade, level, unit or department)
//! as a case stores it.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustc_hash::FxHashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name from the policy or the area tree, shared with it.
///
/// A case stores names rather than the policy's interned ids, so that it
/// survives a policy reload. The policy's own names (its levels, grades,
/// departments, ladder steps and hash) are made once for the life of the
/// process ([`Name::lasting`]): a case takes a dozen of them and a year of
/// a city opens ten million cases, and cloning and dropping a lasting name
/// touches no reference count (two atomic instructions each, a tenth of the
/// simulator's time when they were). Any other name is shared by reference
/// count. Names compare, order and hash as their text, and serialise as a
/// plain JSON string.
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Arc<str>),
    Lasting(&'static str),
}

/// The texts of lasting names: each kept once, for good. Only a policy's
/// names are made lasting, so this grows with the distinct names of the
/// policies loaded, not with events.
fn lasting(s: &str) -> &'static str {
    static POOL: OnceLock<Mutex<FxHashSet<&'static str>>> = OnceLock::new();
    let mut pool = POOL
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(&kept) = pool.get(s) {
        return kept;
    }
    let kept: &'static str = Box::leak(s.into());
    pool.insert(kept);
    kept
}

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared(s) => s,
            Repr::Lasting(s) => s,
        }
    }

    /// A name of a policy, kept for the life of the process (once per
    /// distinct text) so that its clones cost a copy; see [`Name`].
    pub fn lasting(s: &str) -> Name {
        Name(Repr::Lasting(lasting(s)))
    }

    /// Whether the name is lasting ([`Name::lasting`]): cloning it writes
    /// no reference count.
    pub fn is_lasting(&self) -> bool {
        matches!(self.0, Repr::Lasting(_))
    }

    /// Whether the name is `s`'s text. A name cloned from `s` is recognised
    /// by its pointer, without comparing the text (a policy hash is 64
    /// bytes, compared on every action).
    pub fn is(&self, s: &Arc<str>) -> bool {
        match &self.0 {
            Repr::Shared(own) if Arc::ptr_eq(own, s) => true,
            _ => self.as_str() == &**s,
        }
    }

    /// Whether two names are the same text, told by the pointer first when
    /// both are lasting (every lasting name of one text shares it).
    pub fn same(&self, other: &Name) -> bool {
        match (&self.0, &other.0) {
            (Repr::Lasting(a), Repr::Lasting(b)) => std::ptr::eq(*a, *b),
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
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
        Name(Repr::Shared(s))
    }
}

impl From<&Arc<str>> for Name {
    fn from(s: &Arc<str>) -> Name {
        Name(Repr::Shared(Arc::clone(s)))
    }
}

impl From<&Name> for Name {
    fn from(n: &Name) -> Name {
        n.clone()
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(Repr::Shared(s.into()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(Repr::Shared(s.into()))
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
