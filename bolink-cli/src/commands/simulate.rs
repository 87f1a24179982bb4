//! `bolink simulate`: the platform simulator as a standalone server (SDK-HTTP
//! mode, the new API, the `/_simulator/*` control routes, and optionally the
//! SDK's TCP link), printing one line per exchange.

use std::net::SocketAddr;

use bolink_http::sdk_http::{DOWNLOAD_PATH, UPLOAD_PATH};
use bolink_http::simulator::{Simulator, SimulatorConfig, CALLBACK_PATH, PUSH_PATH, STATE_PATH};
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

/// Serves the simulator on `listen` (and the TCP link on `tcp_listen`)
/// until Ctrl-C, printing one line per exchange.
pub fn run(listen: SocketAddr, tcp_listen: Option<SocketAddr>, parks: Vec<ParkArg>) -> Outcome {
    super::on_runtime(async {
        // One line per exchange; the Display of an exchange never shows a
        // key or a sign.
        let mut simulator =
            Simulator::new(SimulatorConfig::default()).observe(|exchange| println!("{exchange}"));
        for park in &parks {
            simulator = simulator.park(&park.union_id, &park.park_id, Key::new(park.key.clone()));
        }
        if let Some(tcp) = tcp_listen {
            simulator = simulator.tcp(tcp);
        }
        let handle = match simulator.start(listen).await {
            Ok(handle) => handle,
            Err(e) => {
                let on = match tcp_listen {
                    Some(tcp) => format!("{listen} and {tcp}"),
                    None => listen.to_string(),
                };
                return Outcome::malformed(format!("cannot listen on {on}: {e}"));
            }
        };
        let base = handle.base_url();
        tracing::info!(
            base_url = base.as_str(),
            tcp = handle.tcp_addr().map(|a| a.to_string()),
            parks = parks.len(),
            "platform simulator serving"
        );
        println!("Bolink platform simulator on {base}");
        if let Some(tcp) = handle.tcp_addr() {
            println!("  TCP link on {tcp}");
        }
        for park in &parks {
            println!("  park {} of vendor {}", park.park_id, park.union_id);
        }
        println!("  upload: POST {base}{UPLOAD_PATH}, long poll: POST {base}{DOWNLOAD_PATH}");
        println!(
            "  control: POST {base}{PUSH_PATH}, POST {base}{CALLBACK_PATH}, GET {base}{STATE_PATH}"
        );
        // Ctrl-C failing to install leaves nothing to wait for; stop at once.
        let _ = tokio::signal::ctrl_c().await;
        handle.shutdown().await;
        Outcome::Success
    })
}
