//! `easd doctor`: the guide's troubleshooting chapter as a list of checks, each with a verdict and,
//! when something is wrong, the fix. It reads the configuration and then looks at the world as a
//! phone would: DNS, the certificate, the listeners, and what the ActiveSync and autodiscover URLs
//! answer without credentials.

pub mod cert;
pub mod dns;
pub mod net;
pub mod setup;

use crate::config::Config;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "[ ok ]",
            Verdict::Warn => "[warn]",
            Verdict::Fail => "[FAIL]",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about it; present whenever the verdict is not Ok.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Verdict::Fail) > 0
    }

    pub fn find(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{} {}: {}", c.verdict.label(), c.name, c.detail)?;
            if let Some(fix) = &c.fix {
                writeln!(f, "       fix: {fix}")?;
            }
        }
        writeln!(
            f,
            "{} ok, {} warnings, {} failures",
            self.count(Verdict::Ok),
            self.count(Verdict::Warn),
            self.count(Verdict::Fail)
        )
    }
}

/// Runs every check against a loaded configuration.
pub fn run(config: &Config) -> Report {
    let mut checks = setup::checks(config);
    let dns = dns::DnsFacts::lookup(config);
    checks.extend(dns.checks());
    checks.extend(cert::checks(config, &dns));
    checks.extend(net::checks(config));
    Report { checks }
}

/// The distinct mail domains of the configured users, lower-cased, in configuration order.
pub fn user_domains(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for u in &config.users {
        if let Some((_, d)) = u.email.get_ref().split_once('@') {
            let d = d.to_ascii_lowercase();
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_fixes_and_counts() {
        let r = Report {
            checks: vec![
                Check::ok("users", "2 configured"),
                Check::warn("hostname", "localhost", "set server.hostname"),
                Check::fail("dns example.com", "no record", "add an A record"),
            ],
        };
        assert!(r.failed());
        let text = r.to_string();
        assert!(text.contains("[ ok ] users: 2 configured\n"), "{text}");
        assert!(
            text.contains("[FAIL] dns example.com: no record\n       fix: add an A record\n"),
            "{text}"
        );
        assert!(text.ends_with("1 ok, 1 warnings, 1 failures\n"), "{text}");
    }
}
