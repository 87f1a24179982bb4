use bolink_types::Message;

#[derive(Message)]
pub struct Entry {
    #[bolink(max_length = 8)]
    pub car_number: String,
}

fn main() {}
