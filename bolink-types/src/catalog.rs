//! What the spec holds: every specified interface with its roles, and the
//! message shapes shared by many interfaces, for tools that list or look up
//! messages at run time (`bolink spec list`).

use crate::schema::ObjectSchema;
use crate::{DecodeError, Decoded, Object, Role};

/// One of the three Bolink documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Document {
    /// 停车收费系统对接协议 (SDK protocol).
    Sdk,
    /// 停车系统与车场SDK接口协议(含http模式).
    SdkHttp,
    /// 新版泊链API接口文档(车场平台) (new platform API).
    Newapi,
}

impl Document {
    /// The name used in the spec (`sdk`, `sdk-http`, `newapi`).
    pub fn as_str(self) -> &'static str {
        match self {
            Document::Sdk => "sdk",
            Document::SdkHttp => "sdk-http",
            Document::Newapi => "newapi",
        }
    }

    /// The wire family the document's messages belong to: the SDK and
    /// SDK-HTTP documents describe one wire.
    pub fn family(self) -> Family {
        match self {
            Document::Sdk | Document::SdkHttp => Family::Sdk,
            Document::Newapi => Family::Newapi,
        }
    }
}

/// A wire family: one namespace of service names, one module of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The SDK protocol and its HTTP mode ([`crate::sdk`]), addressed by `service_name`.
    Sdk,
    /// The new platform API ([`crate::newapi`]), addressed by `service_name` or URL path.
    Newapi,
}

impl Family {
    /// Both families.
    pub const ALL: [Family; 2] = [Family::Sdk, Family::Newapi];

    /// The module name (`sdk`, `newapi`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Sdk => "sdk",
            Family::Newapi => "newapi",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a request travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Parking side to Bolink.
    Upstream,
    /// Bolink to the parking side.
    Downstream,
    /// A call into the local SDK library.
    Local,
}

impl Direction {
    /// `upstream`, `downstream` or `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
            Direction::Local => "local",
        }
    }
}

/// Whether the whole page was modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecStatus {
    /// Every table of the page.
    Complete,
    /// As far as the public page goes.
    Partial,
    /// No page was seen: the tables are what public code sends, reads and
    /// answers, an inference to trust as far as its sources go (each
    /// field's doc names its source).
    FromCode,
}

/// One specified interface.
#[derive(Debug)]
pub struct InterfaceInfo {
    /// The document.
    pub document: Document,
    /// Section number, e.g. `3.1`.
    pub section: &'static str,
    /// Title as the document writes it.
    pub title: &'static str,
    /// English title.
    pub title_en: &'static str,
    /// The service_name, when the interface has one.
    pub service_name: Option<&'static str>,
    /// The URL path (new API), when it has one.
    pub url_path: Option<&'static str>,
    /// Which way the request travels.
    pub direction: Direction,
    /// Complete or partial.
    pub status: SpecStatus,
    /// The message roles and their schemas.
    pub roles: &'static [RoleInfo],
}

/// One entry of a document's table of contents.
#[derive(Debug)]
pub struct TocEntry {
    /// The document.
    pub document: Document,
    /// Section number (empty for unnumbered entries).
    pub section: &'static str,
    /// Title as the document writes it.
    pub title: &'static str,
    /// The service_name or URL path, when known.
    pub key: Option<&'static str>,
    /// What the spec has for it.
    pub status: TocStatus,
    /// The spec file (relative to `protocol-spec/`), for specified and partial entries.
    pub spec: Option<&'static str>,
    /// Why an entry is partial, missing, or not an interface.
    pub reason: Option<&'static str>,
}

/// What the spec has for a table-of-contents entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TocStatus {
    /// Specified in full.
    Specified,
    /// Specified as far as the public page goes.
    Partial,
    /// No page was seen; specified from what public code does.
    FromCode,
    /// No public copy of the page was found.
    NotPublic,
    /// A heading, revision log, download page or prose, not an interface.
    NotAnInterface,
    /// Covered by signing, envelope or transport code rather than a message.
    Protocol,
}

impl TocStatus {
    /// `specified`, `partial`, `from-code`, `not-public`, `not-an-interface` or `protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            TocStatus::Specified => "specified",
            TocStatus::Partial => "partial",
            TocStatus::FromCode => "from-code",
            TocStatus::NotPublic => "not-public",
            TocStatus::NotAnInterface => "not-an-interface",
            TocStatus::Protocol => "protocol",
        }
    }
}

/// One message role of an interface.
#[derive(Debug)]
pub struct RoleInfo {
    /// The role.
    pub role: Role,
    /// The message's schema.
    pub schema: fn() -> &'static ObjectSchema,
}

/// A message shape that many interfaces of one family share, such as the
/// platform's acknowledgement of uploads ([`crate::sdk::Ack`]); specified in
/// `protocol-spec/definitions/<family>.toml` rather than by one interface.
#[derive(Debug)]
pub struct SharedInfo {
    /// The family whose module holds the type.
    pub family: Family,
    /// The Rust type name in that module (`Ack`).
    pub name: &'static str,
    /// What it is.
    pub label: &'static str,
    /// Where its shape comes from (a page, or public code when no page shows it).
    pub source: &'static str,
    /// Its schema.
    pub schema: fn() -> &'static ObjectSchema,
    /// Decodes and validates bytes as this shape and returns them re-encoded
    /// in the spec's wire types, with what was read leniently, for tools
    /// that only know the name.
    pub reencode: Reencode,
}

/// Decodes bytes as one shape and re-encodes them: [`SharedInfo::reencode`].
pub type Reencode = fn(&[u8]) -> Result<Decoded<Vec<u8>>, DecodeError>;

/// [`SharedInfo::reencode`] for one type.
pub(crate) fn reencode<T: Object>(bytes: &[u8]) -> Result<Decoded<Vec<u8>>, DecodeError> {
    crate::decode_with_slips::<T>(bytes)
        .map(|decoded| decoded.map(|value| crate::message::encode(&value)))
}
