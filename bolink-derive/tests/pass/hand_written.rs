//! A hand-written message and enum built with the derives behave like the
//! generated ones.
use bolink_types::{CodeEnum, DecodeError, Message, Money, Object, UnixSeconds, UnknownCode};

#[derive(Debug, Clone, PartialEq, Eq, CodeEnum)]
#[bolink(codes = "integer")]
pub enum Gate {
    #[bolink(code = 0, label = "入口")]
    Entry,
    #[bolink(code = 1, label = "出口")]
    Exit,
    Unknown(UnknownCode),
}

#[derive(Debug, Clone, PartialEq, Message)]
#[bolink(service = "gate_fee", role = "request", together(in_time, car_number))]
pub struct GateFee {
    pub gate: Gate,
    #[bolink(wire = "text", max_len = 15)]
    pub fee: Money,
    #[bolink(max_len = 16, required_if(gate = [1]))]
    pub exit_channel: Option<String>,
    pub in_time: Option<UnixSeconds>,
    #[bolink(max_len = 8)]
    pub car_number: Option<String>,
}

fn main() {
    let err = GateFee::decode(br#"{"service_name":"gate_fee","gate":"1","fee":4.5,"in_time":1}"#).unwrap_err();
    match err {
        DecodeError::Invalid { report, .. } => assert_eq!(
            report.to_string(),
            "exit_channel: required when gate is 1\ncar_number: required together with in_time"
        ),
        other => panic!("{other}"),
    }
    let fee = GateFee {
        gate: Gate::Exit,
        fee: "4.50".parse().unwrap(),
        exit_channel: Some("A1".into()),
        in_time: None,
        car_number: None,
    };
    assert!(fee.validate().is_ok());
    assert_eq!(
        String::from_utf8(fee.encode()).unwrap(),
        r#"{"service_name":"gate_fee","gate":1,"fee":"4.50","exit_channel":"A1"}"#
    );
    assert_eq!(GateFee::SERVICE_NAME, "gate_fee");
}
