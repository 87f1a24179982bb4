use bolink_types::{Message, Money};

#[derive(Message)]
pub struct Fee {
    #[bolink(wire = "float")]
    pub total: Money,
}

fn main() {}
