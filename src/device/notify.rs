//! The notices device management mails: quarantine to the owner, wipe confirmation and refused
//! policy to the owner and the administrator. Each is an RFC 5322 message delivered straight
//! into the recipient's INBOX (when the recipient is a local user) and logged.

use super::registry::{Device, WipeKind};
use super::{DeviceError, Environment, time};
use crate::store::FolderName;

/// Something the owner (and maybe the administrator) must hear about.
pub enum Notice<'a> {
    Quarantined(&'a Device),
    Wiped(&'a Device, WipeKind),
    PolicyRefused(&'a Device),
}

impl Notice<'_> {
    fn device(&self) -> &Device {
        match self {
            Notice::Quarantined(d) | Notice::Wiped(d, _) | Notice::PolicyRefused(d) => d,
        }
    }

    fn to_admin(&self) -> bool {
        !matches!(self, Notice::Quarantined(_))
    }

    fn subject(&self) -> String {
        let d = self.device();
        match self {
            Notice::Quarantined(_) => format!("Your mobile device {} is in quarantine", d.label()),
            Notice::Wiped(_, kind) => format!("Mobile device {} confirmed the {kind}", d.label()),
            Notice::PolicyRefused(_) => {
                format!("Mobile device {} refused the security policy", d.label())
            }
        }
    }

    fn body(&self) -> String {
        let d = self.device();
        let model = d.info.model.as_deref().unwrap_or("unknown model");
        let what = format!(
            "Device: {} ({model})\r\nDeviceId: {}\r\nAccount: {}\r\nUser-Agent: {}\r\n",
            d.device_type,
            d.id,
            d.user,
            d.user_agent.replace(['\r', '\n'], " ")
        );
        match self {
            Notice::Quarantined(_) => format!(
                "Your mobile device ({}) connected to the mail server and was put in quarantine \
                 by the administrator's device rules.\r\n\r\nUntil an administrator allows it, \
                 the device syncs only its default folders, and only what it sends is accepted: \
                 nothing new reaches it. Ask your administrator to allow the device.\r\n\r\n{what}",
                d.label()
            ),
            Notice::Wiped(_, kind) => format!(
                "The mobile device ({}) acknowledged the {kind} requested by the administrator \
                 and was removed from the account's devices.\r\n\r\n{what}",
                d.label()
            ),
            Notice::PolicyRefused(_) => format!(
                "Error: the mobile device ({}) didn't confirm the security profile required by \
                 the server administrator, so it cannot connect to the server.\r\n\r\nAccept the \
                 security provisioning on the device when it asks, or ask your helpdesk for a \
                 security exemption.\r\n\r\n{what}",
                d.label()
            ),
        }
    }
}

/// Builds one message.
pub fn message(env: &Environment, to: &str, subject: &str, body: &str, now: u64) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut id = [0u8; 12];
    // A failed random fill leaves zeros; the time in the id still tells notices apart.
    let _ = ring::rand::SystemRandom::new().fill(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let id = format!("{now}.{id}");
    // Header values come from device data: keep them on one line.
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    format!(
        "From: \"easd\" <postmaster@{host}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{id}.device@{host}>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}",
        host = env.hostname,
        to = clean(to),
        subject = clean(subject),
        date = time::rfc5322(now),
    )
    .into_bytes()
}

/// Drops a message into a local user's INBOX.
pub fn deliver(env: &Environment, to: &str, message: &[u8]) -> Result<(), DeviceError> {
    let root = env.maildir_of(to)?;
    let inbox = FolderName::parse("INBOX")?;
    crate::store::maildir::deliver(&root, &inbox, message)?;
    Ok(())
}

/// Sends a notice to the owner, and to the administrator when it concerns them. Delivery
/// failures are logged: the notice is secondary to answering the device.
pub fn send(env: &Environment, notice: &Notice) {
    let d = notice.device();
    let mut recipients = vec![d.user.clone()];
    if notice.to_admin()
        && let Some(admin) = &env.admin_email
        && !admin.eq_ignore_ascii_case(&d.user)
    {
        recipients.push(admin.clone());
    }
    let subject = notice.subject();
    let body = notice.body();
    for to in recipients {
        log::info!("device notice to {to}: {subject}");
        let Some((local, _)) = env.local_user(&to) else {
            log::info!("{to} is not a local user: notice only logged");
            continue;
        };
        let msg = message(env, local, &subject, &body, time::now());
        if let Err(e) = deliver(env, local, &msg) {
            log::warn!("device notice to {to}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceId, DeviceKey};

    fn env(dir: &std::path::Path) -> Environment {
        Environment {
            hostname: "mail.example.com".into(),
            data_dir: dir.to_path_buf(),
            maildir_template: "{data_dir}/mail/{email}".into(),
            admin_email: Some("admin@example.com".into()),
            users: vec![
                ("alice@example.com".into(), "Alice".into()),
                ("admin@example.com".into(), "Admin".into()),
            ],
            max_per_user: None,
        }
    }

    fn inbox(dir: &std::path::Path, user: &str) -> Vec<String> {
        let new = dir.join("mail").join(user).join("new");
        std::fs::read_dir(new)
            .map(|r| {
                r.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn notices_reach_owner_and_admin() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        let key = DeviceKey::new("alice@example.com", DeviceId::parse("Appl1").unwrap());
        let d = Device::new(&key, "iPhone", "Apple-iPhone/1\r\nBcc: x", 0);
        send(&env, &Notice::PolicyRefused(&d));
        let mails = inbox(dir.path(), "alice@example.com");
        assert_eq!(mails.len(), 1);
        assert!(mails[0].contains("didn't confirm the security profile"));
        assert!(mails[0].contains("iPhone : Appl1"));
        assert!(!mails[0].contains("\nBcc:"));
        assert_eq!(inbox(dir.path(), "admin@example.com").len(), 1);
        send(&env, &Notice::Quarantined(&d));
        assert_eq!(inbox(dir.path(), "alice@example.com").len(), 2);
        assert_eq!(inbox(dir.path(), "admin@example.com").len(), 1);
        let parsed = mail_parser::MessageParser::default()
            .parse(mails[0].as_bytes())
            .unwrap();
        assert!(parsed.subject().unwrap().contains("refused"));
    }
}
