use bolink_types::CodeEnum;

#[derive(Debug, Clone, PartialEq, CodeEnum)]
#[bolink(codes = "integer")]
pub enum Gate {
    #[bolink(code = 0, label = "入口")]
    Entry,
}

fn main() {}
