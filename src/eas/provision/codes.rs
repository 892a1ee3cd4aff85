//! Status codes of the Provision and Settings messages, as enums with their wire values.

/// Declares an enum of wire status codes with `code` and `from_code`.
macro_rules! status_codes {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub fn code(self) -> u8 {
                match self { $($name::$variant => $code),* }
            }

            pub fn from_code(text: &str) -> Option<$name> {
                match text.trim().parse::<u8>().ok()? {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    /// Provision's own Status (MS-ASPROV 2.2.2.54.2, 3.1.5.2).
    ProvisionStatus {
        Success = 1,
        ProtocolError = 2,
        ServerError = 3,
        /// The device did not fully apply the policy and the server does not let it in.
        NotFullyProvisionable = 139,
    }
}

status_codes! {
    /// The server's Status of one Policy (MS-ASPROV 2.2.2.54.1).
    PolicyStatus {
        Success = 1,
        NoPolicy = 2,
        UnknownPolicyType = 3,
        Corrupted = 4,
        WrongPolicyKey = 5,
    }
}

status_codes! {
    /// What the device reports when acknowledging a policy (MS-ASPROV 2.2.2.54.1).
    AckStatus {
        Applied = 1,
        /// At least the PIN was enabled.
        Partial = 2,
        NotApplied = 3,
        /// Provisioned by a third party.
        External = 4,
    }
}

status_codes! {
    /// The device's report on a remote wipe (MS-ASPROV 2.2.2.54.3).
    WipeAckStatus {
        Wiped = 1,
        Failed = 2,
    }
}

status_codes! {
    /// Settings statuses (MS-ASCMD 2.2.3.177.13..15).
    SettingsStatus {
        Success = 1,
        ProtocolError = 2,
        AccessDenied = 3,
        ServerUnavailable = 4,
        InvalidArguments = 5,
        ConflictingArguments = 6,
        DeniedByPolicy = 7,
    }
}
