//! Ping (MS-ASCMD 2.2.1.13): the typed request and response, both directions. The holding itself is in
//! `push/ping.rs`, which needs the stores and the hub.

use crate::wbxml::{Element, tags::ping as t};

/// Ping's Status values (MS-ASCMD 2.2.3.177.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingStatus {
    /// The heartbeat ended with no change.
    Expired = 1,
    /// Changes in the listed folders.
    Changes = 2,
    /// Neither the request nor the cache had the parameters.
    MissingParameters = 3,
    SyntaxError = 4,
    /// HeartbeatInterval out of bounds; the response carries the allowed value.
    BadHeartbeat = 5,
    /// Too many folders; the response carries MaxFolders.
    TooManyFolders = 6,
    /// The folder hierarchy is out of date: FolderSync first.
    FolderSyncRequired = 7,
    ServerError = 8,
}

impl PingStatus {
    pub fn from_code(code: u32) -> Option<PingStatus> {
        use PingStatus::*;
        [
            Expired,
            Changes,
            MissingParameters,
            SyntaxError,
            BadHeartbeat,
            TooManyFolders,
            FolderSyncRequired,
            ServerError,
        ]
        .into_iter()
        .find(|s| *s as u32 == code)
    }
}

/// One watched folder: its CollectionId and class ("Email", "Calendar", "Contacts", "Tasks", "Notes").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingFolder {
    pub id: heapless::String<64>,
    pub class: heapless::String<16>,
}

/// A Ping request; an empty body (both `None`) means "the same as last time".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingRequest {
    pub heartbeat: Option<u32>,
    pub folders: Option<Vec<PingFolder>>,
}

/// Why a Ping body could not be read (answered with Status 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingSyntaxError(pub &'static str);

impl std::fmt::Display for PingSyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ping syntax error: {}", self.0)
    }
}

impl std::error::Error for PingSyntaxError {}

impl PingRequest {
    pub fn parse(tree: Option<&Element>) -> Result<PingRequest, PingSyntaxError> {
        let Some(root) = tree else {
            return Ok(PingRequest::default());
        };
        if root.tag != t::PING {
            return Err(PingSyntaxError("root is not Ping"));
        }
        let heartbeat = match root.first(t::HEARTBEAT_INTERVAL) {
            None => None,
            Some(h) => Some(
                h.text_content()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .ok_or(PingSyntaxError("HeartbeatInterval is not a number"))?,
            ),
        };
        let folders = match root.first(t::FOLDERS) {
            None => None,
            Some(f) => {
                let mut out = Vec::new();
                for folder in f.all(t::FOLDER) {
                    let id = folder
                        .child_text(t::ID)
                        .and_then(|s| heapless::String::try_from(s.trim()).ok())
                        .ok_or(PingSyntaxError("Folder without a valid Id"))?;
                    let class = folder
                        .child_text(t::CLASS)
                        .and_then(|s| heapless::String::try_from(s.trim()).ok())
                        .ok_or(PingSyntaxError("Folder without a valid Class"))?;
                    out.push(PingFolder { id, class });
                }
                Some(out)
            }
        };
        Ok(PingRequest { heartbeat, folders })
    }

    pub fn to_element(&self) -> Element {
        let mut root = Element::new(t::PING);
        if let Some(h) = self.heartbeat {
            root.push_text(t::HEARTBEAT_INTERVAL, h.to_string());
        }
        if let Some(folders) = &self.folders {
            let mut list = Element::new(t::FOLDERS);
            for f in folders {
                list.push(
                    Element::new(t::FOLDER)
                        .with_text(t::ID, f.id.as_str())
                        .with_text(t::CLASS, f.class.as_str()),
                );
            }
            root.push(list);
        }
        root
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingResponse {
    pub status: PingStatus,
    /// With Status 2: the CollectionIds that changed.
    pub folders: Vec<String>,
    /// With Status 5: the allowed heartbeat.
    pub heartbeat: Option<u32>,
    /// With Status 6: the most folders allowed.
    pub max_folders: Option<u32>,
}

impl PingResponse {
    pub fn status(status: PingStatus) -> PingResponse {
        PingResponse {
            status,
            folders: Vec::new(),
            heartbeat: None,
            max_folders: None,
        }
    }

    pub fn to_element(&self) -> Element {
        let mut root = Element::new(t::PING).with_text(t::STATUS, (self.status as u32).to_string());
        if !self.folders.is_empty() {
            let mut list = Element::new(t::FOLDERS);
            for f in &self.folders {
                list.push_text(t::FOLDER, f.as_str());
            }
            root.push(list);
        }
        if let Some(h) = self.heartbeat {
            root.push_text(t::HEARTBEAT_INTERVAL, h.to_string());
        }
        if let Some(m) = self.max_folders {
            root.push_text(t::MAX_FOLDERS, m.to_string());
        }
        root
    }

    pub fn parse(root: &Element) -> Result<PingResponse, PingSyntaxError> {
        if root.tag != t::PING {
            return Err(PingSyntaxError("root is not Ping"));
        }
        let status = root
            .child_text(t::STATUS)
            .and_then(|s| s.trim().parse().ok())
            .and_then(PingStatus::from_code)
            .ok_or(PingSyntaxError("bad Status"))?;
        let num = |tag| {
            root.child_text(tag)
                .and_then(|s: &str| s.trim().parse::<u32>().ok())
        };
        Ok(PingResponse {
            status,
            folders: root
                .first(t::FOLDERS)
                .map(|f| {
                    f.all(t::FOLDER)
                        .filter_map(|e| e.text_content().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            heartbeat: num(t::HEARTBEAT_INTERVAL),
            max_folders: num(t::MAX_FOLDERS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let req = PingRequest {
            heartbeat: Some(480),
            folders: Some(vec![PingFolder {
                id: "5".try_into().unwrap(),
                class: "Email".try_into().unwrap(),
            }]),
        };
        let el = req.to_element();
        assert_eq!(PingRequest::parse(Some(&el)).unwrap(), req);
        let bytes = crate::wbxml::encode(&el);
        assert_eq!(
            PingRequest::parse(Some(&crate::wbxml::decode(&bytes).unwrap())).unwrap(),
            req
        );
        assert_eq!(PingRequest::parse(None).unwrap(), PingRequest::default());
    }

    #[test]
    fn response_round_trip() {
        let mut r = PingResponse::status(PingStatus::Changes);
        r.folders = vec!["5".into(), "9".into()];
        assert_eq!(PingResponse::parse(&r.to_element()).unwrap(), r);
        let mut r = PingResponse::status(PingStatus::BadHeartbeat);
        r.heartbeat = Some(60);
        assert_eq!(PingResponse::parse(&r.to_element()).unwrap(), r);
    }

    #[test]
    fn syntax_errors() {
        let bad = crate::wbxml::from_xml(
            "<Ping xmlns=\"Ping:\"><HeartbeatInterval>soon</HeartbeatInterval></Ping>",
        )
        .unwrap();
        assert!(PingRequest::parse(Some(&bad)).is_err());
        let bad = crate::wbxml::from_xml(
            "<Ping xmlns=\"Ping:\"><Folders><Folder><Class>Email</Class></Folder></Folders></Ping>",
        )
        .unwrap();
        assert!(PingRequest::parse(Some(&bad)).is_err());
    }
}
