//! `easd serve`: start the listeners and run until killed.

use super::{Args, CliError};
use crate::app::App;
use crate::delivery;
use crate::device::{control, notify};
use crate::http::{self, tls::Tls};
use smol::Executor;
use smol::stream::StreamExt;
use std::sync::Arc;

pub fn run(args: &Args) -> Result<(), CliError> {
    let config = args.load_config()?;
    crate::logger::init(config.log.level.as_ref().map(|l| l.get_ref().as_str()));
    bound_threads_and_arenas(&config.limits);
    let failed = |e: String| CliError::Failed(e);
    std::fs::create_dir_all(&config.server.data_dir).map_err(|e| {
        failed(format!(
            "cannot create data_dir {}: {e}",
            config.server.data_dir.display()
        ))
    })?;
    if config.demo.seed {
        crate::demo::seed(&config).map_err(|e| failed(format!("demo seed: {e}")))?;
    }
    let ex = Arc::new(Executor::new());
    let tls = if config.acme.enabled {
        let resolver = crate::acme::start(&config, &ex).map_err(|e| failed(e.to_string()))?;
        Some(Arc::new(
            Tls::with_resolver(resolver).map_err(|e| failed(e.to_string()))?,
        ))
    } else {
        match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) if !config.server.tls_listen.is_empty() => Some(Arc::new(
                Tls::load(cert, key).map_err(|e| failed(e.to_string()))?,
            )),
            _ => None,
        }
    };
    let app = Arc::new(App::open(config).map_err(|e| failed(e.to_string()))?);
    let socket = control::socket_path(&app.config.server.data_dir);
    let listener = control::bind(&socket)
        .map_err(|e| failed(format!("control socket {}: {e}", socket.display())))?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    for i in 1..threads {
        let ex = ex.clone();
        std::thread::Builder::new()
            .name(format!("easd-worker-{i}"))
            .spawn(move || smol::block_on(ex.run(smol::future::pending::<()>())))
            .map_err(|e| failed(format!("cannot start worker thread: {e}")))?;
    }
    smol::block_on(ex.run(async {
        let bound = http::start(app.clone(), ex.clone(), tls.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let admin = app.clone();
        let handler: Arc<control::Handler> =
            Arc::new(move |args: &[String]| match args.split_first() {
                Some((cmd, rest)) if cmd == delivery::CONTROL_COMMAND => {
                    delivery::control(&admin, rest).map_err(|e| e.to_string())
                }
                _ => super::admin::execute(&admin.devices, args).map_err(|e| e.to_string()),
            });
        ex.spawn(control::serve(listener, handler)).detach();
        let udp = std::net::UdpSocket::bind(app.config.push.udp_listen).map_err(|e| {
            failed(format!(
                "cannot listen for notifications on udp {}: {e}",
                app.config.push.udp_listen
            ))
        })?;
        crate::push::udp::spawn_listener(
            udp,
            app.config.push.udp_secret.clone(),
            crate::push::watch::on_notification(app.clone()),
        )
        .map_err(|e| failed(format!("cannot start the notification listener: {e}")))?;
        ex.spawn(crate::push::watch::run(app.clone())).detach();
        crate::mailsearch::background::spawn(app.clone())
            .map_err(|e| failed(format!("cannot start the search index thread: {e}")))?;
        let queue = app.clone();
        ex.spawn(async move {
            // Bounces go back to the local user who sent the message.
            let env = queue.devices.env();
            queue
                .outbound
                .run_queue(|to, message| match env.local_user(to) {
                    Some((local, _)) => {
                        if let Err(e) = notify::deliver(env, local, &message) {
                            log::warn!("outbound: bounce to {to} not delivered: {e}");
                        }
                    }
                    None => log::warn!("outbound: bounce for {to}, who is not a local user"),
                })
                .await;
        })
        .detach();
        for (addr, is_tls) in &bound {
            log::info!(
                "listening on {}://{addr}",
                if *is_tls { "https" } else { "http" }
            );
        }
        signals(tls).await
    }))
}

/// Bounds what threads cost, before any thread but this one exists.
/// Allocations at least this large are mmapped (and unmapped when freed) by glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

fn bound_threads_and_arenas(limits: &crate::config::LimitsConfig) {
    // The pool behind smol::unblock otherwise grows to 500 threads in a burst and never shrinks:
    // an idle thread leaves only when the pool is over its limit, so every burst's peak stays
    // resident (a stack and a malloc arena per thread) for the life of the process.
    blocking::set_max_blocking_threads(
        usize::try_from(limits.blocking_threads)
            .ok()
            .and_then(std::num::NonZeroUsize::new)
            .unwrap_or(std::num::NonZeroUsize::MIN),
    );
    // glibc gives threads up to eight arenas per core, each holding on to its own freed memory;
    // under the soak that was 9 MB more resident than two arenas, for no measurable gain on
    // easd's short allocations. musl has no arenas.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc raises its mmap threshold to the size of each large block freed, so after the
        // first login argon2's 19 MiB buffers came from the heap and stayed resident; a fixed
        // threshold keeps large buffers mmapped, returned to the system when freed.
        // SAFETY: as below.
        if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) } != 1 {
            log::warn!("glibc refused an mmap threshold of {MMAP_THRESHOLD} bytes");
        }
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(arenas @ 1..) = libc::c_int::try_from(limits.malloc_arenas) {
        // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
        if unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) } != 1 {
            log::warn!("limits.malloc_arenas: glibc refused {arenas}");
        }
    }
}

/// SIGHUP reloads the certificate; SIGTERM and SIGINT end the process. Every acknowledged write is
/// already durable, so stopping needs no draining.
async fn signals(tls: Option<Arc<Tls>>) -> Result<(), CliError> {
    use async_signal::{Signal, Signals};
    let mut signals = Signals::new([Signal::Hup, Signal::Term, Signal::Int])
        .map_err(|e| CliError::Failed(format!("cannot install signal handlers: {e}")))?;
    while let Some(signal) = signals.next().await {
        match signal {
            Ok(Signal::Hup) => match &tls {
                Some(tls) if tls.is_managed() => {
                    log::info!("SIGHUP: the ACME certificate is renewed by easd itself")
                }
                Some(tls) => match tls.reload() {
                    Ok(()) => log::info!("TLS certificate reloaded"),
                    Err(e) => log::error!("TLS reload failed, keeping the old certificate: {e}"),
                },
                None => log::info!("SIGHUP: no TLS listener to reload"),
            },
            Ok(s) => {
                log::info!("{s:?}: stopping");
                return Ok(());
            }
            Err(e) => log::warn!("signal error: {e}"),
        }
    }
    Ok(())
}
