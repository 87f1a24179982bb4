//! `bolink`: sign, verify and validate Bolink (泊链) messages from the shell.
//!
//! The command-line contract (arguments, output and exit codes) is stable,
//! because tools and tests script it; see `bolink --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

mod commands;
mod input;
mod keys;
mod logging;

use commands::Format;
use keys::KeyArgs;

/// Sign, verify and validate messages of the Bolink parking-payment platform.
#[derive(Debug, Parser)]
#[command(name = "bolink", version, about)]
struct Cli {
    /// Log more on stderr (simulate, lot, demo): -v debug, -vv trace
    /// (default: info for bolink's crates). RUST_LOG, when set, decides instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the sign of a data JSON text: upper-case hex MD5(data + "key=" + KEY).
    Sign {
        #[command(flatten)]
        keys: KeyArgs,
        /// File holding the data JSON text (stdin when absent); trailing whitespace is trimmed.
        file: Option<PathBuf>,
    },
    /// Check the sign of a whole envelope (SDK-HTTP JSON or new-API JSON/base64, detected).
    ///
    /// Exit 0 when the sign matches the first key (either hex case), 1 when it does not
    /// (also when --explain finds why), 2 when the input or the key is malformed.
    #[command(after_help = commands::verify::after_help())]
    Verify {
        #[command(flatten)]
        keys: KeyArgs,
        /// When the sign does not match, print why: one `cause: ID` line per
        /// mistake that reproduces it (ids below).
        #[arg(long)]
        explain: bool,
        /// Print text, or one JSON object (below).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// File holding the envelope (stdin when absent).
        file: Option<PathBuf>,
    },
    /// Decode and validate one message (the data object, with service_name).
    ///
    /// Exit 0 printing the message re-encoded in the spec's wire types, 1 printing
    /// every violation as `path: problem`, 2 on malformed JSON or an unknown service.
    #[command(after_help = commands::validate::AFTER_HELP)]
    Validate {
        /// Which table of the page: request, http-request, sdk-return, http-return, async-result, response.
        #[arg(long, default_value = "request")]
        role: bolink_types::Role,
        /// The wire family to look the service up in; both are tried when absent.
        #[arg(long, value_enum)]
        family: Option<commands::validate::FamilyArg>,
        /// Dispatch on this key (a new-API URL path, or a service_name) instead of the message's service_name.
        #[arg(long)]
        key_as: Option<String>,
        /// For an answer: the request it answers (a JSON file), so that the rules naming the request are checked too (query_order_no when the query had pay_scene 1 or 2).
        #[arg(long)]
        request: Option<PathBuf>,
        /// Print text, or one JSON object (below).
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// File holding the message (stdin when absent).
        file: Option<PathBuf>,
    },
    /// Print the JSON Schema of one message, for tools in other languages.
    Schema {
        /// The service_name or new-API URL path.
        key: String,
        /// Which table of the page.
        #[arg(long, default_value = "request")]
        role: bolink_types::Role,
    },
    /// Generate the Rust types of a spec of your own (the format of protocol-spec/: definitions/,
    /// sdk/, newapi/), on bolink-types' runtime and shared enums.
    ///
    /// Exit 0 (the module written to --out, or printed), 1 when the spec breaks the format
    /// (every problem on stderr, with file and line), 2 when it cannot be read or written.
    Codegen {
        /// The spec folder.
        #[arg(long)]
        spec: PathBuf,
        /// Where to write the module (printed when absent); written only when it changed.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script for bolink (e.g. `bolink completions bash > /etc/bash_completion.d/bolink`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// What the protocol spec holds.
    Spec {
        #[command(subcommand)]
        command: SpecCommand,
    },
    /// Run a day at a parking lot in miniature against the simulator, on loopback, printing every message.
    Demo {
        /// The link the lot uses: SDK-HTTP mode or the SDK's TCP link.
        #[arg(long, value_enum, default_value = "http")]
        transport: commands::lot::Link,
    },
    /// Run a reference charging system against a platform: log in, upload
    /// entries (and exits), answer downstream messages, print every exchange,
    /// end with one JSON line {"enqueued","delivered","refused","pending","logins"}.
    ///
    /// Exit 0 when nothing was refused and nothing is left pending (or
    /// `--run-for` ran out), 1 otherwise, 2 on bad arguments or an
    /// unreadable outbox.
    Lot(commands::lot::LotArgs),
    /// Serve the Bolink platform simulator until Ctrl-C: SDK-HTTP mode, the
    /// new API and the control routes /_simulator/{push,callback,state} on
    /// --listen, the SDK's TCP link on --tcp-listen. Prints one line per
    /// exchange: direction, link, park/local_id, service_name, outcome.
    Simulate {
        /// Address to listen on (HTTP).
        #[arg(long, default_value = "127.0.0.1:8720")]
        listen: std::net::SocketAddr,
        /// Address to listen on for the SDK's TCP link (none when absent).
        #[arg(long)]
        tcp_listen: Option<std::net::SocketAddr>,
        /// A lot that may log in, as UNION_ID:PARK_ID:KEY (repeatable).
        #[arg(long = "park", default_value = "200208:21835:8403A41ED5EF20BC")]
        parks: Vec<commands::simulate::ParkArg>,
    },
}

#[derive(Debug, Subcommand)]
enum SpecCommand {
    /// One line per specified interface: document, section, service_name (or path), direction, title.
    List {
        /// Every table-of-contents entry instead: document, section, key, status, title, reason.
        #[arg(long)]
        all: bool,
    },
    /// The fields of every role of one interface.
    Show {
        /// The service_name or new-API URL path.
        key: String,
    },
}

impl Command {
    /// The key options of the commands that take a key.
    fn key_args_mut(&mut self) -> Option<&mut KeyArgs> {
        match self {
            Command::Sign { keys, .. } | Command::Verify { keys, .. } => Some(keys),
            Command::Lot(args) => Some(args.keys_mut()),
            _ => None,
        }
    }
}

/// Whether the subcommand's `--key` value came from `BOLINK_KEY` (clap
/// fills the field either way; the precedence of `--key-file` over the
/// variable needs to know).
fn key_from_env(matches: &ArgMatches) -> bool {
    matches.subcommand().is_some_and(|(_, sub)| {
        sub.ids().any(|id| id.as_str() == "keys")
            && sub.value_source("keys") == Some(ValueSource::EnvVariable)
    })
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(keys) = cli.command.key_args_mut() {
        keys.set_from_env(key_from_env(&matches));
    }
    if matches!(
        cli.command,
        Command::Demo { .. } | Command::Simulate { .. } | Command::Lot(_)
    ) {
        logging::install(cli.verbose);
    }
    let outcome = match cli.command {
        Command::Sign { keys, file } => commands::sign::run(&keys, file.as_deref()),
        Command::Verify {
            keys,
            explain,
            format,
            file,
        } => commands::verify::run(&keys, explain, format, file.as_deref()),
        Command::Validate {
            role,
            family,
            key_as,
            request,
            format,
            file,
        } => commands::validate::run(
            role,
            family,
            key_as.as_deref(),
            request.as_deref(),
            format,
            file.as_deref(),
        ),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "bolink", &mut std::io::stdout());
            commands::Outcome::Success
        }
        Command::Spec { command } => match command {
            SpecCommand::List { all } => commands::spec::list(all),
            SpecCommand::Show { key } => commands::spec::show(&key),
        },
        Command::Schema { key, role } => commands::spec::schema(&key, role),
        Command::Codegen { spec, out } => commands::codegen::run(&spec, out.as_deref()),
        Command::Demo { transport } => commands::demo::run(transport),
        Command::Simulate {
            listen,
            tcp_listen,
            parks,
        } => commands::simulate::run(listen, tcp_listen, parks),
        Command::Lot(args) => commands::lot::run(args),
    };
    outcome.into()
}
