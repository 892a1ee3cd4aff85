//! The Settings command (MS-ASCMD 2.2.1.18): DeviceInformation Set, UserInformation Get,
//! Oof Get/Set, DevicePassword Set and RightsManagementInformation Get (always empty).

pub mod messages;

use crate::device::registry::{self, DeviceInfo};
use crate::device::{DeviceError, DeviceId, DeviceKey, Devices, oof};
use crate::eas::provision::codes::SettingsStatus;
use crate::eas::{Command, Reply, Request};
use crate::wbxml::Element;
use crate::wbxml::tags::{provision as p, settings as s};
use messages::{OofRequest, OofResponse, SettingsRequest, SettingsResponse, UserInformation};

/// The DeviceInformation a Settings or Provision request carries, for the device gate (it must
/// know the model and OS before the ABQ rules can judge the device).
pub fn device_info_in(cmd: Command, tree: Option<&Element>) -> Option<DeviceInfo> {
    let tree = tree?;
    let holder = match cmd {
        Command::Settings if tree.tag == s::SETTINGS => tree,
        Command::Provision if tree.tag == p::PROVISION => tree,
        _ => return None,
    };
    holder
        .first(s::DEVICE_INFORMATION)
        .map(DeviceInfo::from_element)
}

pub fn handle(devices: &Devices, req: &Request) -> Reply {
    let answer = match req.tree.as_ref().map(SettingsRequest::parse) {
        Some(Ok(parsed)) => match run(devices, req, &parsed) {
            Ok(r) => r,
            Err(e) => {
                log::error!("{} [{}] Settings: {e}", req.query.device_id, req.user);
                SettingsResponse::status_only(SettingsStatus::ServerUnavailable)
            }
        },
        Some(Err(e)) => {
            log::info!("{} [{}] Settings: {e}", req.query.device_id, req.user);
            SettingsResponse::status_only(SettingsStatus::ProtocolError)
        }
        None => SettingsResponse::status_only(SettingsStatus::ProtocolError),
    };
    Reply::Wbxml(answer.encode(req.version))
}

fn run(
    devices: &Devices,
    req: &Request,
    parsed: &SettingsRequest,
) -> Result<SettingsResponse, DeviceError> {
    let db = devices.db();
    let mut out = SettingsResponse::status_only(SettingsStatus::Success);
    // The gate already merged DeviceInformation into the device record.
    out.device_information = parsed
        .device_information
        .as_ref()
        .map(|_| SettingsStatus::Success);
    if let Some(password) = &parsed.device_password {
        let key = DeviceKey::new(&req.user, DeviceId::parse(&req.query.device_id)?);
        registry::modify(db, &key, |d| d.recovery_password = Some(password.clone()))?;
        out.device_password = Some(SettingsStatus::Success);
    }
    out.oof = match &parsed.oof {
        Some(OofRequest::Get { .. }) => Some(OofResponse {
            status: SettingsStatus::Success,
            get: Some(oof::get(db, &req.user)?),
        }),
        Some(OofRequest::Set(settings)) => {
            oof::set(db, &req.user, settings.clone())?;
            Some(OofResponse {
                status: SettingsStatus::Success,
                get: None,
            })
        }
        None => None,
    };
    if parsed.user_information {
        let (email, name) = devices
            .env()
            .local_user(&req.user)
            .cloned()
            .unwrap_or_else(|| (req.user.clone(), String::new()));
        out.user_information = Some(UserInformation {
            status: SettingsStatus::Success,
            display_name: name,
            addresses: vec![email],
        });
    }
    out.rights_management = parsed.rights_management.then_some(SettingsStatus::Success);
    Ok(out)
}
