//! Configuration sanity beyond what parsing checks: someone can log in, the data directory is
//! writable, every user's Maildir is where the template says, and the names phones are given make
//! sense outside this machine.

use super::Check;
use crate::config::Config;
use std::path::Path;

pub fn checks(config: &Config) -> Vec<Check> {
    let mut out = vec![users(config), data_dir(&config.server.data_dir)];
    for u in &config.users {
        out.push(maildir(config, u.email.get_ref()));
    }
    out.push(hostname(config));
    out.push(url(config));
    out
}

fn users(config: &Config) -> Check {
    match config.users.len() {
        0 => Check::fail(
            "users",
            "no [[user]] is configured: nobody can log in",
            "add a [[user]] table with email, name and password_hash (from `easd hash-password`)",
        ),
        n => Check::ok("users", format!("{n} configured")),
    }
}

/// Whether a file can be created in `dir` (permissions alone do not tell: read-only mounts, root).
fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".easd-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| e.to_string())
}

fn data_dir(dir: &Path) -> Check {
    let name = "data_dir";
    if dir.is_dir() {
        return match writable(dir) {
            Ok(()) => Check::ok(name, format!("{} is writable", dir.display())),
            Err(e) => Check::fail(
                name,
                format!("{} is not writable: {e}", dir.display()),
                "give the user easd runs as write access to it",
            ),
        };
    }
    if dir.exists() {
        return Check::fail(
            name,
            format!("{} is not a directory", dir.display()),
            "point server.data_dir at a directory",
        );
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match writable(parent) {
        Ok(()) => Check::ok(name, format!("{} will be created at start", dir.display())),
        Err(e) => Check::fail(
            name,
            format!(
                "{} does not exist and {} is not writable: {e}",
                dir.display(),
                parent.display()
            ),
            format!("create {} for the user easd runs as", dir.display()),
        ),
    }
}

fn maildir(config: &Config, email: &str) -> Check {
    let name = format!("maildir {email}");
    let root = match crate::app::App::mail_root(config, email) {
        Ok(r) => r,
        Err(e) => return Check::fail(name, e.to_string(), "check mail.maildir"),
    };
    let shown = root.display();
    if !root.exists() {
        return if config.demo.seed {
            Check::ok(name, format!("{shown} will be created with demo messages"))
        } else {
            Check::warn(
                name,
                format!("{shown} does not exist: the user will see an empty mailbox"),
                "deliver mail there (Postfix, Dovecot) or set mail.maildir to where the mail is, e.g. \"/var/vmail/{domain}/{local}/Maildir\"",
            )
        };
    }
    let missing: Vec<&str> = ["cur", "new", "tmp"]
        .into_iter()
        .filter(|d| !root.join(d).is_dir())
        .collect();
    if !missing.is_empty() {
        return Check::fail(
            name,
            format!("{shown} is not a Maildir (no {})", missing.join(", ")),
            "check mail.maildir: it must name the Maildir++ root that holds cur/, new/ and tmp/",
        );
    }
    match writable(&root.join("tmp")) {
        Ok(()) => Check::ok(name, format!("{shown} is a writable Maildir")),
        Err(e) => Check::fail(
            name,
            format!("{shown}/tmp is not writable: {e}"),
            "run easd as the mail user, or give it group write access to the Maildirs",
        ),
    }
}

fn hostname(config: &Config) -> Check {
    let host = config.server.hostname.get_ref();
    if host.eq_ignore_ascii_case("localhost") || !host.contains('.') {
        Check::warn(
            "server.hostname",
            format!("{host:?} only means something on this machine"),
            "set server.hostname to the public name phones use, e.g. mail.example.com",
        )
    } else {
        Check::ok("server.hostname", host.as_str())
    }
}

fn url(config: &Config) -> Check {
    let url = crate::autodiscover::mobilesync_url(config);
    if url.starts_with("https://") {
        Check::ok("ActiveSync URL", format!("autodiscover hands out {url}"))
    } else {
        Check::warn(
            "ActiveSync URL",
            format!("autodiscover hands out {url}: plain http"),
            "use tls_listen (or a TLS reverse proxy and autodiscover.mobilesync_url) so passwords are encrypted",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Verdict;
    use super::*;

    #[test]
    fn data_dir_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(data_dir(dir.path()).verdict, Verdict::Ok);
        assert_eq!(data_dir(&dir.path().join("new")).verdict, Verdict::Ok);
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(data_dir(&file).verdict, Verdict::Fail);
        assert_eq!(data_dir(&file.join("below")).verdict, Verdict::Fail);
    }
}
