//! Where the public evidence disagrees with itself (the reference's traps):
//! what the real programs do is modelled, the disagreement is noted in the
//! spec, and each is held here, against the messages as those programs
//! send them (the corpus texts).

use bolink_sdk::engine::{AnswerPolicy, Status, Verdict};
use bolink_spec::Spec;
use bolink_types::validate::{validate, Validation};
use bolink_types::{catalog::Family, decode, sdk, Role};

/// What the engine makes of an answer, as a lot's delivery would.
fn verdict(answer: &str) -> Verdict {
    let status = Status::read(answer.as_bytes()).expect("a JSON object");
    AnswerPolicy::default().classify(&status)
}

/// A message of the corpus, by file and id.
fn corpus_message(file: &str, id: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(file);
    let corpus: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    corpus["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("{id} is in {file}"))
        .to_string()
}

fn notes_of(service: &str) -> Vec<String> {
    let spec = Spec::load(bolink_spec::default_root()).unwrap();
    let file = spec
        .interfaces
        .iter()
        .find(|f| f.value.service_name.as_deref() == Some(service))
        .unwrap_or_else(|| panic!("{service} is specified"));
    let mut notes = file.value.notes.clone();
    for role in file.value.roles.values() {
        notes.extend(role.notes.iter().cloned());
        notes.extend(role.fields.iter().filter_map(|f| f.note.clone()));
    }
    notes
}

#[test]
fn the_2018_cloud_answers_2_16_as_car_type_upload_and_that_is_a_delivery() {
    // DoUploadImpl.java:1161-1165, as the cloud writes it.
    let answer =
        r#"{"service_name":"car_type_upload","state":1,"cartype_id":"测试2a","errmsg":""}"#;
    // The table (upload_car_type, car_type_id) is not what the cloud sends...
    let Validation::Violations { report, .. } = validate(
        Role::AsyncResult,
        Some(Family::Sdk),
        Some("upload_car_type"),
        answer.as_bytes(),
    ) else {
        panic!("the cloud's spelling passed the page's table");
    };
    assert!(
        report.has_path("service_name") && report.has_path("car_type_id"),
        "{report}"
    );
    // ...but a lot reading it as the cloud meant it has delivered its upload.
    assert_eq!(verdict(answer), Verdict::Accepted);
    assert!(notes_of("upload_car_type")
        .iter()
        .any(|n| n.contains("car_type_upload") && n.contains("cartype_id")));
}

#[test]
fn the_answer_of_2_17_carries_no_service_name_and_is_valid() {
    let answer = r#"{"state":1,"errmsg":"上传手动匹配事件成功！"}"#;
    let read: sdk::upload_confirm_order::AsyncResult = decode(answer.as_bytes()).unwrap();
    assert_eq!(read.errmsg.as_deref(), Some("上传手动匹配事件成功！"));
    assert_eq!(verdict(answer), Verdict::Accepted);
}

#[test]
fn upload_price_refusals_name_their_reason_under_error_and_the_lot_reads_it() {
    let answer = r#"{"state":0,"service_name":"upload_price","operate_type":1,"price_id":"10093","error":"上传数据中没找到必须的字段（package_id,price,operate_type）值!"}"#;
    match verdict(answer) {
        Verdict::Refused(errmsg) => {
            assert!(errmsg.contains("package_id,price,operate_type"), "{errmsg}")
        }
        other => panic!("read as {other:?}"),
    }
    assert!(Status::read(answer.as_bytes()).unwrap().errmsg.is_some());
}

#[test]
fn price_and_amount_receivable_are_swapped_between_3_7_and_2_10_and_both_say_so() {
    for service in ["month_member_sync", "upload_month_member"] {
        assert!(
            notes_of(service)
                .iter()
                .any(|n| n.contains("swap") && n.contains("amount_receivable")),
            "{service} does not note the swap"
        );
    }
    // The labels themselves disagree, as the page and the reader do.
    let spec = Spec::load(bolink_spec::default_root()).unwrap();
    let label = |service: &str, field: &str| {
        let file = spec
            .interfaces
            .iter()
            .find(|f| f.value.service_name.as_deref() == Some(service))
            .unwrap();
        let data = file.value.objects.values().flat_map(|o| o.fields.iter());
        let top = file.value.roles.values().flat_map(|r| r.fields.iter());
        top.chain(data)
            .find(|f| f.name.get_ref() == field)
            .map(|f| format!("{} {}", f.label.clone(), f.note.clone().unwrap_or_default()))
            .unwrap_or_default()
    };
    assert!(label("month_member_sync", "price").contains("实收"));
    assert!(label("upload_month_member", "price").contains("应收"));
}

#[test]
fn some_downstream_messages_go_flat_and_others_nested_in_data() {
    // query_price: fields at the top (the pages and every sender).
    let flat = r#"{"service_name":"query_price","park_id":"20003","pay_scene":0,"car_number":"京A12345","order_id":"1"}"#;
    assert!(sdk::Request::decode_as("query_price", flat.as_bytes()).is_ok());
    // month_member_sync: nested in data, as the page's example and every sender put it.
    let nested = corpus_message(
        "sdk.month_member_sync.json",
        "sdk.month_member_sync.request.page",
    );
    assert!(sdk::Request::decode_as("month_member_sync", nested.as_bytes()).is_ok());
    // The same fields flat are not that message: data is missing, the rest set aside.
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&nested).unwrap();
    let Some(serde_json::Value::Object(data)) = object.remove("data") else {
        panic!("nested in data");
    };
    object.extend(data);
    let wrong = serde_json::to_string(&object).unwrap();
    let err = sdk::Request::decode_as("month_member_sync", wrong.as_bytes()).unwrap_err();
    assert!(err.report().is_some_and(|r| r.has_path("data")), "{err}");
}
