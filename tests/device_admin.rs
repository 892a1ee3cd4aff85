//! The device registry and the admin CLI end to end: the per-user device limit at its three
//! levels, "remove device", Settings (DeviceInformation, UserInformation, Oof, DevicePassword,
//! RightsManagementInformation), per-device options, the device trace, policy inheritance as
//! `policy show` reports it, and the CLI both through a running server and on a stopped one.

mod common;

use common::phone::{Outcome, at, probe, settings};
use common::{Options, Server};
use easd::ProtocolVersion;
use easd::device::oof::{Audience, OofMessage, OofSettings, OofState};
use easd::device::registry::DeviceInfo;
use easd::eas::provision::codes::SettingsStatus;
use easd::eas::settings::messages::{OofRequest, SettingsRequest};

fn cli_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = server.cli(args, None);
    assert!(ok, "easd {args:?}: {err}");
    out
}

const OK: Outcome = Outcome {
    http: 200,
    status: Some(1),
};

#[test]
fn device_limit_at_global_domain_and_user_level() {
    let server = Server::start_with(Options {
        extra: "[devices]\nmax_per_user = 2\n".into(),
        ..Options::default()
    });
    let mut a = server.device("alice@example.com", "lim1");
    let mut b = server.device("alice@example.com", "lim2");
    let mut c = server.device("alice@example.com", "lim3");
    assert_eq!(probe(&mut a), OK);
    assert_eq!(probe(&mut b), OK);
    assert_eq!(
        probe(&mut c),
        Outcome {
            http: 200,
            status: Some(177)
        }
    );
    let mut old = at(
        ProtocolVersion::V12_1,
        server.device("alice@example.com", "lim4"),
    );
    assert_eq!(probe(&mut old).http, 403);
    // Known devices keep working; other users have their own count.
    assert_eq!(probe(&mut a), OK);
    let mut bob = server.device("bob@example.com", "lim1");
    assert_eq!(probe(&mut bob), OK);
    let shown = cli_ok(
        &server,
        &["policy", "show", "--level", "user:alice@example.com"],
    );
    assert!(shown.contains("max_devices"), "{shown}");

    // The domain raises the limit, the user lowers it again.
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "max_devices=3",
        ],
    );
    assert_eq!(probe(&mut c), OK);
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "user:bob@example.com",
            "max_devices=1",
        ],
    );
    let mut bob2 = server.device("bob@example.com", "lim2");
    assert_eq!(probe(&mut bob2).status, Some(177));
    // Removing a device frees its place.
    cli_ok(&server, &["device", "remove", "bob@example.com/lim1"]);
    assert_eq!(probe(&mut bob2), OK);
}

#[test]
fn removed_device_starts_again_without_losing_data() {
    let server = Server::start();
    let mut dev = server.device("alice@example.com", "rm1");
    assert_eq!(probe(&mut dev), OK);
    let maildir = server.maildir("alice@example.com");
    std::fs::create_dir_all(maildir.join("cur")).unwrap();
    std::fs::write(maildir.join("cur/1.x:2,S"), "Subject: keep me\r\n\r\nhi").unwrap();
    let first = cli_ok(&server, &["device", "show", "rm1"]);
    let out = cli_ok(&server, &["device", "remove", "rm1"]);
    assert!(out.contains("removed"), "{out}");
    assert!(!cli_ok(&server, &["device", "list"]).contains("rm1"));
    assert!(maildir.join("cur/1.x:2,S").exists());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(probe(&mut dev), OK);
    let again = cli_ok(&server, &["device", "show", "rm1"]);
    let first_sync = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("first sync"))
            .unwrap()
            .to_string()
    };
    assert_ne!(first_sync(&first), first_sync(&again));
}

#[test]
fn settings_command() {
    let server = Server::start();
    let mut dev = server.device("alice@example.com", "set1");
    let r = settings(
        &mut dev,
        &SettingsRequest {
            device_information: Some(DeviceInfo {
                model: Some("iPhone15,2".into()),
                os: Some("iOS 17.1".into()),
                os_language: Some("fr-FR".into()),
                mobile_operator: Some("Orange".into()),
                enable_outbound_sms: Some(false),
                ..DeviceInfo::default()
            }),
            user_information: true,
            rights_management: true,
            device_password: Some("recover-me".into()),
            ..SettingsRequest::default()
        },
    );
    assert_eq!(r.status, SettingsStatus::Success);
    assert_eq!(r.device_information, Some(SettingsStatus::Success));
    assert_eq!(r.device_password, Some(SettingsStatus::Success));
    assert_eq!(r.rights_management, Some(SettingsStatus::Success));
    let ui = r.user_information.unwrap();
    assert_eq!(ui.addresses, ["alice@example.com"]);
    assert_eq!(ui.display_name, "alice@example.com");
    let shown = cli_ok(&server, &["device", "show", "set1"]);
    for needle in ["iPhone15,2", "iOS 17.1", "fr-FR", "Orange", "recover-me"] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }
    // 12.1 gets the flat address list.
    let mut old = at(
        ProtocolVersion::V12_1,
        server.device("alice@example.com", "set2"),
    );
    let r = settings(
        &mut old,
        &SettingsRequest {
            user_information: true,
            ..SettingsRequest::default()
        },
    );
    assert_eq!(r.user_information.unwrap().addresses, ["alice@example.com"]);

    // Oof: Set, then Get returns it.
    let oof = OofSettings {
        state: OofState::TimeBased,
        start: Some(1_893_456_000),
        end: Some(1_894_000_000),
        messages: vec![
            OofMessage {
                audience: Audience::Internal,
                enabled: true,
                reply: "Back on Monday".into(),
                body_type: "Text".into(),
            },
            OofMessage {
                audience: Audience::ExternalUnknown,
                enabled: false,
                reply: String::new(),
                body_type: "Text".into(),
            },
        ],
        generation: 0,
    };
    let r = settings(
        &mut dev,
        &SettingsRequest {
            oof: Some(OofRequest::Set(oof.clone())),
            ..SettingsRequest::default()
        },
    );
    assert_eq!(r.oof.unwrap().status, SettingsStatus::Success);
    let r = settings(
        &mut dev,
        &SettingsRequest {
            oof: Some(OofRequest::Get {
                body_type: "Text".into(),
            }),
            ..SettingsRequest::default()
        },
    );
    let got = r.oof.unwrap().get.unwrap();
    assert_eq!(got.state, OofState::TimeBased);
    assert_eq!(got.start, oof.start);
    assert_eq!(got.messages, oof.messages);
    // Bob's Oof is his own.
    let mut bob = server.device("bob@example.com", "set3");
    let r = settings(
        &mut bob,
        &SettingsRequest {
            oof: Some(OofRequest::Get {
                body_type: "Text".into(),
            }),
            ..SettingsRequest::default()
        },
    );
    assert_eq!(r.oof.unwrap().get.unwrap().state, OofState::Disabled);
}

#[test]
fn options_trace_and_inheritance_through_the_cli() {
    let server = Server::start();
    let mut dev = server.device("alice@example.com", "cli1");
    assert_eq!(probe(&mut dev), OK);

    let out = cli_ok(
        &server,
        &[
            "device",
            "set",
            "cli1",
            "groupware=all-as-mail",
            "mail_sync_days=14",
            "truncation=0",
        ],
    );
    assert!(
        out.contains("groupware=AllAsMail") && out.contains("mail_sync_days=14"),
        "{out}"
    );
    let (ok, _, err) = server.cli(&["device", "set", "cli1", "colour=red"], None);
    assert!(!ok && err.contains("colour"), "{err}");

    // The trace is written by a background thread: wait for the Settings exchange to land.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut log = cli_ok(&server, &["device", "log", "cli1"]);
    while !log.contains("UserInformation") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = cli_ok(&server, &["device", "log", "cli1"]);
    }
    assert!(log.contains("<<< Settings"), "{log}");
    assert!(log.contains(">>> 200"), "{log}");
    assert!(log.contains("UserInformation"), "{log}");

    // Inheritance as `policy show` tells it.
    let show = |level: &str| cli_ok(&server, &["policy", "show", "--level", level]);
    assert!(
        show("device:cli1")
            .starts_with("level device:alice@example.com/cli1: inherited from default")
    );
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "min_password_length=6",
        ],
    );
    let user = show("user:alice@example.com");
    assert!(
        user.starts_with("level user:alice@example.com: inherited from domain:example.com"),
        "{user}"
    );
    let line = user
        .lines()
        .find(|l| l.starts_with("min_password_length"))
        .unwrap();
    assert!(
        line.contains(" 6 ") && line.ends_with("inherited from domain:example.com"),
        "{line}"
    );
    assert!(show("domain:example.com").contains("customised"));
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "device:cli1",
            "allow_camera=false",
        ],
    );
    let dev_level = show("device:cli1");
    assert!(
        dev_level.starts_with("level device:alice@example.com/cli1: customised"),
        "{dev_level}"
    );
    assert!(
        dev_level
            .lines()
            .any(|l| l.starts_with("min_password_length") && l.contains(" 6 "))
    );
    let out = cli_ok(
        &server,
        &["policy", "inherit", "--level", "domain:example.com"],
    );
    assert!(out.contains("now inherits"), "{out}");
    assert!(show("user:alice@example.com").contains("inherited from default"));
    // The device level keeps what it copied.
    assert!(
        show("device:cli1")
            .lines()
            .any(|l| l.starts_with("min_password_length") && l.contains(" 6 "))
    );
    for bad in [
        vec![
            "policy",
            "set",
            "--level",
            "global",
            "min_password_length=99",
        ],
        vec!["policy", "set", "--level", "global", "nonsense=1"],
        vec!["policy", "show", "--level", "planet:mars"],
        vec!["policy", "show", "--level", "device:nope"],
    ] {
        let (ok, _, err) = server.cli(&bad, None);
        assert!(!ok, "{bad:?}: {err}");
    }
}

#[test]
fn cli_works_on_a_stopped_server_too() {
    let mut server = Server::start();
    let mut dev = server.device("alice@example.com", "off1");
    assert_eq!(probe(&mut dev), OK);
    assert!(server.data_dir().join("control.sock").exists());
    let _ = server.child.kill();
    let _ = server.child.wait();
    // No server: the CLI opens the database itself (the stale socket refuses connections).
    let list = cli_ok(&server, &["device", "list"]);
    assert!(list.contains("alice@example.com/off1"), "{list}");
    cli_ok(&server, &["device", "block", "off1"]);
    cli_ok(
        &server,
        &[
            "abq",
            "add",
            "--on",
            "type",
            "--value",
            "easd",
            "--action",
            "quarantine",
        ],
    );
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "global",
            "password_required=true",
        ],
    );
    let json = cli_ok(
        &server,
        &["device", "list", "--json", "--user", "alice@example.com"],
    );
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[0]["admin_access"], "block");
    server.restart();
    let mut dev = server.device("alice@example.com", "off1");
    assert_eq!(probe(&mut dev).http, 403);
    let mut other = server.device("alice@example.com", "off2");
    let shown = {
        probe(&mut other);
        cli_ok(&server, &["device", "show", "off2"])
    };
    assert!(shown.contains("quarantine (type rule 1"), "{shown}");
}
