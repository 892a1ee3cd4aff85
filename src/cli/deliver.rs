//! `easd deliver --config F <email> [--folder NAME] < message.eml`: stores the message on stdin in a
//! user's Maildir (new/), the way Postfix's pipe transport or a test hands mail over, then wakes
//! the user's devices (a push datagram) and has the recipient's Out-of-Office auto-reply sent
//! (by the running server, or here when none runs). Exits non-zero with a message when the user
//! is unknown, the folder name is invalid or the write fails; what follows a stored message
//! never fails the delivery.

use super::{Args, CliError};
use crate::app::App;
use crate::delivery;
use crate::device::control;
use crate::push::datagram::{Notification, Scope};
use crate::store::{FolderName, MessageKey, deliver};
use std::io::Read;

pub fn run(args: &Args) -> Result<(), CliError> {
    let config = args.load_config()?;
    let [email] = args.positional.as_slice() else {
        return Err(CliError::Usage("deliver needs exactly one address".into()));
    };
    let Some(user) = config.user(email) else {
        return Err(CliError::Failed(format!(
            "{email}: no such user in the configuration"
        )));
    };
    let email = user.email.get_ref().clone();
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
    let root = App::mail_root(&config, &email).map_err(|e| CliError::Failed(e.to_string()))?;
    let key = deliver(&root, &folder, &message).map_err(|e| CliError::Failed(e.to_string()))?;
    // Wake the user's held Pings; a server that isn't running just misses the datagram, and its
    // fallback scan still finds the message.
    let note = Notification {
        email: email.clone(),
        scope: Scope::Folder(if folder.is_inbox() {
            "INBOX".to_string()
        } else {
            folder.as_str().to_string()
        }),
    };
    if let Err(e) = crate::push::udp::send(
        config.push.udp_listen,
        &note,
        config.push.udp_secret.as_deref(),
    ) {
        log::debug!("deliver: no push notification: {e}");
    }
    println!("{key}");
    auto_reply(config, &email, &folder, &key);
    Ok(())
}

/// The recipient's Out-of-Office reply, by the server that owns the state database, or here.
fn auto_reply(config: crate::config::Config, email: &str, folder: &FolderName, key: &MessageKey) {
    let socket = control::socket_path(&config.server.data_dir);
    let args = delivery::control_args(email, folder, key);
    let outcome = match control::request(&socket, &args) {
        Ok(Some(answer)) => answer,
        Ok(None) => App::open(config)
            .map_err(|e| e.to_string())
            .and_then(|app| {
                delivery::control(&app, args.get(1..).unwrap_or_default())
                    .map_err(|e| e.to_string())
            }),
        Err(e) => Err(format!("control socket {}: {e}", socket.display())),
    };
    match outcome {
        Ok(done) => eprint!("{done}"),
        Err(e) => eprintln!("easd deliver: stored, but no auto-reply: {e}"),
    }
}
