//! Decodes the pipeline benchmark's query_price return N times, for
//! instruction counts that do not depend on what else the machine does:
//!
//! ```sh
//! cargo build --release -p bolink-conformance --example decode_count
//! valgrind --tool=callgrind target/release/examples/decode_count 100
//! valgrind --tool=callgrind target/release/examples/decode_count 1100
//! ```
//!
//! The difference of the two totals over 1000 is the cost of one decode.

use bolink_types::sdk::query_price::SdkReturn;

const RETURN: &str = include_str!("../benches/data/query_price_sdk_return.json");

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let decoded = (0..n)
        .filter(|_| {
            bolink_types::decode::<SdkReturn>(std::hint::black_box(RETURN.as_bytes())).is_ok()
        })
        .count();
    println!("{decoded} of {n} decoded");
}
