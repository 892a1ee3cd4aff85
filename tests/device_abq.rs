//! ABQ end to end: each step of the guide's order (user, domain, server OS, server model, server
//! type, global) decides in turn, server rules match case-sensitive prefixes, blocked devices get
//! 403 and are hidden from their owner, quarantined ones keep to their limits and their owner is
//! told, and the administrator's allow / block / quarantine and "similar devices" rule.

mod common;

use common::phone::{Outcome, inbox, probe, settings_outcome};
use common::{Server, run};
use easd::device::registry::DeviceInfo;
use easd::eas::Command;
use easd::eas::settings::messages::SettingsRequest;

fn cli_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = server.cli(args, None);
    assert!(ok, "easd {args:?}: {err}");
    out
}

const OK: Outcome = Outcome {
    http: 200,
    status: Some(1),
};
const BLOCKED: Outcome = Outcome {
    http: 403,
    status: None,
};

/// A phone that has told the server its model and OS (Settings DeviceInformation).
fn android(server: &Server, id: &str) -> easd::client::Device {
    let mut dev = server.device("alice@example.com", id);
    dev.device_type = "Android".into();
    let info = SettingsRequest {
        device_information: Some(DeviceInfo {
            model: Some("Pixel 8".into()),
            os: Some("Android 14".into()),
            ..DeviceInfo::default()
        }),
        ..SettingsRequest::default()
    };
    settings_outcome(&mut dev, &info);
    dev
}

/// Allowed (full service), blocked or quarantined, as the device experiences it.
fn access(dev: &mut easd::client::Device) -> &'static str {
    let probe = probe(dev);
    if probe == BLOCKED {
        return "block";
    }
    assert_eq!(probe, OK);
    // ItemOperations fetches server content: refused in quarantine, not implemented otherwise.
    let io = easd::wbxml::Element::new(easd::wbxml::tags::itemoperations::ITEM_OPERATIONS);
    match run(dev.command(Command::ItemOperations, Some(&io)))
        .unwrap()
        .status
    {
        403 => "quarantine",
        _ => "allow",
    }
}

#[test]
fn each_step_of_the_order_decides() {
    let server = Server::start();
    let mut dev = android(&server, "abq1");
    assert_eq!(access(&mut dev), "allow");

    cli_ok(&server, &["abq", "global", "--action", "block"]);
    assert_eq!(access(&mut dev), "block");

    // Server rule on the type, by prefix.
    cli_ok(
        &server,
        &[
            "abq", "add", "--on", "type", "--value", "Andr", "--action", "allow",
        ],
    );
    assert_eq!(access(&mut dev), "allow");

    // The model comes before the type.
    cli_ok(
        &server,
        &[
            "abq",
            "add",
            "--on",
            "model",
            "--value",
            "Pixel",
            "--action",
            "quarantine",
            "--description",
            "Pixels wait",
        ],
    );
    assert_eq!(access(&mut dev), "quarantine");

    // The OS before the model; case-sensitive: "android" does not match "Android 14".
    let out = cli_ok(
        &server,
        &[
            "abq", "add", "--on", "os", "--value", "android", "--action", "allow",
        ],
    );
    assert!(out.contains("os rule 3"), "{out}");
    assert_eq!(access(&mut dev), "quarantine");
    cli_ok(
        &server,
        &[
            "abq", "add", "--on", "os", "--value", "Android", "--action", "block",
        ],
    );
    assert_eq!(access(&mut dev), "block");
    // The longest matching prefix of one kind wins.
    cli_ok(
        &server,
        &[
            "abq",
            "add",
            "--on",
            "os",
            "--value",
            "Android 1",
            "--action",
            "allow",
        ],
    );
    assert_eq!(access(&mut dev), "allow");
    cli_ok(&server, &["abq", "disable", "5"]);
    assert_eq!(access(&mut dev), "block");

    // The domain before the server rules.
    cli_ok(
        &server,
        &[
            "abq",
            "add",
            "--on",
            "domain",
            "--value",
            "example.com",
            "--action",
            "quarantine",
        ],
    );
    assert_eq!(access(&mut dev), "quarantine");

    // The user first of all.
    cli_ok(
        &server,
        &[
            "abq",
            "add",
            "--on",
            "user",
            "--value",
            "alice@example.com",
            "--action",
            "allow",
        ],
    );
    assert_eq!(access(&mut dev), "allow");

    // Bob's devices fall through to the domain rule.
    let mut bob = server.device("bob@example.com", "bobabq");
    assert_eq!(access(&mut bob), "quarantine");

    let list = cli_ok(&server, &["abq", "list"]);
    assert!(list.starts_with("global rule: block"), "{list}");
    assert!(list.contains("Pixels wait"), "{list}");
    cli_ok(&server, &["abq", "rm", "7"]);
    assert_eq!(access(&mut dev), "quarantine");
    let (ok, _, err) = server.cli(&["abq", "rm", "99"], None);
    assert!(!ok && err.contains("no ABQ rule 99"), "{err}");
}

#[test]
fn blocked_devices_get_403_and_are_hidden_from_their_owner() {
    let server = Server::start();
    cli_ok(
        &server,
        &[
            "abq", "add", "--on", "type", "--value", "Bad", "--action", "block",
        ],
    );
    let mut dev = server.device("alice@example.com", "blk1");
    dev.device_type = "BadPhone".into();
    assert_eq!(probe(&mut dev), BLOCKED);
    // Even Provision is refused.
    let prov = easd::eas::provision::messages::ProvisionRequest::Empty.encode(dev.version);
    assert_eq!(
        run(dev.command(Command::Provision, Some(&prov)))
            .unwrap()
            .status,
        403
    );
    let mut good = server.device("alice@example.com", "good1");
    assert_eq!(probe(&mut good), OK);

    // The administrator sees both; the owner's view leaves out the blocked one.
    let json = cli_ok(
        &server,
        &["device", "list", "--user", "alice@example.com", "--json"],
    );
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    let visible: Vec<(String, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["visible_to_owner"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(visible.contains(&("blk1".into(), false)), "{visible:?}");
    assert!(visible.contains(&("good1".into(), true)), "{visible:?}");

    // The administrator can allow it; the decision outlives the rule.
    cli_ok(&server, &["device", "allow", "blk1"]);
    assert_eq!(probe(&mut dev), OK);
    cli_ok(&server, &["device", "block", "good1"]);
    assert_eq!(probe(&mut good), BLOCKED);
}

#[test]
fn quarantine_limits_and_notice() {
    let server = Server::start();
    cli_ok(&server, &["abq", "global", "--action", "quarantine"]);
    let mut dev = android(&server, "quar1");
    assert_eq!(access(&mut dev), "quarantine");
    // Allowed: its own settings, provisioning, sync in its default folders.
    assert_eq!(probe(&mut dev), OK);
    for cmd in [
        Command::Search,
        Command::GetAttachment,
        Command::FolderCreate,
        Command::ResolveRecipients,
    ] {
        let reply = run(dev.command(cmd, None)).unwrap();
        assert_eq!(reply.status, 403, "{cmd}");
    }
    for cmd in [
        Command::FolderSync,
        Command::Sync,
        Command::SendMail,
        Command::GetItemEstimate,
    ] {
        let reply = run(dev.command(cmd, None)).unwrap();
        assert_ne!(reply.status, 403, "{cmd}");
    }
    // The owner is told once.
    probe(&mut dev);
    let mails = inbox(&server.maildir("alice@example.com"));
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("quarantine"), "{}", mails[0]);
    assert!(mails[0].contains("quar1"));
    // What Sync and FolderSync will see: default folders only, nothing flows to the device.
    let shown = cli_ok(&server, &["device", "show", "quar1"]);
    assert!(shown.contains("quarantine (global rule"), "{shown}");

    // The administrator allows it: full service.
    cli_ok(&server, &["device", "allow", "quar1"]);
    assert_eq!(access(&mut dev), "allow");
    // And quarantines it by hand: a new notice.
    cli_ok(&server, &["device", "quarantine", "quar1"]);
    assert_eq!(access(&mut dev), "quarantine");
    assert_eq!(inbox(&server.maildir("alice@example.com")).len(), 2);
}

#[test]
fn rule_for_similar_devices() {
    let server = Server::start();
    let mut first = android(&server, "sim1");
    assert_eq!(access(&mut first), "allow");
    let out = cli_ok(
        &server,
        &[
            "device", "similar", "sim1", "--on", "model", "--action", "block",
        ],
    );
    assert!(out.contains("model rule 1"), "{out}");
    assert!(out.contains("Pixel 8"), "{out}");
    let mut other = android(&server, "sim2");
    assert_eq!(access(&mut other), "block");
    let (ok, _, err) = server.cli(&["device", "similar", "sim1", "--on", "user"], None);
    assert!(!ok, "{err}");
}
