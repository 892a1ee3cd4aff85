//! `easd deliver --config F <email> [--folder NAME]`: stores the message on stdin in a user's
//! Maildir (new/), the way Postfix's pipe transport or a test hands mail over. Exits non-zero
//! with a message when the user is unknown, the folder name is invalid or the write fails.

use super::{Args, CliError};
use crate::app::App;
use crate::store::{FolderName, deliver};
use std::io::Read;

pub fn run(args: &Args) -> Result<(), CliError> {
    let config = args.load_config()?;
    let [email] = args.positional.as_slice() else {
        return Err(CliError::Usage("deliver needs exactly one address".into()));
    };
    if config.user(email).is_none() {
        return Err(CliError::Failed(format!(
            "{email}: no such user in the configuration"
        )));
    }
    let folder = match args.value("folder") {
        None => FolderName::inbox(),
        Some(name) if name.eq_ignore_ascii_case("inbox") => FolderName::inbox(),
        Some(name) => FolderName::child(None, name)
            .map_err(|e| CliError::Failed(format!("--folder {name:?}: {e}")))?,
    };
    let mut message = Vec::new();
    std::io::stdin()
        .read_to_end(&mut message)
        .map_err(|e| CliError::Failed(format!("reading stdin: {e}")))?;
    if message.is_empty() {
        return Err(CliError::Failed("empty message on stdin".into()));
    }
    let root = App::mail_root(&config, email).map_err(|e| CliError::Failed(e.to_string()))?;
    let key = deliver(&root, &folder, &message).map_err(|e| CliError::Failed(e.to_string()))?;
    println!("{key}");
    Ok(())
}
