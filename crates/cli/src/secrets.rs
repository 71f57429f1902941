//! The secrets a one-shot command or `souk node` needs: the keystore passphrase and the seed words, from a
//! file, the environment, standard input or a prompt, never from a flag.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
};

use crate::{Cli, Failure, user_error};

#[derive(PartialEq)]
pub(crate) enum Confirm {
    Once,
    Twice,
}

pub(crate) fn passphrase(cli: &Cli, confirm: Confirm) -> Result<String, Failure> {
    if let Some(file) = &cli.passphrase_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            user_error(format!(
                "cannot read passphrase file {}: {e}",
                file.display()
            ))
        })?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    if let Ok(p) = std::env::var("SOUK_PASSPHRASE") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(user_error(
            "no passphrase: set SOUK_PASSPHRASE, pass --passphrase-file FILE, or run in a terminal to be asked",
        ));
    }
    let first = rpassword::prompt_password("Keystore passphrase: ")
        .map_err(|e| user_error(e.to_string()))?;
    if confirm == Confirm::Twice {
        let again = rpassword::prompt_password("Repeat passphrase: ")
            .map_err(|e| user_error(e.to_string()))?;
        if again != first {
            return Err(user_error("the two passphrases differ"));
        }
    }
    Ok(first)
}

pub(crate) fn seed_words(file: Option<&PathBuf>) -> Result<String, Failure> {
    if let Some(file) = file {
        return std::fs::read_to_string(file).map_err(|e| {
            user_error(format!(
                "cannot read seed words file {}: {e}",
                file.display()
            ))
        });
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type your seed words, separated by spaces, then press Enter:");
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .map_err(|e| user_error(e.to_string()))?;
        return Ok(line);
    }
    let mut all = String::new();
    stdin
        .lock()
        .read_to_string(&mut all)
        .map_err(|e| user_error(format!("reading seed words: {e}")))?;
    Ok(all)
}
