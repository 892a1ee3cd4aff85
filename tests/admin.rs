//! The web console and user pages over real sockets, without a browser: CSRF tokens refused when
//! missing, forged or from another session; sessions ending after `admin.session_idle_secs`; login
//! throttling shared with the phones' authentication; the pages refused on a plain-HTTP listener
//! bound to a non-loopback address, served on loopback and TLS listeners (with Secure cookies on
//! TLS); and a change made on a page seen by the CLI.

mod common;

use common::phone::{Outcome, probe};
use common::{Options, PASSWORD, Server, password_hash, run, spawn_process};
use easd::admin::form::Form;
use easd::client::{Connection, Reply, Target};
use std::collections::HashMap;
use std::process::Child;
use std::time::Duration;

/// A cookie-keeping web client on one connection.
struct Browser {
    conn: Connection,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(target: Target) -> Browser {
        Browser {
            conn: Connection::new(target),
            cookies: HashMap::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, body: Option<&Form>) -> Reply {
        let mut headers = Vec::new();
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            headers.push(("Cookie".to_string(), c.join("; ")));
        }
        let data = body.map(Form::encode).unwrap_or_default().into_bytes();
        if body.is_some() {
            headers.push((
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ));
        }
        let reply = run(self.conn.request(method, path, &headers, data)).unwrap();
        for v in reply.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        reply
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    fn post(&mut self, path: &str, form: &Form) -> Reply {
        self.send("POST", path, Some(form))
    }

    /// Logs in through the login form of `area` ("/admin" or "/account").
    fn login(&mut self, area: &str, name: &str, password: &str) -> Reply {
        let page = self.get(&format!("{area}/login"));
        assert_eq!(page.status, 200);
        let token = csrf(&page);
        self.post(
            &format!("{area}/login"),
            &Form::from_pairs([
                ("csrf", token.as_str()),
                ("name", name),
                ("password", password),
            ]),
        )
    }
}

fn body(r: &Reply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The CSRF token of the first form on a page.
fn csrf(r: &Reply) -> String {
    let text = body(r);
    let start = text
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    text[start..start + 64].to_string()
}

fn admin_options(extra: &str) -> Options {
    Options {
        extra: format!(
            "[admin]\n{extra}\n[[admin.account]]\nname = \"root\"\npassword_hash = \"{}\"\n",
            password_hash()
        ),
        ..Options::default()
    }
}

fn device_show(server: &Server, key: &str) -> String {
    let (ok, out, err) = server.cli(&["device", "show", key], None);
    assert!(ok, "{err}");
    out
}

const OK: Outcome = Outcome {
    http: 200,
    status: Some(1),
};

#[test]
fn forms_without_the_sessions_csrf_token_change_nothing() {
    let server = Server::start_with(admin_options(""));
    let mut phone = server.device("alice@example.com", "csrf1");
    assert_eq!(probe(&mut phone), OK);

    // The login form itself needs its token and the pre-login cookie it is bound to.
    let mut b = Browser::new(server.target());
    let r = b.post(
        "/admin/login",
        &Form::from_pairs([("csrf", "00"), ("name", "root"), ("password", PASSWORD)]),
    );
    assert_eq!(r.status, 403);
    assert!(!b.cookies.contains_key("easd_admin"));
    assert_eq!(b.login("/admin", "root", PASSWORD).status, 303);
    assert!(b.cookies.contains_key("easd_admin"));
    let page = b.get("/admin/devices");
    assert_eq!(page.status, 200);
    assert!(body(&page).contains("alice@example.com/csrf1"));
    let token = csrf(&page);

    let mut other = Browser::new(server.target());
    assert_eq!(other.login("/admin", "root", PASSWORD).status, 303);
    let foreign = csrf(&other.get("/admin/devices"));
    assert_ne!(foreign, token);

    let block = |t: &str| {
        let mut f = Form::from_pairs([("op", "block"), ("device", "alice@example.com/csrf1")]);
        if !t.is_empty() {
            f.push("csrf", t);
        }
        f
    };
    for bad in ["", "0123", foreign.as_str()] {
        let r = b.post("/admin/devices", &block(bad));
        assert_eq!(r.status, 403, "token {bad:?}");
        assert!(body(&r).contains("nothing was changed"));
        assert!(device_show(&server, "csrf1").contains("access               allow"));
    }
    assert!(
        server
            .wait_log("without a valid CSRF token refused", Duration::from_secs(5))
            .is_some()
    );
    assert_eq!(probe(&mut phone), OK);

    // With its own token the same form works, through the CLI's code and message.
    let r = b.post("/admin/devices", &block(&token));
    assert_eq!(r.status, 303);
    assert!(device_show(&server, "csrf1").contains("block (set by the administrator)"));
    assert_eq!(probe(&mut phone).http, 403);
    let page = b.get("/admin/devices");
    assert!(body(&page).contains("alice@example.com/csrf1: block"));

    // Logging out ends the session: its cookie no longer opens the pages.
    let stolen = b.cookies["easd_admin"].clone();
    assert_eq!(
        b.post(
            "/admin/logout",
            &Form::from_pairs([("csrf", token.as_str())])
        )
        .status,
        303
    );
    let mut replay = Browser::new(server.target());
    replay.cookies.insert("easd_admin".into(), stolen);
    let r = replay.get("/admin/devices");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin/login"))
    );
}

#[test]
fn sessions_expire_when_idle_and_stay_in_their_area() {
    let server = Server::start_with(admin_options("session_idle_secs = 4"));
    let mut phone = server.device("alice@example.com", "idle1");
    assert_eq!(probe(&mut phone), OK);
    let mut b = Browser::new(server.target());
    assert_eq!(b.login("/admin", "root", PASSWORD).status, 303);
    let page = b.get("/admin/devices");
    assert_eq!(page.status, 200);
    let token = csrf(&page);
    // An admin session does not open the user pages, nor a user's the console.
    assert_eq!(b.get("/account").status, 303);
    let mut user = Browser::new(server.target());
    assert_eq!(
        user.login("/account", "alice@example.com", PASSWORD).status,
        303
    );
    assert_eq!(user.get("/account").status, 200);
    let mut crossed = Browser::new(server.target());
    crossed
        .cookies
        .insert("easd_admin".into(), user.cookies["easd_account"].clone());
    assert_eq!(crossed.get("/admin/devices").status, 303);

    std::thread::sleep(Duration::from_secs(5));
    let r = b.get("/admin/devices");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin/login"))
    );
    let r = b.post(
        "/admin/devices",
        &Form::from_pairs([
            ("csrf", token.as_str()),
            ("op", "block"),
            ("device", "alice@example.com/idle1"),
        ]),
    );
    assert_eq!(r.status, 303);
    assert!(device_show(&server, "idle1").contains("access               allow"));
    assert_eq!(probe(&mut phone), OK);
}

#[test]
fn logins_are_throttled_with_the_phones() {
    let server = Server::start_with(Options {
        extra: format!(
            "[limits]\nauth_failures_per_ip = 2\n\n[admin]\n[[admin.account]]\nname = \"root\"\npassword_hash = \"{}\"\n",
            password_hash()
        ),
        ..Options::default()
    });
    let mut b = Browser::new(server.target());
    // Both login forms once: their tokens stay valid, so each attempt below is one request.
    let admin_token = csrf(&b.get("/admin/login"));
    let user_token = csrf(&b.get("/account/login"));
    let attempt = |b: &mut Browser, area: &str, password: &str| {
        let (token, name) = match area {
            "/admin" => (&admin_token, "root"),
            _ => (&user_token, "alice@example.com"),
        };
        b.post(
            &format!("{area}/login"),
            &Form::from_pairs([
                ("csrf", token.as_str()),
                ("name", name),
                ("password", password),
            ]),
        )
    };
    // Failures on either page count for the address: the second begins a 1 s block, and each
    // failure after a block ends doubles it. Waiting out each block (sleeping only ever makes
    // this later, never earlier) leads to an 8 s block, ample for the checks that follow.
    let r = attempt(&mut b, "/admin", "guess");
    assert_eq!(r.status, 401);
    assert!(body(&r).contains("Wrong name or password"));
    for (i, area) in ["/admin", "/account", "/admin", "/account"]
        .iter()
        .enumerate()
    {
        assert_eq!(attempt(&mut b, area, "guess").status, 401, "{area}");
        if i < 3 {
            std::thread::sleep(Duration::from_millis(1200 << i));
        }
    }
    // Now even the right password is refused, unchecked, on both pages.
    for area in ["/admin", "/account"] {
        let r = attempt(&mut b, area, PASSWORD);
        assert_eq!(r.status, 429, "{area}");
        let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!(secs >= 1);
        assert!(body(&r).contains("Too many failed logins"));
        assert!(!b.cookies.contains_key("easd_admin"));
    }
    // A phone that never logged in, from the same address, is held back the same way.
    let mut phone = server.device("bob@example.com", "thr1");
    assert_eq!(probe(&mut phone).http, 503);
    assert!(
        server
            .wait_log(
                "failed console logins for address 127.0.0.1",
                Duration::from_secs(5)
            )
            .is_some()
    );
}

/// A server with a plain listener on 0.0.0.0 (reached here through 127.0.0.1), one on 127.0.0.1
/// and a TLS listener on 0.0.0.0.
struct Listeners {
    child: Child,
    _dir: tempfile::TempDir,
    wildcard: String,
    loopback: String,
    tls: String,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port(line: &str) -> u16 {
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

fn listeners(extra: &str) -> Listeners {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mail.example.com",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let config = dir.path().join("easd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"0.0.0.0:0\", \"127.0.0.1:0\"]\ntls_listen = [\"0.0.0.0:0\"]\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\nhostname = \"mail.example.com\"\ndata_dir = \"{}\"\n\
             [push]\nudp_listen = \"127.0.0.1:{udp}\"\n[admin]\n{extra}\n[[admin.account]]\nname = \"root\"\n\
             password_hash = \"{h}\"\n[[user]]\nemail = \"alice@example.com\"\npassword_hash = \"{h}\"\n",
            cert.display(),
            key.display(),
            dir.path().join("data").display(),
            h = password_hash()
        ),
    )
    .unwrap();
    let (child, first, log) = spawn_process(&config);
    let next = |scheme: &str| loop {
        let line = log
            .recv_timeout(Duration::from_secs(20))
            .expect("listeners");
        if line.contains(&format!("listening on {scheme}://")) {
            break port(&line);
        }
    };
    let loopback = next("http");
    let tls = next("https");
    Listeners {
        child,
        _dir: dir,
        wildcard: format!("127.0.0.1:{}", first.port()),
        loopback: format!("127.0.0.1:{loopback}"),
        tls: format!("127.0.0.1:{tls}"),
    }
}

#[test]
fn pages_only_on_loopback_and_tls_listeners() {
    let l = listeners("");
    let mut plain = Browser::new(Target::http(l.wildcard.clone()));
    for path in ["/admin/login", "/account/login", "/admin", "/account/"] {
        let r = plain.get(path);
        assert_eq!(r.status, 403, "{path} on a 0.0.0.0 plain listener");
        assert!(body(&r).contains("only over HTTPS or on a loopback listener"));
    }
    let r = plain.post(
        "/admin/login",
        &Form::from_pairs([("name", "root"), ("password", PASSWORD)]),
    );
    assert_eq!(r.status, 403);
    assert!(plain.cookies.is_empty());

    let mut local = Browser::new(Target::http(l.loopback.clone()));
    assert_eq!(local.login("/admin", "root", PASSWORD).status, 303);
    assert!(!local.cookies.is_empty());
    assert_eq!(local.get("/admin/activesync").status, 200);

    let target = Target::from_url(&format!("https://{}", l.tls), true).unwrap();
    let mut secure = Browser::new(target);
    let page = secure.get("/account/login");
    assert_eq!(page.status, 200);
    let cookie = page.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let token = csrf(&page);
    let r = secure.post(
        "/account/login",
        &Form::from_pairs([
            ("csrf", token.as_str()),
            ("name", "alice@example.com"),
            ("password", PASSWORD),
        ]),
    );
    assert_eq!(r.status, 303);
    let session = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("easd_account="))
        .unwrap()
        .to_string();
    for attr in ["Path=/account", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(session.contains(attr), "{attr} in {session}");
    }
    let home = secure.get("/account");
    assert_eq!(home.status, 200);
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(home.header("x-frame-options"), Some("DENY"));

    // The configuration can open the plain listeners (a TLS proxy in front).
    drop(l);
    let open = listeners("allow_plain_http = true");
    let mut plain = Browser::new(Target::http(open.wildcard.clone()));
    assert_eq!(plain.login("/admin", "root", PASSWORD).status, 303);
}

#[test]
fn users_wipe_only_their_own_devices_after_confirming() {
    let server = Server::start();
    let mut bobs = server.device("bob@example.com", "bobphone");
    assert_eq!(probe(&mut bobs), OK);
    let mut mine = server.device("alice@example.com", "mine1");
    assert_eq!(probe(&mut mine), OK);
    let mut b = Browser::new(server.target());
    assert_eq!(b.login("/account", "alice", PASSWORD).status, 303);
    let home = b.get("/account");
    assert_eq!(home.status, 200);
    let text = body(&home);
    assert!(
        text.contains("mine1") && !text.contains("bobphone"),
        "{text}"
    );
    let token = csrf(&home);
    let wipe = |confirm: &str| {
        Form::from_pairs([
            ("csrf", token.as_str()),
            ("op", "wipe"),
            ("kind", "full"),
            ("confirm", confirm),
        ])
    };
    // Another user's device does not exist here, whatever its id.
    let r = b.send("POST", "/account/devices/bobphone/wipe", Some(&wipe("yes")));
    assert_eq!(r.status, 404);
    assert!(device_show(&server, "bobphone").contains("remote wipe          none"));
    // Without the confirmation the form only asks.
    let r = b.send("POST", "/account/devices/mine1/wipe", Some(&wipe("")));
    assert_eq!(r.status, 200);
    assert!(body(&r).contains("Yes, wipe the device"));
    assert!(device_show(&server, "mine1").contains("remote wipe          none"));
    let r = b.send("POST", "/account/devices/mine1/wipe", Some(&wipe("yes")));
    assert_eq!((r.status, r.header("location")), (303, Some("/account")));
    assert!(device_show(&server, "mine1").contains("pending (remote wipe)"));
    assert_eq!(probe(&mut mine).status, Some(140));
    assert_eq!(probe(&mut bobs), OK);
    // A device the administrator blocked is not listed to its owner, nor wipeable by them.
    let (ok, _, err) = server.cli(&["device", "block", "bobphone"], None);
    assert!(ok, "{err}");
    let mut bob = Browser::new(server.target());
    assert_eq!(
        bob.login("/account", "bob@example.com", PASSWORD).status,
        303
    );
    assert!(!body(&bob.get("/account")).contains("bobphone"));
    assert_eq!(
        bob.get("/account/devices/bobphone/wipe?kind=full").status,
        404
    );
}

#[test]
fn policy_form_saves_only_changes_and_inherit_restores() {
    let server = Server::start_with(admin_options(""));
    let mut b = Browser::new(server.target());
    assert_eq!(b.login("/admin", "root", PASSWORD).status, 303);
    let page = b.get("/admin/policy?level=user:bob@example.com");
    assert_eq!(page.status, 200);
    assert!(body(&page).contains("inherited from the default level"));
    let token = csrf(&page);
    let policy = |b: &mut Browser, pairs: &[(&str, &str)]| {
        let mut f = Form::from_pairs([("csrf", token.as_str()), ("level", "user:bob@example.com")]);
        for (k, v) in pairs {
            f.push(k, v);
        }
        b.post("/admin/policy", &f)
    };
    let show = || {
        let (ok, out, err) =
            server.cli(&["policy", "show", "--level", "user:bob@example.com"], None);
        assert!(ok, "{err}");
        out
    };
    // Saving the form as shown changes nothing: the level still inherits.
    let r = policy(
        &mut b,
        &[
            ("op", "set"),
            ("password_required", "false"),
            ("min_password_length", ""),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(body(&b.get("/admin/policy?level=user:bob@example.com")).contains("Nothing changed"));
    assert!(show().starts_with("level user:bob@example.com: inherited from default"));
    // A bad value is refused with the CLI's message, and nothing is written.
    policy(&mut b, &[("op", "set"), ("min_password_length", "99")]);
    let page = body(&b.get("/admin/policy?level=user:bob@example.com"));
    assert!(page.contains("not a number from 1 to 16"), "{page}");
    assert!(show().contains("inherited from default"));
    // A real change customises the level; Inherit drops it again.
    policy(&mut b, &[("op", "set"), ("allow_camera", "false")]);
    let shown = show();
    assert!(
        shown.starts_with("level user:bob@example.com: customised"),
        "{shown}"
    );
    assert!(
        shown
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["allow_camera", "false"])
    );
    let page = body(&b.get("/admin/policy?level=user:bob@example.com"));
    assert!(page.contains("specific to this level"));
    policy(&mut b, &[("op", "inherit")]);
    assert!(body(&b.get("/admin/policy?level=user:bob@example.com")).contains("now inherits"));
    assert!(show().contains("inherited from default"));
}
