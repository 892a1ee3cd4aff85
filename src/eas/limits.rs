//! What one device may get, from its folder options, the policy's sync limits and its quarantine
//! (`device::options::effective`), applied by FolderSync, Sync, GetItemEstimate, ItemOperations
//! and GetAttachment: which folders it sees, how old and how much of each message it gets, and
//! whether attachments reach it at all.

use crate::app::App;
use crate::collections::groupware_mail::as_mail_folder;
use crate::collections::pim_view;
use crate::collections::{Folder, ItemClass, Source};
use crate::device::DeviceError;
use crate::device::options::{self, DeviceOptions, GroupwareFolders, MailFolders};
use crate::items::email::{EmailOptions, MimeSupport};
use crate::items::{BodyPreference, BodyType};
use crate::wbxml::tags::{airsyncbase, email};
use crate::wbxml::{Element, Node};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceLimits(DeviceOptions);

impl DeviceLimits {
    /// The limits in force for `device` of `user`.
    pub fn load(app: &App, user: &str, device: &str) -> Result<DeviceLimits, DeviceError> {
        options::effective(&app.db, user, device).map(DeviceLimits)
    }

    pub fn new(options: DeviceOptions) -> DeviceLimits {
        DeviceLimits(options)
    }

    /// Quarantined: default folders only, and nothing sent from the server to the device.
    pub fn quarantined(&self) -> bool {
        self.0.quarantined
    }

    /// The folders the device may see, in the given order; with GroupWare mail access
    /// (`groupware=all-as-mail`) tasks and notes collections are mail folders and the documents
    /// folder is offered too, else
    /// `tasks_as_events` and `notes_as` may show them as calendars or task lists.
    pub fn visible(&self, folders: Vec<Folder>) -> Vec<Folder> {
        let mail_all = self.0.mail_folders == MailFolders::All;
        let groupware_all = self.0.groupware != GroupwareFolders::DefaultOnly;
        let as_mail = self.0.groupware == GroupwareFolders::AllAsMail;
        folders
            .into_iter()
            .filter(|f| {
                let all = match (&f.source, f.kind.class()) {
                    // The documents folder exists only as mail, with the GroupWare folders.
                    (Source::Files, _) => as_mail,
                    (_, ItemClass::Email) => mail_all,
                    _ => groupware_all,
                };
                all || f.kind.is_special()
            })
            .map(|f| {
                if as_mail {
                    as_mail_folder(f)
                } else {
                    pim_view::apply(f, self.0.tasks_as_events, self.0.notes_as)
                }
            })
            .collect()
    }

    /// The calendar age cap in days (0 = none) from the device's options and the policy's
    /// MaxCalendarAgeFilter.
    pub fn calendar_days(&self) -> u32 {
        self.0.calendar_days.unwrap_or(0)
    }

    /// The age cap in days (0 = none) from the server's `max_mail_age_days` and the device's
    /// `mail_sync_days`, the stricter winning; FilterType is capped by it.
    pub fn max_days(&self, server_max: u32) -> u32 {
        match (server_max, self.0.mail_sync_days) {
            (0, Some(d)) => d.max(1),
            (m, Some(d)) => m.min(d.max(1)),
            (m, None) => m,
        }
    }

    fn truncation(&self) -> Option<u32> {
        self.0
            .truncation
            .map(|t| u32::try_from(t.max(0)).unwrap_or(u32::MAX))
    }

    fn attachments_whole(&self) -> bool {
        self.0.attachments
    }

    /// The client's body options narrowed to what the device may get: bodies cut at the
    /// device's truncation size; without HTML, HTML and MIME bodies become plain text; without
    /// attachments, MIME bodies (which carry them) become HTML or plain text.
    pub fn email_options(&self, mut o: EmailOptions) -> EmailOptions {
        let no_mime = !self.0.html || !self.attachments_whole();
        let fallback = if self.0.html {
            BodyType::Html
        } else {
            BodyType::PlainText
        };
        if no_mime {
            o.mime_support = MimeSupport::Never;
            o.mime_truncation = None;
        }
        let mut prefs: Vec<BodyPreference> = Vec::with_capacity(o.body_preferences.len());
        for mut p in o.body_preferences.drain(..) {
            p.body_type = match p.body_type {
                BodyType::Html if !self.0.html => BodyType::PlainText,
                BodyType::Mime if no_mime => fallback,
                t => t,
            };
            if !prefs.iter().any(|q| q.body_type == p.body_type) {
                prefs.push(p);
            }
        }
        if let Some(cap) = self.truncation() {
            if prefs.is_empty() && o.version >= crate::ProtocolVersion::V12_0 {
                prefs.push(BodyPreference {
                    body_type: BodyType::PlainText,
                    truncation_size: None,
                    all_or_none: false,
                    preview: None,
                });
            }
            for p in &mut prefs {
                p.truncation_size = Some(p.truncation_size.map_or(cap, |t| t.min(cap)));
            }
            o.truncation = Some(o.truncation.map_or(cap, |t| t.min(cap)));
            o.mime_truncation = o.mime_truncation.map(|t| t.min(cap));
        }
        o.body_preferences = prefs;
        o
    }

    /// Whether an attachment of `size` bytes may be fetched.
    pub fn allows_attachment(&self, size: u64) -> bool {
        self.0.attachments && self.0.max_attachment_bytes.is_none_or(|max| size <= max)
    }

    /// Drops from a rendered item the attachments the device may not have (all of them, or
    /// those above the size limit).
    pub fn strip(&self, data: &mut Element) {
        if self.0.attachments && self.0.max_attachment_bytes.is_none() {
            return;
        }
        for (list, size_tag) in [
            (airsyncbase::ATTACHMENTS, airsyncbase::ESTIMATED_DATA_SIZE),
            (email::ATTACHMENTS, email::ATT_SIZE),
        ] {
            let Some(el) = data.first_mut(list) else {
                continue;
            };
            el.children.retain(|n| match n {
                Node::Element(a) => {
                    let size = a
                        .child_text(size_tag)
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .unwrap_or(u64::MAX);
                    self.allows_attachment(size)
                }
                _ => false,
            });
            let emptied = el.children.is_empty();
            if emptied {
                data.children
                    .retain(|n| !matches!(n, Node::Element(e) if e.tag == list));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;
    use crate::device::options::{StoredOptions, combine};
    use crate::device::policy::PolicySettings;

    fn limits(set: &[(&str, &str)]) -> DeviceLimits {
        let mut s = StoredOptions::default();
        for (k, v) in set {
            s.set(k, v).unwrap();
        }
        DeviceLimits::new(combine(
            &s,
            &PolicySettings::default(),
            crate::device::abq::Access::Allow,
        ))
    }

    fn pref(t: BodyType, size: Option<u32>) -> BodyPreference {
        BodyPreference {
            body_type: t,
            truncation_size: size,
            all_or_none: false,
            preview: None,
        }
    }

    #[test]
    fn body_options_are_narrowed() {
        let mut o = EmailOptions::new(ProtocolVersion::V14_1);
        o.body_preferences = vec![pref(BodyType::Mime, None), pref(BodyType::Html, Some(900))];
        o.mime_support = MimeSupport::Always;
        let all = limits(&[]).email_options(o.clone());
        assert_eq!(all, o);
        let plain = limits(&[("html", "false"), ("truncation", "500")]).email_options(o.clone());
        assert_eq!(
            plain.body_preferences,
            vec![pref(BodyType::PlainText, Some(500))]
        );
        assert_eq!(plain.mime_support, MimeSupport::Never);
        let bare = limits(&[("attachments", "false")]).email_options(o.clone());
        assert_eq!(bare.body_preferences, vec![pref(BodyType::Html, None)]);
        let headers =
            limits(&[("truncation", "0")]).email_options(EmailOptions::new(ProtocolVersion::V16_1));
        assert_eq!(
            headers.body_preferences,
            vec![pref(BodyType::PlainText, Some(0))]
        );
        let old = limits(&[("truncation", "4096")])
            .email_options(EmailOptions::new(ProtocolVersion::V2_5));
        assert!(old.body_preferences.is_empty());
        assert_eq!(old.truncation, Some(4096));
    }

    #[test]
    fn ages_and_attachments() {
        assert_eq!(limits(&[]).max_days(0), 0);
        assert_eq!(limits(&[("mail_sync_days", "3")]).max_days(0), 3);
        assert_eq!(limits(&[("mail_sync_days", "30")]).max_days(7), 7);
        let capped = limits(&[("max_attachment_bytes", "100")]);
        let att = |size: &str| {
            Element::new(airsyncbase::ATTACHMENT).with_text(airsyncbase::ESTIMATED_DATA_SIZE, size)
        };
        let mut data = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA).with(
            Element::new(airsyncbase::ATTACHMENTS)
                .with(att("50"))
                .with(att("500")),
        );
        capped.strip(&mut data);
        assert_eq!(
            data.first(airsyncbase::ATTACHMENTS)
                .unwrap()
                .all(airsyncbase::ATTACHMENT)
                .count(),
            1
        );
        limits(&[("attachments", "false")]).strip(&mut data);
        assert!(data.first(airsyncbase::ATTACHMENTS).is_none());
        assert!(capped.allows_attachment(100) && !capped.allows_attachment(101));
    }
}
