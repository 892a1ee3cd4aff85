//! The example configuration's welcome mail: a user whose Maildir does not exist yet gets a few messages,
//! so a phone that connects to a fresh demo server sees something (`demo.seed = true`).

use crate::config::Config;
use crate::store::{FolderName, MailStore, StoreError};

const WELCOME: &str = "From: easd <postmaster@{domain}>\r
To: {name} <{email}>\r
Subject: Welcome to easd\r
Date: Mon, 23 Nov 2026 09:00:00 +0000\r
Message-ID: <welcome-1@easd.invalid>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
Hello {name},\r
\r
your phone is talking Exchange ActiveSync to easd. Mail lives in the Maildir under\r
the server's data directory, so Dovecot and other IMAP clients see the same messages.\r
\r
Try: mark this message unread, flag it, move it to another folder, delete it.\r
";

const HTML: &str = "From: easd <postmaster@{domain}>\r
To: {name} <{email}>\r
Subject: A formatted message with an attachment\r
Date: Tue, 24 Nov 2026 10:30:00 +0000\r
Message-ID: <welcome-2@easd.invalid>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"b1\"\r
\r
--b1\r
Content-Type: multipart/alternative; boundary=\"b2\"\r
\r
--b2\r
Content-Type: text/plain; charset=utf-8\r
\r
This message has an HTML version and a small text attachment.\r
--b2\r
Content-Type: text/html; charset=utf-8\r
\r
<p>This message has an <b>HTML</b> version and a small text attachment.</p>\r
--b2--\r
--b1\r
Content-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r
Content-Disposition: attachment; filename=\"notes.txt\"\r
\r
Attachments are fetched on demand with ItemOperations.\r
--b1--\r
";

const PUSH: &str = "From: easd <postmaster@{domain}>\r
To: {name} <{email}>\r
Subject: Direct Push\r
Date: Wed, 25 Nov 2026 08:15:00 +0000\r
Message-ID: <welcome-3@easd.invalid>\r
MIME-Version: 1.0\r
Content-Type: text/plain; charset=utf-8\r
\r
New mail reaches the phone within a second: deliver a message with\r
`easd deliver --config examples/easd.toml {email} < message.eml` and watch it arrive.\r
";

/// Seeds every configured user that has no Maildir yet. Returns how many users were seeded.
pub fn seed(config: &Config) -> Result<usize, StoreError> {
    let mut seeded = 0;
    for user in &config.users {
        let email = user.email.get_ref();
        let store = crate::store::Maildir::new(crate::app::App::mail_root(config, email)?);
        if store.root().exists() {
            continue;
        }
        store.ensure_default_folders()?;
        let domain = email.split_once('@').map_or("", |(_, d)| d);
        let name = if user.name.is_empty() {
            email
        } else {
            &user.name
        };
        for template in [WELCOME, HTML, PUSH] {
            let text = template
                .replace("{domain}", domain)
                .replace("{email}", email)
                .replace("{name}", name);
            crate::store::deliver(store.root(), &FolderName::inbox(), text.as_bytes())?;
        }
        seeded += 1;
        log::info!("demo: seeded {email}'s new Maildir with welcome messages");
    }
    Ok(seeded)
}
