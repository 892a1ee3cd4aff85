//! The Sync request (MS-ASCMD 2.2.1.21.1) as types, parsed from and encoded to WBXML trees.

use crate::eas::fields::{self, ParseError};
use crate::eas::ids::{ClientId, CollectionId, ServerId, SyncKey};
use crate::eas::options::ItemOptions;
use crate::wbxml::tags::{airsync, airsyncbase};
use crate::wbxml::{Element, Tag};

/// A client change in a collection's Commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCommand {
    Add {
        client_id: ClientId,
        data: Element,
    },
    Change {
        server_id: ServerId,
        data: Element,
    },
    Delete {
        server_id: ServerId,
    },
    Fetch {
        server_id: ServerId,
    },
    /// 16.x: a Change of one occurrence of a recurring series, named by its original start
    /// (AirSyncBase InstanceId, compact UTC).
    ChangeInstance {
        server_id: ServerId,
        instance_id: String,
        data: Element,
    },
    /// 16.x: the Delete of one occurrence.
    DeleteInstance {
        server_id: ServerId,
        instance_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionRequest {
    /// 2.5–12.1 clients name the class.
    pub class: Option<String>,
    /// `None` when the collection comes from the cached request of an empty or partial Sync:
    /// the device is then at the key the server last issued.
    pub sync_key: Option<SyncKey>,
    pub collection_id: CollectionId,
    pub deletes_as_moves: Option<bool>,
    pub get_changes: Option<bool>,
    pub window_size: Option<u32>,
    /// The elements the client supports (contacts and calendar, SyncKey 0 only); others are
    /// ghosted: their absence in a Change keeps the stored value (MS-ASCMD 2.2.3.168).
    pub supported: Option<Vec<Tag>>,
    /// Options for the collection's own class (others, e.g. SMS, are ignored).
    pub options: Option<ItemOptions>,
    pub commands: Vec<ClientCommand>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyncRequest {
    /// Empty for an empty Sync request.
    pub collections: Vec<CollectionRequest>,
    /// Minutes (12.1+), for the push helper's holding.
    pub wait: Option<u32>,
    /// Seconds (14.0+), likewise.
    pub heartbeat_interval: Option<u32>,
    pub window_size: Option<u32>,
    pub partial: bool,
}

/// A `Supported` element listing `tags`.
pub fn supported_element(tags: &[Tag]) -> Element {
    let mut el = Element::new(airsync::SUPPORTED);
    for &t in tags {
        el.push(Element::new(t));
    }
    el
}

impl CollectionRequest {
    /// A request for one collection with GetChanges and a window.
    pub fn new(collection_id: CollectionId, sync_key: SyncKey) -> CollectionRequest {
        CollectionRequest {
            class: None,
            sync_key: Some(sync_key),
            collection_id,
            deletes_as_moves: None,
            get_changes: None,
            window_size: None,
            supported: None,
            options: None,
            commands: Vec::new(),
        }
    }

    fn parse(el: &Element) -> Result<CollectionRequest, ParseError> {
        let mut commands = Vec::new();
        if let Some(cmds) = el.first(airsync::COMMANDS) {
            for c in cmds.elements() {
                let data = || {
                    c.first(airsync::APPLICATION_DATA)
                        .cloned()
                        .ok_or(ParseError::Missing(airsync::APPLICATION_DATA))
                };
                let instance = c
                    .child_text(airsyncbase::INSTANCE_ID)
                    .map(|s| s.trim().to_string());
                commands.push(match c.tag {
                    t if t == airsync::CHANGE && instance.is_some() => {
                        ClientCommand::ChangeInstance {
                            server_id: fields::id(c, airsync::SERVER_ID, ServerId::parse)?,
                            instance_id: instance.unwrap_or_default(),
                            data: data()?,
                        }
                    }
                    t if t == airsync::DELETE && instance.is_some() => {
                        ClientCommand::DeleteInstance {
                            server_id: fields::id(c, airsync::SERVER_ID, ServerId::parse)?,
                            instance_id: instance.unwrap_or_default(),
                        }
                    }
                    t if t == airsync::ADD => ClientCommand::Add {
                        client_id: fields::id(c, airsync::CLIENT_ID, ClientId::parse)?,
                        data: data()?,
                    },
                    t if t == airsync::CHANGE => ClientCommand::Change {
                        server_id: fields::id(c, airsync::SERVER_ID, ServerId::parse)?,
                        data: data()?,
                    },
                    t if t == airsync::DELETE => ClientCommand::Delete {
                        server_id: fields::id(c, airsync::SERVER_ID, ServerId::parse)?,
                    },
                    t if t == airsync::FETCH => ClientCommand::Fetch {
                        server_id: fields::id(c, airsync::SERVER_ID, ServerId::parse)?,
                    },
                    _ => return Err(ParseError::BadValue(airsync::COMMANDS)),
                });
            }
        }
        let class = fields::opt_text(el, airsync::CLASS).map(str::to_string);
        // 14.0+ may send one Options per class (Email and SMS); keep the one for our class.
        let options = el
            .all(airsync::OPTIONS)
            .map(ItemOptions::parse)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .find(|o| o.class.is_none() || o.class == class || o.class.as_deref() == Some("Email"));
        Ok(CollectionRequest {
            class,
            // Another server's key is a well-formed key this server never issued: the engine
            // answers Status 3 for that collection, and the device starts it over.
            sync_key: Some(fields::id(el, airsync::SYNC_KEY, SyncKey::parse_any)?),
            collection_id: fields::id(el, airsync::COLLECTION_ID, CollectionId::parse)?,
            deletes_as_moves: fields::opt_flag(el, airsync::DELETES_AS_MOVES)?,
            get_changes: fields::opt_flag(el, airsync::GET_CHANGES)?,
            window_size: fields::opt_value(el, airsync::WINDOW_SIZE)?,
            supported: el
                .first(airsync::SUPPORTED)
                .map(|s| s.elements().map(|e| e.tag).collect()),
            options,
            commands,
        })
    }

    fn encode(&self) -> Element {
        let mut el = Element::new(airsync::COLLECTION);
        if let Some(c) = &self.class {
            el.push_text(airsync::CLASS, c.as_str());
        }
        el.push_text(
            airsync::SYNC_KEY,
            self.sync_key.unwrap_or(SyncKey::Initial).to_string(),
        );
        el.push_text(airsync::COLLECTION_ID, self.collection_id.as_str());
        if let Some(tags) = &self.supported {
            el.push(supported_element(tags));
        }
        if let Some(d) = self.deletes_as_moves {
            el.push_text(airsync::DELETES_AS_MOVES, if d { "1" } else { "0" });
        }
        if let Some(g) = self.get_changes {
            el.push_text(airsync::GET_CHANGES, if g { "1" } else { "0" });
        }
        if let Some(w) = self.window_size {
            el.push_text(airsync::WINDOW_SIZE, w.to_string());
        }
        if let Some(o) = &self.options {
            el.push(o.encode(airsync::OPTIONS));
        }
        if !self.commands.is_empty() {
            let mut cmds = Element::new(airsync::COMMANDS);
            for c in &self.commands {
                cmds.push(match c {
                    ClientCommand::Add { client_id, data } => Element::new(airsync::ADD)
                        .with_text(airsync::CLIENT_ID, client_id.as_str())
                        .with(data.clone()),
                    ClientCommand::Change { server_id, data } => Element::new(airsync::CHANGE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with(data.clone()),
                    ClientCommand::Delete { server_id } => Element::new(airsync::DELETE)
                        .with_text(airsync::SERVER_ID, server_id.as_str()),
                    ClientCommand::Fetch { server_id } => Element::new(airsync::FETCH)
                        .with_text(airsync::SERVER_ID, server_id.as_str()),
                    ClientCommand::ChangeInstance {
                        server_id,
                        instance_id,
                        data,
                    } => Element::new(airsync::CHANGE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with_text(airsyncbase::INSTANCE_ID, instance_id.as_str())
                        .with(data.clone()),
                    ClientCommand::DeleteInstance {
                        server_id,
                        instance_id,
                    } => Element::new(airsync::DELETE)
                        .with_text(airsync::SERVER_ID, server_id.as_str())
                        .with_text(airsyncbase::INSTANCE_ID, instance_id.as_str()),
                });
            }
            el.push(cmds);
        }
        el
    }
}

impl SyncRequest {
    pub fn parse(el: &Element) -> Result<SyncRequest, ParseError> {
        let el = fields::root(el, airsync::SYNC)?;
        let collections = match el.first(airsync::COLLECTIONS) {
            Some(c) => c
                .all(airsync::COLLECTION)
                .map(CollectionRequest::parse)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(SyncRequest {
            collections,
            wait: fields::opt_value(el, airsync::WAIT)?,
            heartbeat_interval: fields::opt_value(el, airsync::HEARTBEAT_INTERVAL)?,
            window_size: fields::opt_value(el, airsync::WINDOW_SIZE)?,
            partial: fields::opt_flag(el, airsync::PARTIAL)?.unwrap_or(false),
        })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(airsync::SYNC);
        if !self.collections.is_empty() {
            let mut cs = Element::new(airsync::COLLECTIONS);
            for c in &self.collections {
                cs.push(c.encode());
            }
            el.push(cs);
        }
        if let Some(w) = self.wait {
            el.push_text(airsync::WAIT, w.to_string());
        }
        if let Some(h) = self.heartbeat_interval {
            el.push_text(airsync::HEARTBEAT_INTERVAL, h.to_string());
        }
        if let Some(w) = self.window_size {
            el.push_text(airsync::WINDOW_SIZE, w.to_string());
        }
        if self.partial {
            el.push(Element::new(airsync::PARTIAL));
        }
        el
    }

    /// The request as a later empty or partial Sync reuses it: no commands, no keys.
    pub fn to_cache(&self) -> SyncRequest {
        SyncRequest {
            collections: self
                .collections
                .iter()
                .map(|c| CollectionRequest {
                    sync_key: None,
                    supported: None,
                    commands: Vec::new(),
                    ..c.clone()
                })
                .collect(),
            partial: false,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::email;

    #[test]
    fn other_servers_keys_go_back_verbatim() {
        for key in ["{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}12", "42"] {
            let k = SyncKey::parse_any(key).unwrap();
            let req = SyncRequest {
                collections: vec![CollectionRequest::new(CollectionId::parse("9").unwrap(), k)],
                ..SyncRequest::default()
            };
            let el = req.encode();
            let sent = el
                .first(airsync::COLLECTIONS)
                .and_then(|c| c.first(airsync::COLLECTION))
                .and_then(|c| c.first(airsync::SYNC_KEY))
                .and_then(Element::text_content);
            assert_eq!(sent, Some(key));
            assert_eq!(SyncRequest::parse(&el), Ok(req));
        }
    }

    #[test]
    fn request_round_trips() {
        let mut c = CollectionRequest::new(CollectionId::from_number(3), SyncKey::first(1));
        c.window_size = Some(100);
        c.get_changes = Some(true);
        c.deletes_as_moves = Some(false);
        c.supported = Some(vec![crate::wbxml::tags::contacts::FIRST_NAME]);
        c.options = Some(ItemOptions {
            filter_type: Some(2),
            ..ItemOptions::default()
        });
        c.commands = vec![
            ClientCommand::Change {
                server_id: ServerId::item(3, 1),
                data: Element::new(airsync::APPLICATION_DATA).with_text(email::READ, "1"),
            },
            ClientCommand::Delete {
                server_id: ServerId::item(3, 2),
            },
            ClientCommand::Fetch {
                server_id: ServerId::item(3, 4),
            },
            ClientCommand::ChangeInstance {
                server_id: ServerId::item(3, 5),
                instance_id: "20260301T100000Z".into(),
                data: Element::new(airsync::APPLICATION_DATA),
            },
            ClientCommand::DeleteInstance {
                server_id: ServerId::item(3, 5),
                instance_id: "20260308T100000Z".into(),
            },
            ClientCommand::Add {
                client_id: ClientId::parse("c1").unwrap(),
                data: Element::new(airsync::APPLICATION_DATA),
            },
        ];
        let r = SyncRequest {
            collections: vec![c],
            wait: Some(5),
            heartbeat_interval: None,
            window_size: Some(200),
            partial: true,
        };
        assert_eq!(SyncRequest::parse(&r.encode()), Ok(r.clone()));
        let cached = r.to_cache();
        assert!(cached.collections[0].commands.is_empty());
        assert_eq!(cached.collections[0].sync_key, None);
        assert_eq!(
            SyncRequest::parse(&Element::new(airsync::SYNC)),
            Ok(SyncRequest::default())
        );
    }
}
