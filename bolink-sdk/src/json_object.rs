//! A JSON object's top-level fields in the order written, values as their
//! raw text: for changing an object's keys (rotating them, adding or
//! dropping `data_target`) without re-serialising, and so without changing
//! a single byte of any value.

use serde_json::value::RawValue;

/// The fields of the JSON object `text`, in order; `None` when it is not
/// one.
pub(crate) fn fields(text: &str) -> Option<Vec<(String, &RawValue)>> {
    serde_json::from_str::<Ordered<'_>>(text).ok().map(|o| o.0)
}

/// Writes fields as a compact JSON object.
pub(crate) fn write<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A key serialises as a plain JSON string; it cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

struct Ordered<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Ordered<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Ordered<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'a RawValue>()? {
                    fields.push(entry);
                }
                Ok(Ordered(fields))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_keep_their_order_and_their_bytes() {
        let text = r#"{"b":1.50,"a":"京A1","c":{"z":1, "y":[2]}}"#;
        let fields = super::fields(text).unwrap();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(
            super::write(fields.iter().map(|(k, v)| (k.as_str(), v.get()))),
            r#"{"b":1.50,"a":"京A1","c":{"z":1, "y":[2]}}"#
        );
        assert!(super::fields("[1]").is_none());
    }
}
