//! Every interface is a `Message`, keyed by its service_name or, for a
//! new-API interface addressed by path, by its URL path.

use bolink_types::{newapi, sdk, Message, Object, Role};

#[test]
fn a_path_addressed_interface_is_a_message_keyed_by_its_path() {
    type Update = newapi::updateorder::Request;
    assert_eq!(Update::SERVICE_NAME, "/unionapi/neworder/updateorder");
    assert_eq!(Update::ROLE, Role::Request);
    // It still carries no service_name on the wire.
    assert_eq!(<Update as Object>::schema().service_name, None);
    let update: Update = bolink_types::decode(
        br#"{"park_id":"21798","union_id":200185,"car_number":"A","in_time":1484369702,"out_time":1484369702,"order_id":"109010","total":"0.01","pay_type":"wallet","empty_plot":20}"#,
    )
    .unwrap();
    assert!(!String::from_utf8(update.encode())
        .unwrap()
        .contains("service_name"));
    assert_eq!(sdk::query_price::Request::SERVICE_NAME, "query_price");
    // And the family's dispatch finds it by the same key.
    assert!(newapi::Request::decode_as(Update::SERVICE_NAME, &update.encode()).is_ok());
}
