//! `bolink demo`: the whole signing and validation path on a sample message.
//!
//! Each step prints what it did and whether the result is what the protocol
//! says it must be; the command exits 0 only when every step behaved.

use bolink_sign::{parse_any, sdk_http, Key};
use bolink_types::{sdk, DecodeError, Message};

use super::Outcome;

/// The query_price request printed on the document's page.
const SAMPLE: &str = include_str!("../../../samples/query_price_request.json");
/// The same request with a missing plate (pay_scene 2) and a 49-character order_id.
const INVALID: &str = include_str!("../../../samples/query_price_request_invalid.json");
const KEY: &str = "demo-key";

/// One step: its outcome is the text to print, as success or failure.
type Step = fn() -> Result<String, String>;

/// Runs every step; exits 0 only when all of them behaved as the protocol says.
pub fn run() -> Outcome {
    let steps: [(&str, Step); 4] = [
        (
            "sign and wrap the sample query_price request",
            sign_and_verify,
        ),
        ("decode and validate it as a typed message", decode_sample),
        (
            "reject the same envelope with one byte of data changed",
            reject_tampered,
        ),
        (
            "report every violation of an invalid request",
            report_violations,
        ),
    ];
    let mut failures = 0;
    for (number, (title, step)) in steps.iter().enumerate() {
        println!("step {}: {title}", number + 1);
        match step() {
            Ok(detail) => println!("{detail}\n  -> ok\n"),
            Err(detail) => {
                failures += 1;
                println!("{detail}\n  -> FAILED\n");
            }
        }
    }
    if failures == 0 {
        println!("all {} steps behaved as the protocol says", steps.len());
        Outcome::Success
    } else {
        println!("{failures} of {} steps failed", steps.len());
        Outcome::Failed
    }
}

fn envelope() -> Result<Vec<u8>, String> {
    sdk_http::build("query_price", None, SAMPLE.trim_end(), &Key::new(KEY))
        .map_err(|e| e.to_string())
}

fn sign_and_verify() -> Result<String, String> {
    let body = envelope()?;
    let parsed = parse_any(&body).map_err(|e| e.to_string())?;
    parsed.verify(&Key::new(KEY)).map_err(|e| e.to_string())?;
    Ok(format!(
        "  envelope: {}\n  sign checked against the data bytes with key {KEY:?}",
        String::from_utf8_lossy(&body)
    ))
}

fn decode_sample() -> Result<String, String> {
    let message =
        sdk::query_price::Request::decode(SAMPLE.as_bytes()).map_err(|e| e.to_string())?;
    Ok(format!(
        "  pay_scene {:?}, car_number {:?}\n  re-encoded: {}",
        message.pay_scene,
        message.car_number,
        String::from_utf8_lossy(&message.encode())
    ))
}

fn reject_tampered() -> Result<String, String> {
    let body = String::from_utf8(envelope()?).map_err(|e| e.to_string())?;
    let tampered = body.replacen("62000F9", "62000F8", 1);
    let parsed = parse_any(tampered.as_bytes()).map_err(|e| e.to_string())?;
    match parsed.verify(&Key::new(KEY)) {
        Err(e) => Ok(format!("  car_number changed to 62000F8: {e}")),
        Ok(()) => Err("  the tampered envelope verified".into()),
    }
}

fn report_violations() -> Result<String, String> {
    match sdk::query_price::Request::decode(INVALID.as_bytes()) {
        Err(DecodeError::Invalid { report }) => {
            let lines: Vec<String> = report
                .to_string()
                .lines()
                .map(|l| format!("  {l}"))
                .collect();
            if report.has_path("car_number") && report.has_path("order_id") {
                Ok(lines.join("\n"))
            } else {
                Err(format!(
                    "  expected car_number and order_id violations, got:\n{}",
                    lines.join("\n")
                ))
            }
        }
        other => Err(format!("  expected violations, got {other:?}")),
    }
}
