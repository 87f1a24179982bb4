//! Where a command's key comes from: `--key`, `--key-file` or the
//! `BOLINK_KEY` environment variable, so that a key need not appear in `ps`
//! or in the shell's history.

use bolink_sign::explain::LabelledKey;
use bolink_sign::Key;

use crate::commands::Outcome;

/// The environment variable read when neither `--key` nor `--key-file` is given.
pub const ENV: &str = "BOLINK_KEY";

/// The key options every command that signs or verifies takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// The key, as KEY or LABEL=KEY (write =KEY for a key that holds `=`
    /// after something that looks like a label). verify takes several: the
    /// first is the key the message should be signed with, the others are
    /// only tried by --explain, which names the one that matched. Precedence:
    /// --key, then --key-file, then BOLINK_KEY (read as one unlabelled key).
    #[arg(
        long = "key",
        value_name = "[LABEL=]KEY",
        env = ENV,
        hide_env_values = true
    )]
    keys: Vec<String>,
    /// Read the key from a file (trailing newline trimmed), as PATH or
    /// LABEL=PATH; repeatable like --key.
    #[arg(long = "key-file", value_name = "[LABEL=]PATH")]
    key_files: Vec<String>,
    /// Whether `keys` came from the environment rather than the command line
    /// (clap gives the value either way; `main` sets this from the matches).
    #[arg(skip)]
    from_env: bool,
}

const NO_KEY: &str = "no key: give --key KEY, --key-file PATH or set BOLINK_KEY";

impl KeyArgs {
    /// Records that clap took `--key`'s value from [`ENV`].
    pub fn set_from_env(&mut self, from_env: bool) {
        self.from_env = from_env;
    }

    /// Whether a key was given on the command line (`--key` or `--key-file`).
    pub fn on_command_line(&self) -> bool {
        (!self.keys.is_empty() && !self.from_env) || !self.key_files.is_empty()
    }

    /// Every key given, in order, each with its label (its 1-based position
    /// when it has none). Never empty.
    pub fn resolve(&self) -> Result<Vec<LabelledKey>, Outcome> {
        let mut keys: Vec<LabelledKey> = Vec::new();
        if !self.keys.is_empty() && !self.from_env {
            for (i, arg) in self.keys.iter().enumerate() {
                let (label, secret) = split_label(arg);
                push(&mut keys, label, i, secret.to_owned(), "--key")?;
            }
        } else if !self.key_files.is_empty() {
            for (i, arg) in self.key_files.iter().enumerate() {
                let (label, path) = split_label(arg);
                let secret = read_key_file(path)?;
                push(&mut keys, label, i, secret, path)?;
            }
        } else if let Some(secret) = self.keys.first().filter(|_| self.from_env) {
            // The variable holds one key as is: no label is split off it.
            push(&mut keys, None, 0, secret.clone(), ENV)?;
        } else {
            return Err(Outcome::malformed(NO_KEY));
        }
        Ok(keys)
    }

    /// The one key of a command that signs with a single key.
    pub fn single(&self) -> Result<Key, Outcome> {
        let mut keys = self.resolve()?;
        match keys.len() {
            1 => Ok(keys.remove(0).key),
            n => Err(Outcome::malformed(format!(
                "this command takes one key, got {n}"
            ))),
        }
    }
}

fn push(
    keys: &mut Vec<LabelledKey>,
    label: Option<&str>,
    index: usize,
    secret: String,
    source: &str,
) -> Result<(), Outcome> {
    if secret.is_empty() {
        return Err(Outcome::malformed(format!("empty key from {source}")));
    }
    let label = label.map_or_else(|| (index + 1).to_string(), str::to_owned);
    if keys.iter().any(|k| k.label == label) {
        return Err(Outcome::malformed(format!(
            "two keys are labelled {label:?}"
        )));
    }
    keys.push(LabelledKey::new(label, Key::new(secret)));
    Ok(())
}

/// `LABEL=REST` when the text before the first `=` is a label (a letter,
/// then letters, digits, `_`, `-` or `.`, at most 32) and REST is not
/// empty; `=REST` is REST unlabelled; anything else is unlabelled whole.
fn split_label(arg: &str) -> (Option<&str>, &str) {
    if let Some(rest) = arg.strip_prefix('=') {
        return (None, rest);
    }
    match arg.split_once('=') {
        Some((label, rest)) if is_label(label) && !rest.is_empty() => (Some(label), rest),
        _ => (None, arg),
    }
}

fn is_label(text: &str) -> bool {
    text.len() <= 32
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The key held in `path`, without its trailing newline(s).
fn read_key_file(path: &str) -> Result<String, Outcome> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Outcome::malformed(format!("cannot read key file {path}: {e}")))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_split_only_when_they_look_like_labels() {
        assert_eq!(split_label("ukey=SECRET"), (Some("ukey"), "SECRET"));
        assert_eq!(split_label("SECRET"), (None, "SECRET"));
        assert_eq!(split_label("c2VjcmV0="), (None, "c2VjcmV0="));
        assert_eq!(split_label("ab=cd="), (Some("ab"), "cd="));
        assert_eq!(split_label("=ab=cd"), (None, "ab=cd"));
        assert_eq!(split_label("a b=cd"), (None, "a b=cd"));
        assert_eq!(split_label("./k=file"), (None, "./k=file"));
    }

    #[test]
    fn precedence_is_key_then_file_then_environment() {
        let dir = std::env::temp_dir().join(format!("bolink-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, "FROMFILE\r\n").unwrap();
        let file = file.display().to_string();
        let labels_and_keys = |args: &KeyArgs| -> Vec<(String, String)> {
            args.resolve()
                .unwrap()
                .into_iter()
                .map(|k| (k.label, k.key.as_str().to_owned()))
                .collect()
        };
        let pair = |l: &str, k: &str| (l.to_owned(), k.to_owned());
        let mut args = KeyArgs {
            keys: vec!["FROMKEY".into(), "ckey=OTHER".into()],
            key_files: vec![file.clone()],
            from_env: false,
        };
        assert_eq!(
            labels_and_keys(&args),
            [pair("1", "FROMKEY"), pair("ckey", "OTHER")]
        );
        // The keys came from BOLINK_KEY: the file wins.
        args.keys = vec!["ukey=FROMENV".into()];
        args.from_env = true;
        assert_eq!(labels_and_keys(&args), [pair("1", "FROMFILE")]);
        // Nothing else: the variable, unsplit.
        args.key_files.clear();
        assert_eq!(labels_and_keys(&args), [pair("1", "ukey=FROMENV")]);
        args.keys.clear();
        assert!(args.resolve().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
