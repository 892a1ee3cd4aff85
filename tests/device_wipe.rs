//! Remote wipe end to end: pending until the device's next request, delivered through Provision,
//! acknowledged, then the device is removed and the owner and the administrator get a
//! confirmation; account-only wipe for 16.1; no dodging by a new DeviceType or User-Agent or by
//! skipping Provision.

mod common;

use common::phone::{self, Outcome, at, inbox, probe, provision, provision_request, wipe_ack};
use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::device::registry::WipeKind;
use easd::eas::Command;
use easd::eas::provision::codes::ProvisionStatus;
use easd::eas::provision::messages::{POLICY_TYPE_WBXML, ProvisionRequest};

fn server() -> Server {
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

const WIPE_REQUESTED: Outcome = Outcome {
    http: 200,
    status: Some(140),
};

#[test]
fn hard_wipe_pending_acknowledged_removed_and_confirmed() {
    let server = server();
    let mut dev = server.device("alice@example.com", "lost1");
    dev.device_type = "iPhone".into();
    provision(&mut dev);
    assert_eq!(probe(&mut dev).status, Some(1));

    let out = cli_ok(&server, &["device", "wipe", "lost1"]);
    assert!(out.contains("remote wipe pending"), "{out}");
    let list = cli_ok(&server, &["device", "list"]);
    assert!(list.contains("pending (remote wipe)"), "{list}");

    // Every command says "wipe requested" until the device comes to Provision...
    assert_eq!(probe(&mut dev), WIPE_REQUESTED);
    let fs = run(dev.command(Command::FolderSync, None)).unwrap();
    assert_eq!(phone::outcome(&fs).status, Some(140));
    // ...a new DeviceType and User-Agent change nothing...
    dev.device_type = "SomethingElse".into();
    dev.user_agent = "Innocent/1.0".into();
    assert_eq!(probe(&mut dev), WIPE_REQUESTED);
    // ...nor does asking for a policy instead of acknowledging: Provision carries the wipe.
    dev.policy_key = None;
    let answer = provision_request(
        &mut dev,
        &ProvisionRequest::Download {
            device_info: None,
            policy_type: Some(POLICY_TYPE_WBXML.into()),
        },
    );
    assert_eq!(answer.remote_wipe, Some(WipeKind::Full));
    assert!(answer.policy.is_none());
    let empty = provision_request(&mut dev, &ProvisionRequest::Empty);
    assert_eq!(empty.remote_wipe, Some(WipeKind::Full));
    assert!(inbox(&server.maildir("alice@example.com")).is_empty());

    let ack = wipe_ack(&mut dev, WipeKind::Full);
    assert_eq!(ack.status, ProvisionStatus::Success);
    let list = cli_ok(&server, &["device", "list"]);
    assert!(list.contains("done (remote wipe)"), "{list}");
    let (ok, _, err) = server.cli(&["device", "show", "lost1"], None);
    assert!(!ok && err.contains("no device"), "{err}");

    for user in ["alice@example.com", "bob@example.com"] {
        let mails = inbox(&server.maildir(user));
        assert_eq!(mails.len(), 1, "{user}: {mails:?}");
        assert!(
            mails[0].contains("acknowledged the remote wipe"),
            "{}",
            mails[0]
        );
        assert!(mails[0].contains("lost1"));
    }

    // If it ever comes back, it is a new device.
    let mut again = server.device("alice@example.com", "lost1");
    assert_eq!(probe(&mut again).status, Some(1));
    let list = cli_ok(&server, &["device", "list"]);
    assert!(!list.contains("done (remote wipe)"), "{list}");
}

#[test]
fn wipe_for_12_1_uses_449_and_works_without_provisioning_first() {
    let server = server();
    let mut dev = at(
        ProtocolVersion::V12_1,
        server.device("alice@example.com", "old1"),
    );
    // Never provisioned: the server's default allows that.
    assert_eq!(probe(&mut dev).status, Some(1));
    cli_ok(&server, &["device", "wipe", "old1"]);
    assert_eq!(probe(&mut dev).http, 449);
    let first = phone::download(&mut dev, None);
    assert_eq!(first.remote_wipe, Some(WipeKind::Full));
    wipe_ack(&mut dev, WipeKind::Full);
    assert_eq!(inbox(&server.maildir("bob@example.com")).len(), 1);
    assert!(cli_ok(&server, &["device", "list", "--json"]).contains("done (remote wipe)"));
}

#[test]
fn blocked_device_still_gets_its_wipe() {
    let server = server();
    let mut dev = server.device("alice@example.com", "stolen1");
    assert_eq!(probe(&mut dev).status, Some(1));
    cli_ok(&server, &["device", "block", "stolen1"]);
    cli_ok(&server, &["device", "wipe", "stolen1"]);
    assert_eq!(probe(&mut dev), WIPE_REQUESTED);
    let first = provision_request(&mut dev, &ProvisionRequest::Empty);
    assert_eq!(first.remote_wipe, Some(WipeKind::Full));
}

#[test]
fn account_only_wipe_for_16_1() {
    let server = server();
    let mut dev = at(
        ProtocolVersion::V16_1,
        server.device("alice@example.com", "acct1"),
    );
    provision(&mut dev);
    cli_ok(&server, &["device", "account-wipe", "acct1"]);
    assert_eq!(probe(&mut dev), WIPE_REQUESTED);
    let answer = provision_request(&mut dev, &ProvisionRequest::Empty);
    assert_eq!(answer.remote_wipe, Some(WipeKind::AccountOnly));
    let ack = wipe_ack(&mut dev, WipeKind::AccountOnly);
    assert_eq!(ack.status, ProvisionStatus::Success);
    let list = cli_ok(&server, &["device", "list"]);
    assert!(list.contains("done (account-only remote wipe)"), "{list}");
    for user in ["alice@example.com", "bob@example.com"] {
        let mails = inbox(&server.maildir(user));
        assert_eq!(mails.len(), 1, "{user}");
        assert!(mails[0].contains("account-only remote wipe"));
    }

    // A 14.1 device cannot receive one: shown as not supported, and it keeps syncing.
    let mut older = server.device("alice@example.com", "acct2");
    assert_eq!(probe(&mut older).status, Some(1));
    let out = cli_ok(&server, &["device", "account-wipe", "acct2"]);
    assert!(out.contains("not supported"), "{out}");
    assert_eq!(probe(&mut older).status, Some(1));
    let shown = cli_ok(&server, &["device", "show", "acct2"]);
    assert!(shown.contains("not supported"), "{shown}");
    // A hard wipe still reaches it.
    cli_ok(&server, &["device", "wipe", "acct2"]);
    assert_eq!(probe(&mut older), WIPE_REQUESTED);
}
