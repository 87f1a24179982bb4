use bolink_types::Message;

#[derive(Message)]
pub struct Entry {
    #[bolink(max_len = 0)]
    pub car_number: String,
}

fn main() {}
