//! `bolink simulate`: the platform simulator as a standalone server.

use std::net::SocketAddr;

use bolink_http::simulator::{Simulator, SimulatorConfig};
use bolink_sign::Key;

use super::Outcome;

/// A lot the simulator accepts: `UNION_ID:PARK_ID:KEY`.
#[derive(Debug, Clone)]
pub struct ParkArg {
    pub(crate) union_id: String,
    pub(crate) park_id: String,
    pub(crate) key: String,
}

impl std::str::FromStr for ParkArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ParkArg, String> {
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(union_id), Some(park_id), Some(key))
                if !union_id.is_empty() && !park_id.is_empty() && !key.is_empty() =>
            {
                Ok(ParkArg {
                    union_id: union_id.into(),
                    park_id: park_id.into(),
                    key: key.into(),
                })
            }
            _ => Err(format!("expected UNION_ID:PARK_ID:KEY, got {s:?}")),
        }
    }
}

/// Serves the simulator on `listen` until Ctrl-C.
pub fn run(listen: SocketAddr, parks: Vec<ParkArg>) -> Outcome {
    super::on_runtime(async {
        let mut simulator = Simulator::new(SimulatorConfig::default());
        for park in &parks {
            simulator = simulator.park(&park.union_id, &park.park_id, Key::new(park.key.clone()));
        }
        let handle = match simulator.start(listen).await {
            Ok(handle) => handle,
            Err(e) => return Outcome::malformed(format!("cannot listen on {listen}: {e}")),
        };
        println!("Bolink platform simulator on {}", handle.base_url());
        for park in &parks {
            println!("  park {} of vendor {}", park.park_id, park.union_id);
        }
        println!(
            "  upload: POST {}/bpd/upload.do, long poll: POST {}/bpd/download.do",
            handle.base_url(),
            handle.base_url()
        );
        // Ctrl-C failing to install leaves nothing to wait for; stop at once.
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown().await;
        Outcome::Success
    })
}
