//! The ARM boards: the cross-built binaries under QEMU and the packaging files.
//!
//! The QEMU tests need the cross artifacts (board/cross-build, image/build-initramfs), which take
//! many minutes to build, so they are `#[ignore]`d in the everyday `cargo test` and run by
//! `scripts/test-arm`, which builds the artifacts first (CI runs it). The packaging tests run
//! everywhere: the packaged configuration and every board's overrides must pass `easd check-config`,
//! and the amd64 .deb built from this checkout's binary must carry what apt users rely on.

mod common;
mod mail_common;

use common::{PASSWORD, run};
use easd::client::{Device, Target};
use easd::eas::foldersync::{FolderChange, FolderSyncStatus};
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::ping::{PingFolder, PingRequest, PingStatus};
use mail_common::*;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where board/cross-build puts the binaries (`EASD_ARM_DIST` overrides it).
fn dist(triple: &str) -> PathBuf {
    let base = std::env::var_os("EASD_ARM_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/dist"));
    let bin = base.join(triple).join("easd");
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/test-arm (or board/cross-build) first",
        bin.display()
    );
    bin
}

/// A cross-built easd run by qemu-user, on a temporary data dir; killed on drop.
struct Emulated {
    child: Child,
    addr: SocketAddr,
    qemu: &'static str,
    qemu_args: &'static [&'static str],
    bin: PathBuf,
    config: PathBuf,
    dir: tempfile::TempDir,
    _log: mpsc::Receiver<String>,
}

impl Emulated {
    /// `qemu` is e.g. qemu-aarch64-static, run without `-L` for arm64: with it the cross sysroot's
    /// libc and the multiarch one get mixed and threads hang. armhf has no multiarch libc here (its
    /// index is broken), so its binary gets the cross sysroot alone through `qemu_args`.
    fn start(qemu: &'static str, qemu_args: &'static [&'static str], bin: PathBuf) -> Emulated {
        let dir = tempfile::tempdir().unwrap();
        let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"mail.example.com\"\ndata_dir = \"{}\"\n\n\
             [push]\nudp_listen = \"127.0.0.1:{udp_port}\"\nmin_heartbeat_secs = 2\nmax_heartbeat_secs = 120\n\n[autodiscover]\n\n\
             [[user]]\nemail = \"{USER}\"\nname = \"Alice\"\npassword_hash = \"{}\"\n",
            dir.path().join("data").display(),
            common::password_hash()
        );
        let config_path = dir.path().join("easd.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(qemu)
            .args(qemu_args)
            .arg(&bin)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("EASD_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{qemu}: {e} (apt-get install qemu-user-static)"));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[easd] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the emulated easd did not say where it listens");
            if let Some(a) = line.split("listening on http://").nth(1) {
                break a.trim().parse().unwrap();
            }
        };
        Emulated {
            child,
            addr,
            qemu,
            qemu_args,
            bin,
            config: config_path,
            dir,
            _log: rx,
        }
    }

    fn device(&self, id: &str) -> Device {
        Device::new(Target::http(self.addr.to_string()), USER, PASSWORD, id)
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("data/mail").join(USER)
    }

    /// Runs one CLI command of the emulated binary against this server's config.
    fn cli(&self, args: &[&str]) {
        let out = Command::new(self.qemu)
            .args(self.qemu_args)
            .arg(&self.bin)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "easd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn held_pings(&self) -> usize {
        let mut conn = easd::client::Connection::new(Target::http(self.addr.to_string()));
        let r = run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let n = text.split("\"held_pings\":").nth(1).unwrap();
        n.trim_end_matches('}').parse().unwrap()
    }

    /// VmRSS of the qemu-user process: the guest's memory plus QEMU's translation cache.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options_ok(dev: &mut Device) {
    let r = run(dev.options()).unwrap();
    assert_eq!(r.status, 200);
    let versions = r.header("MS-ASProtocolVersions").unwrap_or_default();
    assert!(versions.contains("14.1"), "versions {versions:?}");
    let commands = r.header("MS-ASProtocolCommands").unwrap_or_default();
    assert!(commands.contains("Ping"), "commands {commands:?}");
}

/// OPTIONS, FolderSync, an initial Sync that fetches the Inbox, then a Ping woken by `easd notify`:
/// the Direct Push path through UDP, the hub and a held request, all on the emulated CPU.
fn exercise(server: &Emulated) {
    make_maildir(&server.maildir());
    for i in 1..=3 {
        put_message(&server.maildir(), "", i, &format!("arm {i}"), "");
    }
    let mut phone = server.device("arm-phone");
    options_ok(&mut phone);
    let (inbox, _) = run(inbox_id(&mut phone));
    let key = run(prime(&mut phone, &inbox));
    let r = run(phone.sync(&sync_req(&inbox, key, 100)))
        .unwrap()
        .expect("a Sync response");
    let subjects: Vec<String> = adds(&r)
        .iter()
        .filter_map(|(_, data)| {
            data.child_text(easd::wbxml::tags::email::SUBJECT)
                .map(str::to_string)
        })
        .collect();
    let mut sorted = subjects.clone();
    sorted.sort();
    assert_eq!(sorted, ["arm 1", "arm 2", "arm 3"], "synced {subjects:?}");

    let ping = ping_request(&inbox);
    let pinging = std::thread::spawn(move || run(phone.ping(&ping)).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.held_pings() != 1 {
        assert!(Instant::now() < deadline, "the Ping was never held");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(
        server.maildir().join("new/1700000999.M1P1.arm"),
        message(9, "pushed", ""),
    )
    .unwrap();
    server.cli(&["notify", USER, "INBOX"]);
    let r = pinging.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert_eq!(r.folders, vec![inbox.as_str().to_string()]);
}

fn ping_request(inbox: &CollectionId) -> PingRequest {
    PingRequest {
        heartbeat: Some(100),
        folders: Some(vec![PingFolder {
            id: inbox.as_str().try_into().unwrap(),
            class: "Email".try_into().unwrap(),
        }]),
    }
}

#[test]
#[ignore = "needs the aarch64 cross build: scripts/test-arm"]
fn aarch64_under_qemu_user_options_foldersync_sync_and_ping() {
    let server = Emulated::start(
        "qemu-aarch64-static",
        &[],
        dist("aarch64-unknown-linux-gnu"),
    );
    // Idle: started, nothing asked yet.
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "figure: aarch64 idle VmRSS under qemu-aarch64-static: {} KiB",
        server.rss_kib()
    );
    exercise(&server);
}

#[test]
#[ignore = "needs the armv7 cross build: scripts/test-arm --all"]
fn armhf_under_qemu_user_options_foldersync_sync_and_ping() {
    let server = Emulated::start(
        "qemu-arm-static",
        &["-L", "/usr/arm-linux-gnueabihf"],
        dist("armv7-unknown-linux-gnueabihf"),
    );
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "figure: armhf idle VmRSS under qemu-arm-static: {} KiB",
        server.rss_kib()
    );
    exercise(&server);
}

#[test]
#[ignore = "needs the static musl cross build: scripts/test-arm --all"]
fn aarch64_musl_static_under_qemu_user_options_foldersync_sync_and_ping() {
    let bin = dist("aarch64-unknown-linux-musl");
    let out = Command::new("readelf")
        .arg("-l")
        .arg(&bin)
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&out.stdout);
    assert!(
        !headers.contains("INTERP"),
        "the musl build must be static, it asks for an interpreter"
    );
    let server = Emulated::start("qemu-aarch64-static", &[], bin);
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "figure: aarch64 static musl idle VmRSS under qemu-aarch64-static: {} KiB",
        server.rss_kib()
    );
    exercise(&server);
}

/// A free TCP port on 127.0.0.1 for QEMU's hostfwd.
/// The guest's first OPTIONS answer. hostfwd accepts at once and drops the connection while
/// nothing listens in the guest: retry every `pause` until easd answers, failing with the
/// console's text once `limit` has passed since `started` (the boot is clearly stuck).
fn first_options(
    phone: &mut Device,
    started: Instant,
    console: &Path,
    limit: Duration,
    pause: Duration,
) -> easd::client::Reply {
    loop {
        if let Ok(r) = run(phone.options()) {
            return r;
        }
        phone.conn.close();
        let elapsed = started.elapsed();
        assert!(
            elapsed < limit,
            "no answer after {elapsed:?}; console:\n{}",
            std::fs::read_to_string(console).unwrap_or_default()
        );
        std::thread::sleep(pause);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs the initramfs: scripts/test-arm"]
fn initramfs_boots_under_qemu_system_and_answers_through_hostfwd() {
    let base = std::env::var_os("EASD_ARM_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/image/initramfs"));
    let (kernel, initrd) = (base.join("vmlinuz"), base.join("initrd.img"));
    assert!(
        kernel.is_file() && initrd.is_file(),
        "{} has no vmlinuz/initrd.img: run scripts/test-arm (image/build-initramfs) first",
        base.display()
    );
    let port = free_port();
    let console = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let _qemu = Qemu(
        Command::new(repo().join("image/run-qemu"))
            .args(["--kernel", kernel.to_str().unwrap()])
            .args(["--initrd", initrd.to_str().unwrap()])
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(console.reopen().unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("image/run-qemu (apt-get install qemu-system-arm)"),
    );
    let target = Target::http(format!("127.0.0.1:{port}"));
    let mut phone = Device::new(target, "demo@example.com", "demo", "qemu-phone");
    let first = first_options(
        &mut phone,
        started,
        console.path(),
        Duration::from_secs(300),
        Duration::from_millis(200),
    );
    eprintln!(
        "figure: qemu-system-aarch64 boot to first OPTIONS answer: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(first.status, 200);
    options_ok(&mut phone);
    let r = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    assert_eq!(r.status, FolderSyncStatus::Success);
    // The demo user's Maildir, seeded on the guest at its first login: an Inbox (type 2) is there.
    assert!(
        r.changes
            .iter()
            .any(|c| matches!(c, FolderChange::Add(e) if e.kind == 2)),
        "folders: {:?}",
        r.changes
    );
    let console = std::fs::read_to_string(console.path()).unwrap_or_default();
    assert!(
        console.contains("easd: http://10.0.2.15:8080/Microsoft-Server-ActiveSync"),
        "the console did not print the URL:\n{console}"
    );
}

/// The flashed generic-aarch64 image (image/build-image, root and a long debootstrap: not CI) booted the
/// way a UEFI board boots it, through `image/run-qemu --image`: EDK2, the image's GRUB, Debian's kernel
/// and systemd. The first boot must make the box's own certificate, print the URL and the admin hint
/// on the console, and easd must answer OPTIONS over HTTPS through the hostfwd (with its Basic challenge:
/// the image has no user until the admin adds one).
#[test]
#[ignore = "needs the flashed image: sudo image/build-image generic-aarch64 (not CI)"]
fn generic_aarch64_image_first_boot_makes_cert_prints_url_and_answers_https() {
    let image = std::env::var_os("EASD_ARM_FLASHED_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/image/easd-generic-aarch64.img"));
    assert!(
        image.is_file(),
        "{} is missing: run sudo image/build-image generic-aarch64 first",
        image.display()
    );
    let port = free_port();
    let console = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let _qemu = Qemu(
        Command::new(repo().join("image/run-qemu"))
            .args(["--image", image.to_str().unwrap()])
            .args(["--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(console.reopen().unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("image/run-qemu (apt-get install qemu-system-arm qemu-efi-aarch64)"),
    );
    let url = format!("https://127.0.0.1:{port}");
    let mut phone = Device::new(
        Target::from_url(&url, true).unwrap(),
        "nobody@example.com",
        "none",
        "image-phone",
    );
    // A full Debian boot under TCG on a busy machine: minutes, not seconds.
    let first = first_options(
        &mut phone,
        started,
        console.path(),
        Duration::from_secs(1200),
        Duration::from_millis(500),
    );
    eprintln!(
        "figure: flashed generic-aarch64 image, qemu-system-aarch64 UEFI boot to first HTTPS OPTIONS answer: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // A fresh image has no user yet (the console hint says how to add one) and easd authenticates
    // OPTIONS, so a phone's first OPTIONS gets easd's Basic challenge.
    assert_eq!(first.status, 401);
    assert_eq!(
        first.header("WWW-Authenticate"),
        Some("Basic realm=\"easd\"")
    );

    // The certificate is the box's own, made at first boot for its host name (the build removes the
    // one the package made in the build chroot).
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("subject=CN = easd"), "certificate: {shown}");
    let console = std::fs::read_to_string(console.path()).unwrap_or_default();
    for line in [
        "easd: made a self-signed certificate for easd",
        "easd is running: https://10.0.2.15/Microsoft-Server-ActiveSync",
        "easd hash-password",
        "systemctl restart easd && easd doctor",
    ] {
        assert!(
            console.contains(line),
            "the console lacks {line:?}:\n{console}"
        );
    }
}

/// Runs the checkout's own easd binary with `args`; returns (success, stdout + stderr).
fn easd(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_easd"))
        .args(args)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn check_config(path: &Path) {
    let (ok, text) = easd(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(ok, "{}: {text}", path.display());
}

fn apply_overrides(config: &Path, board: &str, out: &Path) -> String {
    let status = Command::new(repo().join("board/apply-overrides"))
        .arg(config)
        .arg(repo().join("board").join(board).join("easd.toml"))
        .arg("--output")
        .arg(out)
        .status()
        .expect("board/apply-overrides (python3)");
    assert!(status.success(), "apply-overrides {board} failed");
    std::fs::read_to_string(out).unwrap()
}

fn boards() -> Vec<String> {
    let mut boards: Vec<String> = std::fs::read_dir(repo().join("board"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("board.conf").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    boards.sort();
    boards
}

#[test]
fn every_board_is_defined_and_its_overrides_make_valid_configs() {
    assert_eq!(boards(), ["armhf", "generic-aarch64", "raspberrypi"]);
    let dir = tempfile::tempdir().unwrap();
    for board in boards() {
        let conf =
            std::fs::read_to_string(repo().join("board").join(&board).join("board.conf")).unwrap();
        for key in [
            "BOARD_TARGET=",
            "BOARD_DEB_ARCH=",
            "BOARD_KERNEL_PACKAGES=",
            "BOARD_FIRMWARE_PACKAGES=",
            "BOARD_CONSOLE=",
        ] {
            assert!(conf.contains(key), "{board}/board.conf lacks {key}");
        }
        for base in ["packaging/debian/easd.toml", "examples/easd.toml"] {
            let out = dir.path().join(format!("{board}.toml"));
            let merged = apply_overrides(&repo().join(base), &board, &out);
            check_config(&out);
            let overrides =
                std::fs::read_to_string(repo().join("board").join(&board).join("easd.toml"))
                    .unwrap();
            for line in overrides.lines().filter(|l| l.contains(" = ")) {
                assert!(
                    merged.lines().any(|m| m == line),
                    "{board}: {line:?} not in the merged {base}"
                );
            }
            // Comments and untouched keys survive.
            let original = std::fs::read_to_string(repo().join(base)).unwrap();
            let comments = |t: &str| t.lines().filter(|l| l.starts_with('#')).count();
            assert_eq!(comments(&merged), comments(&original), "{board} on {base}");
        }
    }
    // A key the config lacks is added to its table; a table it lacks is appended.
    let base = dir.path().join("small.toml");
    std::fs::write(
        &base,
        "[server]\nlisten = [\"127.0.0.1:8080\"]\nhostname = \"h\"\ndata_dir = \"/d\"\n\n[autodiscover]\n",
    )
    .unwrap();
    let out = dir.path().join("small-armhf.toml");
    let merged = apply_overrides(&base, "armhf", &out);
    check_config(&out);
    assert!(
        merged.contains("[limits]\nmax_connections = 500\n"),
        "{merged}"
    );
}

#[test]
fn packaged_config_passes_check_config() {
    check_config(&repo().join("packaging/debian/easd.toml"));
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn amd64_deb_carries_binary_unit_conffile_and_maintainer_scripts() {
    let out = tempfile::tempdir().unwrap();
    // Stripped like a release build, so the package is built in seconds, not minutes.
    let bin = out.path().join("easd");
    std::fs::copy(env!("CARGO_BIN_EXE_easd"), &bin).unwrap();
    assert!(Command::new("strip").arg(&bin).status().unwrap().success());
    let built = Command::new(repo().join("packaging/build-deb"))
        .arg("amd64")
        .arg(&bin)
        .arg(out.path())
        .env("DEB_COMPRESS", "gzip")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.starts_with(out.path()), "{}", deb.display());

    let control = dpkg_deb(&["--field"], &deb);
    assert!(control.contains("Package: easd\n"), "{control}");
    assert!(control.contains("Architecture: amd64\n"), "{control}");
    assert!(control.contains("libc6 (>= 2."), "{control}");
    assert!(control.contains("openssl"), "{control}");
    let files = dpkg_deb(&["--contents"], &deb);
    for (mode, path) in [
        ("-rwxr-xr-x root/root", "./usr/bin/easd"),
        ("-rw-r--r-- root/root", "./lib/systemd/system/easd.service"),
        ("-rw-r----- root/root", "./etc/easd/easd.toml"),
        ("-rw-r--r-- root/root", "./usr/share/easd/boards/armhf.toml"),
        ("-rwxr-xr-x root/root", "./usr/share/easd/apply-overrides"),
    ] {
        assert!(
            files
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path)),
            "{path} ({mode}) not in:\n{files}"
        );
    }
    let control_dir = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(control_dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(control_dir.path().join("conffiles")).unwrap(),
        "/etc/easd/easd.toml\n"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let ok = Command::new("sh")
            .arg("-n")
            .arg(control_dir.path().join(script))
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script} is not valid sh");
    }
    let md5sums = std::fs::read_to_string(control_dir.path().join("md5sums")).unwrap();
    assert!(md5sums.contains("  usr/bin/easd\n"), "{md5sums}");

    // The packaged binary is this checkout's easd, and the unit runs exactly that path and config.
    let unpacked = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(status.success());
    let bin = unpacked.path().join("usr/bin/easd");
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert!(version.status.success());
    let unit =
        std::fs::read_to_string(unpacked.path().join("lib/systemd/system/easd.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/easd serve --config /etc/easd/easd.toml\n"));
    for hardening in [
        "User=easd\n",
        "StateDirectory=easd\n",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        "ProtectSystem=strict\n",
        "NoNewPrivileges=yes\n",
    ] {
        assert!(unit.contains(hardening), "unit lacks {hardening}");
    }
}
