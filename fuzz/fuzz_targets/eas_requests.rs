//! Every command's request parser on decoded WBXML trees: whatever parses must encode to a tree
//! that parses back to the same request (the handlers only ever see these typed requests).

#![no_main]

use easd::eas::foldersync::FolderSyncRequest;
use easd::eas::getitemestimate::GetItemEstimateRequest;
use easd::eas::itemoperations::ItemOperationsRequest;
use easd::eas::moveitems::MoveItemsRequest;
use easd::eas::ping::PingRequest;
use easd::eas::sync::SyncRequest;
use libfuzzer_sys::fuzz_target;

macro_rules! round_trip {
    ($tree:expr, $ty:ty) => {
        if let Ok(req) = <$ty>::parse($tree) {
            assert_eq!(<$ty>::parse(&req.encode()), Ok(req));
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(tree) = easd::wbxml::decode(data) else {
        return;
    };
    round_trip!(&tree, SyncRequest);
    round_trip!(&tree, ItemOperationsRequest);
    round_trip!(&tree, MoveItemsRequest);
    round_trip!(&tree, GetItemEstimateRequest);
    round_trip!(&tree, FolderSyncRequest);
    if let Ok(req) = PingRequest::parse(Some(&tree)) {
        assert_eq!(PingRequest::parse(Some(&req.to_element())), Ok(req));
    }
});
