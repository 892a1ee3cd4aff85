//! The web console and the user pages in a real browser: headless Chromium, driven by
//! tests/browser/admin.mjs (playwright-core), against the real easd binary, while a simulated phone
//! (the typed EAS client) checks what each change does to it. The administrator blocks a device
//! and the phone gets 403; sets a policy at domain level and the user's level inherits it (and the
//! user's phone is made to provision it); the user wipes a lost device from /account and the phone
//! receives the wipe. Screenshots land in `<target>/tmp/admin_browser/`.
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in tests/browser (scripts/test does it); the test
//! fails, never skips, when they are missing.

mod common;

use common::phone::{self, Outcome, at, probe, provision, wipe_ack};
use common::{Options, PASSWORD, Server, password_hash};
use easd::ProtocolVersion;
use easd::device::policy::PolicyKey;
use easd::device::registry::WipeKind;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const OK: Outcome = Outcome {
    http: 200,
    status: Some(1),
};

#[test]
fn admin_and_user_pages_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} first (scripts/test does)",
        browser_dir.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "install Debian's chromium (scripts/test does)"
    );
    let server = Server::start_with(Options {
        extra: format!(
            "[admin]\n[[admin.account]]\nname = \"root\"\npassword_hash = \"{}\"\n",
            password_hash()
        ),
        ..Options::default()
    });
    let mut blocked = server.device("alice@example.com", "phone1");
    blocked.device_type = "iPhone".into();
    provision(&mut blocked);
    assert_eq!(probe(&mut blocked), OK);
    let mut lost = at(
        ProtocolVersion::V16_1,
        server.device("alice@example.com", "lost1"),
    );
    lost.device_type = "Android".into();
    provision(&mut lost);
    assert_eq!(probe(&mut lost), OK);

    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin_browser");
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut driver = Command::new("node")
        .arg("admin.mjs")
        .current_dir(&browser_dir)
        .env("EASD_URL", format!("http://{}", server.addr))
        .env("OUT_DIR", &out_dir)
        .env("ADMIN_NAME", "root")
        .env("ADMIN_PASSWORD", PASSWORD)
        .env("USER_EMAIL", "alice@example.com")
        .env("USER_PASSWORD", PASSWORD)
        .env("BLOCK_DEVICE", "alice@example.com/phone1")
        .env("WIPE_DEVICE", "lost1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node (install nodejs)");
    let mut to_driver = driver.stdin.take().unwrap();
    let from_driver = BufReader::new(driver.stdout.take().unwrap());
    let mut steps = Vec::new();
    let mut done = false;
    for line in from_driver.lines() {
        let line = line.expect("driver output");
        eprintln!("browser: {line}");
        if line == "DONE" {
            done = true;
            break;
        }
        let Some(step) = line.strip_prefix("STEP ") else {
            continue;
        };
        match step {
            "blocked" => {
                assert_eq!(probe(&mut blocked).http, 403, "a blocked phone gets 403");
                let shown = server.cli(&["device", "show", "alice@example.com/phone1"], None);
                assert!(
                    shown.1.contains("block (set by the administrator)"),
                    "{shown:?}"
                );
            }
            "policy" => {
                let (ok, shown, err) = server.cli(
                    &["policy", "show", "--level", "user:alice@example.com"],
                    None,
                );
                assert!(ok, "{err}");
                assert!(
                    shown.starts_with(
                        "level user:alice@example.com: inherited from domain:example.com"
                    ),
                    "{shown}"
                );
                // The user's phone must take the new policy before anything else.
                assert_eq!(probe(&mut lost).status, Some(143));
                let got = phone::download(&mut lost, None);
                let settings = got
                    .policy
                    .and_then(|p| p.settings)
                    .expect("policy settings");
                assert!(settings.flag(PolicyKey::PasswordRequired));
                assert_eq!(settings.number(PolicyKey::MinPasswordLength), Some(6));
                provision(&mut lost);
                assert_eq!(probe(&mut lost), OK);
            }
            "abq" => {
                let (ok, rules, err) = server.cli(&["abq", "list"], None);
                assert!(ok, "{err}");
                assert!(!rules.contains("Nexus"), "{rules}");
            }
            "device" => {
                let shown = server
                    .cli(&["device", "show", "alice@example.com/phone1"], None)
                    .1;
                let words = shown.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(words.contains("option mail_sync_days 14"), "{shown}");
                assert!(words.contains("option mail_folders DefaultOnly"), "{shown}");
                let rules = server.cli(&["abq", "list"], None).1;
                assert!(
                    rules
                        .lines()
                        .any(|l| l.contains("type") && l.contains("iPhone") && l.contains("block")),
                    "{rules}"
                );
                // The similar-device rule blocks the type; the user's phone is another type.
                assert_eq!(probe(&mut lost), OK);
            }
            "wiped" => {
                assert_eq!(probe(&mut lost).status, Some(140), "wipe requested");
                let ack = wipe_ack(&mut lost, WipeKind::Full);
                assert_eq!(
                    ack.status,
                    easd::eas::provision::codes::ProvisionStatus::Success
                );
            }
            other => panic!("unknown step {other}"),
        }
        steps.push(step.to_string());
        writeln!(to_driver, "go").unwrap();
    }
    drop(to_driver);
    let status = driver.wait().unwrap();
    assert!(status.success(), "the browser driver failed: {status}");
    assert!(done, "the driver did not finish");
    assert_eq!(steps, ["blocked", "policy", "abq", "device", "wiped"]);
    for shot in [
        "01-activesync",
        "02-device-blocked",
        "04-policy-user-inherits",
        "09-abq-rules",
        "10-device-window",
        "07-account-wipe-pending",
        "08-account-wiped",
    ] {
        let png = std::fs::read(out_dir.join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
}
