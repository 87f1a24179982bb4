//! Nested objects and arrays of them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

use super::{Nested, Read, ReadSeed, Wire};
use crate::ctx::Ctx;
use crate::report::ViolationKind;
use crate::schema::Kind;
use crate::Object;

/// Visits one JSON object with [`Object::read_fields`]; any other JSON value
/// is recorded as a wrong type and consumed.
pub struct ObjectVisitor<'c, T> {
    ctx: &'c mut Ctx,
    marker: PhantomData<fn() -> T>,
}

impl<'de, T: Object> Visitor<'de> for ObjectVisitor<'_, T> {
    type Value = Read<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Read<T>, A::Error> {
        T::read_fields(map, self.ctx)
    }

    fn visit_unit<E>(self) -> Result<Read<T>, E> {
        Ok(Read::Absent)
    }

    fn visit_none<E>(self) -> Result<Read<T>, E> {
        Ok(Read::Absent)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(wrong(self.ctx, "an array"))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Read<T>, E> {
        Ok(wrong(self.ctx, &format!("boolean {v}")))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Read<T>, E> {
        Ok(wrong(self.ctx, &format!("number {v}")))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Read<T>, E> {
        Ok(wrong(self.ctx, &format!("number {v}")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Read<T>, E> {
        Ok(wrong(self.ctx, &format!("number {v}")))
    }

    fn visit_str<E>(self, _v: &str) -> Result<Read<T>, E> {
        Ok(wrong(self.ctx, "a string"))
    }
}

fn wrong<T>(ctx: &mut Ctx, found: &str) -> Read<T> {
    ctx.report(ViolationKind::WrongType {
        expected: "an object",
        found: found.to_string(),
    });
    Read::Invalid
}

/// Reads one nested object (used by `#[derive(Message)]`'s `Wire<Nested>` impl).
pub fn read_object<'de, T: Object, D: Deserializer<'de>>(
    d: D,
    ctx: &mut Ctx,
) -> Result<Read<T>, D::Error> {
    d.deserialize_any(ObjectVisitor {
        ctx,
        marker: PhantomData,
    })
}

struct ArrayVisitor<'c, T> {
    ctx: &'c mut Ctx,
    marker: PhantomData<fn() -> T>,
}

impl<'de, T: Object + Wire<Nested>> Visitor<'de> for ArrayVisitor<'_, T> {
    type Value = Read<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Read<Vec<T>>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        let mut valid = true;
        let mut index = 0;
        loop {
            self.ctx.push_index(index);
            let next = seq.next_element_seed(ReadSeed::<T, Nested>::new(self.ctx));
            let item = match next {
                Ok(item) => item,
                Err(e) => {
                    self.ctx.pop();
                    return Err(e);
                }
            };
            match item {
                None => {
                    self.ctx.pop();
                    break;
                }
                Some(Read::Value(value)) => items.push(value),
                Some(Read::Absent) => {
                    self.ctx.report(ViolationKind::WrongType {
                        expected: "an object",
                        found: "null".into(),
                    });
                    valid = false;
                }
                Some(Read::Invalid) => valid = false,
            }
            self.ctx.pop();
            index += 1;
        }
        Ok(if valid {
            Read::Value(items)
        } else {
            Read::Invalid
        })
    }

    fn visit_unit<E>(self) -> Result<Read<Vec<T>>, E> {
        Ok(Read::Absent)
    }

    fn visit_none<E>(self) -> Result<Read<Vec<T>>, E> {
        Ok(Read::Absent)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read<Vec<T>>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(wrong_array(self.ctx, "an object"))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Read<Vec<T>>, E> {
        Ok(wrong_array(self.ctx, &format!("boolean {v}")))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Read<Vec<T>>, E> {
        Ok(wrong_array(self.ctx, &format!("number {v}")))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Read<Vec<T>>, E> {
        Ok(wrong_array(self.ctx, &format!("number {v}")))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Read<Vec<T>>, E> {
        Ok(wrong_array(self.ctx, &format!("number {v}")))
    }

    fn visit_str<E>(self, _v: &str) -> Result<Read<Vec<T>>, E> {
        Ok(wrong_array(self.ctx, "a string"))
    }
}

fn wrong_array<T>(ctx: &mut Ctx, found: &str) -> Read<T> {
    ctx.report(ViolationKind::WrongType {
        expected: "an array",
        found: found.to_string(),
    });
    Read::Invalid
}

impl<T: Object + Wire<Nested>> Wire<Nested> for Vec<T> {
    const KIND: Kind = Kind::Array(T::schema);

    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for item in self {
            seq.serialize_element(&super::Written::<T, Nested>(item, PhantomData))?;
        }
        seq.end()
    }

    fn read<'de, D: Deserializer<'de>>(d: D, ctx: &mut Ctx) -> Result<Read<Self>, D::Error> {
        d.deserialize_any(ArrayVisitor {
            ctx,
            marker: PhantomData,
        })
    }

    fn wire_len(&self) -> usize {
        0
    }

    fn validate_nested(&self, ctx: &mut Ctx) {
        for (index, item) in self.iter().enumerate() {
            ctx.push_index(index);
            item.validate_in(ctx);
            ctx.pop();
        }
    }
}
