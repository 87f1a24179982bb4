//! The `bolink` command-line contract: arguments, output and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bolink(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bolink"))
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bolink binary runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("stdin accepts the input");
    child.wait_with_output().expect("bolink exits")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

const DATA: &str = r#"{"union_id":"200208","park_id":"21835","local_id":"0071cc97102b_1001_qh321_quanhao-atest1"}"#;
const KEY: &str = "8403A41ED5EF20BC";
const DATA_SIGN: &str = "CB649425CB5548A375099103AB04CC1E";

#[test]
fn sign_prints_the_upper_case_sign_of_trimmed_input() {
    let output = bolink(&["sign", "--key", KEY], format!("{DATA}\n\n").as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), format!("{DATA_SIGN}\n"));
}

#[test]
fn sign_reads_a_file() {
    let output = bolink(
        &[
            "sign",
            "--key",
            "demo-key",
            "samples/query_price_request.json",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "E18E22E894D969046EA8BC144299F400\n");
}

#[test]
fn verify_accepts_both_envelopes_and_lower_case_signs() {
    let sdk_http = format!(
        r#"{{"service_name":"login","sign":"{}","data":{DATA}}}"#,
        DATA_SIGN.to_lowercase()
    );
    let newapi_json = format!(r#"{{"data":{DATA},"sign":"{DATA_SIGN}"}}"#);
    let newapi_base64 = base64_of(&newapi_json);
    for body in [sdk_http, newapi_json, newapi_base64] {
        let output = bolink(&["verify", "--key", KEY], body.as_bytes());
        assert_eq!(output.status.code(), Some(0), "{body}");
    }
}

#[test]
fn verify_exits_1_with_the_expected_sign_on_mismatch() {
    let body = format!(r#"{{"data":{DATA},"sign":"{}"}}"#, "0".repeat(32));
    let output = bolink(&["verify", "--key", KEY], body.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains(DATA_SIGN), "{}", stdout(&output));
}

#[test]
fn verify_exits_2_on_malformed_input() {
    for body in ["", "{\"data\":", "@@not base64@@", r#"{"data":{}}"#] {
        let output = bolink(&["verify", "--key", KEY], body.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{body:?}");
        assert!(
            !output.stderr.is_empty(),
            "a reason is printed for {body:?}"
        );
    }
}

#[test]
fn validate_re_encodes_in_wire_types() {
    // pay_scene sent as a string is accepted and written back as a number.
    let input = r#"{"service_name":"query_price","park_id":"20003","pay_scene":"0","car_number":"京HP00G6","order_id":"1","extra":true}"#;
    let output = bolink(&["validate"], input.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "{\"service_name\":\"query_price\",\"car_number\":\"京HP00G6\",\"order_id\":\"1\",\"park_id\":\"20003\",\"pay_scene\":0}\n"
    );
    // What was read leniently is a warning on stderr, not a failure.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "warning: pay_scene: string \"0\" read as a numeric code\n\
         warning: extra: not in the table, ignored (value true)\n"
    );
}

#[test]
fn validate_reads_the_platforms_query_price_return() {
    // As the platform's own test code sends it: derate_duration "0.0",
    // derate_money 0.0 (a number where the table says string).
    let input = r#"{"service_name":"query_price","data_target":"bolink","state":1,"park_id":"21840","order_id":"38320","price":"0.01","duration":1,"derate_duration":"0.0","derate_money":0.0}"#;
    let output = bolink(&["validate", "--role", "sdk-return"], input.as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "warning: derate_duration: string \"0.0\" read as an integer\n\
         warning: derate_money: number 0.0 read as an amount of money\n"
    );
    assert!(
        stdout(&output).contains(r#""derate_money":"0.0","derate_duration":0"#),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_exits_1_listing_every_violation() {
    let output = bolink(
        &["validate", "samples/query_price_request_invalid.json"],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "order_id: 49 characters, at most 48\n\
         car_number: required when pay_scene is 0 or 2\n\
         out_channel_id: required when pay_scene is 1 or 2\n\
         query_order_no: required when pay_scene is 1 or 2\n"
    );
}

#[test]
fn validate_takes_a_role() {
    let input = r#"{"service_name":"park_check","state":1,"data":{"status":1}}"#;
    let output = bolink(&["validate", "--role", "response"], input.as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = bolink(&["validate", "--role", "sdk-return"], input.as_bytes());
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn validate_exits_2_on_malformed_json_and_unknown_services() {
    for input in [
        "{\"service_name\":",
        "[1]",
        r#"{"service_name":"no_such_service"}"#,
        r#"{"park_id":"1"}"#,
    ] {
        let output = bolink(&["validate"], input.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{input}");
    }
}

#[test]
fn spec_list_has_one_tab_separated_line_per_interface() {
    let output = bolink(&["spec", "list"], b"");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), bolink_types::INTERFACES.len());
    assert!(
        lines.contains(&"sdk\t3.1\tquery_price\tdownstream\t3.1查询订单价格(泊链)"),
        "{text}"
    );
    assert!(lines.iter().all(|line| line.split('\t').count() == 5));
}

#[test]
fn demo_passes_every_step() {
    let output = bolink(&["demo"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("POST /bpd/upload.do"));
}

#[test]
fn demo_passes_every_step_over_tcp() {
    let output = bolink(&["demo", "--transport", "tcp"], b"");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("-> tcp "), "{text}");
    assert!(!text.contains("/bpd/"), "nothing over HTTP: {text}");
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn spec_list_all_has_every_table_of_contents_entry() {
    let output = bolink(&["spec", "list", "--all"], b"");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), bolink_types::TABLE_OF_CONTENTS.len());
    assert!(text.lines().count() > 150, "the three tables of contents");
    assert!(
        text.lines()
            .any(|l| l.starts_with("newapi\t10.4\tpark_check\tspecified\t")),
        "{text}"
    );
    assert!(text.lines().all(|l| l.split('\t').count() == 6));
}

#[test]
fn schema_prints_the_json_schema_of_a_table() {
    let output = bolink(&["schema", "query_price"], b"");
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        schema["required"],
        serde_json::json!(["service_name", "park_id", "pay_scene"])
    );
    assert_eq!(schema["properties"]["car_number"]["maxLength"], 8);
    let rules = schema["allOf"].as_array().expect("conditional rules");
    assert!(rules
        .iter()
        .any(|r| r["then"]["required"][0] == "car_number"
            && r["if"]["properties"]["pay_scene"]["enum"] == serde_json::json!([0, 2])));
    let output = bolink(&["schema", "query_price", "--role", "sdk-return"], b"");
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        schema["properties"]["discount_info"]["properties"]["coupon_list"]["type"],
        "array"
    );
    // The SDK's query_price has no response table; the new API's 5.1 has one.
    let output = bolink(&["schema", "query_price", "--role", "response"], b"");
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        schema["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("5.1")),
        "{schema}"
    );
    // No query_price has an asynchronous result.
    let output = bolink(&["schema", "query_price", "--role", "async-result"], b"");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn validate_checks_an_answer_against_its_request() {
    // The page's request has pay_scene 0: the answer must carry in_time and
    // car_number, which this one (valid on its own) lacks.
    let answer = r#"{"service_name":"query_price","state":1,"park_id":"20003","order_id":"15000001195","price":"4.0","duration":50}"#;
    let alone = bolink(&["validate", "--role", "http-return"], answer.as_bytes());
    assert_eq!(alone.status.code(), Some(0));
    let args = [
        "validate",
        "--role",
        "http-return",
        "--request",
        "samples/query_price_request.json",
    ];
    let output = bolink(&args, answer.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "in_time: required when the request's pay_scene was 0 or 2\n\
         car_number: required when the request's pay_scene was 0 or 2\n"
    );
    let complete = answer.replace(
        r#""duration":50"#,
        r#""duration":50,"in_time":1490875218,"car_number":"62000F9""#,
    );
    let output = bolink(&args, complete.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // A request that is not JSON cannot be checked against.
    let broken = [
        "validate",
        "--role",
        "http-return",
        "--request",
        "README.md",
    ];
    assert_eq!(bolink(&broken, answer.as_bytes()).status.code(), Some(2));
}
