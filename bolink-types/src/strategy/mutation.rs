//! Single mutations that break a valid message: where they can be made
//! (found by walking the value beside its schema) and making them.

use proptest::sample::Index;
use serde_json::{Map, Value};

use crate::schema::{Kind, ObjectSchema};

/// A place in a generated message where one mutation makes it invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// JSON keys and array positions leading to the object holding the field.
    pub parents: Vec<PathStep>,
    /// The field's wire name.
    pub field: &'static str,
    /// The path the validator must name.
    pub display: String,
    /// What to do.
    pub mutation: Mutation,
}

/// One step into nested JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep {
    /// An object key.
    Key(&'static str),
    /// An array position.
    Index(usize),
}

/// The ways a valid message is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mutation {
    /// Remove a field that is always required.
    Remove,
    /// Replace a text value with one character too many (in 3-byte characters).
    TooLong(usize),
    /// Replace the value with a JSON object, a type no scalar field takes.
    WrongType,
}

/// Every single mutation that must be rejected, found by walking the value
/// beside its schema.
pub fn targets(schema: &'static ObjectSchema, value: &Map<String, Value>) -> Vec<Target> {
    let mut out = Vec::new();
    collect(schema, value, &mut Vec::new(), "", &mut out);
    out
}

fn collect(
    schema: &'static ObjectSchema,
    value: &Map<String, Value>,
    parents: &mut Vec<PathStep>,
    prefix: &str,
    out: &mut Vec<Target>,
) {
    for f in schema.fields {
        let display = if prefix.is_empty() {
            f.name.to_string()
        } else {
            format!("{prefix}.{}", f.name)
        };
        let present = value.get(f.name);
        if f.rule.is_always() {
            out.push(Target {
                parents: parents.clone(),
                field: f.name,
                display: display.clone(),
                mutation: Mutation::Remove,
            });
        }
        let Some(v) = present else { continue };
        match f.kind {
            Kind::Text => {
                if let Some(max) = f.max_len {
                    out.push(Target {
                        parents: parents.clone(),
                        field: f.name,
                        display: display.clone(),
                        mutation: Mutation::TooLong(max + 1),
                    });
                }
                // Numbers and booleans are read as text (with a slip); an
                // object never is.
                out.push(Target {
                    parents: parents.clone(),
                    field: f.name,
                    display: display.clone(),
                    mutation: Mutation::WrongType,
                });
            }
            Kind::Object(inner) => {
                if let Value::Object(map) = v {
                    parents.push(PathStep::Key(f.name));
                    collect(inner(), map, parents, &display, out);
                    parents.pop();
                }
            }
            Kind::Array(inner) => {
                if let Value::Array(items) = v {
                    for (i, item) in items.iter().enumerate() {
                        if let Value::Object(map) = item {
                            parents.push(PathStep::Key(f.name));
                            parents.push(PathStep::Index(i));
                            collect(inner(), map, parents, &format!("{display}[{i}]"), out);
                            parents.pop();
                            parents.pop();
                        }
                    }
                }
            }
            Kind::Json => {}
            _ => out.push(Target {
                parents: parents.clone(),
                field: f.name,
                display: display.clone(),
                mutation: Mutation::WrongType,
            }),
        }
    }
}

/// Whether some value of `schema` can be broken by one mutation: false
/// only for tables whose every field is optional free-form JSON (as the
/// rows learnt from code whose type was not seen are), which accept any
/// value.
pub fn breakable(schema: &'static ObjectSchema) -> bool {
    schema.fields.iter().any(|f| {
        f.rule.is_always()
            || match f.kind {
                Kind::Json => false,
                Kind::Object(inner) | Kind::Array(inner) => breakable(inner()),
                _ => true,
            }
    })
}

/// Applies one mutation to a copy of the value.
pub fn apply(value: &Map<String, Value>, target: &Target) -> Map<String, Value> {
    let mut root = Value::Object(value.clone());
    let mut node = &mut root;
    for step in &target.parents {
        node = match step {
            PathStep::Key(k) => match node.get_mut(*k) {
                Some(n) => n,
                None => return value.clone(),
            },
            PathStep::Index(i) => match node.get_mut(*i) {
                Some(n) => n,
                None => return value.clone(),
            },
        };
    }
    if let Value::Object(map) = node {
        match target.mutation {
            Mutation::Remove => {
                map.remove(target.field);
            }
            Mutation::TooLong(n) => {
                map.insert(target.field.into(), Value::String("京".repeat(n)));
            }
            Mutation::WrongType => {
                map.insert(
                    target.field.into(),
                    serde_json::json!({ "unexpected": true }),
                );
            }
        }
    }
    match root {
        Value::Object(map) => map,
        _ => value.clone(),
    }
}

/// Picks one target with a proptest index.
pub fn pick(targets: &[Target], index: Index) -> Option<&Target> {
    if targets.is_empty() {
        None
    } else {
        Some(&targets[index.index(targets.len())])
    }
}
