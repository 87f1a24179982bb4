//! `bolink spec list` and `bolink spec show`.

use bolink_types::catalog::InterfaceInfo;
use bolink_types::schema::{Kind, ObjectSchema, Rule};
use bolink_types::{INTERFACES, TABLE_OF_CONTENTS};

use super::Outcome;

/// Prints one tab-separated line per specified interface or, with `all`,
/// per entry of the three tables of contents.
pub fn list(all: bool) -> Outcome {
    if all {
        for entry in TABLE_OF_CONTENTS {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                entry.document.as_str(),
                entry.section,
                entry.key.unwrap_or("-"),
                entry.status.as_str(),
                entry.title,
                entry.reason.unwrap_or("")
            );
        }
        return Outcome::Success;
    }
    for info in INTERFACES {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            info.document.as_str(),
            info.section,
            key_of(info),
            info.direction.as_str(),
            info.title
        );
    }
    Outcome::Success
}

/// Prints the fields of every role of the interfaces with this key.
pub fn show(key: &str) -> Outcome {
    let matching: Vec<&InterfaceInfo> = INTERFACES
        .iter()
        .filter(|info| info.service_name == Some(key) || info.url_path == Some(key))
        .collect();
    if matching.is_empty() {
        return Outcome::malformed(format!(
            "no specified interface has the service_name or path {key:?}"
        ));
    }
    for info in matching {
        println!(
            "{} {} {} ({}, {})",
            info.document.as_str(),
            info.section,
            info.title,
            info.title_en,
            info.direction.as_str()
        );
        for role in info.roles {
            println!("\n  {}:", role.role);
            print_fields((role.schema)(), 2);
        }
        println!();
    }
    Outcome::Success
}

/// Prints the JSON Schema of one role of the interfaces with this key.
pub fn schema(key: &str, role: bolink_types::Role) -> Outcome {
    let found = INTERFACES
        .iter()
        .filter(|info| info.service_name == Some(key) || info.url_path == Some(key))
        .find_map(|info| {
            info.roles
                .iter()
                .find(|r| r.role == role)
                .map(|r| (info, r))
        });
    match found {
        Some((info, table)) => {
            let title = format!("{} {} ({role})", info.title, info.title_en);
            let schema = bolink_types::json_schema::json_schema((table.schema)(), &title);
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    println!("{text}");
                    Outcome::Success
                }
                Err(e) => Outcome::malformed(e.to_string()),
            }
        }
        None => Outcome::malformed(format!(
            "no `{role}` table for the service_name or path {key:?}"
        )),
    }
}

fn key_of(info: &InterfaceInfo) -> &'static str {
    info.service_name.or(info.url_path).unwrap_or("-")
}

fn print_fields(schema: &ObjectSchema, indent: usize) {
    let pad = " ".repeat(indent + 2);
    for field in schema.fields {
        let max = field
            .max_len
            .map(|n| format!(" max {n}"))
            .unwrap_or_default();
        println!(
            "{pad}{} {}{max}, {}",
            field.name,
            kind_name(&field.kind),
            rule_text(&field.rule)
        );
        match field.kind {
            Kind::Object(nested) | Kind::Array(nested) => print_fields(nested(), indent + 2),
            _ => {}
        }
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Text => "string".into(),
        Kind::Integer => "integer".into(),
        Kind::Decimal => "decimal".into(),
        Kind::MoneyText => "money (string)".into(),
        Kind::MoneyNumber => "money (number)".into(),
        Kind::UnixSeconds => "unix seconds".into(),
        Kind::UnixMillis => "unix milliseconds".into(),
        Kind::Enum { schema, .. } => format!("enum {}", schema().rust_name),
        Kind::Object(nested) => format!("object {}", nested().rust_name),
        Kind::Array(nested) => format!("array of {}", nested().rust_name),
        Kind::Json => "json".into(),
    }
}

fn rule_text(rule: &Rule) -> String {
    match rule {
        Rule::Always => "required".into(),
        Rule::Optional => "optional".into(),
        Rule::When {
            field,
            codes,
            negated,
        } => {
            let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            let verb = if *negated { "is not" } else { "is" };
            format!("required when {field} {verb} {}", codes.join(" or "))
        }
        Rule::WhenPresent(fields) => format!("required when {} present", fields.join(" and ")),
        Rule::WhenRequest { .. } => format!(
            "required when {}",
            bolink_types::answer_rules::condition(*rule).unwrap_or_default()
        ),
        Rule::External(text) => format!("required: {text}"),
    }
}
