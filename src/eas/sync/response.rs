//! The Sync response (MS-ASCMD 2.2.1.21.2) as types, encoded to and parsed from WBXML trees.

use crate::eas::fields::{self, ParseError, status_element, status_enum};
use crate::eas::ids::{ClientId, CollectionId, ServerId, SyncKey};
use crate::wbxml::Element;
use crate::wbxml::tags::{airsync, airsyncbase};

status_enum!(
    /// Sync Status (MS-ASCMD 2.2.3.177.17).
    SyncStatus {
        Success = 1,
        InvalidSyncKey = 3,
        ProtocolError = 4,
        ServerError = 5,
        ConversionError = 6,
        Conflict = 7,
        ObjectNotFound = 8,
        CannotComplete = 9,
        HierarchyChanged = 12,
        RequestIncomplete = 13,
        InvalidWaitOrHeartbeat = 14,
        InvalidRequest = 15,
        Retry = 16,
    }
);

/// A server change sent to the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    Add { server_id: ServerId, data: Element },
    Change { server_id: ServerId, data: Element },
    Delete { server_id: ServerId },
}

/// The answer to one client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientResponse {
    Add {
        client_id: ClientId,
        server_id: Option<ServerId>,
        status: SyncStatus,
    },
    /// `instance_id`: the occurrence a 16.x Change or Delete named (MS-ASAIRS 2.2.2.25).
    Change {
        server_id: ServerId,
        instance_id: Option<String>,
        status: SyncStatus,
    },
    Delete {
        server_id: ServerId,
        instance_id: Option<String>,
        status: SyncStatus,
    },
    Fetch {
        server_id: ServerId,
        status: SyncStatus,
        data: Option<Element>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionResponse {
    pub class: Option<String>,
    pub sync_key: Option<SyncKey>,
    pub collection_id: CollectionId,
    pub status: SyncStatus,
    pub commands: Vec<ServerCommand>,
    pub responses: Vec<ClientResponse>,
    pub more_available: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResponse {
    /// A request-level failure (then there are no collections).
    pub status: Option<SyncStatus>,
    pub collections: Vec<CollectionResponse>,
}

impl CollectionResponse {
    /// A collection answered with only a status.
    pub fn status(collection_id: CollectionId, status: SyncStatus) -> CollectionResponse {
        CollectionResponse {
            class: None,
            sync_key: None,
            collection_id,
            status,
            commands: Vec::new(),
            responses: Vec::new(),
            more_available: false,
        }
    }

    fn encode(&self) -> Element {
        let mut el = Element::new(airsync::COLLECTION);
        if let Some(c) = &self.class {
            el.push_text(airsync::CLASS, c.as_str());
        }
        if let Some(k) = self.sync_key {
            el.push_text(airsync::SYNC_KEY, k.to_string());
        }
        el.push_text(airsync::COLLECTION_ID, self.collection_id.as_str());
        el.push(status_element(airsync::STATUS, self.status));
        if !self.commands.is_empty() {
            let mut cmds = Element::new(airsync::COMMANDS);
            for c in &self.commands {
                cmds.push(match c {
                    ServerCommand::Add { server_id, data } => Element::new(airsync::ADD)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with(data.clone()),
                    ServerCommand::Change { server_id, data } => Element::new(airsync::CHANGE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with(data.clone()),
                    ServerCommand::Delete { server_id } => Element::new(airsync::DELETE)
                        .with_text(airsync::SERVER_ID, server_id.as_str()),
                });
            }
            el.push(cmds);
        }
        if !self.responses.is_empty() {
            let mut rs = Element::new(airsync::RESPONSES);
            for r in &self.responses {
                rs.push(match r {
                    ClientResponse::Add {
                        client_id,
                        server_id,
                        status,
                    } => Element::new(airsync::ADD)
                        .with_text(airsync::CLIENT_ID, client_id.as_str())
                        .with_opt_text(airsync::SERVER_ID, server_id.as_ref().map(ServerId::as_str))
                        .with(status_element(airsync::STATUS, *status)),
                    ClientResponse::Change {
                        server_id,
                        instance_id,
                        status,
                    } => Element::new(airsync::CHANGE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with_opt_text(airsyncbase::INSTANCE_ID, instance_id.clone())
                        .with(status_element(airsync::STATUS, *status)),
                    ClientResponse::Delete {
                        server_id,
                        instance_id,
                        status,
                    } => Element::new(airsync::DELETE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with_opt_text(airsyncbase::INSTANCE_ID, instance_id.clone())
                        .with(status_element(airsync::STATUS, *status)),
                    ClientResponse::Fetch {
                        server_id,
                        status,
                        data,
                    } => {
                        let mut f = Element::new(airsync::FETCH)
                            .with_text(airsync::SERVER_ID, server_id.as_str())
                            .with(status_element(airsync::STATUS, *status));
                        if let Some(d) = data {
                            f.push(d.clone());
                        }
                        f
                    }
                });
            }
            el.push(rs);
        }
        if self.more_available {
            el.push(Element::new(airsync::MORE_AVAILABLE));
        }
        el
    }

    fn parse(el: &Element) -> Result<CollectionResponse, ParseError> {
        let mut commands = Vec::new();
        if let Some(cmds) = el.first(airsync::COMMANDS) {
            for c in cmds.elements() {
                let server_id = fields::id(c, airsync::SERVER_ID, ServerId::parse)?;
                let data = || {
                    c.first(airsync::APPLICATION_DATA)
                        .cloned()
                        .ok_or(ParseError::Missing(airsync::APPLICATION_DATA))
                };
                commands.push(match c.tag {
                    t if t == airsync::ADD => ServerCommand::Add {
                        server_id,
                        data: data()?,
                    },
                    t if t == airsync::CHANGE => ServerCommand::Change {
                        server_id,
                        data: data()?,
                    },
                    t if t == airsync::DELETE || t == airsync::SOFT_DELETE => {
                        ServerCommand::Delete { server_id }
                    }
                    _ => continue,
                });
            }
        }
        let mut responses = Vec::new();
        if let Some(rs) = el.first(airsync::RESPONSES) {
            for r in rs.elements() {
                let status = fields::status(r, airsync::STATUS)?;
                let sid = || fields::id(r, airsync::SERVER_ID, ServerId::parse);
                let instance = || fields::opt_text(r, airsyncbase::INSTANCE_ID).map(str::to_string);
                responses.push(match r.tag {
                    t if t == airsync::ADD => ClientResponse::Add {
                        client_id: fields::id(r, airsync::CLIENT_ID, ClientId::parse)?,
                        server_id: fields::opt_id(r, airsync::SERVER_ID, ServerId::parse)?,
                        status,
                    },
                    t if t == airsync::CHANGE => ClientResponse::Change {
                        server_id: sid()?,
                        instance_id: instance(),
                        status,
                    },
                    t if t == airsync::DELETE => ClientResponse::Delete {
                        server_id: sid()?,
                        instance_id: instance(),
                        status,
                    },
                    t if t == airsync::FETCH => ClientResponse::Fetch {
                        server_id: sid()?,
                        status,
                        data: r.first(airsync::APPLICATION_DATA).cloned(),
                    },
                    _ => continue,
                });
            }
        }
        Ok(CollectionResponse {
            class: fields::opt_text(el, airsync::CLASS).map(str::to_string),
            sync_key: fields::opt_id(el, airsync::SYNC_KEY, SyncKey::parse_any)?,
            collection_id: fields::id(el, airsync::COLLECTION_ID, CollectionId::parse)?,
            status: fields::status(el, airsync::STATUS)?,
            commands,
            responses,
            more_available: el.first(airsync::MORE_AVAILABLE).is_some(),
        })
    }
}

impl SyncResponse {
    pub fn failed(status: SyncStatus) -> SyncResponse {
        SyncResponse {
            status: Some(status),
            collections: Vec::new(),
        }
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(airsync::SYNC);
        if let Some(s) = self.status {
            el.push(status_element(airsync::STATUS, s));
        }
        if !self.collections.is_empty() {
            let mut cs = Element::new(airsync::COLLECTIONS);
            for c in &self.collections {
                cs.push(c.encode());
            }
            el.push(cs);
        }
        el
    }

    pub fn parse(el: &Element) -> Result<SyncResponse, ParseError> {
        let el = fields::root(el, airsync::SYNC)?;
        Ok(SyncResponse {
            status: fields::opt_status(el, airsync::STATUS)?,
            collections: match el.first(airsync::COLLECTIONS) {
                Some(c) => c
                    .all(airsync::COLLECTION)
                    .map(CollectionResponse::parse)
                    .collect::<Result<_, _>>()?,
                None => Vec::new(),
            },
        })
    }

    /// The collection with `id`, for clients and tests.
    pub fn collection(&self, id: &CollectionId) -> Option<&CollectionResponse> {
        self.collections.iter().find(|c| &c.collection_id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::email;

    #[test]
    fn response_round_trips() {
        let c = CollectionResponse {
            class: Some("Email".into()),
            sync_key: Some(SyncKey::first(3)),
            collection_id: CollectionId::from_number(4),
            status: SyncStatus::Success,
            commands: vec![
                ServerCommand::Add {
                    server_id: ServerId::item(4, 1),
                    data: Element::new(airsync::APPLICATION_DATA).with_text(email::SUBJECT, "x"),
                },
                ServerCommand::Change {
                    server_id: ServerId::item(4, 2),
                    data: Element::new(airsync::APPLICATION_DATA),
                },
                ServerCommand::Delete {
                    server_id: ServerId::item(4, 3),
                },
            ],
            responses: vec![
                ClientResponse::Add {
                    client_id: ClientId::parse("c").unwrap(),
                    server_id: Some(ServerId::item(4, 9)),
                    status: SyncStatus::Success,
                },
                ClientResponse::Change {
                    server_id: ServerId::item(4, 2),
                    instance_id: None,
                    status: SyncStatus::Conflict,
                },
                ClientResponse::Delete {
                    server_id: ServerId::item(4, 7),
                    instance_id: Some("20300318T080000Z".into()),
                    status: SyncStatus::ObjectNotFound,
                },
                ClientResponse::Fetch {
                    server_id: ServerId::item(4, 1),
                    status: SyncStatus::Success,
                    data: Some(Element::new(airsync::APPLICATION_DATA)),
                },
            ],
            more_available: true,
        };
        let r = SyncResponse {
            status: None,
            collections: vec![c],
        };
        assert_eq!(SyncResponse::parse(&r.encode()), Ok(r));
        let f = SyncResponse::failed(SyncStatus::RequestIncomplete);
        assert_eq!(SyncResponse::parse(&f.encode()), Ok(f));
    }

    #[test]
    fn other_servers_keys_round_trip_per_collection() {
        let zpush = "{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}7";
        let exchange = "1534897012";
        let answer = Element::new(airsync::SYNC).with(
            Element::new(airsync::COLLECTIONS)
                .with(
                    Element::new(airsync::COLLECTION)
                        .with_text(airsync::SYNC_KEY, zpush)
                        .with_text(airsync::COLLECTION_ID, "{inbox}")
                        .with_text(airsync::STATUS, "1"),
                )
                .with(
                    Element::new(airsync::COLLECTION)
                        .with_text(airsync::SYNC_KEY, exchange)
                        .with_text(airsync::COLLECTION_ID, "5")
                        .with_text(airsync::STATUS, "1"),
                ),
        );
        let r = SyncResponse::parse(&answer).unwrap();
        let keys: Vec<String> = r
            .collections
            .iter()
            .map(|c| c.sync_key.unwrap().to_string())
            .collect();
        assert_eq!(keys, [zpush, exchange]);
        assert!(matches!(
            r.collections[0].sync_key,
            Some(SyncKey::Foreign(_))
        ));
        assert_eq!(SyncResponse::parse(&r.encode()), Ok(r));
    }
}
