//! The autodiscover request (MS-ASCMD 2.2.1.1 for phones, MS-OXDSCLI for Outlook): which address the
//! client asks about and which response schema it wants, read leniently because clients differ in
//! namespaces, prefixes, letter case and whether they send AcceptableResponseSchema at all.

use super::xml::{self, Node};
use std::fmt;

pub const MOBILESYNC_REQUEST_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";
pub const OUTLOOK_REQUEST_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
pub const MOBILESYNC_RESPONSE_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006";
pub const OUTLOOK_RESPONSE_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The response schemas this server answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// ActiveSync clients: phones, tablets, Outlook mobile.
    MobileSync,
    /// Outlook on the desktop.
    Outlook,
}

impl Schema {
    pub fn request_ns(self) -> &'static str {
        match self {
            Schema::MobileSync => MOBILESYNC_REQUEST_NS,
            Schema::Outlook => OUTLOOK_REQUEST_NS,
        }
    }

    pub fn response_ns(self) -> &'static str {
        match self {
            Schema::MobileSync => MOBILESYNC_RESPONSE_NS,
            Schema::Outlook => OUTLOOK_RESPONSE_NS,
        }
    }

    /// Matches an AcceptableResponseSchema value. Some clients (and Microsoft's own examples) write
    /// https:// or change the case, so the comparison ignores the scheme, case and a trailing slash.
    pub fn from_response_ns(value: &str) -> Option<Schema> {
        let key = |s: &str| {
            let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
            let s = s
                .strip_prefix("http://")
                .or_else(|| s.strip_prefix("https://"))
                .unwrap_or(&s);
            s.to_string()
        };
        let wanted = key(value);
        [Schema::MobileSync, Schema::Outlook]
            .into_iter()
            .find(|s| key(s.response_ns()) == wanted)
    }
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The address asked about; None when the client names the mailbox by LegacyDN only, or sends
    /// no body (a GET), and then the answer is for the authenticated user.
    pub email: Option<String>,
    pub schema: Schema,
}

/// Why a request cannot be answered: the MS-OXDSCLI error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// 600: not an autodiscover request.
    Invalid(String),
    /// 601: a response schema this server does not provide.
    SchemaNotAvailable(String),
}

impl RequestError {
    pub fn code(&self) -> u16 {
        match self {
            RequestError::Invalid(_) => 600,
            RequestError::SchemaNotAvailable(_) => 601,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Invalid(m) => write!(f, "invalid autodiscover request: {m}"),
            RequestError::SchemaNotAvailable(s) => write!(f, "response schema {s:?} not available"),
        }
    }
}

impl std::error::Error for RequestError {}

impl Request {
    /// Reads a request body. An empty body is a request for the authenticated user's ActiveSync
    /// settings, as a GET is.
    pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Request {
                email: None,
                schema: Schema::MobileSync,
            });
        }
        let root = xml::parse(body).map_err(|e| RequestError::Invalid(e.to_string()))?;
        if !root.name.eq_ignore_ascii_case("Autodiscover") {
            return Err(RequestError::Invalid(format!("root element {}", root.name)));
        }
        let request = root
            .child("Request")
            .ok_or_else(|| RequestError::Invalid("no Request element".into()))?;
        let schema = match request.child_text("AcceptableResponseSchema") {
            Some(value) => Schema::from_response_ns(value)
                .ok_or_else(|| RequestError::SchemaNotAvailable(value.to_string()))?,
            // Without the element the request namespace is the only hint: Outlook's means Outlook.
            None if root.namespace.eq_ignore_ascii_case(OUTLOOK_REQUEST_NS) => Schema::Outlook,
            None => Schema::MobileSync,
        };
        let email = request
            .child_text("EMailAddress")
            .map(str::to_string)
            .filter(|e| !e.is_empty());
        if email.is_none() && request.child("LegacyDN").is_none() {
            return Err(RequestError::Invalid("no EMailAddress".into()));
        }
        Ok(Request { email, schema })
    }

    /// The request body a client of this schema sends.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut request = Node::new(self.schema.request_ns(), "Request");
        if let Some(e) = &self.email {
            request = request.with_text("EMailAddress", e.as_str());
        }
        request = request.with_text("AcceptableResponseSchema", self.schema.response_ns());
        let mut root = Node::new(self.schema.request_ns(), "Autodiscover");
        root.push(request);
        root.to_xml()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Request, RequestError> {
        Request::parse(s.as_bytes())
    }

    #[test]
    fn round_trip() {
        for schema in [Schema::MobileSync, Schema::Outlook] {
            let r = Request {
                email: Some("a@example.com".into()),
                schema,
            };
            assert_eq!(Request::parse(&r.to_xml()), Ok(r));
        }
    }

    #[test]
    fn lenient_forms() {
        // No AcceptableResponseSchema: the request namespace decides.
        let r = parse(&format!(
            "<Autodiscover xmlns=\"{OUTLOOK_REQUEST_NS}\"><Request><EMailAddress>a@b.c</EMailAddress></Request></Autodiscover>"
        ))
        .unwrap();
        assert_eq!(r.schema, Schema::Outlook);
        let r = parse(
            "<autodiscover><request><emailaddress>a@b.c</emailaddress></request></autodiscover>",
        )
        .unwrap();
        assert_eq!(
            (r.email.as_deref(), r.schema),
            (Some("a@b.c"), Schema::MobileSync)
        );
        // Prefixed elements, https and upper case in the schema value.
        let r = parse(&format!(
            "<x:Autodiscover xmlns:x=\"{MOBILESYNC_REQUEST_NS}\"><x:Request><x:EMailAddress>a@b.c</x:EMailAddress><x:AcceptableResponseSchema>HTTPS://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a/</x:AcceptableResponseSchema></x:Request></x:Autodiscover>"
        ))
        .unwrap();
        assert_eq!(r.schema, Schema::Outlook);
        // LegacyDN instead of an address.
        let r =
            parse("<Autodiscover><Request><LegacyDN>/o=x/cn=y</LegacyDN></Request></Autodiscover>")
                .unwrap();
        assert_eq!(r.email, None);
        assert_eq!(parse("  \r\n").unwrap().email, None);
    }

    proptest::proptest! {
        #[test]
        fn any_input_is_a_value_or_an_error(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Request::parse(&body);
            let _ = super::super::Response::parse(&body);
        }

        #[test]
        fn any_text_around_the_elements(prefix in ".{0,40}", email in ".{0,40}", schema in ".{0,80}") {
            let body = format!("{prefix}<Autodiscover><Request><EMailAddress>{email}</EMailAddress><AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request></Autodiscover>");
            let _ = Request::parse(body.as_bytes());
        }

        #[test]
        fn json_queries(path in "/[a-zA-Z0-9./@%]{0,60}", query in "[a-zA-Z0-9=&%@.+]{0,80}") {
            let _ = super::super::json::Request::parse(&path, &query);
        }
    }

    #[test]
    fn errors_carry_their_codes() {
        for bad in [
            "not xml",
            "<Autodiscover><Request></Request></Autodiscover>",
            "<Discover><Request><EMailAddress>a@b.c</EMailAddress></Request></Discover>",
            "<Autodiscover/>",
            "<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress></Request>",
        ] {
            assert_eq!(parse(bad).unwrap_err().code(), 600, "{bad}");
        }
        let e = parse("<Autodiscover><Request><EMailAddress>a@b.c</EMailAddress><AcceptableResponseSchema>urn:nope</AcceptableResponseSchema></Request></Autodiscover>")
            .unwrap_err();
        assert_eq!(e, RequestError::SchemaNotAvailable("urn:nope".into()));
        assert_eq!(e.code(), 601);
    }
}
