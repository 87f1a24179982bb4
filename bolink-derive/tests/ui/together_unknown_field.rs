use bolink_types::{Message, UnixSeconds};

#[derive(Message)]
#[bolink(together(in_time, car_numbr))]
pub struct Price {
    pub in_time: Option<UnixSeconds>,
    pub car_number: Option<String>,
}

fn main() {}
