//! Bounce messages: the delivery status notification of RFC 3464 that tells a sender which
//! recipients never got the message and why — a multipart/report with a readable part, the
//! machine-readable message/delivery-status and the header of the original message.

use super::date;
use super::smtp::{Diagnostic, Failure};
use std::time::SystemTime;

/// A recipient the queue gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    pub address: String,
    pub failure: Failure,
    /// Given up because the message grew too old rather than because of a permanent refusal.
    pub expired: bool,
}

/// Everything a bounce says.
pub struct BounceReport<'a> {
    /// Our host name: the reporting MTA and the bounce's Message-ID domain.
    pub hostname: &'a str,
    /// The host the SMTP diagnostics came from.
    pub smarthost: &'a str,
    pub sender: &'a str,
    /// The message as it was queued; only its header is quoted.
    pub original: &'a [u8],
    pub arrival: SystemTime,
    pub now: SystemTime,
    /// Unique per bounce; makes the MIME boundary and the Message-ID.
    pub token: &'a str,
    pub failed: &'a [FailedRecipient],
    /// For the readable part: how long the queue kept trying.
    pub max_age_hours: u64,
}

/// Builds the bounce, with CRLF line ends throughout.
pub fn build_bounce(r: &BounceReport<'_>) -> Vec<u8> {
    let boundary = format!("=_easd_dsn_{}", r.token);
    let mut out = String::new();
    line(
        &mut out,
        &format!("From: Mail Delivery System <MAILER-DAEMON@{}>", r.hostname),
    );
    line(&mut out, &format!("To: <{}>", r.sender));
    line(&mut out, "Subject: Undelivered Mail Returned to Sender");
    line(&mut out, &format!("Date: {}", date::rfc5322(r.now)));
    line(
        &mut out,
        &format!("Message-ID: <dsn.{}@{}>", r.token, r.hostname),
    );
    line(&mut out, "Auto-Submitted: auto-replied");
    line(&mut out, "MIME-Version: 1.0");
    line(
        &mut out,
        "Content-Type: multipart/report; report-type=delivery-status;",
    );
    line(&mut out, &format!("\tboundary=\"{boundary}\""));
    line(&mut out, "");
    line(&mut out, "This is a MIME-encapsulated message.");
    line(&mut out, "");

    line(&mut out, &format!("--{boundary}"));
    line(&mut out, "Content-Type: text/plain; charset=utf-8");
    line(&mut out, "Content-Transfer-Encoding: 8bit");
    line(&mut out, "");
    line(
        &mut out,
        &format!("This is the mail system at {}.", r.hostname),
    );
    line(&mut out, "");
    line(
        &mut out,
        "Your message could not be delivered to the following recipients:",
    );
    line(&mut out, "");
    for f in r.failed {
        if f.expired {
            line(
                &mut out,
                &format!(
                    "<{}>: still undelivered after {}; last error: {}",
                    f.address,
                    hours(r.max_age_hours),
                    f.failure
                ),
            );
        } else {
            line(&mut out, &format!("<{}>: {}", f.address, f.failure));
        }
    }
    line(&mut out, "");
    line(
        &mut out,
        "The header of your message follows the delivery report.",
    );
    line(&mut out, "");

    line(&mut out, &format!("--{boundary}"));
    line(&mut out, "Content-Type: message/delivery-status");
    line(&mut out, "");
    line(&mut out, &format!("Reporting-MTA: dns; {}", r.hostname));
    line(
        &mut out,
        &format!("Arrival-Date: {}", date::rfc5322(r.arrival)),
    );
    for f in r.failed {
        line(&mut out, "");
        let kind = if f.address.is_ascii() {
            "rfc822"
        } else {
            "utf-8"
        };
        line(&mut out, &format!("Final-Recipient: {kind}; {}", f.address));
        line(&mut out, "Action: failed");
        line(&mut out, &format!("Status: {}", f.failure.status));
        if let Diagnostic::Smtp(reply) = &f.failure.diagnostic {
            line(&mut out, &format!("Remote-MTA: dns; {}", r.smarthost));
            line(&mut out, &format!("Diagnostic-Code: smtp; {reply}"));
        }
        line(
            &mut out,
            &format!("Last-Attempt-Date: {}", date::rfc5322(r.now)),
        );
    }
    line(&mut out, "");

    line(&mut out, &format!("--{boundary}"));
    line(&mut out, "Content-Type: text/rfc822-headers");
    line(&mut out, "");
    let mut bytes = out.into_bytes();
    for header_line in header_lines(r.original) {
        bytes.extend_from_slice(header_line);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

fn hours(n: u64) -> String {
    if n == 1 {
        "1 hour".to_string()
    } else {
        format!("{n} hours")
    }
}

fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push_str("\r\n");
}

/// The lines of the original's header block, without their line ends.
fn header_lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::reply::{EnhancedCode, Reply, StatusClass};
    use mail_parser::MimeHeaders;
    use std::time::{Duration, UNIX_EPOCH};

    fn report(failed: &[FailedRecipient]) -> String {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let bytes = build_bounce(&BounceReport {
            hostname: "box.example.org",
            smarthost: "smtp.example.net",
            sender: "me@example.org",
            original: b"From: me@example.org\nSubject: hello\n\nsecret body\n",
            arrival: at(1_700_000_000),
            now: at(1_700_003_600),
            token: "t1",
            failed,
            max_age_hours: 48,
        });
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn report_structure() {
        let refused = Reply::try_from("550 5.1.1 no such user".to_string()).unwrap();
        let text = report(&[
            FailedRecipient {
                address: "gone@example.net".into(),
                failure: Failure::from_reply(&refused),
                expired: false,
            },
            FailedRecipient {
                address: "slow@example.net".into(),
                failure: Failure {
                    status: EnhancedCode::new(StatusClass::Transient, 4, 0),
                    diagnostic: Diagnostic::Local("connect: connection refused".into()),
                },
                expired: true,
            },
        ]);
        let mail = mail_parser::MessageParser::new()
            .parse(text.as_bytes())
            .unwrap();
        assert_eq!(mail.subject(), Some("Undelivered Mail Returned to Sender"));
        let ct = mail.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(mail.parts.len(), 4, "{text}");

        let status = "\r\n\r\nReporting-MTA: dns; box.example.org\r\n\
            Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n\
            Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\
            Remote-MTA: dns; smtp.example.net\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
            Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n\r\n\
            Final-Recipient: rfc822; slow@example.net\r\nAction: failed\r\nStatus: 4.4.0\r\n\
            Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n\r\n--";
        assert!(
            text.contains(&format!("Content-Type: message/delivery-status{status}")),
            "{text}"
        );
        assert!(text.contains("<gone@example.net>: 550 5.1.1 no such user\r\n"));
        assert!(text.contains(
            "<slow@example.net>: still undelivered after 48 hours; last error: connect: connection refused\r\n"
        ));
        assert!(text.contains(
            "Content-Type: text/rfc822-headers\r\n\r\nFrom: me@example.org\r\nSubject: hello\r\n\r\n--=_easd_dsn_t1--\r\n"
        ));
        assert!(!text.contains("secret body"));
        assert!(!text.replace("\r\n", "").contains('\n'));
    }
}
