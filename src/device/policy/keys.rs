//! The policy settings: every key, its kind, its neutral default (the guide's "no constraints") and
//! the EASProvisionDoc element it becomes (MS-ASPROV 2.2.2.28). Keys are the element names in snake
//! case, shortened where the guide's wording is clearer; the exact snake-case element name is
//! accepted as an alias.

use crate::ProtocolVersion;
use crate::device::DeviceError;
use crate::wbxml::Tag;
use crate::wbxml::tags::provision as p;
use std::fmt;

/// What values a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// An integer in `min..=max`; `optional` keys may also be unset ("none").
    Range {
        min: i64,
        max: i64,
        optional: bool,
    },
    /// One of the listed integers.
    OneOf(&'static [i64]),
    /// A comma-separated list of names or hashes.
    List,
    /// A protocol version, or none.
    Version,
}

/// A key's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Number(Option<i64>),
    List(Vec<String>),
    Version(Option<ProtocolVersion>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(Some(n)) => write!(f, "{n}"),
            Value::List(l) if !l.is_empty() => f.write_str(&l.join(",")),
            Value::Version(Some(v)) => write!(f, "{v}"),
            Value::Number(None) | Value::List(_) | Value::Version(None) => f.write_str("none"),
        }
    }
}

macro_rules! policy_keys {
    ($($variant:ident $name:literal $alias:literal $kind:expr, $default:expr, $element:expr, $help:literal;)*) => {
        /// One policy setting.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum PolicyKey { $($variant),* }

        impl PolicyKey {
            pub const ALL: &'static [PolicyKey] = &[$(PolicyKey::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(PolicyKey::$variant => $name),* }
            }

            /// The exact snake-case element name, where it differs from `name`.
            fn alias(self) -> &'static str {
                match self { $(PolicyKey::$variant => $alias),* }
            }

            pub fn kind(self) -> Kind {
                match self { $(PolicyKey::$variant => $kind),* }
            }

            /// The neutral value: no constraint on the device.
            pub fn default_value(self) -> Value {
                match self { $(PolicyKey::$variant => $default),* }
            }

            /// The EASProvisionDoc element; `None` for settings the server enforces itself.
            pub fn element(self) -> Option<Tag> {
                match self { $(PolicyKey::$variant => $element),* }
            }

            pub fn help(self) -> &'static str {
                match self { $(PolicyKey::$variant => $help),* }
            }
        }
    };
}

const fn range(min: i64, max: i64) -> Kind {
    Kind::Range {
        min,
        max,
        optional: false,
    }
}

const fn optional(min: i64, max: i64) -> Kind {
    Kind::Range {
        min,
        max,
        optional: true,
    }
}

const YES: Value = Value::Bool(true);
const NO: Value = Value::Bool(false);
const UNSET: Value = Value::Number(None);
const U32_MAX: i64 = u32::MAX as i64;

policy_keys! {
    PasswordRequired "password_required" "device_password_enabled" Kind::Bool, NO,
        Some(p::DEVICE_PASSWORD_ENABLED), "a device password is required";
    MinPasswordLength "min_password_length" "min_device_password_length" optional(1, 16), UNSET,
        Some(p::MIN_DEVICE_PASSWORD_LENGTH), "minimum password length";
    AllowSimplePassword "allow_simple_password" "allow_simple_device_password" Kind::Bool, YES,
        Some(p::ALLOW_SIMPLE_DEVICE_PASSWORD), "simple passwords (1234, abcd) allowed";
    AlphanumericPasswordRequired "alphanumeric_password_required" "alphanumeric_device_password_required" Kind::Bool, NO,
        Some(p::ALPHANUMERIC_DEVICE_PASSWORD_REQUIRED), "letters and digits required";
    MinPasswordComplexCharacters "min_password_complex_characters" "min_device_password_complex_characters" range(1, 4), Value::Number(Some(1)),
        Some(p::MIN_DEVICE_PASSWORD_COMPLEX_CHARACTERS), "character types required (1-4)";
    PasswordRecoveryEnabled "password_recovery_enabled" "" Kind::Bool, NO,
        Some(p::PASSWORD_RECOVERY_ENABLED), "recovery password enabled";
    PasswordExpirationDays "password_expiration_days" "device_password_expiration" optional(0, U32_MAX), UNSET,
        Some(p::DEVICE_PASSWORD_EXPIRATION), "password expires after N days";
    PasswordHistory "password_history" "device_password_history" range(0, U32_MAX), Value::Number(Some(0)),
        Some(p::DEVICE_PASSWORD_HISTORY), "passwords remembered against reuse";
    MaxInactivityTimeMinutes "max_inactivity_time_minutes" "" optional(0, 9999), UNSET,
        Some(p::MAX_INACTIVITY_TIME_DEVICE_LOCK), "minutes of inactivity before the lock (9999: none)";
    MaxPasswordFailedAttempts "max_password_failed_attempts" "max_device_password_failed_attempts" optional(4, 16), UNSET,
        Some(p::MAX_DEVICE_PASSWORD_FAILED_ATTEMPTS), "wipe after N failed unlocks";
    RequireDeviceEncryption "require_device_encryption" "" Kind::Bool, NO,
        Some(p::REQUIRE_DEVICE_ENCRYPTION), "device encryption required";
    RequireStorageCardEncryption "require_storage_card_encryption" "" Kind::Bool, NO,
        Some(p::REQUIRE_STORAGE_CARD_ENCRYPTION), "storage card encryption required";
    RefreshIntervalHours "refresh_interval_hours" "" optional(1, 8760), UNSET,
        None, "re-send the policy every N hours (none: once)";
    AllowNonProvisionable "allow_non_provisionable" "allow_non_provisionable_devices" Kind::Bool, YES,
        None, "devices that do not apply the policy may sync";
    MaxEmailAgeFilter "max_email_age_filter" "" range(0, 5), Value::Number(Some(0)),
        Some(p::MAX_EMAIL_AGE_FILTER), "mail sync period (0 all, 1 day, 2 3 days, 3 week, 4 2 weeks, 5 month)";
    MaxCalendarAgeFilter "max_calendar_age_filter" "" Kind::OneOf(&[0, 4, 5, 6, 7]), Value::Number(Some(0)),
        Some(p::MAX_CALENDAR_AGE_FILTER), "calendar period (0 all, 4 2 weeks, 5 month, 6 3 months, 7 6 months)";
    AllowHtmlEmail "allow_html_email" "" Kind::Bool, YES,
        Some(p::ALLOW_HTML_EMAIL), "HTML mail allowed";
    AttachmentsEnabled "attachments_enabled" "" Kind::Bool, YES,
        Some(p::ATTACHMENTS_ENABLED), "attachments downloaded";
    MaxAttachmentSize "max_attachment_size" "" optional(0, U32_MAX), UNSET,
        Some(p::MAX_ATTACHMENT_SIZE), "largest attachment downloaded, in bytes";
    MaxEmailBodyTruncationSize "max_email_body_truncation_size" "" range(-1, U32_MAX), Value::Number(Some(-1)),
        Some(p::MAX_EMAIL_BODY_TRUNCATION_SIZE), "plain body truncation (-1 none, 0 headers only, N KB)";
    MaxEmailHtmlBodyTruncationSize "max_email_html_body_truncation_size" "" range(-1, U32_MAX), Value::Number(Some(-1)),
        Some(p::MAX_EMAIL_HTML_BODY_TRUNCATION_SIZE), "HTML body truncation (-1 none, 0 headers only, N KB)";
    RequireManualSyncWhenRoaming "require_manual_sync_when_roaming" "" Kind::Bool, NO,
        Some(p::REQUIRE_MANUAL_SYNC_WHEN_ROAMING), "no push while roaming";
    MaxProtocolVersion "max_protocol_version" "" Kind::Version, Value::Version(None),
        None, "highest protocol version offered";
    MaxDevices "max_devices" "max_devices_per_user" optional(0, U32_MAX), UNSET,
        None, "most devices per user";
    AllowBluetooth "allow_bluetooth" "" range(0, 2), Value::Number(Some(2)),
        Some(p::ALLOW_BLUETOOTH), "Bluetooth (0 off, 1 hands-free only, 2 on)";
    AllowBrowser "allow_browser" "" Kind::Bool, YES, Some(p::ALLOW_BROWSER), "web browser";
    AllowCamera "allow_camera" "" Kind::Bool, YES, Some(p::ALLOW_CAMERA), "camera";
    AllowConsumerEmail "allow_consumer_email" "" Kind::Bool, YES,
        Some(p::ALLOW_CONSUMER_EMAIL), "personal mail accounts";
    AllowDesktopSync "allow_desktop_sync" "" Kind::Bool, YES, Some(p::ALLOW_DESKTOP_SYNC), "desktop sync";
    AllowInternetSharing "allow_internet_sharing" "" Kind::Bool, YES,
        Some(p::ALLOW_INTERNET_SHARING), "Internet sharing";
    AllowIrda "allow_irda" "" Kind::Bool, YES, Some(p::ALLOW_IRDA), "infrared";
    AllowPopImapEmail "allow_pop_imap_email" "" Kind::Bool, YES,
        Some(p::ALLOW_POP_IMAP_EMAIL), "POP/IMAP mail";
    AllowRemoteDesktop "allow_remote_desktop" "" Kind::Bool, YES,
        Some(p::ALLOW_REMOTE_DESKTOP), "remote desktop";
    AllowStorageCard "allow_storage_card" "" Kind::Bool, YES, Some(p::ALLOW_STORAGE_CARD), "storage card";
    AllowTextMessaging "allow_text_messaging" "" Kind::Bool, YES,
        Some(p::ALLOW_TEXT_MESSAGING), "SMS";
    AllowUnsignedApplications "allow_unsigned_applications" "" Kind::Bool, YES,
        Some(p::ALLOW_UNSIGNED_APPLICATIONS), "unsigned applications";
    AllowUnsignedInstallationPackages "allow_unsigned_installation_packages" "" Kind::Bool, YES,
        Some(p::ALLOW_UNSIGNED_INSTALLATION_PACKAGES), "unsigned installation packages";
    AllowWifi "allow_wifi" "" Kind::Bool, YES, Some(p::ALLOW_WIFI), "Wi-Fi";
    AllowSmimeEncryptionAlgorithmNegotiation "allow_smime_encryption_algorithm_negotiation" "" range(0, 2), Value::Number(Some(2)),
        Some(p::ALLOW_SMIME_ENCRYPTION_ALGORITHM_NEGOTIATION), "S/MIME algorithm negotiation (0 none, 1 strong only, 2 any)";
    AllowSmimeSoftCerts "allow_smime_soft_certs" "" Kind::Bool, YES,
        Some(p::ALLOW_SMIME_SOFT_CERTS), "S/MIME soft certificates";
    RequireSignedSmimeMessages "require_signed_smime_messages" "" Kind::Bool, NO,
        Some(p::REQUIRE_SIGNED_SMIME_MESSAGES), "signed S/MIME required";
    RequireEncryptedSmimeMessages "require_encrypted_smime_messages" "" Kind::Bool, NO,
        Some(p::REQUIRE_ENCRYPTED_SMIME_MESSAGES), "encrypted S/MIME required";
    RequireSignedSmimeAlgorithm "require_signed_smime_algorithm" "" range(0, 1), Value::Number(Some(0)),
        Some(p::REQUIRE_SIGNED_SMIME_ALGORITHM), "S/MIME signing (0 SHA1, 1 MD5)";
    RequireEncryptionSmimeAlgorithm "require_encryption_smime_algorithm" "" range(0, 4), Value::Number(Some(0)),
        Some(p::REQUIRE_ENCRYPTION_SMIME_ALGORITHM), "S/MIME encryption (0 3DES, 1 DES, 2 RC2-128, 3 RC2-64, 4 RC2-40)";
    UnapprovedInRomApplicationList "unapproved_in_rom_application_list" "" Kind::List, Value::List(Vec::new()),
        Some(p::UNAPPROVED_IN_ROM_APPLICATION_LIST), "built-in applications disabled (names)";
    ApprovedApplicationList "approved_application_list" "" Kind::List, Value::List(Vec::new()),
        Some(p::APPROVED_APPLICATION_LIST), "applications allowed to run (SHA-1 hashes)";
}

impl PolicyKey {
    /// Looks a key up by its name or alias.
    pub fn from_name(name: &str) -> Result<PolicyKey, DeviceError> {
        let name = name.trim().to_ascii_lowercase();
        PolicyKey::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name || (!k.alias().is_empty() && k.alias() == name))
            .ok_or(DeviceError::UnknownKey(name))
    }

    /// Parses the text form of a value for this key.
    pub fn parse_value(self, text: &str) -> Result<Value, DeviceError> {
        let text = text.trim();
        let bad = |message: String| DeviceError::BadValue {
            key: self.name().to_string(),
            message,
        };
        let unset = text.is_empty() || text.eq_ignore_ascii_case("none");
        match self.kind() {
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err(bad(format!("{text:?} is not true or false"))),
            },
            Kind::Range { optional: true, .. } if unset => Ok(Value::Number(None)),
            Kind::Range { min, max, .. } => match text.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Value::Number(Some(n))),
                _ => Err(bad(format!("{text:?} is not a number from {min} to {max}"))),
            },
            Kind::OneOf(allowed) => match text.parse::<i64>() {
                Ok(n) if allowed.contains(&n) => Ok(Value::Number(Some(n))),
                _ => Err(bad(format!("{text:?} is not one of {allowed:?}"))),
            },
            Kind::List if unset => Ok(Value::List(Vec::new())),
            Kind::List => Ok(Value::List(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            )),
            Kind::Version if unset => Ok(Value::Version(None)),
            Kind::Version => text
                .parse::<ProtocolVersion>()
                .map(|v| Value::Version(Some(v)))
                .map_err(|e| bad(e.to_string())),
        }
    }

    /// Whether `value` has the shape this key takes (for records read back from disk).
    pub fn accepts(self, value: &Value) -> bool {
        match (self.kind(), value) {
            (Kind::Bool, Value::Bool(_)) | (Kind::List, Value::List(_)) => true,
            (Kind::Version, Value::Version(_)) => true,
            (Kind::Range { optional, .. }, Value::Number(None)) => optional,
            (Kind::Range { min, max, .. }, Value::Number(Some(n))) => (min..=max).contains(n),
            (Kind::OneOf(allowed), Value::Number(Some(n))) => allowed.contains(n),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_fit() {
        let mut seen = std::collections::HashSet::new();
        for k in PolicyKey::ALL {
            assert!(seen.insert(k.name()), "{}", k.name());
            if !k.alias().is_empty() {
                assert!(seen.insert(k.alias()), "{}", k.alias());
            }
            assert!(k.accepts(&k.default_value()), "{}", k.name());
            assert_eq!(PolicyKey::from_name(k.name()).unwrap(), *k);
        }
    }

    #[test]
    fn values_parse_by_kind() {
        let k = PolicyKey::from_name("device_password_enabled").unwrap();
        assert_eq!(k, PolicyKey::PasswordRequired);
        assert_eq!(k.parse_value("yes").unwrap(), Value::Bool(true));
        assert!(k.parse_value("maybe").is_err());
        let len = PolicyKey::MinPasswordLength;
        assert_eq!(len.parse_value("6").unwrap(), Value::Number(Some(6)));
        assert_eq!(len.parse_value("none").unwrap(), Value::Number(None));
        assert!(len.parse_value("17").is_err());
        assert!(
            PolicyKey::MinPasswordComplexCharacters
                .parse_value("none")
                .is_err()
        );
        assert!(PolicyKey::MaxCalendarAgeFilter.parse_value("3").is_err());
        assert_eq!(
            PolicyKey::UnapprovedInRomApplicationList
                .parse_value("a, b,")
                .unwrap(),
            Value::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            PolicyKey::MaxProtocolVersion.parse_value("14.1").unwrap(),
            Value::Version(Some(ProtocolVersion::V14_1))
        );
        assert!(PolicyKey::from_name("nope").is_err());
        assert_eq!(Value::Number(None).to_string(), "none");
    }
}
