//! Provision end to end: 449 / Status 142 → two-phase Provision → the retry succeeds; a changed
//! policy and an elapsed refresh interval force a new Provision; a device that refuses the policy
//! is kept out and its owner and the administrator are told.

mod common;

use common::phone::{self, Outcome, acknowledge, at, download, inbox, probe, provision};
use common::{Options, Server};
use easd::ProtocolVersion;
use easd::device::policy::PolicyKey;
use easd::device::registry::DeviceInfo;
use easd::eas::Command;
use easd::eas::provision::codes::{AckStatus, PolicyStatus, ProvisionStatus};

fn with_admin() -> Server {
    Server::start_with(Options {
        extra: "[admin]\nemail = \"bob@example.com\"\n".into(),
        ..Options::default()
    })
}

fn cli_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = server.cli(args, None);
    assert!(ok, "easd {args:?}: {err}");
    out
}

fn strict_policy(server: &Server) {
    cli_ok(
        server,
        &[
            "policy",
            "set",
            "--level",
            "global",
            "password_required=true",
            "min_password_length=6",
            "allow_non_provisionable=false",
        ],
    );
}

const OK: Outcome = Outcome {
    http: 200,
    status: Some(1),
};

#[test]
fn no_policy_means_no_provisioning() {
    let server = Server::start();
    let mut dev = server.device("alice@example.com", "free1");
    assert_eq!(probe(&mut dev), OK);
    // Provisioning still works and hands out the neutral policy.
    let first = provision(&mut dev);
    let settings = first.policy.unwrap().settings.unwrap();
    assert!(!settings.flag(PolicyKey::PasswordRequired));
    assert_eq!(probe(&mut dev), OK);
}

#[test]
fn http_449_then_provision_then_retry_for_12_1() {
    let server = Server::start();
    strict_policy(&server);
    let mut dev = at(
        ProtocolVersion::V12_1,
        server.device("alice@example.com", "old1"),
    );
    assert_eq!(probe(&mut dev).http, 449);
    let reply = common::run(dev.command(Command::FolderSync, None)).unwrap();
    assert_eq!(reply.status, 449);

    let first = download(&mut dev, None);
    let policy = first.policy.clone().unwrap();
    assert_eq!(policy.status, PolicyStatus::Success);
    let doc = policy.settings.unwrap();
    assert!(doc.flag(PolicyKey::PasswordRequired));
    assert_eq!(doc.number(PolicyKey::MinPasswordLength), Some(6));
    let temp = policy.policy_key.unwrap();
    // The temporary key is not good for anything but the acknowledgement.
    dev.policy_key = Some(temp);
    assert_eq!(probe(&mut dev).http, 449);
    // Acknowledging a wrong key is refused with Policy Status 5.
    let wrong = acknowledge(&mut dev, temp.wrapping_add(1), AckStatus::Applied);
    assert_eq!(wrong.policy.unwrap().status, PolicyStatus::WrongPolicyKey);
    let second = acknowledge(&mut dev, temp, AckStatus::Applied);
    assert_eq!(second.status, ProvisionStatus::Success);
    assert_eq!(probe(&mut dev), OK);
    let shown = cli_ok(&server, &["device", "show", "old1"]);
    assert!(shown.contains("applied"), "{shown}");
}

#[test]
fn status_142_then_provision_then_retry_for_14_1() {
    let server = Server::start();
    strict_policy(&server);
    let mut dev = server.device("alice@example.com", "new1");
    assert_eq!(
        probe(&mut dev),
        Outcome {
            http: 200,
            status: Some(142)
        }
    );
    let reply = common::run(dev.command(Command::FolderSync, None)).unwrap();
    let tree = reply.tree().unwrap();
    assert_eq!(tree.tag, easd::wbxml::tags::folderhierarchy::FOLDER_SYNC);
    assert_eq!(phone::outcome(&reply).status, Some(142));

    // 14.1 sends its DeviceInformation inside Provision; the server records it.
    let info = DeviceInfo {
        model: Some("Pixel 8".into()),
        os: Some("Android 14".into()),
        imei: Some("356938035643809".into()),
        friendly_name: Some("Alice's phone".into()),
        phone_number: Some("+33600000000".into()),
        ..DeviceInfo::default()
    };
    let first = download(&mut dev, Some(info));
    assert_eq!(first.device_info_status, Some(1));
    let temp = first.policy.unwrap().policy_key.unwrap();
    acknowledge(&mut dev, temp, AckStatus::Applied);
    assert_eq!(probe(&mut dev), OK);
    let shown = cli_ok(&server, &["device", "show", "new1"]);
    for needle in [
        "Pixel 8",
        "Android 14",
        "356938035643809",
        "Alice's phone",
        "+33600000000",
        "14.1",
    ] {
        assert!(shown.contains(needle), "{needle} in {shown}");
    }
    // A device that sends a key it was never given must provision again.
    dev.policy_key = Some(12345);
    assert_eq!(probe(&mut dev).status, Some(144));
}

#[test]
fn changed_policy_forces_reprovision() {
    let server = Server::start();
    strict_policy(&server);
    let mut dev = server.device("alice@example.com", "chg1");
    provision(&mut dev);
    assert_eq!(probe(&mut dev), OK);
    // The domain level changes: alice inherits it, so her device must fetch the new policy.
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "allow_camera=false",
        ],
    );
    assert_eq!(probe(&mut dev).status, Some(143));
    let first = provision(&mut dev);
    assert!(
        !first
            .policy
            .unwrap()
            .settings
            .unwrap()
            .flag(PolicyKey::AllowCamera)
    );
    assert_eq!(probe(&mut dev), OK);
    // Bob is in the same domain and gets it too; a customised user level is left alone.
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "user:bob@example.com",
            "allow_wifi=false",
        ],
    );
    let mut bob = server.device("bob@example.com", "bob1");
    let bobs = provision(&mut bob).policy.unwrap().settings.unwrap();
    assert!(!bobs.flag(PolicyKey::AllowCamera) && !bobs.flag(PolicyKey::AllowWifi));
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "domain:example.com",
            "allow_browser=false",
        ],
    );
    assert_eq!(probe(&mut bob), OK, "bob's level is customised");
    assert_eq!(probe(&mut dev).status, Some(143));

    // 12.1 learns the same from HTTP 449.
    let mut old = at(
        ProtocolVersion::V12_1,
        server.device("alice@example.com", "chg2"),
    );
    provision(&mut old);
    assert_eq!(probe(&mut old), OK);
    cli_ok(
        &server,
        &["policy", "set", "--level", "global", "allow_irda=false"],
    );
    cli_ok(
        &server,
        &["policy", "inherit", "--level", "domain:example.com"],
    );
    assert_eq!(probe(&mut old).http, 449);
}

#[test]
fn refresh_interval_is_honoured() {
    let mut server = Server::start();
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "global",
            "refresh_interval_hours=2",
            "allow_non_provisionable=false",
        ],
    );
    let mut dev = server.device("alice@example.com", "ref1");
    provision(&mut dev);
    assert_eq!(probe(&mut dev), OK);
    // Stop the server and move the last Provision three hours back, as if time had passed.
    let _ = server.child.kill();
    let _ = server.child.wait();
    {
        let db = easd::state::open_db(&server.data_dir().join("state.redb"), 1 << 20).unwrap();
        let key = easd::device::DeviceKey::parse("alice@example.com/ref1").unwrap();
        easd::device::registry::modify(&db, &key, |d| d.policy.provisioned_at -= 3 * 3600).unwrap();
    }
    server.restart();
    let mut dev2 = server.device("alice@example.com", "ref1");
    dev2.policy_key = dev.policy_key;
    assert_eq!(probe(&mut dev2).status, Some(143));
    provision(&mut dev2);
    assert_eq!(probe(&mut dev2), OK);
}

#[test]
fn refusing_device_is_kept_out_and_reported() {
    let server = with_admin();
    strict_policy(&server);
    let mut dev = server.device("alice@example.com", "refuse1");
    dev.device_type = "iPhone".into();
    let first = download(&mut dev, None);
    let temp = first.policy.unwrap().policy_key.unwrap();
    let answer = acknowledge(&mut dev, temp, AckStatus::NotApplied);
    assert_eq!(answer.status, ProvisionStatus::NotFullyProvisionable);
    // Neither the temporary key nor no key at all lets it in.
    assert_eq!(probe(&mut dev).status, Some(144));
    dev.policy_key = None;
    assert_eq!(probe(&mut dev).status, Some(142));
    let alice = inbox(&server.maildir("alice@example.com"));
    let bob = inbox(&server.maildir("bob@example.com"));
    for mails in [&alice, &bob] {
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert!(mails[0].contains("didn't confirm the security profile"));
        assert!(mails[0].contains("iPhone : refuse1"));
    }

    // A device that never provisions at all is reported after a few refusals, once.
    let mut silent = server.device("alice@example.com", "silent1");
    for _ in 0..5 {
        assert_eq!(probe(&mut silent).status, Some(142));
    }
    let alice = inbox(&server.maildir("alice@example.com"));
    assert_eq!(alice.len(), 2);
    assert!(alice.iter().any(|m| m.contains("silent1")));

    // Where non-provisionable devices are allowed, a partial acknowledgement still lets it in.
    cli_ok(
        &server,
        &[
            "policy",
            "set",
            "--level",
            "user:bob@example.com",
            "allow_non_provisionable=true",
        ],
    );
    let mut partial = server.device("bob@example.com", "partial1");
    let first = download(&mut partial, None);
    let temp = first.policy.unwrap().policy_key.unwrap();
    let answer = acknowledge(&mut partial, temp, AckStatus::Partial);
    assert_eq!(answer.status, ProvisionStatus::Success);
    assert_eq!(probe(&mut partial), OK);
    let shown = cli_ok(&server, &["device", "show", "partial1"]);
    assert!(shown.contains("partially applied"), "{shown}");
}
