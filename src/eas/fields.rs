//! Reading typed values out of a decoded WBXML tree, with one error type for every command's
//! request and response parsers.

use super::ids::IdError;
use crate::wbxml::{Element, Tag};
use std::fmt;
use std::str::FromStr;

/// Why a request (or, on the client side, a response) does not have the shape the spec gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The root element is not the command's.
    WrongRoot {
        expected: Tag,
        found: Tag,
    },
    Missing(Tag),
    BadValue(Tag),
    BadId(Tag, IdError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::WrongRoot { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParseError::Missing(t) => write!(f, "{t} missing"),
            ParseError::BadValue(t) => write!(f, "{t} has an invalid value"),
            ParseError::BadId(t, e) => write!(f, "{t}: {e}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Checks the root tag.
pub fn root(el: &Element, expected: Tag) -> Result<&Element, ParseError> {
    if el.tag == expected {
        Ok(el)
    } else {
        Err(ParseError::WrongRoot {
            expected,
            found: el.tag,
        })
    }
}

/// The text of a required child; an empty element counts as an empty string.
pub fn text(el: &Element, tag: Tag) -> Result<&str, ParseError> {
    let child = el.first(tag).ok_or(ParseError::Missing(tag))?;
    Ok(child.text_content().unwrap_or(""))
}

/// The text of an optional child.
pub fn opt_text(el: &Element, tag: Tag) -> Option<&str> {
    el.first(tag).map(|c| c.text_content().unwrap_or(""))
}

/// A required child parsed with `FromStr` (numbers, mostly).
pub fn value<T: FromStr>(el: &Element, tag: Tag) -> Result<T, ParseError> {
    text(el, tag)?
        .trim()
        .parse()
        .map_err(|_| ParseError::BadValue(tag))
}

/// An optional child parsed with `FromStr`; present but unparsable is an error.
pub fn opt_value<T: FromStr>(el: &Element, tag: Tag) -> Result<Option<T>, ParseError> {
    match opt_text(el, tag) {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ParseError::BadValue(tag)),
    }
}

/// A boolean flag element: absent is `None`; empty or `1` is true, `0` is false.
pub fn opt_flag(el: &Element, tag: Tag) -> Result<Option<bool>, ParseError> {
    match opt_text(el, tag).map(str::trim) {
        None => Ok(None),
        Some("" | "1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(_) => Err(ParseError::BadValue(tag)),
    }
}

/// An id of a required child.
pub fn id<T>(
    el: &Element,
    tag: Tag,
    parse: impl FnOnce(&str) -> Result<T, IdError>,
) -> Result<T, ParseError> {
    parse(text(el, tag)?).map_err(|e| ParseError::BadId(tag, e))
}

/// An id of an optional child.
pub fn opt_id<T>(
    el: &Element,
    tag: Tag,
    parse: impl FnOnce(&str) -> Result<T, IdError>,
) -> Result<Option<T>, ParseError> {
    opt_text(el, tag)
        .map(|t| parse(t).map_err(|e| ParseError::BadId(tag, e)))
        .transpose()
}

/// A status code enum from its numeric value.
pub trait StatusCode: Copy + Sized {
    fn code(self) -> u16;
    fn from_code(code: u16) -> Option<Self>;
}

/// A required Status child.
pub fn status<S: StatusCode>(el: &Element, tag: Tag) -> Result<S, ParseError> {
    let code: u16 = value(el, tag)?;
    S::from_code(code).ok_or(ParseError::BadValue(tag))
}

/// An optional Status child.
pub fn opt_status<S: StatusCode>(el: &Element, tag: Tag) -> Result<Option<S>, ParseError> {
    opt_value::<u16>(el, tag)?
        .map(|c| S::from_code(c).ok_or(ParseError::BadValue(tag)))
        .transpose()
}

/// Defines a status enum with its codes and the `StatusCode` impl.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $code,)*
        }

        impl $crate::eas::fields::StatusCode for $name {
            fn code(self) -> u16 {
                self as u16
            }
            fn from_code(code: u16) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} ({:?})", *self as u16, self)
            }
        }
    };
}

pub(crate) use status_enum;

/// `<tag>code</tag>` for a status.
pub fn status_element<S: StatusCode>(tag: Tag, s: S) -> Element {
    Element::text(tag, s.code().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::airsync;

    #[test]
    fn typed_reads() {
        let el = Element::new(airsync::COLLECTION)
            .with_text(airsync::WINDOW_SIZE, " 100 ")
            .with(Element::new(airsync::DELETES_AS_MOVES))
            .with_text(airsync::GET_CHANGES, "0")
            .with_text(airsync::CLASS, "Email");
        assert_eq!(value::<u32>(&el, airsync::WINDOW_SIZE), Ok(100));
        assert_eq!(opt_flag(&el, airsync::DELETES_AS_MOVES), Ok(Some(true)));
        assert_eq!(opt_flag(&el, airsync::GET_CHANGES), Ok(Some(false)));
        assert_eq!(opt_flag(&el, airsync::CONFLICT), Ok(None));
        assert_eq!(
            value::<u32>(&el, airsync::CLASS),
            Err(ParseError::BadValue(airsync::CLASS))
        );
        assert_eq!(
            text(&el, airsync::SYNC_KEY),
            Err(ParseError::Missing(airsync::SYNC_KEY))
        );
        assert!(root(&el, airsync::SYNC).is_err());
    }
}
