//! Every example printed in the documents (or, for shapes no page shows, in
//! public code), as kept verbatim in the spec, decodes and validates; a broken example fails with a clear syntax error
//! and its obvious correction succeeds (or has exactly the violations the
//! spec lists for it).

use crate::role_of;
use bolink_spec::model::{Document, Example, Family as SpecFamily, RoleName};
use bolink_spec::Spec;
use bolink_types::catalog::{Family, SharedInfo};
use bolink_types::{DecodeError, Role, SHARED_OBJECTS};

/// Pages of the new API (and the related HTTP-API book) print their examples
/// inside the envelope, `{"data":{...},"sign":"..."}`: the message is the
/// `data` object, unless the table itself has a `data` row.
fn message_part<'a>(text: &'a str, table_has_data_row: bool) -> std::borrow::Cow<'a, [u8]> {
    if !table_has_data_row {
        if let Ok(body) = bolink_sign::parse_any(text.as_bytes()) {
            return std::borrow::Cow::Owned(body.envelope().data_bytes().to_vec());
        }
    }
    std::borrow::Cow::Borrowed(text.as_bytes())
}

/// Decodes `text` as the message `(document, role, key)`, re-encodes it and
/// decodes the encoding again, which must give the same value.
fn decode(document: Document, role: Role, key: &str, text: &[u8]) -> Result<(), DecodeError> {
    match document {
        Document::Sdk | Document::SdkHttp => {
            let message = bolink_types::sdk::Message::decode_as(role, key, text)?;
            let again = bolink_types::sdk::Message::decode_as(role, key, &message.encode())?;
            assert_eq!(message, again, "re-encoding changed the message");
        }
        Document::Newapi => {
            let message = bolink_types::newapi::Message::decode_as(role, key, text)?;
            let again = bolink_types::newapi::Message::decode_as(role, key, &message.encode())?;
            assert_eq!(message, again, "re-encoding changed the message");
        }
    }
    Ok(())
}

fn expected(example: &Example, result: Result<(), DecodeError>) -> Result<(), String> {
    match (result, example.expect_violations.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(format!(
            "expected violations {:?}, decoded fine",
            example.expect_violations
        )),
        (Err(DecodeError::Invalid { report, .. }), false) => {
            let got: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
            if got == example.expect_violations {
                Ok(())
            } else {
                Err(format!(
                    "expected violations {:?}, got {got:?}",
                    example.expect_violations
                ))
            }
        }
        (Err(e), _) => Err(format!("{e}")),
    }
}

#[test]
fn every_example_decodes_as_the_spec_says() {
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &spec.interfaces {
        let iface = &file.value;
        let key = iface
            .service_name
            .clone()
            .or_else(|| iface.url_path.clone())
            .unwrap_or_default();
        for (role_name, role_spec) in &iface.roles {
            for (i, example) in role_spec.examples.iter().enumerate() {
                checked += 1;
                let place = format!(
                    "{} {} example {}",
                    file.path.display(),
                    role_name.as_str(),
                    i + 1
                );
                let has_data_row = role_spec.fields.iter().any(|f| f.name.get_ref() == "data");
                let part = |text| message_part(text, has_data_row);
                let outcome = match (&example.broken, &example.corrected) {
                    (Some(_), Some(corrected)) => {
                        match decode(
                            iface.document,
                            role_of(*role_name),
                            &key,
                            &part(&example.text),
                        ) {
                            Err(DecodeError::Syntax { line, column, .. }) => {
                                assert!(line >= 1 && column >= 1);
                                expected(
                                    example,
                                    decode(
                                        iface.document,
                                        role_of(*role_name),
                                        &key,
                                        &part(corrected),
                                    ),
                                )
                            }
                            other => Err(format!(
                                "the broken example should be a syntax error, got {other:?}"
                            )),
                        }
                    }
                    _ => expected(
                        example,
                        decode(
                            iface.document,
                            role_of(*role_name),
                            &key,
                            &part(&example.text),
                        ),
                    ),
                };
                if let Err(problem) = outcome {
                    failures.push(format!("{place}: {problem}"));
                }
            }
        }
    }
    assert!(checked >= 4, "the seed examples are in the spec");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Decodes `text` as a shared object, re-encodes it and decodes the encoding
/// again, which must give the same encoding.
fn decode_shared(info: &SharedInfo, text: &[u8]) -> Result<(), DecodeError> {
    let encoded = (info.reencode)(text)?.message;
    let again = (info.reencode)(&encoded)?.message;
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(&again),
        "re-encoding changed the {}",
        info.name
    );
    Ok(())
}

#[test]
fn every_shared_object_example_decodes_as_the_spec_says() {
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for entry in spec.shared_objects() {
        let family = match entry.family {
            SpecFamily::Sdk => Family::Sdk,
            SpecFamily::Newapi => Family::Newapi,
        };
        let info = SHARED_OBJECTS
            .iter()
            .find(|i| i.family == family && i.name == entry.name)
            .unwrap_or_else(|| panic!("{} {} is generated", entry.family.module(), entry.name));
        for (i, example) in entry.object.examples.iter().enumerate() {
            checked += 1;
            let place = format!("{} {} example {}", entry.path.display(), entry.name, i + 1);
            let outcome = match (&example.broken, &example.corrected) {
                (Some(_), Some(corrected)) => match decode_shared(info, example.text.as_bytes()) {
                    Err(DecodeError::Syntax { .. }) => {
                        expected(example, decode_shared(info, corrected.as_bytes()))
                    }
                    other => Err(format!(
                        "the broken example should be a syntax error, got {other:?}"
                    )),
                },
                _ => expected(example, decode_shared(info, example.text.as_bytes())),
            };
            if let Err(problem) = outcome {
                failures.push(format!("{place}: {problem}"));
            }
        }
    }
    assert!(
        checked >= 1,
        "the acknowledgement's examples are in the spec"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn outpark_example_as_printed_is_a_clear_error() {
    let spec = Spec::load(bolink_spec::default_root()).unwrap_or_else(|e| panic!("{e}"));
    let outpark = spec
        .interfaces
        .iter()
        .find(|f| f.path.ends_with("3.4_outpark.toml"))
        .expect("sdk-http 3.4 outpark is specified");
    let example = &outpark.value.roles[&RoleName::Request].examples[0];
    let err = bolink_types::sdk::Request::decode(example.text.as_bytes()).unwrap_err();
    // The first full-width quote stands after "errmsg": on line 1, byte 57.
    match &err {
        DecodeError::Syntax {
            line: 1,
            column: 57,
            message,
        } => {
            assert_eq!(message, "expected value");
        }
        other => panic!("expected a syntax error with its place, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "malformed JSON at line 1, column 57: expected value"
    );
    // Once corrected, only what the table asks and the example omits is
    // wrong: remark, which the table marks 是.
    let corrected = example.corrected.as_deref().unwrap_or_default();
    match bolink_types::sdk::Request::decode(corrected.as_bytes()) {
        Err(DecodeError::Invalid { report, .. }) => {
            assert_eq!(report.to_string().trim(), "remark: required");
        }
        other => panic!("expected exactly the missing remark, got {other:?}"),
    }
    let mut with_remark: serde_json::Value = serde_json::from_str(corrected).unwrap();
    with_remark["remark"] = "收到停车费-京GH0093".into();
    let bytes = serde_json::to_vec(&with_remark).unwrap();
    match bolink_types::sdk::Request::decode(&bytes).unwrap() {
        bolink_types::sdk::Request::Outpark(m) => {
            assert_eq!(m.total.to_string(), "0.04");
            assert_eq!(m.car_number, "京GH0093");
            assert_eq!(m.pay_type, bolink_types::enums::PayType::Wallet);
        }
        other => panic!("dispatched to {other:?}"),
    }
}
