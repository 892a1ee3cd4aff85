//! The EAS command names of the `Cmd` query parameter and their base64-form codes (MS-ASHTTP 2.2.1.1.1.1.2).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Sync,
    SendMail,
    SmartForward,
    SmartReply,
    GetAttachment,
    FolderSync,
    FolderCreate,
    FolderDelete,
    FolderUpdate,
    MoveItems,
    GetItemEstimate,
    MeetingResponse,
    Search,
    Settings,
    Ping,
    ItemOperations,
    Provision,
    ResolveRecipients,
    ValidateCert,
    Find,
}

/// (command, name, base64 code)
const TABLE: [(Command, &str, u8); 20] = [
    (Command::Sync, "Sync", 0),
    (Command::SendMail, "SendMail", 1),
    (Command::SmartForward, "SmartForward", 2),
    (Command::SmartReply, "SmartReply", 3),
    (Command::GetAttachment, "GetAttachment", 4),
    (Command::FolderSync, "FolderSync", 9),
    (Command::FolderCreate, "FolderCreate", 10),
    (Command::FolderDelete, "FolderDelete", 11),
    (Command::FolderUpdate, "FolderUpdate", 12),
    (Command::MoveItems, "MoveItems", 13),
    (Command::GetItemEstimate, "GetItemEstimate", 14),
    (Command::MeetingResponse, "MeetingResponse", 15),
    (Command::Search, "Search", 16),
    (Command::Settings, "Settings", 17),
    (Command::Ping, "Ping", 18),
    (Command::ItemOperations, "ItemOperations", 19),
    (Command::Provision, "Provision", 20),
    (Command::ResolveRecipients, "ResolveRecipients", 21),
    (Command::ValidateCert, "ValidateCert", 22),
    (Command::Find, "Find", 23),
];

impl Command {
    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("", |(_, n, _)| n)
    }

    pub fn code(self) -> u8 {
        TABLE
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or(0, |(_, _, code)| *code)
    }

    /// Command names are matched case-insensitively: some clients send "sync".
    pub fn from_name(name: &str) -> Option<Command> {
        TABLE
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(c, _, _)| *c)
    }

    pub fn from_code(code: u8) -> Option<Command> {
        TABLE
            .iter()
            .find(|(_, _, c)| *c == code)
            .map(|(c, _, _)| *c)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_agree() {
        for (c, n, code) in TABLE {
            assert_eq!(Command::from_name(n), Some(c));
            assert_eq!(Command::from_code(code), Some(c));
            assert_eq!(c.name(), n);
        }
        assert_eq!(Command::from_name("foldersync"), Some(Command::FolderSync));
        assert_eq!(Command::from_name("Nope"), None);
        assert_eq!(Command::from_code(5), None);
    }
}
