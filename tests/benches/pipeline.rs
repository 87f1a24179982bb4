//! The receive pipeline (envelope parse + sign check + typed decode with
//! validation) beside its floor (MD5 of the same bytes + a plain serde_derive
//! parse into structs of plain types), for the seed's query_price messages.
//!
//! Run: `cargo bench -p bolink-conformance --bench pipeline`.

use std::hint::black_box;

use bolink_sign::{sdk_http, Key};
use bolink_types::sdk;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use md5::{Digest, Md5};
use serde::Deserialize;

const KEY: &str = "8403A41ED5EF20BC";

/// The seed's query_price request (sdk 3.1).
const REQUEST: &str = include_str!("data/query_price_request.json");

/// The seed's query_price SDK return, as corrected in the spec (nested objects and arrays).
const RETURN: &str = include_str!("data/query_price_sdk_return.json");

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainEnvelope<T> {
    service_name: String,
    sign: String,
    token: String,
    data: T,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainRequest {
    service_name: String,
    car_number: Option<String>,
    order_id: Option<String>,
    park_id: String,
    pay_scene: i64,
    out_channel_id: Option<String>,
    query_order_no: Option<String>,
    licence: Option<String>,
    pay_app: Option<i64>,
    pay_user_id: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainReturn {
    service_name: String,
    data_target: String,
    state: i64,
    free_out_time: Option<i64>,
    query_time: Option<i64>,
    duration: i64,
    derate_money: Option<String>,
    derate_duration: Option<i64>,
    park_id: String,
    order_id: String,
    query_order_no: Option<String>,
    errmsg: Option<String>,
    price: String,
    total: Option<String>,
    position: Option<String>,
    in_time: Option<i64>,
    car_number: Option<String>,
    hide_inpark_info: Option<i64>,
    multiple_prepay: Option<i64>,
    discount_info: Option<PlainDiscount>,
    attach: Option<serde_json::Value>,
    park_info_detail: Option<Vec<PlainArea>>,
    #[serde(rename = "isEscape")]
    is_escape: Option<String>,
    is_report: Option<i64>,
    empty_plot: Option<i64>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainDiscount {
    member_id: String,
    use_type: Option<i64>,
    limit_hour: Option<i64>,
    limit_count: Option<i64>,
    member_points_info: Option<PlainPoints>,
    coupon_list: Option<Vec<PlainCoupon>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainPoints {
    member_points: i64,
    points_per_hour: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainCoupon {
    coupon_id: String,
    amount: f64,
    unit: i64,
    expires_time: Option<i64>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainArea {
    area_name: String,
    duration: String,
}

fn envelope(data: &str, key: &Key) -> Vec<u8> {
    sdk_http::build(
        "query_price",
        Some("b1ce1026cb794d8ca515159b4b5cecea"),
        data,
        key,
    )
    .expect("the seed example is a JSON object")
}

/// MD5 over data + "key=" + key, then a plain typed parse: what any integration does at least.
fn floor<T: for<'de> Deserialize<'de>>(body: &[u8], data: &[u8]) -> bool {
    let mut md5 = Md5::new();
    md5.update(data);
    md5.update(b"key=");
    md5.update(KEY.as_bytes());
    let digest = md5.finalize();
    let parsed: PlainEnvelope<T> = serde_json::from_slice(body).expect("plain parse");
    black_box(&parsed);
    digest[0] != 0 || parsed.sign.len() == 32
}

fn bench(c: &mut Criterion) {
    let key = Key::new(KEY);
    for (name, data) in [("request", REQUEST), ("sdk_return", RETURN)] {
        let body = envelope(data, &key);
        let mut group = c.benchmark_group(format!("query_price_{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("pipeline: envelope + verify + decode + validate", |b| {
            b.iter(|| {
                let env = sdk_http::Envelope::parse(black_box(&body)).expect("envelope");
                env.verify(&key).expect("sign");
                let message = if name == "request" {
                    sdk::Message::decode_as(
                        bolink_types::Role::Request,
                        &env.service_name,
                        env.data_bytes(),
                    )
                } else {
                    sdk::Message::decode_as(
                        bolink_types::Role::SdkReturn,
                        &env.service_name,
                        env.data_bytes(),
                    )
                };
                black_box(message.expect("valid"))
            })
        });
        group.bench_function("floor: md5 + serde typed parse", |b| {
            b.iter(|| {
                if name == "request" {
                    floor::<PlainRequest>(black_box(&body), data.as_bytes())
                } else {
                    floor::<PlainReturn>(black_box(&body), data.as_bytes())
                }
            })
        });
        group.finish();
    }
}

/// Where the pipeline's time goes, for the request: each stage alone.
fn stages(c: &mut Criterion) {
    let key = Key::new(KEY);
    let body = envelope(REQUEST, &key);
    let env = sdk_http::Envelope::parse(&body).expect("envelope");
    let data = env.data_bytes();
    let mut group = c.benchmark_group("query_price_request_stages");
    group.bench_function("envelope parse", |b| {
        b.iter(|| sdk_http::Envelope::parse(black_box(&body)).expect("envelope"))
    });
    group.bench_function("sign check", |b| {
        b.iter(|| env.verify(black_box(&key)).expect("sign"))
    });
    group.bench_function("typed decode + validate", |b| {
        b.iter(|| {
            bolink_types::decode::<sdk::query_price::Request>(black_box(data)).expect("valid")
        })
    });
    group.bench_function("dispatch + decode + validate", |b| {
        b.iter(|| {
            sdk::Message::decode_as(bolink_types::Role::Request, "query_price", black_box(data))
                .expect("valid")
        })
    });
    group.bench_function("plain serde parse", |b| {
        b.iter(|| serde_json::from_slice::<PlainRequest>(black_box(data)).expect("plain"))
    });
    group.finish();
}

criterion_group!(benches, bench, stages);
criterion_main!(benches);
