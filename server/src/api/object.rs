//! A JSON body that must be an object.

use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};

/// `T` read from a JSON object only: serde's derive also reads an array,
/// position by position, as the struct's fields, so `[{"a.whistle": ""}]`
/// would be taken as a draft's `files`.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(Fields(PhantomData))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        files: Vec<String>,
        #[serde(default)]
        days: Option<u32>,
    }

    #[test]
    fn an_object_is_read_and_an_array_refused() {
        let Object(b) = serde_json::from_str::<Object<Body>>(r#"{"files": ["a"]}"#).unwrap();
        assert_eq!(
            b,
            Body {
                files: vec!["a".into()],
                days: None
            }
        );
        // Read positionally, this would be `files: ["a"]`.
        let e = serde_json::from_str::<Object<Body>>(r#"[["a"]]"#).unwrap_err();
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
        let e = serde_json::from_str::<Object<Body>>(r#"{"files": [], "x": 1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `x`"), "{e}");
    }
}
