//! The commands that talk to a platform (`simulate`, `lot`, `demo`) log
//! through `tracing` on stderr; their stdout stays what scripts parse.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The crates whose spans and events `-v` raises.
const CRATES: &[&str] = &["bolink_sdk", "bolink_http", "bolink_tcp", "bolink_cli"];

/// The filter for `verbose` `-v` flags: info for bolink's crates (warn
/// for everything else), debug with `-v`, trace with `-vv`.
pub fn directives(verbose: u8) -> String {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let mut directives = String::from("warn");
    for name in CRATES {
        directives.push_str(&format!(",{name}={level}"));
    }
    directives
}

/// Installs a `fmt` subscriber writing to stderr: `RUST_LOG` when it is
/// set (and valid), else [`directives`].
pub fn install(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG is not a filter ({e}); using the default");
            EnvFilter::new(directives(verbose))
        }),
        _ => EnvFilter::new(directives(verbose)),
    };
    // Another subscriber already set (cannot happen in the binary) is not
    // an error worth stopping for.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn each_v_raises_the_level() {
        assert_eq!(
            directives(0),
            "warn,bolink_sdk=info,bolink_http=info,bolink_tcp=info,bolink_cli=info"
        );
        assert!(directives(1).contains("bolink_sdk=debug"));
        assert!(directives(2).contains("bolink_tcp=trace"));
        assert!(directives(5).contains("bolink_http=trace"));
    }
}
