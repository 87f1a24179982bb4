use bolink_types::{Message, Money};

#[derive(Message)]
pub struct Fee {
    pub total: Money,
}

fn main() {}
