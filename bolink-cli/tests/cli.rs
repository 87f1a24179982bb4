//! The `bolink` command-line contract: arguments, output and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bolink(args: &[&str], stdin: &[u8]) -> Output {
    bolink_env(args, stdin, &[])
}

/// As [`bolink`], with these environment variables (and no `BOLINK_KEY`
/// from the caller's environment unless given here).
fn bolink_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bolink"))
        .args(args)
        .env_remove("BOLINK_KEY")
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bolink binary runs");
    // A command that fails before reading its input (a missing key) may
    // exit before the input is written: that is a broken pipe, not a failure.
    match child.stdin.take().expect("piped stdin").write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("stdin refused the input: {e}")
        }
        _ => {}
    }
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

// ---- verify --explain, keys from files and the environment, completions,
// ---- --format json

/// A new-API envelope whose sign is `sign` of the hand-written `signed_text`
/// (the text the sender hashed, without `key=...`) with `key`.
fn envelope_signed_over(data: &str, signed_text: &str, key: &str) -> String {
    let sign = bolink_sign::sign(signed_text.as_bytes(), &bolink_sign::Key::new(key));
    format!(r#"{{"data":{data},"sign":"{sign}"}}"#)
}

fn cause_lines(output: &Output) -> Vec<String> {
    stdout(output)
        .lines()
        .filter_map(|line| line.strip_prefix("cause: "))
        .map(str::to_owned)
        .collect()
}

/// A file in a fresh temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let dir = std::env::temp_dir().join(format!("bolink-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn verify_explain_names_sorted_keys_and_still_exits_1() {
    let body = envelope_signed_over(r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#, KEY);
    let plain = bolink(&["verify", "--key", KEY], body.as_bytes());
    assert_eq!(plain.status.code(), Some(1));
    assert!(cause_lines(&plain).is_empty(), "causes only with --explain");
    let output = bolink(&["verify", "--key", KEY, "--explain"], body.as_bytes());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(cause_lines(&output), ["sorted-keys"], "{}", stdout(&output));
    assert!(stdout(&output).starts_with("sign does not match"));
}

#[test]
fn verify_explain_prints_unknown_and_malformed_sign() {
    let body = envelope_signed_over(DATA, "not what was sent", KEY);
    let output = bolink(&["verify", "--key", KEY, "--explain"], body.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(cause_lines(&output), ["unknown"]);
    let body = format!(r#"{{"data":{DATA},"sign":"ABC"}}"#);
    let output = bolink(&["verify", "--key", KEY, "--explain"], body.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(cause_lines(&output), ["malformed-sign"]);
}

#[test]
fn verify_explain_notes_a_lower_case_sign_that_still_verifies() {
    let body = format!(
        r#"{{"service_name":"login","sign":"{}","data":{DATA}}}"#,
        DATA_SIGN.to_lowercase()
    );
    let output = bolink(&["verify", "--key", KEY, "--explain"], body.as_bytes());
    assert_eq!(
        output.status.code(),
        Some(0),
        "as today: either case verifies"
    );
    assert_eq!(stdout(&output), "sign ok\ncause: lowercase-hex\n");
}

#[test]
fn verify_explain_names_the_labelled_key_that_matched() {
    let keys = ["--key", "ukey=UKEY0000", "--key", &format!("ckey={KEY}")];
    let with = |body: &str| {
        bolink(
            &[&["verify", "--explain"][..], &keys[..]].concat(),
            body.as_bytes(),
        )
    };
    let alone = with(&envelope_signed_over(DATA, DATA, KEY));
    assert_eq!(
        alone.status.code(),
        Some(1),
        "the first key is the expected one"
    );
    assert_eq!(cause_lines(&alone), ["other-key:ckey"]);
    let combined = with(&envelope_signed_over(DATA, &format!("{DATA}&"), KEY));
    // `DATA&key=KEY`: amp-key, made with ckey.
    assert_eq!(cause_lines(&combined), ["amp-key+other-key:ckey"]);
    // Unlabelled keys are named by position.
    let output = bolink(
        &["verify", "--explain", "--key", "UKEY0000", "--key", KEY],
        envelope_signed_over(DATA, DATA, KEY).as_bytes(),
    );
    assert_eq!(cause_lines(&output), ["other-key:2"]);
    // Signed with the first key: ok, whatever the others.
    let output = with(&envelope_signed_over(DATA, DATA, "UKEY0000"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "sign ok\n");
}

#[test]
fn verify_help_lists_every_cause_id() {
    let output = bolink(&["verify", "--help"], b"");
    let text = stdout(&output);
    for mistake in bolink_sign::explain::Mistake::ALL {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(mistake.id())),
            "{} missing from\n{text}",
            mistake.id()
        );
    }
    for id in [
        "other-key:LABEL",
        "unknown",
        "malformed-sign",
        "--format json",
    ] {
        assert!(text.contains(id), "{id} missing from\n{text}");
    }
}

#[test]
fn keys_come_from_a_file() {
    let file = TempFile::new("key", &format!("{KEY}\n"));
    let output = bolink(&["sign", "--key-file", file.path()], DATA.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), format!("{DATA_SIGN}\n"));
    let body = format!(r#"{{"data":{DATA},"sign":"{DATA_SIGN}"}}"#);
    let output = bolink(&["verify", "--key-file", file.path()], body.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // Labelled, as a second key.
    let signed_by_file = envelope_signed_over(DATA, DATA, KEY);
    let labelled = format!("ckey={}", file.path());
    let output = bolink(
        &[
            "verify",
            "--explain",
            "--key-file",
            &labelled,
            "--key-file",
            &labelled.replace("ckey", "other"),
        ],
        signed_by_file.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "first file's key signed it");
    let missing = bolink(
        &["sign", "--key-file", "/nonexistent/bolink-key"],
        DATA.as_bytes(),
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/bolink-key"));
}

#[test]
fn keys_come_from_bolink_key_with_the_lowest_precedence() {
    let env = [("BOLINK_KEY", KEY)];
    let output = bolink_env(&["sign"], DATA.as_bytes(), &env);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), format!("{DATA_SIGN}\n"));
    let body = format!(r#"{{"data":{DATA},"sign":"{DATA_SIGN}"}}"#);
    assert_eq!(
        bolink_env(&["verify"], body.as_bytes(), &env).status.code(),
        Some(0)
    );
    // --key and --key-file both outrank the variable...
    let wrong = [("BOLINK_KEY", "wrong")];
    let output = bolink_env(&["verify", "--key", KEY], body.as_bytes(), &wrong);
    assert_eq!(output.status.code(), Some(0));
    let file = TempFile::new("precedence", KEY);
    let output = bolink_env(
        &["verify", "--key-file", file.path()],
        body.as_bytes(),
        &wrong,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // ...and --key outranks --key-file.
    let output = bolink(
        &["verify", "--key", "wrong", "--key-file", file.path()],
        body.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    // The variable's value never shows in --help.
    let help = bolink_env(
        &["verify", "--help"],
        b"",
        &[("BOLINK_KEY", "s3cr3t-value")],
    );
    assert!(!stdout(&help).contains("s3cr3t-value"));
    assert!(stdout(&help).contains("BOLINK_KEY"));
}

#[test]
fn a_missing_key_is_a_clear_error() {
    for args in [&["sign"][..], &["verify"][..]] {
        let output = bolink(args, DATA.as_bytes());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no key")
                && stderr.contains("--key-file")
                && stderr.contains("BOLINK_KEY"),
            "{stderr}"
        );
    }
    let output = bolink(&["sign", "--key", "a", "--key", "b"], DATA.as_bytes());
    assert_eq!(output.status.code(), Some(2), "sign takes one key");
    // lot: the key inline in --park, or from the key options, not both.
    let lot = ["lot", "--base-url", "http://127.0.0.1:9"];
    let output = bolink(&[&lot[..], &["--park", "200208:21835"]].concat(), b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no key"));
    let output = bolink(
        &[&lot[..], &["--park", "200208:21835:k", "--key", "k"]].concat(),
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("twice"));
}

#[test]
fn completions_print_a_script() {
    for shell in ["bash", "zsh", "fish"] {
        let output = bolink(&["completions", shell], b"");
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let text = stdout(&output);
        assert!(
            text.contains("bolink") && text.contains("verify"),
            "{shell}: {text}"
        );
    }
    assert_eq!(
        bolink(&["completions", "no-such-shell"], b"").status.code(),
        Some(2)
    );
}

#[test]
fn verify_format_json_is_one_object() {
    let parse = |output: &Output| -> serde_json::Value {
        serde_json::from_str(stdout(output).trim_end()).expect("one JSON object")
    };
    let good = format!(r#"{{"service_name":"login","sign":"{DATA_SIGN}","data":{DATA}}}"#);
    let output = bolink(
        &["verify", "--key", KEY, "--format", "json"],
        good.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        parse(&output),
        serde_json::json!({"valid": true, "family": "sdk-http", "encoding": "json",
                           "expected": DATA_SIGN, "causes": null})
    );
    let sorted = envelope_signed_over(r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#, KEY);
    let output = bolink(
        &["verify", "--key", KEY, "--format", "json", "--explain"],
        base64_of(&sorted).as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1));
    let object = parse(&output);
    assert_eq!(object["valid"], false);
    assert_eq!(object["family"], "newapi");
    assert_eq!(object["encoding"], "base64");
    assert_eq!(object["causes"], serde_json::json!(["sorted-keys"]));
    // Malformed: exit 2, nothing on stdout.
    let output = bolink(&["verify", "--key", KEY, "--format", "json"], b"{");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

#[test]
fn validate_format_json_is_one_object() {
    let output = bolink(
        &[
            "validate",
            "--format",
            "json",
            "samples/query_price_request_invalid.json",
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stderr.is_empty(),
        "slips are in the object, not on stderr"
    );
    let object: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(object["valid"], false);
    assert_eq!(object["family"], serde_json::Value::Null);
    assert_eq!(object["encoded"], serde_json::Value::Null);
    assert_eq!(
        object["violations"][0],
        serde_json::json!({"path": "order_id", "message": "49 characters, at most 48"})
    );
    assert_eq!(object["violations"].as_array().map(Vec::len), Some(4));
    let input = r#"{"service_name":"query_price","park_id":"20003","pay_scene":"0","car_number":"京HP00G6","order_id":"1","extra":true}"#;
    let output = bolink(&["validate", "--format", "json"], input.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    // The re-encoded message keeps its field order.
    assert!(
        stdout(&output).contains(r#""encoded":{"service_name":"query_price","car_number":"京HP00G6","order_id":"1","park_id":"20003","pay_scene":0}"#),
        "{}",
        stdout(&output)
    );
    let object: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(object["valid"], true);
    assert_eq!(object["family"], "sdk");
    assert_eq!(object["violations"], serde_json::json!([]));
    assert_eq!(
        object["slips"],
        serde_json::json!([
            {"path": "pay_scene", "received": "string \"0\"", "read_as": "a numeric code"},
            {"path": "extra", "received": "true", "read_as": "ignored"},
        ])
    );
    let output = bolink(&["validate", "--format", "json"], b"[1]");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}
