//! What a client asked for (per collection) and what the mail store knows about one message,
//! plus the EAS 2.5 truncation code tables.

use super::EmailError;
use crate::ProtocolVersion;
use crate::items::BodyPreference;

/// AirSync `MIMESupport` (MS-ASCMD 2.2.3.110): when the raw message may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MimeSupport {
    #[default]
    Never = 0,
    SmimeOnly = 1,
    Always = 2,
}

impl TryFrom<u8> for MimeSupport {
    type Error = EmailError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        match v {
            0 => Ok(Self::Never),
            1 => Ok(Self::SmimeOnly),
            2 => Ok(Self::Always),
            other => Err(EmailError::InvalidMimeSupport(other)),
        }
    }
}

/// The client's options for the Email class in one collection (Sync) or one fetch
/// (ItemOperations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailOptions {
    pub version: ProtocolVersion,
    /// 12.0+: AirSyncBase BodyPreferences in request order (possibly several, one per type).
    pub body_preferences: Vec<BodyPreference>,
    pub mime_support: MimeSupport,
    /// 2.5: AirSync `Truncation` already mapped to bytes by [`truncation_limit`]; `None` = whole.
    pub truncation: Option<u32>,
    /// 2.5: AirSync `MIMETruncation` mapped by [`mime_truncation_limit`]; `None` = whole.
    pub mime_truncation: Option<u32>,
}

impl EmailOptions {
    /// No preferences: whole plain-text bodies, no MIME.
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            body_preferences: Vec::new(),
            mime_support: MimeSupport::Never,
            truncation: None,
            mime_truncation: None,
        }
    }
}

/// What the mail store knows about a message beyond its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MessageMeta {
    pub read: bool,
    pub flagged: bool,
    pub answered: bool,
    pub forwarded: bool,
    /// The Maildir draft flag; 16.0+ clients see it as IsDraft.
    pub draft: bool,
    /// Delivery time (Unix seconds), sent as DateReceived.
    pub received: i64,
    /// The last reply or forward made through easd, if the store recorded it.
    pub last_verb: Option<RecordedVerb>,
    /// Prefix of this message's attachment FileReferences (see [`super::file_reference`]).
    pub file_ref_base: String,
}

/// LastVerbExecuted (MS-ASEMAIL 2.2.2.44): what the user last did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastVerb {
    ReplyToSender = 1,
    ReplyToAll = 2,
    Forward = 3,
}

impl LastVerb {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<LastVerb> {
        match code {
            1 => Some(LastVerb::ReplyToSender),
            2 => Some(LastVerb::ReplyToAll),
            3 => Some(LastVerb::Forward),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LastVerb::ReplyToSender => "1",
            LastVerb::ReplyToAll => "2",
            LastVerb::Forward => "3",
        }
    }

    fn is_reply(self) -> bool {
        self != LastVerb::Forward
    }

    /// The verb to show for a message whose answered (R) and forwarded (P) flags are as given:
    /// the recorded one when the flags still agree with it, else what the flags say (a reply
    /// first, as clients that set the flags themselves expect), with the time only when it
    /// belongs to the verb shown.
    pub fn shown(
        answered: bool,
        forwarded: bool,
        recorded: Option<RecordedVerb>,
    ) -> Option<(LastVerb, Option<i64>)> {
        if let Some(r) = recorded
            && (if r.verb.is_reply() {
                answered
            } else {
                forwarded
            })
        {
            return Some((r.verb, Some(r.at)));
        }
        if answered {
            Some((LastVerb::ReplyToSender, None))
        } else if forwarded {
            Some((LastVerb::Forward, None))
        } else {
            None
        }
    }
}

/// A verb and when it was executed (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedVerb {
    pub verb: LastVerb,
    pub at: i64,
}

/// AirSync `Truncation` code (MS-ASCMD 2.2.3.185) → byte limit; `None` means no truncation.
pub fn truncation_limit(code: u8) -> Result<Option<u32>, EmailError> {
    match code {
        0 => Ok(Some(0)),
        1 => Ok(Some(512)),
        2 => Ok(Some(1024)),
        3 => Ok(Some(2048)),
        4 => Ok(Some(5120)),
        5 => Ok(Some(10_240)),
        6 => Ok(Some(20_480)),
        7 => Ok(Some(51_200)),
        8 => Ok(Some(102_400)),
        9 => Ok(None),
        other => Err(EmailError::InvalidTruncation(other)),
    }
}

/// AirSync `MIMETruncation` code (MS-ASCMD 2.2.3.111) → byte limit; `None` means no truncation.
pub fn mime_truncation_limit(code: u8) -> Result<Option<u32>, EmailError> {
    match code {
        0 => Ok(Some(0)),
        1 => Ok(Some(4096)),
        2 => Ok(Some(5120)),
        3 => Ok(Some(7168)),
        4 => Ok(Some(10_240)),
        5 => Ok(Some(20_480)),
        6 => Ok(Some(51_200)),
        7 => Ok(Some(102_400)),
        8 => Ok(None),
        other => Err(EmailError::InvalidMimeTruncation(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_tables() {
        assert_eq!(truncation_limit(0), Ok(Some(0)));
        assert_eq!(truncation_limit(4), Ok(Some(5120)));
        assert_eq!(truncation_limit(8), Ok(Some(102_400)));
        assert_eq!(truncation_limit(9), Ok(None));
        assert_eq!(truncation_limit(10), Err(EmailError::InvalidTruncation(10)));
        assert_eq!(mime_truncation_limit(1), Ok(Some(4096)));
        assert_eq!(mime_truncation_limit(7), Ok(Some(102_400)));
        assert_eq!(mime_truncation_limit(8), Ok(None));
        assert_eq!(
            mime_truncation_limit(9),
            Err(EmailError::InvalidMimeTruncation(9))
        );
    }

    #[test]
    fn mime_support_codes() {
        assert_eq!(MimeSupport::try_from(2), Ok(MimeSupport::Always));
        assert_eq!(
            MimeSupport::try_from(3),
            Err(EmailError::InvalidMimeSupport(3))
        );
    }
}
