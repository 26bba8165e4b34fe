//! [`Name`]: a shared, immutable name (of a grade, level, unit or department)
//! as a case stores it.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A name from the policy or the area tree, shared with it.
///
/// A case stores names rather than the policy's interned ids, so that it
/// survives a policy reload; cloning one from the policy only bumps a
/// reference count. It serialises as a plain JSON string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Arc<str>);

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name is `s`'s text. A name cloned from `s` is recognised
    /// by its pointer, without comparing the text (a policy hash is 64
    /// bytes, compared on every action).
    pub fn is(&self, s: &Arc<str>) -> bool {
        Arc::ptr_eq(&self.0, s) || *self.0 == **s
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Names hash and compare as their text, so a map keyed by names can be
/// searched with a `&str`.
impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Name {
        Name(s)
    }
}

impl From<&Arc<str>> for Name {
    fn from(s: &Arc<str>) -> Name {
        Name(Arc::clone(s))
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(s.into())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(s.into())
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
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
    }
}
