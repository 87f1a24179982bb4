//! The serde model of one spec file, one definitions file and one index file.
//!
//! Every struct denies unknown keys, so a typo in a spec file is an error with
//! its line, not a silently ignored key.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One of the three Bolink documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Document {
    /// 停车收费系统对接协议 (车场管理+支付): the SDK protocol.
    Sdk,
    /// 停车系统与车场SDK接口协议(含http模式): the smaller SDK protocol with HTTP mode.
    SdkHttp,
    /// 新版泊链API接口文档(车场平台): the new platform API.
    Newapi,
}

impl Document {
    /// Every document, in the order reports list them.
    pub const ALL: [Document; 3] = [Document::Sdk, Document::SdkHttp, Document::Newapi];

    /// The folder name under `protocol-spec/` (also the name used in the spec files).
    pub fn dir(self) -> &'static str {
        match self {
            Document::Sdk => "sdk",
            Document::SdkHttp => "sdk-http",
            Document::Newapi => "newapi",
        }
    }

    /// The wire family: the SDK and SDK-HTTP documents describe one wire and one
    /// service_name namespace; the new API is a second one.
    pub fn family(self) -> Family {
        match self {
            Document::Sdk | Document::SdkHttp => Family::Sdk,
            Document::Newapi => Family::Newapi,
        }
    }
}

/// A wire family: one namespace of service names, one Rust module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// SDK and SDK-HTTP mode messages (`bolink_types::sdk`).
    Sdk,
    /// New platform API messages (`bolink_types::newapi`).
    Newapi,
}

impl Family {
    /// Both families.
    pub const ALL: [Family; 2] = [Family::Sdk, Family::Newapi];

    /// The family whose shared objects a definitions file holds, from its
    /// file name (`sdk.toml`, `newapi.toml`); `None` for `common.toml`.
    pub fn of_definitions(path: &std::path::Path) -> Option<Family> {
        let stem = path.file_stem()?.to_str()?;
        Family::ALL.into_iter().find(|f| f.module() == stem)
    }

    /// Rust module name of the family.
    pub fn module(self) -> &'static str {
        match self {
            Family::Sdk => "sdk",
            Family::Newapi => "newapi",
        }
    }
}

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the parking side to Bolink.
    Upstream,
    /// From Bolink to the parking side, which must answer.
    Downstream,
    /// A call into the local SDK library (initialisation), not carried over the wire.
    Local,
}

/// The message roles a page can define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// The message itself (the first table of the page).
    Request,
    /// The HTTP-mode variant of the request, where the page gives one.
    HttpRequest,
    /// The answer in SDK mode (`UploadUtil.uploadData` return).
    SdkReturn,
    /// The answer in HTTP mode (the fields inside the envelope's data).
    HttpReturn,
    /// A later asynchronous result sent back for an upload.
    AsyncResult,
    /// The synchronous HTTP response (new API).
    Response,
}

impl RoleName {
    /// Every role, in declaration order.
    pub const ALL: [RoleName; 6] = [
        RoleName::Request,
        RoleName::HttpRequest,
        RoleName::SdkReturn,
        RoleName::HttpReturn,
        RoleName::AsyncResult,
        RoleName::Response,
    ];

    /// The snake_case name used in spec files.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleName::Request => "request",
            RoleName::HttpRequest => "http_request",
            RoleName::SdkReturn => "sdk_return",
            RoleName::HttpReturn => "http_return",
            RoleName::AsyncResult => "async_result",
            RoleName::Response => "response",
        }
    }
}

/// How complete the page behind a spec file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completeness {
    /// The whole page was seen; every table is modelled.
    Complete,
    /// Part of the page was seen; `missing` says what is not known.
    Partial,
    /// No page was seen: every field is what public code sends, reads or
    /// answers (each with its `source`); `missing` says what only the page
    /// would tell.
    FromCode,
}

/// One spec file: one interface of one document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceFile {
    /// The `service_name` carried by the messages, when the interface has one.
    pub service_name: Option<String>,
    /// The URL path (new API), when the interface is addressed by path.
    pub url_path: Option<String>,
    /// The document this page belongs to.
    pub document: Document,
    /// Section number in the document's table of contents, e.g. `3.1`.
    pub section: String,
    /// The page title as the document writes it.
    pub title: String,
    /// A short English title.
    pub title_en: String,
    /// Which way the request travels.
    pub direction: Direction,
    /// The `data_target` the page states (`bolink` or `cloud`), SDK mode only.
    pub data_target: Option<String>,
    /// Whether the whole page was seen.
    pub status: Completeness,
    /// Where the page was read.
    #[serde(default)]
    pub sources: Vec<String>,
    /// What the interface is for, in English.
    #[serde(default)]
    pub summary: String,
    /// Facts and discrepancies worth keeping.
    #[serde(default)]
    pub notes: Vec<String>,
    /// For a partial page: what is not known (cut tables, unseen returns).
    #[serde(default)]
    pub missing: Vec<String>,
    /// The message roles, by name.
    #[serde(default)]
    pub roles: BTreeMap<RoleName, Role>,
    /// Nested object types used by the roles, by Rust type name.
    #[serde(default)]
    pub objects: BTreeMap<String, Object>,
}

/// One message role: a table of fields plus message-level rules and examples.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Envelope that carries this message's fields, when the page shows one.
    pub envelope: Option<Envelope>,
    /// The fields, in the document's order.
    pub fields: Vec<Field>,
    /// Groups of fields that are sent together or not at all.
    #[serde(default)]
    pub together: Vec<Vec<String>>,
    /// Groups of fields of which at least one must be present.
    #[serde(default)]
    pub at_least_one: Vec<Vec<String>>,
    /// The page's examples, verbatim.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Notes about this role's table.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The transport envelope a role's fields travel in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Envelope {
    /// SDK-HTTP mode: `{"service_name","sign","token","data":{...fields}}`.
    SdkHttp,
    /// New API: `{"data":{...fields},"sign"}`, JSON or base64.
    Newapi,
}

/// A nested object type (a `Json` or `JsonArray` row with its own rows).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// The document's label of the object.
    #[serde(default)]
    pub label: String,
    /// The object's fields.
    pub fields: Vec<Field>,
    /// Groups of fields that are sent together or not at all.
    #[serde(default)]
    pub together: Vec<Vec<String>>,
    /// Groups of fields of which at least one must be present.
    #[serde(default)]
    pub at_least_one: Vec<Vec<String>>,
}

/// One row of a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The wire name, exactly as sent.
    pub name: Spanned<String>,
    /// The document's label (说明) of the field.
    #[serde(default)]
    pub label: String,
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// The enum (in `definitions/`) for `type = "enum"`.
    #[serde(rename = "enum")]
    pub enum_ref: Option<Spanned<String>>,
    /// How an enum is written on the wire when it differs from the enum's own codes.
    pub wire: Option<EnumWire>,
    /// The nested object type for `type = "object"` and `type = "array"`.
    pub object: Option<Spanned<String>>,
    /// Maximum length in characters of the wire text.
    pub max_len: Option<u32>,
    /// The required rule.
    pub required: Required,
    /// The document's required cell, verbatim, when it says more than 是/否.
    pub required_text: Option<String>,
    /// For a field whose value is fixed by the page (`data_target` = `bolink`).
    pub fixed: Option<String>,
    /// The document's example cell.
    pub example: Option<String>,
    /// A discrepancy or remark about this row.
    pub note: Option<String>,
    /// Where the row comes from; absent means the page's table (`"page"`).
    pub source: Option<FieldSource>,
    /// What code does differently from the page's cell, which the row keeps.
    pub code_disagrees: Option<CodeDisagreement>,
}

impl Field {
    /// Where the row comes from, the page's table when it does not say.
    pub fn provenance(&self) -> &FieldSource {
        const PAGE: FieldSource = FieldSource::Page(PageMarker::Page);
        self.source.as_ref().unwrap_or(&PAGE)
    }
}

/// Where a row comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum FieldSource {
    /// `"page"`: a row of the page's table.
    Page(PageMarker),
    /// `{ quoted_doc_row = { repo, commit, path, line } }`: a row of the
    /// page that a developer pasted into code, seen only there.
    QuotedDocRow {
        /// Where the quoted row stands.
        quoted_doc_row: CodeLocation,
    },
    /// `{ code = { repo, commit, path, line, type_in_code, rejects_missing } }`:
    /// what public code sends, reads or answers.
    Code {
        /// The evidence.
        code: CodeEvidence,
    },
}

/// The one value of `source = "page"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageMarker {
    /// The page's table.
    Page,
}

/// A place in a public repository, as `shared/reference` records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeLocation {
    /// `owner/name` on GitHub.
    pub repo: String,
    /// The commit read.
    pub commit: String,
    /// The file.
    pub path: String,
    /// The line.
    pub line: u32,
}

/// What a program does with a field, and how its type was inferred.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeEvidence {
    /// `owner/name` on GitHub.
    pub repo: String,
    /// The commit read.
    pub commit: String,
    /// The file.
    pub path: String,
    /// The line.
    pub line: u32,
    /// The observation in `shared/reference` this comes from.
    pub observation: Option<String>,
    /// The getter, cast, bean type or literal the type was inferred from
    /// (`getString`, `Integer`, `long (getAsLong)`).
    pub type_in_code: String,
    /// Whether the code fails without the field (which is not the page's
    /// 是否必传).
    #[serde(default)]
    pub rejects_missing: bool,
}

/// A page cell that code contradicts: the row keeps the page's cell, this
/// says what code does and which of the two the generated type follows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDisagreement {
    /// What the code does instead (its type, its key, its required-ness).
    pub code_says: String,
    /// Where.
    pub at: CodeLocation,
    /// `page` or `code`: which one the type follows.
    pub follows: Follows,
    /// Why.
    pub why: String,
}

/// Which evidence a disputed row follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Follows {
    /// The page's cell.
    Page,
    /// What code does.
    Code,
}

/// The closed vocabulary of field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// The `service_name` constant of the message.
    ServiceName,
    /// Text.
    String,
    /// A whole number (the documents' Number / Integer / Long).
    Integer,
    /// A decimal number that is not money (coordinates, rates).
    Decimal,
    /// Money in yuan written as a JSON string ("4.0").
    MoneyString,
    /// Money in yuan written as a JSON number (0.04).
    MoneyNumber,
    /// A unix timestamp in seconds, written as a JSON number.
    UnixSeconds,
    /// A unix timestamp in milliseconds, written as a JSON number.
    UnixMillis,
    /// A code from a shared enum definition.
    Enum,
    /// A nested JSON object with its own table.
    Object,
    /// A JSON array of nested objects.
    Array,
    /// Free-form JSON (the documents' Json with no table of its own).
    Json,
}

/// How an enum field is written when that differs from the enum's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumWire {
    /// As a JSON number.
    Number,
    /// As a JSON string.
    String,
}

/// A field's required rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Required {
    /// `always` or `optional`.
    Simple(Presence),
    /// Required when another field of the same message has one of some codes.
    When(WhenRule),
    /// Required when every one of some other fields of the same message is present.
    WhenPresent(WhenPresentRule),
    /// In an answer: required when the request it answers had one of some
    /// codes in one of its fields.
    WhenRequest(WhenRequestRule),
    /// Required under a condition outside the message: kept as text only.
    External(ExternalRule),
}

/// `{ request_when = "pay_scene", in = [1, 2] }`: in an answer's table,
/// required when the request it answers had one of these codes (or, with
/// `not_in`, had none of them) in its field `request_when`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenRequestRule {
    /// The field of the interface's request (or HTTP-mode request) table.
    pub request_when: String,
    /// Required when that field had one of these codes.
    #[serde(rename = "in")]
    pub is_in: Option<Vec<Code>>,
    /// Required when that field was present with none of these codes.
    pub not_in: Option<Vec<Code>>,
}

impl WhenRequestRule {
    /// The same condition, as a rule on the request's own fields (to check
    /// its codes against the request's field).
    pub fn as_when(&self) -> WhenRule {
        WhenRule {
            when: self.request_when.clone(),
            is_in: self.is_in.clone(),
            not_in: self.not_in.clone(),
        }
    }
}

/// `{ when_present = ["member_points_info", "coupon_list"] }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenPresentRule {
    /// Required when all of these fields of the same message are present.
    pub when_present: Vec<String>,
}

/// `always` or `optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// 是: always required.
    Always,
    /// 否: optional.
    Optional,
}

/// `{ when = "pay_scene", in = [0, 2] }` or `{ when = "reason", not_in = [0] }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenRule {
    /// The field of the same message the rule looks at.
    pub when: String,
    /// Required when that field has one of these codes.
    #[serde(rename = "in")]
    pub is_in: Option<Vec<Code>>,
    /// Required when that field is present and has none of these codes.
    pub not_in: Option<Vec<Code>>,
}

/// `{ external = "required when the payment channel is WeChat direct" }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalRule {
    /// The condition, in English.
    pub external: String,
}

/// An enum code or a value a rule compares with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(untagged)]
pub enum Code {
    /// A numeric code.
    Int(i64),
    /// A text code.
    Str(String),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Int(i) => write!(f, "{i}"),
            Code::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// One example as the page prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The example text, verbatim (typos, curly quotes and all).
    pub text: String,
    /// When the printed text is not valid JSON: what is wrong with it.
    pub broken: Option<String>,
    /// For a broken example: the obvious correction.
    pub corrected: Option<String>,
    /// Violations the example is known to have against its own table
    /// (`path: problem`, as the validator prints them).
    #[serde(default)]
    pub expect_violations: Vec<String>,
}

/// A definitions file: shared enums, and message shapes shared by many
/// interfaces of one family.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionsFile {
    /// The enums, by snake_case name.
    #[serde(default)]
    pub enums: BTreeMap<String, EnumDef>,
    /// Message shapes shared by many interfaces, by Rust type name
    /// (PascalCase). Only in a family's file (`sdk.toml`, `newapi.toml`):
    /// the type lands in that family's module.
    #[serde(default)]
    pub objects: BTreeMap<String, SharedObject>,
}

/// A message shape that is no single interface's table: many interfaces
/// share it (the platform's acknowledgement of any upload).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedObject {
    /// What it is, in the documents' words where they have any.
    pub label: String,
    /// Where its shape comes from: a page, or public code when no page shows it.
    pub source: String,
    /// Facts and discrepancies worth keeping.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The fields, in wire order.
    pub fields: Vec<Field>,
    /// Groups of fields that are sent together or not at all.
    #[serde(default)]
    pub together: Vec<Vec<String>>,
    /// Groups of fields of which at least one must be present.
    #[serde(default)]
    pub at_least_one: Vec<Vec<String>>,
    /// Examples, verbatim from where `source` says.
    #[serde(default)]
    pub examples: Vec<Example>,
}

/// One enum definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumDef {
    /// The document's label.
    pub label: String,
    /// Where the codes come from (section, page).
    pub source: String,
    /// Whether the codes are numbers or text.
    pub codes: CodeKind,
    /// Whether an unknown code decodes to `Unknown` (default) or is rejected.
    #[serde(default = "default_true")]
    pub open: bool,
    /// Whether the document's table of codes was seen in full.
    #[serde(default = "default_true")]
    pub complete: bool,
    /// Notes about the codes.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The known codes.
    pub variants: Vec<Variant>,
}

fn default_true() -> bool {
    true
}

/// Whether an enum's codes are numbers or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// Numeric codes.
    Integer,
    /// Text codes.
    String,
}

/// One code of an enum.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The code on the wire.
    pub code: Code,
    /// The Rust variant name, snake_case.
    pub name: String,
    /// The document's meaning of the code.
    pub label: String,
    /// Where the code comes from; absent means the page (or the enum's
    /// `source`).
    pub source: Option<FieldSource>,
}

/// An index file: one document's table of contents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexFile {
    /// The document.
    pub document: Document,
    /// The document's title.
    pub title: String,
    /// Where the table of contents was read.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Every entry of the table of contents, in order.
    pub entries: Vec<IndexEntry>,
}

/// One entry of a table of contents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// Section number (empty for unnumbered entries).
    #[serde(default)]
    pub section: String,
    /// Title as the document writes it.
    pub title: String,
    /// The service_name, when known.
    pub service_name: Option<String>,
    /// The URL path, when known (new API).
    pub url_path: Option<String>,
    /// What the spec has for this entry.
    pub status: EntryStatus,
    /// The spec file (relative to `protocol-spec/`) for specified and partial entries.
    pub spec: Option<String>,
    /// Why an entry is partial, missing, or not an interface.
    pub reason: Option<String>,
}

/// What the spec has for a table-of-contents entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Specified in full.
    Specified,
    /// Specified as far as the public page goes.
    Partial,
    /// No page was seen; specified from what public code does.
    FromCode,
    /// No public copy of the page was found: nothing to specify.
    NotPublic,
    /// A heading, revision log, download page or prose chapter, not an interface.
    NotAnInterface,
    /// Covered by a protocol-level module (signing, envelope, transport), not a message.
    Protocol,
}
