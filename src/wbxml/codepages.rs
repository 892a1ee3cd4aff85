//! The EAS code page tables of MS-ASWBXML (revision 24.0, section 2.1.2.1), written once
//! as a declarative table from which the `tags` constants, the name lookups and the
//! per-tag protocol versions are all generated, so they cannot drift apart.

use super::tag::Tag;
use crate::ProtocolVersion;

/// One code page: its number, its spec name (the XML namespace without the colon) and
/// the prefix `to_xml` uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageInfo {
    pub page: u8,
    /// Namespace name as MS-ASWBXML 2.1.2.1 lists it, e.g. "AirSyncBase".
    pub name: &'static str,
    /// The `xmlns` value MS-ASCMD's examples use: the name followed by a colon.
    pub xmlns: &'static str,
    /// Lower-case prefix for `xmlns:prefix` declarations.
    pub prefix: &'static str,
}

/// One row of a code page table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub token: u8,
    pub name: &'static str,
    pub since: ProtocolVersion,
    pub until: ProtocolVersion,
}

pub(crate) struct Page {
    pub info: PageInfo,
    /// Sorted by token (a unit test checks), so lookups can binary-search.
    pub entries: &'static [Entry],
}

macro_rules! code_pages {
    ($(
        $(#[$doc:meta])*
        $page:literal $module:ident $name:literal $prefix:literal {
            $($token:literal $konst:ident $tag:literal $since:ident ..= $until:ident;)*
        }
    )*) => {
        /// Tag constants, one module per code page, named as in MS-ASWBXML.
        pub mod tags {
            $(
                $(#[$doc])*
                pub mod $module {
                    $(
                        #[doc = concat!("`", $name, ":", $tag, "`, token ", stringify!($token), ".")]
                        pub const $konst: crate::wbxml::Tag = crate::wbxml::Tag::new($page, $token);
                    )*
                }
            )*
        }

        /// Every code page, indexed by page number.
        pub const NAMESPACES: &[PageInfo] = &[$(
            PageInfo { page: $page, name: $name, xmlns: concat!($name, ":"), prefix: $prefix },
        )*];

        pub(crate) static PAGES: &[Page] = &[$(
            Page {
                info: PageInfo { page: $page, name: $name, xmlns: concat!($name, ":"), prefix: $prefix },
                entries: &[$(Entry {
                    token: $token,
                    name: $tag,
                    since: ProtocolVersion::$since,
                    until: ProtocolVersion::$until,
                },)*],
            },
        )*];
    };
}

code_pages! {
    /// Code page 0 (MS-ASWBXML 2.1.2.1.1).
    0 airsync "AirSync" "airsync" {
        0x05 SYNC "Sync" V2_5..=V16_1;
        0x06 RESPONSES "Responses" V2_5..=V16_1;
        0x07 ADD "Add" V2_5..=V16_1;
        0x08 CHANGE "Change" V2_5..=V16_1;
        0x09 DELETE "Delete" V2_5..=V16_1;
        0x0A FETCH "Fetch" V2_5..=V16_1;
        0x0B SYNC_KEY "SyncKey" V2_5..=V16_1;
        0x0C CLIENT_ID "ClientId" V2_5..=V16_1;
        0x0D SERVER_ID "ServerId" V2_5..=V16_1;
        0x0E STATUS "Status" V2_5..=V16_1;
        0x0F COLLECTION "Collection" V2_5..=V16_1;
        0x10 CLASS "Class" V2_5..=V16_1;
        0x12 COLLECTION_ID "CollectionId" V2_5..=V16_1;
        0x13 GET_CHANGES "GetChanges" V2_5..=V16_1;
        0x14 MORE_AVAILABLE "MoreAvailable" V2_5..=V16_1;
        0x15 WINDOW_SIZE "WindowSize" V2_5..=V16_1;
        0x16 COMMANDS "Commands" V2_5..=V16_1;
        0x17 OPTIONS "Options" V2_5..=V16_1;
        0x18 FILTER_TYPE "FilterType" V2_5..=V16_1;
        0x19 TRUNCATION "Truncation" V2_5..=V2_5;
        0x1B CONFLICT "Conflict" V2_5..=V16_1;
        0x1C COLLECTIONS "Collections" V2_5..=V16_1;
        0x1D APPLICATION_DATA "ApplicationData" V2_5..=V16_1;
        0x1E DELETES_AS_MOVES "DeletesAsMoves" V2_5..=V16_1;
        0x20 SUPPORTED "Supported" V2_5..=V16_1;
        0x21 SOFT_DELETE "SoftDelete" V2_5..=V16_1;
        0x22 MIME_SUPPORT "MIMESupport" V2_5..=V16_1;
        0x23 MIME_TRUNCATION "MIMETruncation" V2_5..=V16_1;
        0x24 WAIT "Wait" V12_1..=V16_1;
        0x25 LIMIT "Limit" V12_1..=V16_1;
        0x26 PARTIAL "Partial" V12_1..=V16_1;
        0x27 CONVERSATION_MODE "ConversationMode" V14_0..=V16_1;
        0x28 MAX_ITEMS "MaxItems" V14_0..=V16_1;
        0x29 HEARTBEAT_INTERVAL "HeartbeatInterval" V14_0..=V16_1;
    }

    /// Code page 1 (MS-ASWBXML 2.1.2.1.2).
    1 contacts "Contacts" "contacts" {
        0x05 ANNIVERSARY "Anniversary" V2_5..=V16_1;
        0x06 ASSISTANT_NAME "AssistantName" V2_5..=V16_1;
        0x07 ASSISTANT_PHONE_NUMBER "AssistantPhoneNumber" V2_5..=V16_1;
        0x08 BIRTHDAY "Birthday" V2_5..=V16_1;
        0x09 BODY "Body" V2_5..=V2_5;
        0x0A BODY_SIZE "BodySize" V2_5..=V2_5;
        0x0B BODY_TRUNCATED "BodyTruncated" V2_5..=V2_5;
        0x0C BUSINESS2_PHONE_NUMBER "Business2PhoneNumber" V2_5..=V16_1;
        0x0D BUSINESS_ADDRESS_CITY "BusinessAddressCity" V2_5..=V16_1;
        0x0E BUSINESS_ADDRESS_COUNTRY "BusinessAddressCountry" V2_5..=V16_1;
        0x0F BUSINESS_ADDRESS_POSTAL_CODE "BusinessAddressPostalCode" V2_5..=V16_1;
        0x10 BUSINESS_ADDRESS_STATE "BusinessAddressState" V2_5..=V16_1;
        0x11 BUSINESS_ADDRESS_STREET "BusinessAddressStreet" V2_5..=V16_1;
        0x12 BUSINESS_FAX_NUMBER "BusinessFaxNumber" V2_5..=V16_1;
        0x13 BUSINESS_PHONE_NUMBER "BusinessPhoneNumber" V2_5..=V16_1;
        0x14 CAR_PHONE_NUMBER "CarPhoneNumber" V2_5..=V16_1;
        0x15 CATEGORIES "Categories" V2_5..=V16_1;
        0x16 CATEGORY "Category" V2_5..=V16_1;
        0x17 CHILDREN "Children" V2_5..=V16_1;
        0x18 CHILD "Child" V2_5..=V16_1;
        0x19 COMPANY_NAME "CompanyName" V2_5..=V16_1;
        0x1A DEPARTMENT "Department" V2_5..=V16_1;
        0x1B EMAIL1_ADDRESS "Email1Address" V2_5..=V16_1;
        0x1C EMAIL2_ADDRESS "Email2Address" V2_5..=V16_1;
        0x1D EMAIL3_ADDRESS "Email3Address" V2_5..=V16_1;
        0x1E FILE_AS "FileAs" V2_5..=V16_1;
        0x1F FIRST_NAME "FirstName" V2_5..=V16_1;
        0x20 HOME2_PHONE_NUMBER "Home2PhoneNumber" V2_5..=V16_1;
        0x21 HOME_ADDRESS_CITY "HomeAddressCity" V2_5..=V16_1;
        0x22 HOME_ADDRESS_COUNTRY "HomeAddressCountry" V2_5..=V16_1;
        0x23 HOME_ADDRESS_POSTAL_CODE "HomeAddressPostalCode" V2_5..=V16_1;
        0x24 HOME_ADDRESS_STATE "HomeAddressState" V2_5..=V16_1;
        0x25 HOME_ADDRESS_STREET "HomeAddressStreet" V2_5..=V16_1;
        0x26 HOME_FAX_NUMBER "HomeFaxNumber" V2_5..=V16_1;
        0x27 HOME_PHONE_NUMBER "HomePhoneNumber" V2_5..=V16_1;
        0x28 JOB_TITLE "JobTitle" V2_5..=V16_1;
        0x29 LAST_NAME "LastName" V2_5..=V16_1;
        0x2A MIDDLE_NAME "MiddleName" V2_5..=V16_1;
        0x2B MOBILE_PHONE_NUMBER "MobilePhoneNumber" V2_5..=V16_1;
        0x2C OFFICE_LOCATION "OfficeLocation" V2_5..=V16_1;
        0x2D OTHER_ADDRESS_CITY "OtherAddressCity" V2_5..=V16_1;
        0x2E OTHER_ADDRESS_COUNTRY "OtherAddressCountry" V2_5..=V16_1;
        0x2F OTHER_ADDRESS_POSTAL_CODE "OtherAddressPostalCode" V2_5..=V16_1;
        0x30 OTHER_ADDRESS_STATE "OtherAddressState" V2_5..=V16_1;
        0x31 OTHER_ADDRESS_STREET "OtherAddressStreet" V2_5..=V16_1;
        0x32 PAGER_NUMBER "PagerNumber" V2_5..=V16_1;
        0x33 RADIO_PHONE_NUMBER "RadioPhoneNumber" V2_5..=V16_1;
        0x34 SPOUSE "Spouse" V2_5..=V16_1;
        0x35 SUFFIX "Suffix" V2_5..=V16_1;
        0x36 TITLE "Title" V2_5..=V16_1;
        0x37 WEB_PAGE "WebPage" V2_5..=V16_1;
        0x38 YOMI_COMPANY_NAME "YomiCompanyName" V2_5..=V16_1;
        0x39 YOMI_FIRST_NAME "YomiFirstName" V2_5..=V16_1;
        0x3A YOMI_LAST_NAME "YomiLastName" V2_5..=V16_1;
        0x3C PICTURE "Picture" V2_5..=V16_1;
        0x3D ALIAS "Alias" V14_0..=V16_1;
        0x3E WEIGHTED_RANK "WeightedRank" V14_0..=V16_1;
    }

    /// Code page 2 (MS-ASWBXML 2.1.2.1.3).
    2 email "Email" "email" {
        0x05 ATTACHMENT "Attachment" V2_5..=V2_5;
        0x06 ATTACHMENTS "Attachments" V2_5..=V2_5;
        0x07 ATT_NAME "AttName" V2_5..=V2_5;
        0x08 ATT_SIZE "AttSize" V2_5..=V2_5;
        0x09 ATT0_ID "Att0id" V2_5..=V2_5;
        0x0A ATT_METHOD "AttMethod" V2_5..=V2_5;
        0x0C BODY "Body" V2_5..=V2_5;
        0x0D BODY_SIZE "BodySize" V2_5..=V2_5;
        0x0E BODY_TRUNCATED "BodyTruncated" V2_5..=V2_5;
        0x0F DATE_RECEIVED "DateReceived" V2_5..=V16_1;
        0x10 DISPLAY_NAME "DisplayName" V2_5..=V2_5;
        0x11 DISPLAY_TO "DisplayTo" V2_5..=V16_1;
        0x12 IMPORTANCE "Importance" V2_5..=V16_1;
        0x13 MESSAGE_CLASS "MessageClass" V2_5..=V16_1;
        0x14 SUBJECT "Subject" V2_5..=V16_1;
        0x15 READ "Read" V2_5..=V16_1;
        0x16 TO "To" V2_5..=V16_1;
        0x17 CC "Cc" V2_5..=V16_1;
        0x18 FROM "From" V2_5..=V16_1;
        0x19 REPLY_TO "ReplyTo" V2_5..=V16_1;
        0x1A ALL_DAY_EVENT "AllDayEvent" V2_5..=V16_1;
        0x1B CATEGORIES "Categories" V14_0..=V16_1;
        0x1C CATEGORY "Category" V14_0..=V16_1;
        0x1D DT_STAMP "DtStamp" V2_5..=V16_1;
        0x1E END_TIME "EndTime" V2_5..=V16_1;
        0x1F INSTANCE_TYPE "InstanceType" V2_5..=V16_1;
        0x20 BUSY_STATUS "BusyStatus" V2_5..=V16_1;
        0x21 LOCATION "Location" V2_5..=V14_1;
        0x22 MEETING_REQUEST "MeetingRequest" V2_5..=V16_1;
        0x23 ORGANIZER "Organizer" V2_5..=V16_1;
        0x24 RECURRENCE_ID "RecurrenceId" V2_5..=V16_1;
        0x25 REMINDER "Reminder" V2_5..=V16_1;
        0x26 RESPONSE_REQUESTED "ResponseRequested" V2_5..=V16_1;
        0x27 RECURRENCES "Recurrences" V2_5..=V16_1;
        0x28 RECURRENCE "Recurrence" V2_5..=V16_1;
        0x29 TYPE "Type" V2_5..=V16_1;
        0x2A UNTIL "Until" V2_5..=V16_1;
        0x2B OCCURRENCES "Occurrences" V2_5..=V16_1;
        0x2C INTERVAL "Interval" V2_5..=V16_1;
        0x2D DAY_OF_WEEK "DayOfWeek" V2_5..=V16_1;
        0x2E DAY_OF_MONTH "DayOfMonth" V2_5..=V16_1;
        0x2F WEEK_OF_MONTH "WeekOfMonth" V2_5..=V16_1;
        0x30 MONTH_OF_YEAR "MonthOfYear" V2_5..=V16_1;
        0x31 START_TIME "StartTime" V2_5..=V16_1;
        0x32 SENSITIVITY "Sensitivity" V2_5..=V16_1;
        0x33 TIME_ZONE "TimeZone" V2_5..=V16_1;
        0x34 GLOBAL_OBJ_ID "GlobalObjId" V2_5..=V14_1;
        0x35 THREAD_TOPIC "ThreadTopic" V2_5..=V16_1;
        0x36 MIME_DATA "MIMEData" V2_5..=V2_5;
        0x37 MIME_TRUNCATED "MIMETruncated" V2_5..=V2_5;
        0x38 MIME_SIZE "MIMESize" V2_5..=V2_5;
        0x39 INTERNET_CPID "InternetCPID" V2_5..=V16_1;
        0x3A FLAG "Flag" V12_0..=V16_1;
        0x3B STATUS "Status" V12_0..=V16_1;
        0x3C CONTENT_CLASS "ContentClass" V12_0..=V16_1;
        0x3D FLAG_TYPE "FlagType" V12_0..=V16_1;
        0x3E COMPLETE_TIME "CompleteTime" V12_0..=V16_1;
        0x3F DISALLOW_NEW_TIME_PROPOSAL "DisallowNewTimeProposal" V14_0..=V16_1;
    }

    /// Code page 3 (MS-ASWBXML 2.1.2.1.4): "no longer in use", so it has no tags.
    3 airnotify "AirNotify" "airnotify" {}

    /// Code page 4 (MS-ASWBXML 2.1.2.1.5).
    4 calendar "Calendar" "calendar" {
        0x05 TIMEZONE "Timezone" V2_5..=V16_1;
        0x06 ALL_DAY_EVENT "AllDayEvent" V2_5..=V16_1;
        0x07 ATTENDEES "Attendees" V2_5..=V16_1;
        0x08 ATTENDEE "Attendee" V2_5..=V16_1;
        0x09 EMAIL "Email" V2_5..=V16_1;
        0x0A NAME "Name" V2_5..=V16_1;
        0x0B BODY "Body" V2_5..=V2_5;
        0x0C BODY_TRUNCATED "BodyTruncated" V2_5..=V2_5;
        0x0D BUSY_STATUS "BusyStatus" V2_5..=V16_1;
        0x0E CATEGORIES "Categories" V2_5..=V16_1;
        0x0F CATEGORY "Category" V2_5..=V16_1;
        0x11 DT_STAMP "DtStamp" V2_5..=V16_1;
        0x12 END_TIME "EndTime" V2_5..=V16_1;
        0x13 EXCEPTION "Exception" V2_5..=V16_1;
        0x14 EXCEPTIONS "Exceptions" V2_5..=V16_1;
        0x15 DELETED "Deleted" V2_5..=V16_1;
        0x16 EXCEPTION_START_TIME "ExceptionStartTime" V2_5..=V14_1;
        0x17 LOCATION "Location" V2_5..=V14_1;
        0x18 MEETING_STATUS "MeetingStatus" V2_5..=V16_1;
        0x19 ORGANIZER_EMAIL "OrganizerEmail" V2_5..=V16_1;
        0x1A ORGANIZER_NAME "OrganizerName" V2_5..=V16_1;
        0x1B RECURRENCE "Recurrence" V2_5..=V16_1;
        0x1C TYPE "Type" V2_5..=V16_1;
        0x1D UNTIL "Until" V2_5..=V16_1;
        0x1E OCCURRENCES "Occurrences" V2_5..=V16_1;
        0x1F INTERVAL "Interval" V2_5..=V16_1;
        0x20 DAY_OF_WEEK "DayOfWeek" V2_5..=V16_1;
        0x21 DAY_OF_MONTH "DayOfMonth" V2_5..=V16_1;
        0x22 WEEK_OF_MONTH "WeekOfMonth" V2_5..=V16_1;
        0x23 MONTH_OF_YEAR "MonthOfYear" V2_5..=V16_1;
        0x24 REMINDER "Reminder" V2_5..=V16_1;
        0x25 SENSITIVITY "Sensitivity" V2_5..=V16_1;
        0x26 SUBJECT "Subject" V2_5..=V16_1;
        0x27 START_TIME "StartTime" V2_5..=V16_1;
        0x28 UID "UID" V2_5..=V16_1;
        0x29 ATTENDEE_STATUS "AttendeeStatus" V12_0..=V16_1;
        0x2A ATTENDEE_TYPE "AttendeeType" V12_0..=V16_1;
        0x33 DISALLOW_NEW_TIME_PROPOSAL "DisallowNewTimeProposal" V14_0..=V16_1;
        0x34 RESPONSE_REQUESTED "ResponseRequested" V14_0..=V16_1;
        0x35 APPOINTMENT_REPLY_TIME "AppointmentReplyTime" V14_0..=V16_1;
        0x36 RESPONSE_TYPE "ResponseType" V14_0..=V16_1;
        0x37 CALENDAR_TYPE "CalendarType" V14_0..=V16_1;
        0x38 IS_LEAP_MONTH "IsLeapMonth" V14_0..=V16_1;
        0x39 FIRST_DAY_OF_WEEK "FirstDayOfWeek" V14_1..=V16_1;
        0x3A ONLINE_MEETING_CONF_LINK "OnlineMeetingConfLink" V14_1..=V16_1;
        0x3B ONLINE_MEETING_EXTERNAL_LINK "OnlineMeetingExternalLink" V14_1..=V16_1;
        0x3C CLIENT_UID "ClientUid" V16_0..=V16_1;
    }

    /// Code page 5 (MS-ASWBXML 2.1.2.1.6); `move` is a Rust keyword, hence `move_`.
    5 move_ "Move" "move" {
        0x05 MOVE_ITEMS "MoveItems" V2_5..=V16_1;
        0x06 MOVE "Move" V2_5..=V16_1;
        0x07 SRC_MSG_ID "SrcMsgId" V2_5..=V16_1;
        0x08 SRC_FLD_ID "SrcFldId" V2_5..=V16_1;
        0x09 DST_FLD_ID "DstFldId" V2_5..=V16_1;
        0x0A RESPONSE "Response" V2_5..=V16_1;
        0x0B STATUS "Status" V2_5..=V16_1;
        0x0C DST_MSG_ID "DstMsgId" V2_5..=V16_1;
    }

    /// Code page 6 (MS-ASWBXML 2.1.2.1.7).
    6 getitemestimate "GetItemEstimate" "getitemestimate" {
        0x05 GET_ITEM_ESTIMATE "GetItemEstimate" V2_5..=V16_1;
        0x07 COLLECTIONS "Collections" V2_5..=V16_1;
        0x08 COLLECTION "Collection" V2_5..=V16_1;
        0x09 CLASS "Class" V2_5..=V12_1;
        0x0A COLLECTION_ID "CollectionId" V2_5..=V16_1;
        0x0C ESTIMATE "Estimate" V2_5..=V16_1;
        0x0D RESPONSE "Response" V2_5..=V16_1;
        0x0E STATUS "Status" V2_5..=V16_1;
    }

    /// Code page 7 (MS-ASWBXML 2.1.2.1.8).
    7 folderhierarchy "FolderHierarchy" "folderhierarchy" {
        0x05 FOLDERS "Folders" V2_5..=V12_1;
        0x06 FOLDER "Folder" V2_5..=V12_1;
        0x07 DISPLAY_NAME "DisplayName" V2_5..=V16_1;
        0x08 SERVER_ID "ServerId" V2_5..=V16_1;
        0x09 PARENT_ID "ParentId" V2_5..=V16_1;
        0x0A TYPE "Type" V2_5..=V16_1;
        0x0C STATUS "Status" V2_5..=V16_1;
        0x0E CHANGES "Changes" V2_5..=V16_1;
        0x0F ADD "Add" V2_5..=V16_1;
        0x10 DELETE "Delete" V2_5..=V16_1;
        0x11 UPDATE "Update" V2_5..=V16_1;
        0x12 SYNC_KEY "SyncKey" V2_5..=V16_1;
        0x13 FOLDER_CREATE "FolderCreate" V2_5..=V16_1;
        0x14 FOLDER_DELETE "FolderDelete" V2_5..=V16_1;
        0x15 FOLDER_UPDATE "FolderUpdate" V2_5..=V16_1;
        0x16 FOLDER_SYNC "FolderSync" V2_5..=V16_1;
        0x17 COUNT "Count" V2_5..=V16_1;
    }

    /// Code page 8 (MS-ASWBXML 2.1.2.1.9).
    8 meetingresponse "MeetingResponse" "meetingresponse" {
        0x05 CALENDAR_ID "CalendarId" V2_5..=V16_1;
        0x06 COLLECTION_ID "CollectionId" V2_5..=V16_1;
        0x07 MEETING_RESPONSE "MeetingResponse" V2_5..=V16_1;
        0x08 REQUEST_ID "RequestId" V2_5..=V16_1;
        0x09 REQUEST "Request" V2_5..=V16_1;
        0x0A RESULT "Result" V2_5..=V16_1;
        0x0B STATUS "Status" V2_5..=V16_1;
        0x0C USER_RESPONSE "UserResponse" V2_5..=V16_1;
        0x0E INSTANCE_ID "InstanceId" V14_1..=V16_1;
        0x10 PROPOSED_START_TIME "ProposedStartTime" V16_1..=V16_1;
        0x11 PROPOSED_END_TIME "ProposedEndTime" V16_1..=V16_1;
        0x12 SEND_RESPONSE "SendResponse" V16_0..=V16_1;
    }

    /// Code page 9 (MS-ASWBXML 2.1.2.1.10).
    9 tasks "Tasks" "tasks" {
        0x05 BODY "Body" V2_5..=V2_5;
        0x06 BODY_SIZE "BodySize" V2_5..=V2_5;
        0x07 BODY_TRUNCATED "BodyTruncated" V2_5..=V2_5;
        0x08 CATEGORIES "Categories" V2_5..=V16_1;
        0x09 CATEGORY "Category" V2_5..=V16_1;
        0x0A COMPLETE "Complete" V2_5..=V16_1;
        0x0B DATE_COMPLETED "DateCompleted" V2_5..=V16_1;
        0x0C DUE_DATE "DueDate" V2_5..=V16_1;
        0x0D UTC_DUE_DATE "UtcDueDate" V2_5..=V16_1;
        0x0E IMPORTANCE "Importance" V2_5..=V16_1;
        0x0F RECURRENCE "Recurrence" V2_5..=V16_1;
        0x10 TYPE "Type" V2_5..=V16_1;
        0x11 START "Start" V2_5..=V16_1;
        0x12 UNTIL "Until" V2_5..=V16_1;
        0x13 OCCURRENCES "Occurrences" V2_5..=V16_1;
        0x14 INTERVAL "Interval" V2_5..=V16_1;
        0x15 DAY_OF_MONTH "DayOfMonth" V2_5..=V16_1;
        0x16 DAY_OF_WEEK "DayOfWeek" V2_5..=V16_1;
        0x17 WEEK_OF_MONTH "WeekOfMonth" V2_5..=V16_1;
        0x18 MONTH_OF_YEAR "MonthOfYear" V2_5..=V16_1;
        0x19 REGENERATE "Regenerate" V2_5..=V16_1;
        0x1A DEAD_OCCUR "DeadOccur" V2_5..=V16_1;
        0x1B REMINDER_SET "ReminderSet" V2_5..=V16_1;
        0x1C REMINDER_TIME "ReminderTime" V2_5..=V16_1;
        0x1D SENSITIVITY "Sensitivity" V2_5..=V16_1;
        0x1E START_DATE "StartDate" V2_5..=V16_1;
        0x1F UTC_START_DATE "UtcStartDate" V2_5..=V16_1;
        0x20 SUBJECT "Subject" V2_5..=V16_1;
        0x22 ORDINAL_DATE "OrdinalDate" V12_0..=V16_1;
        0x23 SUB_ORDINAL_DATE "SubOrdinalDate" V12_0..=V16_1;
        0x24 CALENDAR_TYPE "CalendarType" V14_0..=V16_1;
        0x25 IS_LEAP_MONTH "IsLeapMonth" V14_0..=V16_1;
        0x26 FIRST_DAY_OF_WEEK "FirstDayOfWeek" V14_1..=V16_1;
    }

    /// Code page 10 (MS-ASWBXML 2.1.2.1.11).
    10 resolverecipients "ResolveRecipients" "resolverecipients" {
        0x05 RESOLVE_RECIPIENTS "ResolveRecipients" V2_5..=V16_1;
        0x06 RESPONSE "Response" V2_5..=V16_1;
        0x07 STATUS "Status" V2_5..=V16_1;
        0x08 TYPE "Type" V2_5..=V16_1;
        0x09 RECIPIENT "Recipient" V2_5..=V16_1;
        0x0A DISPLAY_NAME "DisplayName" V2_5..=V16_1;
        0x0B EMAIL_ADDRESS "EmailAddress" V2_5..=V16_1;
        0x0C CERTIFICATES "Certificates" V2_5..=V16_1;
        0x0D CERTIFICATE "Certificate" V2_5..=V16_1;
        0x0E MINI_CERTIFICATE "MiniCertificate" V2_5..=V16_1;
        0x0F OPTIONS "Options" V2_5..=V16_1;
        0x10 TO "To" V2_5..=V16_1;
        0x11 CERTIFICATE_RETRIEVAL "CertificateRetrieval" V2_5..=V16_1;
        0x12 RECIPIENT_COUNT "RecipientCount" V2_5..=V16_1;
        0x13 MAX_CERTIFICATES "MaxCertificates" V2_5..=V16_1;
        0x14 MAX_AMBIGUOUS_RECIPIENTS "MaxAmbiguousRecipients" V2_5..=V16_1;
        0x15 CERTIFICATE_COUNT "CertificateCount" V2_5..=V16_1;
        0x16 AVAILABILITY "Availability" V14_0..=V16_1;
        0x17 START_TIME "StartTime" V14_0..=V16_1;
        0x18 END_TIME "EndTime" V14_0..=V16_1;
        0x19 MERGED_FREE_BUSY "MergedFreeBusy" V14_0..=V16_1;
        0x1A PICTURE "Picture" V14_1..=V16_1;
        0x1B MAX_SIZE "MaxSize" V14_1..=V16_1;
        0x1C DATA "Data" V14_1..=V16_1;
        0x1D MAX_PICTURES "MaxPictures" V14_1..=V16_1;
    }

    /// Code page 11 (MS-ASWBXML 2.1.2.1.12).
    11 validatecert "ValidateCert" "validatecert" {
        0x05 VALIDATE_CERT "ValidateCert" V2_5..=V16_1;
        0x06 CERTIFICATES "Certificates" V2_5..=V16_1;
        0x07 CERTIFICATE "Certificate" V2_5..=V16_1;
        0x08 CERTIFICATE_CHAIN "CertificateChain" V2_5..=V16_1;
        0x09 CHECK_CRL "CheckCRL" V2_5..=V16_1;
        0x0A STATUS "Status" V2_5..=V16_1;
    }

    /// Code page 12 (MS-ASWBXML 2.1.2.1.13).
    12 contacts2 "Contacts2" "contacts2" {
        0x05 CUSTOMER_ID "CustomerId" V2_5..=V16_1;
        0x06 GOVERNMENT_ID "GovernmentId" V2_5..=V16_1;
        0x07 IM_ADDRESS "IMAddress" V2_5..=V16_1;
        0x08 IM_ADDRESS2 "IMAddress2" V2_5..=V16_1;
        0x09 IM_ADDRESS3 "IMAddress3" V2_5..=V16_1;
        0x0A MANAGER_NAME "ManagerName" V2_5..=V16_1;
        0x0B COMPANY_MAIN_PHONE "CompanyMainPhone" V2_5..=V16_1;
        0x0C ACCOUNT_NAME "AccountName" V2_5..=V16_1;
        0x0D NICK_NAME "NickName" V2_5..=V16_1;
        0x0E MMS "MMS" V2_5..=V16_1;
    }

    /// Code page 13 (MS-ASWBXML 2.1.2.1.14).
    13 ping "Ping" "ping" {
        0x05 PING "Ping" V2_5..=V16_1;
        0x07 STATUS "Status" V2_5..=V16_1;
        0x08 HEARTBEAT_INTERVAL "HeartbeatInterval" V2_5..=V16_1;
        0x09 FOLDERS "Folders" V2_5..=V16_1;
        0x0A FOLDER "Folder" V2_5..=V16_1;
        0x0B ID "Id" V2_5..=V16_1;
        0x0C CLASS "Class" V2_5..=V16_1;
        0x0D MAX_FOLDERS "MaxFolders" V2_5..=V16_1;
    }

    /// Code page 14 (MS-ASWBXML 2.1.2.1.15).
    14 provision "Provision" "provision" {
        0x05 PROVISION "Provision" V2_5..=V16_1;
        0x06 POLICIES "Policies" V2_5..=V16_1;
        0x07 POLICY "Policy" V2_5..=V16_1;
        0x08 POLICY_TYPE "PolicyType" V2_5..=V16_1;
        0x09 POLICY_KEY "PolicyKey" V2_5..=V16_1;
        0x0A DATA "Data" V2_5..=V16_1;
        0x0B STATUS "Status" V2_5..=V16_1;
        0x0C REMOTE_WIPE "RemoteWipe" V2_5..=V16_1;
        0x0D EAS_PROVISION_DOC "EASProvisionDoc" V12_0..=V16_1;
        0x0E DEVICE_PASSWORD_ENABLED "DevicePasswordEnabled" V12_0..=V16_1;
        0x0F ALPHANUMERIC_DEVICE_PASSWORD_REQUIRED "AlphanumericDevicePasswordRequired" V12_0..=V16_1;
        0x10 REQUIRE_STORAGE_CARD_ENCRYPTION "RequireStorageCardEncryption" V12_1..=V16_1;
        0x11 PASSWORD_RECOVERY_ENABLED "PasswordRecoveryEnabled" V12_0..=V16_1;
        0x13 ATTACHMENTS_ENABLED "AttachmentsEnabled" V12_0..=V16_1;
        0x14 MIN_DEVICE_PASSWORD_LENGTH "MinDevicePasswordLength" V12_0..=V16_1;
        0x15 MAX_INACTIVITY_TIME_DEVICE_LOCK "MaxInactivityTimeDeviceLock" V12_0..=V16_1;
        0x16 MAX_DEVICE_PASSWORD_FAILED_ATTEMPTS "MaxDevicePasswordFailedAttempts" V12_0..=V16_1;
        0x17 MAX_ATTACHMENT_SIZE "MaxAttachmentSize" V12_0..=V16_1;
        0x18 ALLOW_SIMPLE_DEVICE_PASSWORD "AllowSimpleDevicePassword" V12_0..=V16_1;
        0x19 DEVICE_PASSWORD_EXPIRATION "DevicePasswordExpiration" V12_0..=V16_1;
        0x1A DEVICE_PASSWORD_HISTORY "DevicePasswordHistory" V12_0..=V16_1;
        0x1B ALLOW_STORAGE_CARD "AllowStorageCard" V12_1..=V16_1;
        0x1C ALLOW_CAMERA "AllowCamera" V12_1..=V16_1;
        0x1D REQUIRE_DEVICE_ENCRYPTION "RequireDeviceEncryption" V12_1..=V16_1;
        0x1E ALLOW_UNSIGNED_APPLICATIONS "AllowUnsignedApplications" V12_1..=V16_1;
        0x1F ALLOW_UNSIGNED_INSTALLATION_PACKAGES "AllowUnsignedInstallationPackages" V12_1..=V16_1;
        0x20 MIN_DEVICE_PASSWORD_COMPLEX_CHARACTERS "MinDevicePasswordComplexCharacters" V12_1..=V16_1;
        0x21 ALLOW_WIFI "AllowWiFi" V12_1..=V16_1;
        0x22 ALLOW_TEXT_MESSAGING "AllowTextMessaging" V12_1..=V16_1;
        0x23 ALLOW_POP_IMAP_EMAIL "AllowPOPIMAPEmail" V12_1..=V16_1;
        0x24 ALLOW_BLUETOOTH "AllowBluetooth" V12_1..=V16_1;
        0x25 ALLOW_IRDA "AllowIrDA" V12_1..=V16_1;
        0x26 REQUIRE_MANUAL_SYNC_WHEN_ROAMING "RequireManualSyncWhenRoaming" V12_1..=V16_1;
        0x27 ALLOW_DESKTOP_SYNC "AllowDesktopSync" V12_1..=V16_1;
        0x28 MAX_CALENDAR_AGE_FILTER "MaxCalendarAgeFilter" V12_1..=V16_1;
        0x29 ALLOW_HTML_EMAIL "AllowHTMLEmail" V12_1..=V16_1;
        0x2A MAX_EMAIL_AGE_FILTER "MaxEmailAgeFilter" V12_1..=V16_1;
        0x2B MAX_EMAIL_BODY_TRUNCATION_SIZE "MaxEmailBodyTruncationSize" V12_1..=V16_1;
        0x2C MAX_EMAIL_HTML_BODY_TRUNCATION_SIZE "MaxEmailHTMLBodyTruncationSize" V12_1..=V16_1;
        0x2D REQUIRE_SIGNED_SMIME_MESSAGES "RequireSignedSMIMEMessages" V12_1..=V16_1;
        0x2E REQUIRE_ENCRYPTED_SMIME_MESSAGES "RequireEncryptedSMIMEMessages" V12_1..=V16_1;
        0x2F REQUIRE_SIGNED_SMIME_ALGORITHM "RequireSignedSMIMEAlgorithm" V12_1..=V16_1;
        0x30 REQUIRE_ENCRYPTION_SMIME_ALGORITHM "RequireEncryptionSMIMEAlgorithm" V12_1..=V16_1;
        0x31 ALLOW_SMIME_ENCRYPTION_ALGORITHM_NEGOTIATION "AllowSMIMEEncryptionAlgorithmNegotiation" V12_1..=V16_1;
        0x32 ALLOW_SMIME_SOFT_CERTS "AllowSMIMESoftCerts" V12_1..=V16_1;
        0x33 ALLOW_BROWSER "AllowBrowser" V12_1..=V16_1;
        0x34 ALLOW_CONSUMER_EMAIL "AllowConsumerEmail" V12_1..=V16_1;
        0x35 ALLOW_REMOTE_DESKTOP "AllowRemoteDesktop" V12_1..=V16_1;
        0x36 ALLOW_INTERNET_SHARING "AllowInternetSharing" V12_1..=V16_1;
        0x37 UNAPPROVED_IN_ROM_APPLICATION_LIST "UnapprovedInROMApplicationList" V12_1..=V16_1;
        0x38 APPLICATION_NAME "ApplicationName" V12_1..=V16_1;
        0x39 APPROVED_APPLICATION_LIST "ApprovedApplicationList" V12_1..=V16_1;
        0x3A HASH "Hash" V12_1..=V16_1;
        0x3B ACCOUNT_ONLY_REMOTE_WIPE "AccountOnlyRemoteWipe" V16_1..=V16_1;
    }

    /// Code page 15 (MS-ASWBXML 2.1.2.1.16).
    15 search "Search" "search" {
        0x05 SEARCH "Search" V2_5..=V16_1;
        0x07 STORE "Store" V2_5..=V16_1;
        0x08 NAME "Name" V2_5..=V16_1;
        0x09 QUERY "Query" V2_5..=V16_1;
        0x0A OPTIONS "Options" V2_5..=V16_1;
        0x0B RANGE "Range" V2_5..=V16_1;
        0x0C STATUS "Status" V2_5..=V16_1;
        0x0D RESPONSE "Response" V2_5..=V16_1;
        0x0E RESULT "Result" V2_5..=V16_1;
        0x0F PROPERTIES "Properties" V2_5..=V16_1;
        0x10 TOTAL "Total" V2_5..=V16_1;
        0x11 EQUAL_TO "EqualTo" V12_0..=V16_1;
        0x12 VALUE "Value" V12_0..=V16_1;
        0x13 AND "And" V12_0..=V16_1;
        0x14 OR "Or" V12_0..=V16_1;
        0x15 FREE_TEXT "FreeText" V12_0..=V16_1;
        0x17 DEEP_TRAVERSAL "DeepTraversal" V12_0..=V16_1;
        0x18 LONG_ID "LongId" V12_0..=V16_1;
        0x19 REBUILD_RESULTS "RebuildResults" V12_0..=V16_1;
        0x1A LESS_THAN "LessThan" V12_0..=V16_1;
        0x1B GREATER_THAN "GreaterThan" V12_0..=V16_1;
        0x1E USER_NAME "UserName" V12_1..=V16_1;
        0x1F PASSWORD "Password" V12_1..=V16_1;
        0x20 CONVERSATION_ID "ConversationId" V14_0..=V16_1;
        0x21 PICTURE "Picture" V14_1..=V16_1;
        0x22 MAX_SIZE "MaxSize" V14_1..=V16_1;
        0x23 MAX_PICTURES "MaxPictures" V14_1..=V16_1;
    }

    /// Code page 16 (MS-ASWBXML 2.1.2.1.17).
    16 gal "Gal" "gal" {
        0x05 DISPLAY_NAME "DisplayName" V2_5..=V16_1;
        0x06 PHONE "Phone" V2_5..=V16_1;
        0x07 OFFICE "Office" V2_5..=V16_1;
        0x08 TITLE "Title" V2_5..=V16_1;
        0x09 COMPANY "Company" V2_5..=V16_1;
        0x0A ALIAS "Alias" V2_5..=V16_1;
        0x0B FIRST_NAME "FirstName" V2_5..=V16_1;
        0x0C LAST_NAME "LastName" V2_5..=V16_1;
        0x0D HOME_PHONE "HomePhone" V2_5..=V16_1;
        0x0E MOBILE_PHONE "MobilePhone" V2_5..=V16_1;
        0x0F EMAIL_ADDRESS "EmailAddress" V2_5..=V16_1;
        0x10 PICTURE "Picture" V14_1..=V16_1;
        0x11 STATUS "Status" V14_1..=V16_1;
        0x12 DATA "Data" V14_1..=V16_1;
    }

    /// Code page 17 (MS-ASWBXML 2.1.2.1.18).
    17 airsyncbase "AirSyncBase" "airsyncbase" {
        0x05 BODY_PREFERENCE "BodyPreference" V12_0..=V16_1;
        0x06 TYPE "Type" V12_0..=V16_1;
        0x07 TRUNCATION_SIZE "TruncationSize" V12_0..=V16_1;
        0x08 ALL_OR_NONE "AllOrNone" V12_0..=V16_1;
        0x0A BODY "Body" V12_0..=V16_1;
        0x0B DATA "Data" V12_0..=V16_1;
        0x0C ESTIMATED_DATA_SIZE "EstimatedDataSize" V12_0..=V16_1;
        0x0D TRUNCATED "Truncated" V12_0..=V16_1;
        0x0E ATTACHMENTS "Attachments" V12_0..=V16_1;
        0x0F ATTACHMENT "Attachment" V12_0..=V16_1;
        0x10 DISPLAY_NAME "DisplayName" V12_0..=V16_1;
        0x11 FILE_REFERENCE "FileReference" V12_0..=V16_1;
        0x12 METHOD "Method" V12_0..=V16_1;
        0x13 CONTENT_ID "ContentId" V12_0..=V16_1;
        0x14 CONTENT_LOCATION "ContentLocation" V12_0..=V16_1;
        0x15 IS_INLINE "IsInline" V12_0..=V16_1;
        0x16 NATIVE_BODY_TYPE "NativeBodyType" V12_0..=V16_1;
        0x17 CONTENT_TYPE "ContentType" V12_0..=V16_1;
        0x18 PREVIEW "Preview" V14_0..=V16_1;
        0x19 BODY_PART_PREFERENCE "BodyPartPreference" V14_1..=V16_1;
        0x1A BODY_PART "BodyPart" V14_1..=V16_1;
        0x1B STATUS "Status" V14_1..=V16_1;
        0x1C ADD "Add" V16_0..=V16_1;
        0x1D DELETE "Delete" V16_0..=V16_1;
        0x1E CLIENT_ID "ClientId" V16_0..=V16_1;
        0x1F CONTENT "Content" V16_0..=V16_1;
        0x20 LOCATION "Location" V16_0..=V16_1;
        0x21 ANNOTATION "Annotation" V16_0..=V16_1;
        0x22 STREET "Street" V16_0..=V16_1;
        0x23 CITY "City" V16_0..=V16_1;
        0x24 STATE "State" V16_0..=V16_1;
        0x25 COUNTRY "Country" V16_0..=V16_1;
        0x26 POSTAL_CODE "PostalCode" V16_0..=V16_1;
        0x27 LATITUDE "Latitude" V16_0..=V16_1;
        0x28 LONGITUDE "Longitude" V16_0..=V16_1;
        0x29 ACCURACY "Accuracy" V16_0..=V16_1;
        0x2A ALTITUDE "Altitude" V16_0..=V16_1;
        0x2B ALTITUDE_ACCURACY "AltitudeAccuracy" V16_0..=V16_1;
        0x2C LOCATION_URI "LocationUri" V16_0..=V16_1;
        0x2D INSTANCE_ID "InstanceId" V16_0..=V16_1;
    }

    /// Code page 18 (MS-ASWBXML 2.1.2.1.19).
    18 settings "Settings" "settings" {
        0x05 SETTINGS "Settings" V12_0..=V16_1;
        0x06 STATUS "Status" V12_0..=V16_1;
        0x07 GET "Get" V12_0..=V16_1;
        0x08 SET "Set" V12_0..=V16_1;
        0x09 OOF "Oof" V12_0..=V16_1;
        0x0A OOF_STATE "OofState" V12_0..=V16_1;
        0x0B START_TIME "StartTime" V12_0..=V16_1;
        0x0C END_TIME "EndTime" V12_0..=V16_1;
        0x0D OOF_MESSAGE "OofMessage" V12_0..=V16_1;
        0x0E APPLIES_TO_INTERNAL "AppliesToInternal" V12_0..=V16_1;
        0x0F APPLIES_TO_EXTERNAL_KNOWN "AppliesToExternalKnown" V12_0..=V16_1;
        0x10 APPLIES_TO_EXTERNAL_UNKNOWN "AppliesToExternalUnknown" V12_0..=V16_1;
        0x11 ENABLED "Enabled" V12_0..=V16_1;
        0x12 REPLY_MESSAGE "ReplyMessage" V12_0..=V16_1;
        0x13 BODY_TYPE "BodyType" V12_0..=V16_1;
        0x14 DEVICE_PASSWORD "DevicePassword" V12_0..=V16_1;
        0x15 PASSWORD "Password" V12_0..=V16_1;
        0x16 DEVICE_INFORMATION "DeviceInformation" V12_0..=V16_1;
        0x17 MODEL "Model" V12_0..=V16_1;
        0x18 IMEI "IMEI" V12_0..=V16_1;
        0x19 FRIENDLY_NAME "FriendlyName" V12_0..=V16_1;
        0x1A OS "OS" V12_0..=V16_1;
        0x1B OS_LANGUAGE "OSLanguage" V12_0..=V16_1;
        0x1C PHONE_NUMBER "PhoneNumber" V12_0..=V16_1;
        0x1D USER_INFORMATION "UserInformation" V12_0..=V16_1;
        0x1E EMAIL_ADDRESSES "EmailAddresses" V12_0..=V16_1;
        0x1F SMTP_ADDRESS "SMTPAddress" V12_0..=V16_1;
        0x20 USER_AGENT "UserAgent" V12_1..=V16_1;
        0x21 ENABLE_OUTBOUND_SMS "EnableOutboundSMS" V14_0..=V16_1;
        0x22 MOBILE_OPERATOR "MobileOperator" V14_0..=V16_1;
        0x23 PRIMARY_SMTP_ADDRESS "PrimarySmtpAddress" V14_1..=V16_1;
        0x24 ACCOUNTS "Accounts" V14_1..=V16_1;
        0x25 ACCOUNT "Account" V14_1..=V16_1;
        0x26 ACCOUNT_ID "AccountId" V14_1..=V16_1;
        0x27 ACCOUNT_NAME "AccountName" V14_1..=V16_1;
        0x28 USER_DISPLAY_NAME "UserDisplayName" V14_1..=V16_1;
        0x29 SEND_DISABLED "SendDisabled" V14_1..=V16_1;
        0x2B RIGHTS_MANAGEMENT_INFORMATION "RightsManagementInformation" V14_1..=V16_1;
    }

    /// Code page 19 (MS-ASWBXML 2.1.2.1.20).
    19 documentlibrary "DocumentLibrary" "documentlibrary" {
        0x05 LINK_ID "LinkId" V12_0..=V16_1;
        0x06 DISPLAY_NAME "DisplayName" V12_0..=V16_1;
        0x07 IS_FOLDER "IsFolder" V12_0..=V16_1;
        0x08 CREATION_DATE "CreationDate" V12_0..=V16_1;
        0x09 LAST_MODIFIED_DATE "LastModifiedDate" V12_0..=V16_1;
        0x0A IS_HIDDEN "IsHidden" V12_0..=V16_1;
        0x0B CONTENT_LENGTH "ContentLength" V12_0..=V16_1;
        0x0C CONTENT_TYPE "ContentType" V12_0..=V16_1;
    }

    /// Code page 20 (MS-ASWBXML 2.1.2.1.21).
    20 itemoperations "ItemOperations" "itemoperations" {
        0x05 ITEM_OPERATIONS "ItemOperations" V12_0..=V16_1;
        0x06 FETCH "Fetch" V12_0..=V16_1;
        0x07 STORE "Store" V12_0..=V16_1;
        0x08 OPTIONS "Options" V12_0..=V16_1;
        0x09 RANGE "Range" V12_0..=V16_1;
        0x0A TOTAL "Total" V12_0..=V16_1;
        0x0B PROPERTIES "Properties" V12_0..=V16_1;
        0x0C DATA "Data" V12_0..=V16_1;
        0x0D STATUS "Status" V12_0..=V16_1;
        0x0E RESPONSE "Response" V12_0..=V16_1;
        0x0F VERSION "Version" V12_0..=V16_1;
        0x10 SCHEMA "Schema" V12_0..=V16_1;
        0x11 PART "Part" V12_0..=V16_1;
        0x12 EMPTY_FOLDER_CONTENTS "EmptyFolderContents" V12_0..=V16_1;
        0x13 DELETE_SUB_FOLDERS "DeleteSubFolders" V12_0..=V16_1;
        0x14 USER_NAME "UserName" V12_1..=V16_1;
        0x15 PASSWORD "Password" V12_1..=V16_1;
        0x16 MOVE "Move" V14_0..=V16_1;
        0x17 DST_FLD_ID "DstFldId" V14_0..=V16_1;
        0x18 CONVERSATION_ID "ConversationId" V14_0..=V16_1;
        0x19 MOVE_ALWAYS "MoveAlways" V14_0..=V16_1;
    }

    /// Code page 21 (MS-ASWBXML 2.1.2.1.22).
    21 composemail "ComposeMail" "composemail" {
        0x05 SEND_MAIL "SendMail" V14_0..=V16_1;
        0x06 SMART_FORWARD "SmartForward" V14_0..=V16_1;
        0x07 SMART_REPLY "SmartReply" V14_0..=V16_1;
        0x08 SAVE_IN_SENT_ITEMS "SaveInSentItems" V14_0..=V16_1;
        0x09 REPLACE_MIME "ReplaceMime" V14_0..=V16_1;
        0x0B SOURCE "Source" V14_0..=V16_1;
        0x0C FOLDER_ID "FolderId" V14_0..=V16_1;
        0x0D ITEM_ID "ItemId" V14_0..=V16_1;
        0x0E LONG_ID "LongId" V14_0..=V16_1;
        0x0F INSTANCE_ID "InstanceId" V14_0..=V16_1;
        0x10 MIME "Mime" V14_0..=V16_1;
        0x11 CLIENT_ID "ClientId" V14_0..=V16_1;
        0x12 STATUS "Status" V14_0..=V16_1;
        0x13 ACCOUNT_ID "AccountId" V14_1..=V16_1;
        0x15 FORWARDEES "Forwardees" V16_0..=V16_1;
        0x16 FORWARDEE "Forwardee" V16_0..=V16_1;
        0x17 NAME "Name" V16_0..=V16_1;
        0x18 EMAIL "Email" V16_0..=V16_1;
    }

    /// Code page 22 (MS-ASWBXML 2.1.2.1.23).
    22 email2 "Email2" "email2" {
        0x05 UM_CALLER_ID "UmCallerID" V14_0..=V16_1;
        0x06 UM_USER_NOTES "UmUserNotes" V14_0..=V16_1;
        0x07 UM_ATT_DURATION "UmAttDuration" V14_0..=V16_1;
        0x08 UM_ATT_ORDER "UmAttOrder" V14_0..=V16_1;
        0x09 CONVERSATION_ID "ConversationId" V14_0..=V16_1;
        0x0A CONVERSATION_INDEX "ConversationIndex" V14_0..=V16_1;
        0x0B LAST_VERB_EXECUTED "LastVerbExecuted" V14_0..=V16_1;
        0x0C LAST_VERB_EXECUTION_TIME "LastVerbExecutionTime" V14_0..=V16_1;
        0x0D RECEIVED_AS_BCC "ReceivedAsBcc" V14_0..=V16_1;
        0x0E SENDER "Sender" V14_0..=V16_1;
        0x0F CALENDAR_TYPE "CalendarType" V14_0..=V16_1;
        0x10 IS_LEAP_MONTH "IsLeapMonth" V14_0..=V16_1;
        0x11 ACCOUNT_ID "AccountId" V14_1..=V16_1;
        0x12 FIRST_DAY_OF_WEEK "FirstDayOfWeek" V14_1..=V16_1;
        0x13 MEETING_MESSAGE_TYPE "MeetingMessageType" V14_1..=V16_1;
        0x15 IS_DRAFT "IsDraft" V16_0..=V16_1;
        0x16 BCC "Bcc" V16_0..=V16_1;
        0x17 SEND "Send" V16_0..=V16_1;
    }

    /// Code page 23 (MS-ASWBXML 2.1.2.1.24).
    23 notes "Notes" "notes" {
        0x05 SUBJECT "Subject" V14_0..=V16_1;
        0x06 MESSAGE_CLASS "MessageClass" V14_0..=V16_1;
        0x07 LAST_MODIFIED_DATE "LastModifiedDate" V14_0..=V16_1;
        0x08 CATEGORIES "Categories" V14_0..=V16_1;
        0x09 CATEGORY "Category" V14_0..=V16_1;
    }

    /// Code page 24 (MS-ASWBXML 2.1.2.1.25).
    24 rightsmanagement "RightsManagement" "rightsmanagement" {
        0x05 RIGHTS_MANAGEMENT_SUPPORT "RightsManagementSupport" V14_1..=V16_1;
        0x06 RIGHTS_MANAGEMENT_TEMPLATES "RightsManagementTemplates" V14_1..=V16_1;
        0x07 RIGHTS_MANAGEMENT_TEMPLATE "RightsManagementTemplate" V14_1..=V16_1;
        0x08 RIGHTS_MANAGEMENT_LICENSE "RightsManagementLicense" V14_1..=V16_1;
        0x09 EDIT_ALLOWED "EditAllowed" V14_1..=V16_1;
        0x0A REPLY_ALLOWED "ReplyAllowed" V14_1..=V16_1;
        0x0B REPLY_ALL_ALLOWED "ReplyAllAllowed" V14_1..=V16_1;
        0x0C FORWARD_ALLOWED "ForwardAllowed" V14_1..=V16_1;
        0x0D MODIFY_RECIPIENTS_ALLOWED "ModifyRecipientsAllowed" V14_1..=V16_1;
        0x0E EXTRACT_ALLOWED "ExtractAllowed" V14_1..=V16_1;
        0x0F PRINT_ALLOWED "PrintAllowed" V14_1..=V16_1;
        0x10 EXPORT_ALLOWED "ExportAllowed" V14_1..=V16_1;
        0x11 PROGRAMMATIC_ACCESS_ALLOWED "ProgrammaticAccessAllowed" V14_1..=V16_1;
        0x12 OWNER "Owner" V14_1..=V16_1;
        0x13 CONTENT_EXPIRY_DATE "ContentExpiryDate" V14_1..=V16_1;
        0x14 TEMPLATE_ID "TemplateID" V14_1..=V16_1;
        0x15 TEMPLATE_NAME "TemplateName" V14_1..=V16_1;
        0x16 TEMPLATE_DESCRIPTION "TemplateDescription" V14_1..=V16_1;
        0x17 CONTENT_OWNER "ContentOwner" V14_1..=V16_1;
        0x18 REMOVE_RIGHTS_MANAGEMENT_PROTECTION "RemoveRightsManagementProtection" V14_1..=V16_1;
    }

    /// Code page 25 (MS-ASWBXML 2.1.2.1.26).
    25 find "Find" "find" {
        0x05 FIND "Find" V16_1..=V16_1;
        0x06 SEARCH_ID "SearchId" V16_1..=V16_1;
        0x07 EXECUTE_SEARCH "ExecuteSearch" V16_1..=V16_1;
        0x08 MAIL_BOX_SEARCH_CRITERION "MailBoxSearchCriterion" V16_1..=V16_1;
        0x09 QUERY "Query" V16_1..=V16_1;
        0x0A STATUS "Status" V16_1..=V16_1;
        0x0B FREE_TEXT "FreeText" V16_1..=V16_1;
        0x0C OPTIONS "Options" V16_1..=V16_1;
        0x0D RANGE "Range" V16_1..=V16_1;
        0x0E DEEP_TRAVERSAL "DeepTraversal" V16_1..=V16_1;
        0x11 RESPONSE "Response" V16_1..=V16_1;
        0x12 RESULT "Result" V16_1..=V16_1;
        0x13 PROPERTIES "Properties" V16_1..=V16_1;
        0x14 PREVIEW "Preview" V16_1..=V16_1;
        0x15 HAS_ATTACHMENTS "HasAttachments" V16_1..=V16_1;
        0x16 TOTAL "Total" V16_1..=V16_1;
        0x17 DISPLAY_CC "DisplayCc" V16_1..=V16_1;
        0x18 DISPLAY_BCC "DisplayBcc" V16_1..=V16_1;
        0x19 GAL_SEARCH_CRITERION "GalSearchCriterion" V16_1..=V16_1;
        0x20 MAX_PICTURES "MaxPictures" V16_1..=V16_1;
        0x21 MAX_SIZE "MaxSize" V16_1..=V16_1;
        0x22 PICTURE "Picture" V16_1..=V16_1;
    }
}

/// The table of code page `page`, if EAS defines it.
pub(crate) fn page(page: u8) -> Option<&'static Page> {
    PAGES.get(usize::from(page))
}

/// The table row of `tag`, if the spec assigns that token.
pub(crate) fn entry(tag: Tag) -> Option<&'static Entry> {
    let entries = page(tag.page())?.entries;
    let index = entries
        .binary_search_by_key(&tag.token(), |e| e.token)
        .ok()?;
    entries.get(index)
}

/// The page whose namespace is `namespace`: the spec name, with or without the
/// trailing colon MS-ASCMD's examples use, compared ASCII-case-insensitively
/// (MS-ASWBXML itself writes both "Gal" and "GAL").
pub(crate) fn page_by_namespace(namespace: &str) -> Option<&'static Page> {
    let name = namespace.strip_suffix(':').unwrap_or(namespace);
    PAGES
        .iter()
        .find(|p| p.info.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags;

    #[test]
    fn pages_are_indexed_by_number_and_sorted_by_token() {
        assert_eq!(PAGES.len(), 26);
        assert_eq!(NAMESPACES.len(), 26);
        for (i, p) in PAGES.iter().enumerate() {
            assert_eq!(usize::from(p.info.page), i);
            assert_eq!(NAMESPACES[i], p.info);
            assert!(
                p.entries.windows(2).all(|w| w[0].token < w[1].token),
                "{}",
                p.info.name
            );
            for e in p.entries {
                assert!(
                    (0x05..=0x3F).contains(&e.token),
                    "{}:{}",
                    p.info.name,
                    e.name
                );
                assert!(e.since <= e.until, "{}:{}", p.info.name, e.name);
            }
        }
    }

    #[test]
    fn names_are_unique_within_a_page() {
        for p in PAGES {
            for (i, a) in p.entries.iter().enumerate() {
                assert!(
                    p.entries[i + 1..].iter().all(|b| b.name != a.name),
                    "{}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn spec_spot_checks() {
        assert_eq!(tags::airsync::SYNC, Tag::new(0, 0x05));
        assert_eq!(tags::airsync::SYNC_KEY, Tag::new(0, 0x0B));
        assert_eq!(tags::airsync::COLLECTION_ID, Tag::new(0, 0x12));
        assert_eq!(tags::airsyncbase::BODY_PREFERENCE, Tag::new(17, 0x05));
        assert_eq!(tags::email::DATE_RECEIVED, Tag::new(2, 0x0F));
        assert_eq!(tags::folderhierarchy::FOLDER_SYNC, Tag::new(7, 0x16));
        // ItemOperations fetches attachments by airsyncbase:FileReference; page 20 has none.
        assert_eq!(tags::airsyncbase::FILE_REFERENCE, Tag::new(17, 0x11));
    }

    /// Find (page 25) is where implementations disagree: some put MaxPictures, MaxSize
    /// and Picture at 0x1A-0x1C, right after GalSearchCriterion (0x19). MS-ASWBXML
    /// revision 24.0, section 2.1.2.1.26 "Code Page 25: Find", lists them at 0x20, 0x21
    /// and 0x22 and leaves 0x1A-0x1F unassigned; Microsoft's own protocol test suite
    /// encodes them the same way. We follow the spec.
    #[test]
    fn find_picture_tokens_follow_ms_aswbxml_2_1_2_1_26() {
        assert_eq!(tags::find::MAX_PICTURES, Tag::new(25, 0x20));
        assert_eq!(tags::find::MAX_SIZE, Tag::new(25, 0x21));
        assert_eq!(tags::find::PICTURE, Tag::new(25, 0x22));
        for token in 0x1A..=0x1F {
            assert!(entry(Tag::new(25, token)).is_none(), "0x{token:02X}");
        }
    }

    #[test]
    fn namespace_lookup_accepts_colon_and_case() {
        assert_eq!(page_by_namespace("AirSync:").map(|p| p.info.page), Some(0));
        assert_eq!(page_by_namespace("GAL").map(|p| p.info.page), Some(16));
        assert!(page_by_namespace("Nope").is_none());
    }
}
