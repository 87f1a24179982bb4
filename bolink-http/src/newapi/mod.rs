//! The new platform API over HTTP: upstream client, callback server, and the
//! platform's side for the simulator.
