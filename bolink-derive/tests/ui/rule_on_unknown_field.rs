use bolink_types::Message;

#[derive(Message)]
pub struct Exit {
    pub pay_scene: i64,
    #[bolink(required_if(pay_scen = [1, 2]))]
    pub out_channel_id: Option<String>,
}

fn main() {}
