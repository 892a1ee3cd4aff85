//! `easd notify --config F <email> [folder]`: tell a running server that something outside it changed a
//! user's data (for Postfix, Dovecot and Radicale hooks). Sends one datagram; needs no answer.

use super::{Args, CliError};
use crate::push::datagram::{Notification, Scope};

pub fn run(args: &Args) -> Result<(), CliError> {
    let config = args.load_config()?;
    let (email, folder) = match args.positional.as_slice() {
        [email] => (email, None),
        [email, folder] => (email, Some(folder)),
        _ => {
            return Err(CliError::Usage(
                "usage: easd notify --config F <email> [folder]".into(),
            ));
        }
    };
    if !crate::config::valid_email(email) {
        return Err(CliError::Failed(format!(
            "{email:?} is not an email address"
        )));
    }
    let note = Notification {
        email: email.clone(),
        scope: match folder.map(String::as_str) {
            None | Some("*") => Scope::Everything,
            Some(f) => Scope::Folder(f.to_string()),
        },
    };
    crate::push::udp::send(
        config.push.udp_listen,
        &note,
        config.push.udp_secret.as_deref(),
    )
    .map_err(|e| CliError::Failed(format!("sending to {}: {e}", config.push.udp_listen)))
}
