//! The accepted forms of each wire type (protocol-spec/README.md, "Accepted
//! forms"), case by case: what a fastjson or Gson getter on the platform's
//! side makes of a value is what we read, with a slip when the form is not
//! the table's; what no getter reads exactly is a violation naming the field.

use bolink_types::{
    decode_with_slips, CodeEnum, DecodeError, Decoded, Message, Money, Object, SlipKind,
    UnixMillis, UnixSeconds, UnknownCode,
};

#[derive(Debug, Clone, PartialEq, Eq, CodeEnum)]
#[bolink(codes = "integer")]
pub enum Lane {
    #[bolink(code = 0, label = "入口")]
    Entry,
    #[bolink(code = 1, label = "出口")]
    Exit,
    Unknown(UnknownCode),
}

/// One field of every scalar kind, all optional so that each case sends one.
#[derive(Debug, Clone, PartialEq, Message)]
#[bolink(service = "forms", role = "request")]
pub struct Forms {
    #[bolink(max_len = 6)]
    pub text: Option<String>,
    #[bolink(max_len = 4)]
    pub count: Option<i64>,
    #[bolink(wire = "text", max_len = 4)]
    pub price: Option<Money>,
    #[bolink(wire = "number")]
    pub amount: Option<Money>,
    pub in_time: Option<UnixSeconds>,
    pub pay_time: Option<UnixMillis>,
    pub lane: Option<Lane>,
    #[bolink(max_len = 10)]
    pub attach: Option<serde_json::Value>,
    pub note: Option<String>,
}

fn read(data: &str) -> Result<Decoded<Forms>, DecodeError> {
    decode_with_slips::<Forms>(format!(r#"{{"service_name":"forms",{data}}}"#).as_bytes())
}

/// The value read and the slips' texts.
fn accepted(data: &str) -> (Forms, Vec<String>) {
    match read(data) {
        Ok(decoded) => (
            decoded.message,
            decoded.slips.iter().map(ToString::to_string).collect(),
        ),
        Err(e) => panic!("{data}: {e}"),
    }
}

fn refused(data: &str) -> Vec<String> {
    match read(data) {
        Err(DecodeError::Invalid { report, .. }) => {
            report.violations.iter().map(ToString::to_string).collect()
        }
        other => panic!("{data}: expected violations, got {other:?}"),
    }
}

#[test]
fn integers_as_fastjson_reads_them() {
    for (data, value, slip) in [
        (r#""count":5"#, 5, None),
        (
            r#""count":5.0"#,
            5,
            Some("count: number 5.0 read as an integer"),
        ),
        (
            r#""count":"5""#,
            5,
            Some(r#"count: string "5" read as an integer"#),
        ),
        (
            r#""count":"0.0""#,
            0,
            Some(r#"count: string "0.0" read as an integer"#),
        ),
        (
            r#""count":1e2"#,
            100,
            Some("count: number 1e2 read as an integer"),
        ),
    ] {
        let (forms, slips) = accepted(data);
        assert_eq!(forms.count, Some(value), "{data}");
        assert_eq!(slips, slip.into_iter().collect::<Vec<_>>(), "{data}");
    }
    // fastjson's getLong truncates 5.5 to 5; a table that says integer has
    // no room for half a minute, so it is refused rather than changed.
    assert_eq!(
        refused(r#""count":5.5"#),
        ["count: expected an integer, found number 5.5"]
    );
    assert_eq!(
        refused(r#""count":"5.5""#),
        [r#"count: expected an integer, found string "5.5""#]
    );
    assert_eq!(
        refused(r#""count":"five""#),
        [r#"count: expected an integer, found string "five""#]
    );
    assert_eq!(
        refused(r#""count":true"#),
        ["count: expected an integer, found boolean true"]
    );
    assert_eq!(
        refused(r#""count":99999999999999999999"#),
        ["count: expected an integer, found number 99999999999999999999"]
    );
    // An empty string, and the text null, are what fastjson reads as null
    // (Java code writes a missing value with `"" + value`).
    let (forms, slips) = accepted(r#""count":"""#);
    assert_eq!(forms.count, None);
    assert_eq!(slips, [r#"count: string "" read as absent"#]);
    let (forms, slips) = accepted(r#""count":"null","amount":"NULL""#);
    assert_eq!((forms.count, forms.amount), (None, None));
    assert_eq!(
        slips,
        [
            r#"count: string "null" read as absent"#,
            r#"amount: string "NULL" read as absent"#
        ]
    );
    // In a string field the text null is just text.
    let (forms, slips) = accepted(r#""text":"null""#);
    assert_eq!(forms.text.as_deref(), Some("null"));
    assert!(slips.is_empty());
}

#[test]
fn strings_keep_the_digits_received() {
    let (forms, slips) = accepted(r#""text":123456"#);
    assert_eq!(forms.text.as_deref(), Some("123456"));
    assert_eq!(slips, ["text: number 123456 read as a string"]);
    // No trip through f64: neither rounded digits nor a lost trailing zero.
    let big = "123456789012345678901234";
    match read(&format!(r#""text":{big}"#)) {
        Err(DecodeError::Invalid { report, .. }) => {
            assert_eq!(report.to_string(), "text: 24 characters, at most 6")
        }
        other => panic!("{other:?}"),
    }
    let (forms, _) = accepted(&format!(r#""note":{big}"#));
    assert_eq!(forms.note.as_deref(), Some(big));
    let (forms, _) = accepted(r#""text":4.50"#);
    assert_eq!(forms.text.as_deref(), Some("4.50"));
    let (forms, slips) = accepted(r#""text":false"#);
    assert_eq!(forms.text.as_deref(), Some("false"));
    assert_eq!(slips, ["text: boolean false read as a string"]);
    assert_eq!(
        refused(r#""text":{"a":1}"#),
        ["text: expected a string, found an object"]
    );
}

#[test]
fn money_is_exact_in_both_forms() {
    let (forms, slips) = accepted(r#""price":"4.50","amount":0.04"#);
    assert_eq!(forms.price.unwrap().to_string(), "4.50");
    assert_eq!(forms.amount.unwrap().to_string(), "0.04");
    assert!(slips.is_empty(), "{slips:?}");
    let (forms, slips) = accepted(r#""price":4.5,"amount":"12345678901234.56""#);
    assert_eq!(forms.price.unwrap().to_string(), "4.5");
    assert_eq!(forms.amount.unwrap().to_string(), "12345678901234.56");
    assert_eq!(
        slips,
        [
            "price: number 4.5 read as an amount of money",
            r#"amount: string "12345678901234.56" read as an amount of money"#
        ]
    );
    // Written back in the table's form, with the digits it holds.
    let encoded = String::from_utf8(forms.encode()).unwrap();
    assert_eq!(
        encoded,
        r#"{"service_name":"forms","price":"4.5","amount":12345678901234.56}"#
    );
    assert_eq!(
        refused(r#""price":"4,5""#),
        [r#"price: expected an amount of money, found string "4,5""#]
    );
}

#[test]
fn timestamps_in_the_other_unit_are_violations() {
    assert_eq!(
        refused(r#""in_time":1490875218000"#),
        ["in_time: 1490875218000 is too large for unix seconds (milliseconds?)"]
    );
    assert_eq!(
        refused(r#""pay_time":1490875218"#),
        ["pay_time: 1490875218 is too small for unix milliseconds (seconds?)"]
    );
    let (forms, slips) = accepted(r#""in_time":"1490875218","pay_time":1490875218000"#);
    assert_eq!(forms.in_time, Some(UnixSeconds(1490875218)));
    assert_eq!(forms.pay_time, Some(UnixMillis(1490875218000)));
    assert_eq!(
        slips,
        [r#"in_time: string "1490875218" read as unix seconds"#]
    );
    // Built in code, the same value is refused before it is sent.
    let built = Forms {
        text: None,
        count: None,
        price: None,
        amount: None,
        in_time: Some(UnixSeconds(1490875218000)),
        pay_time: None,
        lane: None,
        attach: None,
        note: None,
    };
    assert_eq!(
        built.validate().unwrap_err().to_string(),
        "in_time: 1490875218000 is too large for unix seconds (milliseconds?)"
    );
}

#[test]
fn lengths_count_the_text_received() {
    // "4.50" is four characters even though it is the amount 4.5.
    let (forms, _) = accepted(r#""price":"4.50""#);
    assert_eq!(forms.price.unwrap().to_string(), "4.50");
    assert_eq!(
        refused(r#""price":"4.500""#),
        ["price: 5 characters, at most 4"]
    );
    assert_eq!(
        refused(r#""count":"00012""#),
        [r#"count: expected an integer, found string "00012""#]
    );
    assert_eq!(
        refused(r#""count":12.00"#),
        ["count: 5 characters, at most 4"]
    );
    // A json field is measured on what came, spaces included.
    let (forms, _) = accepted(r#""attach":{"a": 1}"#);
    assert_eq!(forms.attach.unwrap()["a"], 1);
    assert_eq!(
        refused(r#""attach":{"a":   12}"#),
        ["attach: 11 characters, at most 10"]
    );
    // Characters, not bytes or UTF-16 units.
    let (forms, _) = accepted(r#""text":"京A\u4eac𠀀B""#);
    assert_eq!(forms.text.unwrap().chars().count(), 5);
}

#[test]
fn codes_nulls_and_unknown_keys() {
    let (forms, slips) = accepted(r#""lane":"1","text":null,"msg_id":"x9","is_report":{"a":[1]}"#);
    assert_eq!(forms.lane, Some(Lane::Exit));
    assert_eq!(forms.text, None);
    assert_eq!(
        slips,
        [
            r#"lane: string "1" read as a numeric code"#,
            "text: null read as absent",
            r#"msg_id: not in the table, ignored (value "x9")"#,
            r#"is_report: not in the table, ignored (value {"a":[1]})"#,
        ]
    );
    let decoded = read(r#""lane":1.0"#).unwrap();
    assert_eq!(decoded.message.lane, Some(Lane::Exit));
    assert_eq!(
        decoded.slips[0].read_as,
        SlipKind::Converted("a numeric code")
    );
    let (forms, _) = accepted(r#""lane":7"#);
    assert_eq!(forms.lane.unwrap().code().to_string(), "7");
}

#[test]
fn values_from_a_json_value_read_the_same() {
    // Through serde_json::Value (no raw text), the same forms are accepted.
    let value =
        serde_json::json!({"service_name": "forms", "count": "5", "price": 4.5, "text": 12});
    let forms: Forms = serde_json::from_value(value).unwrap();
    assert_eq!(forms.count, Some(5));
    assert_eq!(forms.price.unwrap().to_string(), "4.5");
    assert_eq!(forms.text.as_deref(), Some("12"));
}

#[test]
fn extreme_numbers_are_refused_not_computed() {
    for number in [
        "1e999999999",
        "1e-999999999",
        "-0.0000000000000000000000000000001e-99999",
    ] {
        let data = format!(r#""count":{number},"amount":{number}"#);
        let violations = refused(&data);
        assert_eq!(violations.len(), 2, "{number}: {violations:?}");
        assert!(
            violations[0].starts_with("count: expected an integer"),
            "{violations:?}"
        );
    }
}
