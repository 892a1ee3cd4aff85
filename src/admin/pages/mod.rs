//! The pages, one module per screen of the guide's "Ecrans de configuration", and the admin
//! area's routing. Pages are synchronous (they read redb) and run on a blocking thread.

pub mod abq;
pub mod account;
pub mod activesync;
pub mod device;
pub mod devices;
pub mod policy;

use super::html::{self, esc};
use super::web;
use super::{Area, Ctx};
use crate::device::{DeviceError, DeviceId, DeviceKey};
use crate::http::Body;
use hyper::Response;

pub const CSS: &str = include_str!("../style.css");

fn bare_page(area: Area, status: u16, title: &str, text: &str) -> Response<Body> {
    web::html(
        status,
        html::page(
            html::Layout {
                area,
                title,
                current: "",
                who: None,
                flash: None,
            },
            &format!("<section><p>{}</p></section>", esc(text)),
        ),
    )
}

/// The answer on a listener that must not serve the pages.
pub fn refused(area: Area) -> Response<Body> {
    bare_page(
        area,
        403,
        "Not available here",
        "This page is served only over HTTPS or on a loopback listener, so that passwords never \
         cross the network in clear. Use the https:// address, or set admin.allow_plain_http when \
         a TLS proxy is in front.",
    )
}

pub fn csrf_refused(area: Area) -> Response<Body> {
    bare_page(
        area,
        403,
        "Form refused",
        "This form did not come from this page (its security token is missing or wrong), so nothing \
         was changed. Go back, reload the page and try again.",
    )
}

pub fn not_found(area: Area) -> Response<Body> {
    bare_page(area, 404, "Not found", "There is no such page.")
}

/// `user/id` from two path segments, as the device key it names.
pub fn device_key(user: &str, id: &str) -> Result<DeviceKey, DeviceError> {
    if !crate::config::valid_email(user) {
        return Err(DeviceError::BadDeviceId(format!("{user}/{id}")));
    }
    Ok(DeviceKey::new(user, DeviceId::parse(id)?))
}

/// The path of a device's window.
pub fn device_path(key: &DeviceKey) -> String {
    format!(
        "/admin/devices/{}/{}",
        super::form::encode(key.user()),
        super::form::encode(key.id().as_str())
    )
}

/// An error page for a failed read of the state database.
pub fn failed(area: Area, e: &DeviceError) -> Response<Body> {
    log::error!("web console: {e}");
    bare_page(area, 500, "Error", &e.to_string())
}

/// Runs an action, keeps its message for the next page, and sends the browser to `back`.
pub fn act(ctx: &Ctx, action: super::actions::Action, back: &str) -> Response<Body> {
    ctx.flash(action.run(ctx.app, ctx.who()));
    web::redirect(back)
}

pub fn admin(ctx: &Ctx) -> Response<Body> {
    let post = ctx.req.is_post();
    match ctx.req.segs().as_slice() {
        [] => web::redirect("/admin/activesync"),
        ["activesync"] => activesync::page(ctx),
        ["abq"] if post => abq::post(ctx),
        ["abq"] => abq::list(ctx),
        ["abq", "new"] => abq::edit_form(ctx, None),
        ["abq", id] => match id.parse() {
            Ok(id) => abq::edit_form(ctx, Some(id)),
            Err(_) => not_found(ctx.area),
        },
        ["devices"] if post => devices::post(ctx),
        ["devices"] => devices::list(ctx),
        ["devices", user, id, rest @ ..] => match device_key(user, id) {
            Ok(key) => match (rest, post) {
                ([], true) => device::post(ctx, &key),
                ([], false) => device::window(ctx, &key),
                (["log"], false) => device::log(ctx, &key),
                (["wipe"], false) => device::confirm_wipe(ctx, &key),
                _ => not_found(ctx.area),
            },
            Err(_) => not_found(ctx.area),
        },
        ["policy"] if post => policy::post(ctx),
        ["policy"] => policy::page(ctx),
        _ => not_found(ctx.area),
    }
}
