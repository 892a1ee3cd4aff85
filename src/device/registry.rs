//! The device registry: one record per (user, DeviceId) with what the device told us (type,
//! User-Agent, Settings/Provision DeviceInformation), when it was first and last seen, its ABQ
//! state, policy state, remote wipe state and per-device folder options.

use super::abq::Access;
use super::options::StoredOptions;
use super::tables::{self, DEVICES, POLICIES, WIPED};
use super::{DeviceError, DeviceId, DeviceKey};
use crate::state::sync::DeviceRef;
use crate::state::sync_redb::forget_device_in;
use redb::TableHandle;
use redb::{Durability, ReadableTable, Table};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What DeviceInformation (MS-ASCMD 2.2.3.51) told us; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceInfo {
    pub model: Option<String>,
    pub imei: Option<String>,
    pub friendly_name: Option<String>,
    pub os: Option<String>,
    pub os_language: Option<String>,
    pub phone_number: Option<String>,
    pub user_agent: Option<String>,
    pub mobile_operator: Option<String>,
    pub enable_outbound_sms: Option<bool>,
}

impl DeviceInfo {
    /// Takes every field `other` has.
    pub fn merge(&mut self, other: &DeviceInfo) {
        fn take<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if src.is_some() {
                dst.clone_from(src);
            }
        }
        take(&mut self.model, &other.model);
        take(&mut self.imei, &other.imei);
        take(&mut self.friendly_name, &other.friendly_name);
        take(&mut self.os, &other.os);
        take(&mut self.os_language, &other.os_language);
        take(&mut self.phone_number, &other.phone_number);
        take(&mut self.user_agent, &other.user_agent);
        take(&mut self.mobile_operator, &other.mobile_operator);
        take(&mut self.enable_outbound_sms, &other.enable_outbound_sms);
    }
}

/// Where the device stands with the security policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    /// Never acknowledged a policy.
    #[default]
    NotProvisioned,
    /// Received the policy (temporary key), has not acknowledged it yet.
    Pending,
    Applied,
    /// Acknowledged with "partial success"; let in only where non-provisionable devices may sync.
    Partial,
    /// Acknowledged without applying it.
    Refused,
}

impl fmt::Display for PolicyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyStatus::NotProvisioned => "not provisioned",
            PolicyStatus::Pending => "pending acknowledgement",
            PolicyStatus::Applied => "applied",
            PolicyStatus::Partial => "partially applied",
            PolicyStatus::Refused => "refused",
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyState {
    pub status: PolicyStatus,
    /// The final key the device holds.
    pub key: Option<u32>,
    /// The temporary key of a download not acknowledged yet.
    pub pending_key: Option<u32>,
    /// Fingerprint of the settings `key` was issued for.
    pub fingerprint: u64,
    /// Fingerprint of the settings sent with `pending_key`.
    pub pending_fingerprint: u64,
    pub provisioned_at: u64,
    /// Requests refused for want of a policy key since the last Provision.
    pub refusals: u32,
    /// The "did not confirm the security profile" notice went out.
    pub refusal_notified: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WipeKind {
    /// Provision RemoteWipe: the whole device.
    Full,
    /// Provision AccountOnlyRemoteWipe (16.1): only this account's data.
    AccountOnly,
}

impl fmt::Display for WipeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WipeKind::Full => "remote wipe",
            WipeKind::AccountOnly => "account-only remote wipe",
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Wipe {
    #[default]
    None,
    Pending {
        kind: WipeKind,
        requested_at: u64,
        /// Requests answered with "wipe requested" so far.
        signals: u32,
    },
}

/// A device that has been signalled this many times without coming to Provision is shown as not
/// supporting remote wipe.
const UNSUPPORTED_AFTER_SIGNALS: u32 = 5;

/// One device record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub user: String,
    pub id: String,
    pub device_type: String,
    pub user_agent: String,
    #[serde(default)]
    pub info: DeviceInfo,
    pub first_seen: u64,
    pub last_seen: u64,
    /// The protocol version of the last request.
    pub protocol: String,
    /// The administrator's decision; it overrides the ABQ rules.
    #[serde(default)]
    pub admin_access: Option<Access>,
    /// What the rules (or the administrator) decided on the last request.
    #[serde(default = "default_access")]
    pub access: Access,
    /// Which rule decided.
    #[serde(default)]
    pub access_reason: String,
    #[serde(default)]
    pub quarantine_notified: bool,
    #[serde(default)]
    pub policy: PolicyState,
    #[serde(default)]
    pub wipe: Wipe,
    #[serde(default)]
    pub options: StoredOptions,
    /// The recovery password the device stored with Settings DevicePassword.
    #[serde(default)]
    pub recovery_password: Option<String>,
}

fn default_access() -> Access {
    Access::Allow
}

impl Device {
    pub fn new(key: &DeviceKey, device_type: &str, user_agent: &str, now: u64) -> Device {
        Device {
            user: key.user().to_string(),
            id: key.id().to_string(),
            device_type: device_type.to_string(),
            user_agent: user_agent.to_string(),
            info: DeviceInfo::default(),
            first_seen: now,
            last_seen: now,
            protocol: String::new(),
            admin_access: None,
            access: Access::Allow,
            access_reason: String::new(),
            quarantine_notified: false,
            policy: PolicyState::default(),
            wipe: Wipe::None,
            options: StoredOptions::default(),
            recovery_password: None,
        }
    }

    pub fn key(&self) -> Result<DeviceKey, DeviceError> {
        Ok(DeviceKey::new(&self.user, DeviceId::parse(&self.id)?))
    }

    /// What the remote wipe column shows.
    pub fn wipe_status(&self) -> String {
        match self.wipe {
            Wipe::None => "none".into(),
            Wipe::Pending { kind, .. } if !self.supports(kind) => {
                format!("not supported ({kind} pending)")
            }
            Wipe::Pending { kind, .. } => format!("pending ({kind})"),
        }
    }

    /// Whether a wipe of `kind` can reach this device: an account-only wipe needs 16.1, and a
    /// device that keeps ignoring the wipe signal does not take part in provisioning at all.
    pub fn supports(&self, kind: WipeKind) -> bool {
        let ignores = matches!(self.wipe, Wipe::Pending { signals, .. } if signals >= UNSUPPORTED_AFTER_SIGNALS)
            && self.policy.status == PolicyStatus::NotProvisioned;
        let version_ok = kind == WipeKind::Full || self.protocol == "16.1";
        version_ok && !ignores
    }

    /// The guide: blocked and quarantined devices are not listed to their owner.
    pub fn visible_to_owner(&self) -> bool {
        self.access == Access::Allow
    }

    pub fn label(&self) -> String {
        format!("{} : {}", self.device_type, self.id)
    }
}

/// A device that acknowledged a remote wipe and was removed; kept to show "done".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wiped {
    pub device: Device,
    pub kind: WipeKind,
    pub wiped_at: u64,
}

fn user_range(user: &str) -> std::ops::Range<String> {
    // '0' follows '/' in ASCII: the range holds exactly the keys "user/...".
    format!("{user}/")..format!("{user}0")
}

pub fn get(db: &redb::Database, key: &DeviceKey) -> Result<Option<Device>, DeviceError> {
    tables::read(db, DEVICES, &key.storage())
}

/// Every device, or one user's, in key order.
pub fn list(db: &redb::Database, user: Option<&str>) -> Result<Vec<Device>, DeviceError> {
    let all: Vec<(String, Device)> = tables::read_all(db, DEVICES)?;
    Ok(all
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| user.is_none_or(|u| d.user.eq_ignore_ascii_case(u)))
        .collect())
}

pub fn wiped(db: &redb::Database) -> Result<Vec<Wiped>, DeviceError> {
    Ok(tables::read_all(db, WIPED)?
        .into_iter()
        .map(|(_, w)| w)
        .collect())
}

/// Finds the device an admin names: `USER/ID`, or a bare `ID` when only one user has it.
pub fn resolve(db: &redb::Database, text: &str) -> Result<Device, DeviceError> {
    if text.contains('/') {
        let key = DeviceKey::parse(text)?;
        return get(db, &key)?.ok_or_else(|| DeviceError::UnknownDevice(text.to_string()));
    }
    let id = DeviceId::parse(text)?;
    let mut found = list(db, None)?.into_iter().filter(|d| d.id == id.as_str());
    match (found.next(), found.next()) {
        (Some(d), None) => Ok(d),
        (Some(_), Some(_)) => Err(DeviceError::AmbiguousDevice(text.to_string())),
        (None, _) => Err(DeviceError::UnknownDevice(text.to_string())),
    }
}

/// Number of devices `user` has.
pub fn count(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    user: &str,
) -> Result<usize, DeviceError> {
    let r = user_range(&user.to_ascii_lowercase());
    Ok(table.range(r.start.as_str()..r.end.as_str())?.count())
}

fn load(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Device>, DeviceError> {
    match table.get(key)? {
        Some(v) => tables::decode(DEVICES.name(), key, v.value()).map(Some),
        None => Ok(None),
    }
}

/// A write transaction on the registry, for read-modify-write steps that must not race with the
/// administrator's changes.
pub struct Txn {
    txn: redb::WriteTransaction,
}

impl Txn {
    pub fn begin(db: &redb::Database) -> Result<Txn, DeviceError> {
        Ok(Txn {
            txn: db.begin_write()?,
        })
    }

    /// Commits without waiting for the disk: for bookkeeping a crash may lose (last-seen times).
    pub fn relax(&mut self) -> Result<(), DeviceError> {
        Ok(self.txn.set_durability(Durability::None)?)
    }

    pub fn devices(&self) -> Result<Table<'_, &'static str, &'static [u8]>, DeviceError> {
        Ok(self.txn.open_table(DEVICES)?)
    }

    pub fn get(&self, key: &DeviceKey) -> Result<Option<Device>, DeviceError> {
        load(&self.devices()?, &key.storage())
    }

    pub fn put(&self, device: &Device) -> Result<(), DeviceError> {
        let key = device.key()?.storage();
        self.devices()?
            .insert(key.as_str(), tables::encode(device).as_slice())?;
        Ok(())
    }

    /// Drops a device with its device-level policy; its ABQ decision and sync state go with it,
    /// in this transaction, so its next request starts from scratch. No mail is touched.
    pub fn remove(&self, key: &DeviceKey) -> Result<Option<Device>, DeviceError> {
        let storage = key.storage();
        forget_device_in(
            &self.txn,
            DeviceRef {
                user: key.user(),
                device: key.id().as_str(),
            },
        )?;
        let old = {
            let mut t = self.devices()?;
            let old = t.remove(storage.as_str())?;
            old.map(|v| tables::decode(DEVICES.name(), &storage, v.value()))
                .transpose()?
        };
        let level = format!("device:{storage}");
        self.txn.open_table(POLICIES)?.remove(level.as_str())?;
        Ok(old)
    }

    pub fn record_wiped(&self, w: &Wiped) -> Result<(), DeviceError> {
        let key = w.device.key()?.storage();
        self.txn
            .open_table(WIPED)?
            .insert(key.as_str(), tables::encode(w).as_slice())?;
        Ok(())
    }

    pub fn forget_wiped(&self, key: &DeviceKey) -> Result<(), DeviceError> {
        self.txn.open_table(WIPED)?.remove(key.storage().as_str())?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), DeviceError> {
        Ok(self.txn.commit()?)
    }
}

/// Changes one existing device under a write transaction; `UnknownDevice` when it is gone.
pub fn modify<R>(
    db: &redb::Database,
    key: &DeviceKey,
    f: impl FnOnce(&mut Device) -> R,
) -> Result<R, DeviceError> {
    let txn = Txn::begin(db)?;
    let mut device = txn
        .get(key)?
        .ok_or_else(|| DeviceError::UnknownDevice(key.to_string()))?;
    let r = f(&mut device);
    txn.put(&device)?;
    txn.commit()?;
    Ok(r)
}

/// Removes a device: its state goes, the user's mail and PIM data stay, and the device syncs
/// from scratch on its next request.
pub fn remove(db: &redb::Database, key: &DeviceKey) -> Result<Option<Device>, DeviceError> {
    let txn = Txn::begin(db)?;
    let old = txn.remove(key)?;
    txn.commit()?;
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(u: &str, id: &str) -> DeviceKey {
        DeviceKey::new(u, DeviceId::parse(id).unwrap())
    }

    #[test]
    fn store_find_count_remove() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        tables::ensure(&db).unwrap();
        let txn = Txn::begin(&db).unwrap();
        for (u, id) in [
            ("a@x.org", "d1"),
            ("a@x.org", "d2"),
            ("b@x.org", "d1"),
            ("ab@x.org", "z"),
        ] {
            txn.put(&Device::new(&key(u, id), "iPhone", "UA", 1))
                .unwrap();
        }
        assert_eq!(count(&txn.devices().unwrap(), "a@x.org").unwrap(), 2);
        assert_eq!(count(&txn.devices().unwrap(), "A@X.org").unwrap(), 2);
        txn.commit().unwrap();
        assert_eq!(list(&db, Some("b@x.org")).unwrap().len(), 1);
        assert_eq!(resolve(&db, "d2").unwrap().user, "a@x.org");
        assert!(matches!(
            resolve(&db, "d1"),
            Err(DeviceError::AmbiguousDevice(_))
        ));
        assert_eq!(resolve(&db, "b@x.org/d1").unwrap().user, "b@x.org");
        assert!(matches!(
            resolve(&db, "nope"),
            Err(DeviceError::UnknownDevice(_))
        ));
        modify(&db, &key("a@x.org", "d2"), |d| {
            d.admin_access = Some(Access::Block)
        })
        .unwrap();
        assert_eq!(
            get(&db, &key("a@x.org", "d2"))
                .unwrap()
                .unwrap()
                .admin_access,
            Some(Access::Block)
        );
        assert!(remove(&db, &key("a@x.org", "d2")).unwrap().is_some());
        assert!(get(&db, &key("a@x.org", "d2")).unwrap().is_none());
        assert!(modify(&db, &key("a@x.org", "d2"), |_| ()).is_err());
    }

    #[test]
    fn wipe_support_is_shown() {
        let mut d = Device::new(&key("a@x.org", "d"), "t", "ua", 0);
        d.protocol = "14.1".into();
        d.wipe = Wipe::Pending {
            kind: WipeKind::AccountOnly,
            requested_at: 0,
            signals: 0,
        };
        assert!(d.wipe_status().starts_with("not supported"));
        d.protocol = "16.1".into();
        assert!(d.wipe_status().starts_with("pending"));
        d.wipe = Wipe::Pending {
            kind: WipeKind::Full,
            requested_at: 0,
            signals: 9,
        };
        assert!(d.wipe_status().starts_with("not supported"));
        d.policy.status = PolicyStatus::Applied;
        assert!(d.wipe_status().starts_with("pending"));
    }
}
