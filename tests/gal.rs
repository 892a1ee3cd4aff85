//! The global address list through a real server: configured users merged with a GAL contacts
//! collection, found by a name or address prefix with Search, with photos, Range and Total.

mod common;

use common::{Server, run};
use easd::eas::Command;
use easd::eas::options::ItemOptions;
use easd::eas::search::{
    PictureOptions, PictureStatus, Query, SearchRange, SearchRequest, SearchResponse, SearchResult,
    SearchStatus,
};

/// A tiny JPEG header is enough: the server passes photo bytes through.
const PHOTO_B64: &str = "/9j/4AAQSkZJRgABAQ==";

pub fn gal_server() -> Server {
    let server = Server::start_with(common::Options {
        users: vec!["alice@example.com".into(), "bob@example.com".into()],
        extra: "[gal]\ncollections = [\"{data_dir}/gal\"]\n".into(),
        ..Default::default()
    });
    let dir = server.data_dir().join("gal");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("alice.vcf"),
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice Martin\r\nN:Martin;Alice;;;\r\nEMAIL:alice@example.com\r\nTEL;TYPE=WORK:+33 1 23 45 67 89\r\nTITLE:Accountant\r\nPHOTO;ENCODING=b;TYPE=JPEG:{PHOTO_B64}\r\nEND:VCARD\r\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("marc.vcf"),
        format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Marc Lopez\r\nN:Lopez;Marc;;;\r\nEMAIL:marc@partner.example\r\nTEL;TYPE=CELL:+34 600 000 000\r\nPHOTO;ENCODING=b;TYPE=JPEG:{PHOTO_B64}\r\nEND:VCARD\r\n"),
    )
    .unwrap();
    server
}

fn gal_search(
    text: &str,
    range: Option<SearchRange>,
    picture: Option<PictureOptions>,
) -> SearchRequest {
    SearchRequest {
        query: Query::Gal(text.into()),
        range,
        deep_traversal: false,
        rebuild_results: false,
        item_options: ItemOptions::default(),
        picture,
    }
}

fn emails(resp: &SearchResponse) -> Vec<String> {
    resp.results
        .iter()
        .map(|r| match r {
            SearchResult::Gal(g) => g.entry.email.clone(),
            SearchResult::Mail(m) => m.long_id.clone(),
        })
        .collect()
}

#[test]
fn search_gal_by_name_and_address_prefix_with_photos() {
    let server = gal_server();
    let mut phone = server.device("bob@example.com", "gal1");
    let call = |phone: &mut easd::client::Device, req: &SearchRequest| {
        let tree = run(phone.call(Command::Search, &req.encode())).unwrap();
        SearchResponse::parse(&tree).unwrap()
    };

    // "mar" starts Alice's last name and Marc's first name: both, sorted by display name.
    let pics = PictureOptions {
        max_size: Some(100_000),
        max_pictures: Some(10),
    };
    let resp = call(&mut phone, &gal_search("mar", None, Some(pics)));
    assert_eq!(
        (resp.status, resp.store_status),
        (SearchStatus::Success, SearchStatus::Success)
    );
    assert_eq!(emails(&resp), ["alice@example.com", "marc@partner.example"]);
    assert_eq!(resp.total, Some(2));
    assert_eq!(resp.range, Some(SearchRange { first: 0, last: 1 }));
    let SearchResult::Gal(alice) = &resp.results[0] else {
        panic!("not a GAL result");
    };
    // The configured user, completed from the GAL card.
    assert_eq!(alice.entry.display_name, "alice@example.com");
    assert_eq!(alice.entry.title, "Accountant");
    assert_eq!(alice.entry.phone, "+33 1 23 45 67 89");
    let (status, data) = alice.picture.clone().unwrap();
    assert_eq!(status, PictureStatus::Success);
    assert_eq!(data.unwrap()[..3], [0xff, 0xd8, 0xff]);

    // By address prefix; users without a card have no photo.
    let resp = call(&mut phone, &gal_search("bob@", None, Some(pics)));
    assert_eq!(emails(&resp), ["bob@example.com"]);
    let SearchResult::Gal(bob) = &resp.results[0] else {
        panic!("not a GAL result");
    };
    assert_eq!(
        bob.picture.as_ref().map(|p| p.0),
        Some(PictureStatus::NoPicture)
    );

    // Range and MaxPictures.
    let one = PictureOptions {
        max_size: None,
        max_pictures: Some(1),
    };
    let resp = call(
        &mut phone,
        &gal_search("mar", Some(SearchRange { first: 1, last: 1 }), Some(one)),
    );
    assert_eq!(emails(&resp), ["marc@partner.example"]);
    assert_eq!(resp.total, Some(2));
    assert_eq!(resp.range, Some(SearchRange { first: 1, last: 1 }));
    let resp = call(&mut phone, &gal_search("mar", None, Some(one)));
    let statuses: Vec<_> = resp
        .results
        .iter()
        .map(|r| match r {
            SearchResult::Gal(g) => g.picture.as_ref().map(|p| p.0),
            SearchResult::Mail(_) => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            Some(PictureStatus::Success),
            Some(PictureStatus::LimitReached)
        ]
    );

    // No match: Total 0.
    let resp = call(&mut phone, &gal_search("zz", None, None));
    assert!(resp.results.is_empty());
    assert_eq!(resp.total, Some(0));
}

#[test]
fn find_gal_criterion() {
    use easd::eas::find::{Criterion, FindRequest, FindResponse, FindResult, FindStatus};
    let server = gal_server();
    let mut phone = server.device("alice@example.com", "find1");
    phone.version = easd::ProtocolVersion::V16_1;
    let req = FindRequest {
        search_id: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
        criterion: Criterion::Gal {
            text: "lop".into(),
            picture: Some(PictureOptions {
                max_size: Some(100_000),
                max_pictures: Some(5),
            }),
        },
        range: SearchRange { first: 0, last: 9 },
    };
    let tree = run(phone.call(Command::Find, &req.encode())).unwrap();
    let resp = FindResponse::parse(&tree).unwrap();
    assert_eq!(
        (resp.status, resp.response_status),
        (FindStatus::Success, FindStatus::Success)
    );
    assert_eq!(resp.store, "GAL");
    assert_eq!(resp.total, Some(1));
    let [FindResult::Gal(marc)] = resp.results.as_slice() else {
        panic!("{resp:?}");
    };
    assert_eq!(marc.entry.email, "marc@partner.example");
    assert_eq!(marc.entry.mobile_phone, "+34 600 000 000");
    assert_eq!(
        marc.picture.as_ref().map(|p| p.0),
        Some(PictureStatus::Success)
    );

    // Find keeps no result sets: a later page is refused as the spec allows.
    let later = FindRequest {
        range: SearchRange {
            first: 10,
            last: 19,
        },
        ..req
    };
    let tree = run(phone.call(Command::Find, &later.encode())).unwrap();
    let resp = FindResponse::parse(&tree).unwrap();
    assert_eq!(resp.response_status, FindStatus::StartWithRangeZero);
}

#[test]
fn resolve_recipients_from_the_gal() {
    use easd::eas::resolverecipients::{
        RecipientType, ResolveRequest, ResolveResponse, ResolveStatus,
    };
    let server = gal_server();
    let mut phone = server.device("bob@example.com", "rr1");
    let req = ResolveRequest {
        to: vec![
            "alice@example.com".into(),
            "mar".into(),
            "stranger@nowhere.example".into(),
        ],
        certificate_retrieval: Some(2),
        max_ambiguous: Some(10),
        availability: None,
        picture: Some(PictureOptions {
            max_size: Some(100_000),
            max_pictures: Some(1),
        }),
    };
    let tree = run(phone.call(Command::ResolveRecipients, &req.encode())).unwrap();
    let resp = ResolveResponse::parse(&tree).unwrap();
    assert_eq!(resp.status, ResolveStatus::Success);
    let [alice, mar, stranger] = resp.responses.as_slice() else {
        panic!("{resp:?}");
    };
    assert_eq!(alice.status, ResolveStatus::Success);
    let a = &alice.recipients[0];
    assert_eq!(
        (a.kind, a.email.as_str()),
        (RecipientType::Gal, "alice@example.com")
    );
    assert_eq!(a.certificates, Some(ResolveStatus::NoValidCertificate));
    assert_eq!(
        a.picture.as_ref().map(|p| p.0),
        Some(PictureStatus::Success)
    );
    assert_eq!(mar.status, ResolveStatus::Ambiguous);
    assert_eq!(mar.recipients.len(), 2);
    assert_eq!(stranger.status, ResolveStatus::Unresolved);
}
