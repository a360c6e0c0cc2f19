//! Admin API for LDAP domains (SPEC §7): the directory settings a new
//! LDAP domain takes (`POST /v1/admin/domains` with `ldap`), and the
//! mappings of directory groups to roles. The checks are the core's
//! (`Core::domain_add_ldap`); the schema below states them, across fields
//! too, so the document says which bodies the server takes.

use super::{query, AdminRefusal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::json_body;
use crate::identity::AdminCaller;
use crate::openapi::patterns::{blank, text_not_blank, trimmed_text, CTRL, WS};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Json;
use serde::{Deserialize, Serialize};
use tessera_core::admin::names::schema::{DomainName, RoleName};
use tessera_core::admin::{GroupMappingView, NewLdapDomain};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

/// One `routes!` per path.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        group_mappings_list,
        group_mappings_create,
        group_mappings_delete
    ))
}

/// An LDAP domain's directory, as `POST /v1/admin/domains` takes it in
/// `ldap`. Its schema ([`LdapCreate::schema`]) has one shape per way to
/// find the user (a DN template; a search, anonymous or with an account)
/// and per kind of connection (`ldaps://`; `ldap://` with StartTLS; plain
/// `ldap://`, without a CA).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapCreate {
    url: String,
    #[serde(default)]
    user_dn_template: Option<String>,
    #[serde(default)]
    search_base: Option<String>,
    #[serde(default)]
    search_filter: Option<String>,
    #[serde(default)]
    bind_dn: Option<String>,
    #[serde(default)]
    bind_password: Option<Zeroizing<String>>,
    #[serde(default)]
    group_base: Option<String>,
    #[serde(default)]
    group_filter: Option<String>,
    #[serde(default)]
    starttls: bool,
    #[serde(default)]
    ca_pem: Option<String>,
}

impl LdapCreate {
    /// The core's request for a domain called `name`.
    pub fn into_new(self, name: String, description: String) -> NewLdapDomain {
        NewLdapDomain {
            name,
            description,
            url: self.url,
            user_dn_template: self.user_dn_template,
            search_base: self.search_base,
            search_filter: self.search_filter,
            bind_dn: self.bind_dn,
            bind_password: self.bind_password,
            group_base: self.group_base,
            group_filter: self.group_filter,
            starttls: self.starttls,
            ca_pem: self.ca_pem,
        }
    }
}

/// The formats of the values no regular expression can check; their
/// descriptions say what they are (`.ci/schemathesis_hooks.py` teaches
/// schemathesis to generate them).
const SEARCH_FILTER_FORMAT: &str = "ldap-search-filter";
const GROUP_FILTER_FORMAT: &str = "ldap-group-filter";
const PEM_FORMAT: &str = "pem-certificates";

/// How a login finds the user's entry.
#[derive(Clone, Copy, PartialEq)]
enum Find {
    Template,
    AnonymousSearch,
    AccountSearch,
}

/// How the directory is reached.
#[derive(Clone, Copy, PartialEq)]
enum Link {
    Ldaps,
    StartTls,
    Plain,
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// Absent, `null`, or only whitespace: a setting left out.
fn left_out(what: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(blank()))
        .description(Some(format!("Left out here: absent, `null` or blank ({what})")))
}

/// Free text of at most 1024 characters, no control character; kept
/// without the whitespace around it.
fn setting(description: &str) -> ObjectBuilder {
    string()
        .max_length(Some(1024))
        .pattern(Some(text_not_blank()))
        .description(Some(description))
}

/// A value of a format no pattern states.
fn formatted(format: &str, description: &str) -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::Custom(format.into())))
        .description(Some(description))
}

/// A setting that may be left out: `present`, or blank, or `null`.
fn optional(present: ObjectBuilder) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(string().pattern(Some(blank())))
        .item(present)
        .into()
}

const SEARCH_FILTER: &str = "An RFC 4515 search filter containing `{user}` (the login name, escaped as \
    RFC 4515 says): `(&(objectClass=person)(uid={user}))`. It must parse once `{user}` (and `{dn}`) are \
    filled in; at most 1024 characters, no control character; surrounding whitespace is dropped.";
const GROUP_FILTER: &str = "An RFC 4515 filter for the user's groups, containing `{dn}` (the user's DN) \
    or `{user}` (the login name), each escaped as RFC 4515 says; it must parse once they are filled in; \
    at most 1024 characters, no control character. Left out: groupOfNames, groupOfUniqueNames and \
    posixGroup groups that list the user.";
const PEM: &str = "PEM text holding at least one `CERTIFICATE` block, each an X.509 certificate: \
    the CA certificates the directory's certificate chains to (instead of the system's roots). One \
    that is not PEM, holds no certificate or one that cannot be a trust anchor is refused (400).";

/// `host[:port]` as the core's `is_host_port` takes it: a name of labels
/// (an IPv4 address is one) or a bracketed IPv6 address, and a port from 1
/// to 65535 without a leading zero.
const HOST_PORT: &str = concat!(
    r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])",
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
);

/// One shape of the body: `find` × `link`.
fn shape(find: Find, link: Link) -> ObjectBuilder {
    let scheme = match link {
        Link::Ldaps => "[Ll][Dd][Aa][Pp][Ss]",
        Link::StartTls | Link::Plain => "[Ll][Dd][Aa][Pp]",
    };
    let url = string()
        .pattern(Some(format!("^[{WS}]*{scheme}://{HOST_PORT}/*[{WS}]*$")))
        .description(Some(match link {
            Link::Ldaps => {
                "`ldaps://host[:port]`: a host name or IPv4 address, or an IPv6 address \
                in brackets; a port from 1 to 65535 (any letter case; a trailing `/` and surrounding \
                whitespace are dropped)"
            }
            Link::StartTls => "`ldap://host[:port]`, upgraded with StartTLS before any bind",
            Link::Plain => {
                "`ldap://host[:port]`: passwords cross the network in clear (the answer \
                carries a `Warning`)"
            }
        }));
    let starttls = ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([link == Link::StartTls]))
        .description(Some(match link {
            Link::StartTls => "`true`: StartTLS on the `ldap://` connection",
            Link::Ldaps => "Absent or `false`: `ldaps://` is TLS from the start",
            Link::Plain => "Absent or `false`",
        }));
    let ca_pem: RefOr<Schema> = match link {
        Link::Ldaps | Link::StartTls => optional(formatted(PEM_FORMAT, PEM)),
        Link::Plain => left_out("a CA is for TLS: ldaps:// or StartTLS").into(),
    };
    let template: RefOr<Schema> = match find {
        Find::Template => string()
            .max_length(Some(1024))
            .pattern(Some(format!(
                r"^[^{CTRL}]*(?:\{{user\}}[^{CTRL}]*=|=[^{CTRL}]*\{{user\}})[^{CTRL}]*$"
            )))
            .description(Some(
                "Bind as this DN, `{user}` filled in with the login name escaped as RFC 4514 says: \
                 `uid={user},ou=people,dc=example,dc=org`. At most 1024 characters, no control \
                 character; it must contain `{user}` and `=`.",
            ))
            .into(),
        Find::AnonymousSearch | Find::AccountSearch => left_out("a search instead").into(),
    };
    let (base, filter): (RefOr<Schema>, RefOr<Schema>) = match find {
        Find::Template => (
            left_out("a DN template instead").into(),
            left_out("a DN template instead").into(),
        ),
        Find::AnonymousSearch | Find::AccountSearch => (
            setting("Search the subtree under this DN for the user's entry").into(),
            formatted(SEARCH_FILTER_FORMAT, SEARCH_FILTER).into(),
        ),
    };
    let (bind_dn, bind_password): (RefOr<Schema>, RefOr<Schema>) = match find {
        Find::AccountSearch => (
            setting("The search account's DN (with its password)").into(),
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
                .min_length(Some(1))
                .description(Some(
                    "The search account's password: stored encrypted with the master key, never shown",
                ))
                .into(),
        ),
        Find::Template | Find::AnonymousSearch => (
            left_out(if find == Find::Template {
                "a DN template binds as the user"
            } else {
                "an anonymous search"
            })
            .into(),
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .max_length(Some(0))
                .description(Some("Left out here: absent, `null` or empty"))
                .into(),
        ),
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("url", url)
        .required("url")
        .property("user_dn_template", template)
        .property("search_base", base)
        .property("search_filter", filter)
        .property("bind_dn", bind_dn)
        .property("bind_password", bind_password)
        .property(
            "group_base",
            optional(setting(
                "Where groups are searched; left out: the search base, or the DN template's `dc=` suffix",
            )),
        )
        .property(
            "group_filter",
            optional(formatted(GROUP_FILTER_FORMAT, GROUP_FILTER)),
        )
        .property("starttls", starttls)
        .property("ca_pem", ca_pem)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    object = match find {
        Find::Template => object.required("user_dn_template"),
        Find::AnonymousSearch => object.required("search_base").required("search_filter"),
        Find::AccountSearch => object
            .required("search_base")
            .required("search_filter")
            .required("bind_dn")
            .required("bind_password"),
    };
    if link == Link::StartTls {
        object = object.required("starttls");
    }
    let title = format!(
        "{}, {}",
        match find {
            Find::Template => "DN template",
            Find::AnonymousSearch => "anonymous search",
            Find::AccountSearch => "search with an account",
        },
        match link {
            Link::Ldaps => "ldaps://",
            Link::StartTls => "ldap:// with StartTLS",
            Link::Plain => "plain ldap://",
        }
    );
    object.title(Some(title))
}

impl utoipa::PartialSchema for LdapCreate {
    fn schema() -> RefOr<Schema> {
        let mut shapes = OneOfBuilder::new().description(Some(
            "An LDAP domain's directory: `url`, and how a login finds the user's entry: a \
             `user_dn_template`, or a `search_base` with a `search_filter` (anonymously, or as \
             `bind_dn` with `bind_password`, given together). `starttls` is for `ldap://` URLs and \
             `ca_pem` for TLS only. A setting that does not apply to the shape chosen must be left \
             out (absent, `null` or blank); anything else is refused (400) with what to fix.",
        ));
        for find in [Find::Template, Find::AnonymousSearch, Find::AccountSearch] {
            for link in [Link::Ldaps, Link::StartTls, Link::Plain] {
                shapes = shapes.item(shape(find, link));
            }
        }
        shapes.into()
    }
}

impl utoipa::ToSchema for LdapCreate {}

/// An LDAP domain's group → role mappings.
#[derive(Serialize, utoipa::ToSchema)]
struct GroupMappingList {
    mappings: Vec<GroupMappingView>,
}

/// The name of a directory group, as a mapping takes it.
struct GroupName;

impl utoipa::PartialSchema for GroupName {
    fn schema() -> RefOr<Schema> {
        string()
            .pattern(Some(trimmed_text(256)))
            .description(Some(
                "A directory group's `cn` (matched in any letter case): at most 256 characters once \
                 the surrounding whitespace is dropped, not blank, no control character",
            ))
            .into()
    }
}

impl utoipa::ToSchema for GroupName {}

/// A group → role mapping, in the body (create) or the query (delete).
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GroupMappingSpec {
    /// The directory group's `cn` (any letter case).
    #[schema(value_type = GroupName)]
    #[param(value_type = GroupName)]
    group: String,
    /// The role's name.
    #[schema(value_type = RoleName)]
    #[param(value_type = RoleName)]
    role: String,
    /// On the whole system instead of the domain.
    #[serde(default)]
    system: bool,
}

#[utoipa::path(
    get,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "List an LDAP domain's group → role mappings",
    params(("name" = DomainName, Path, description = "The LDAP domain's name")),
    responses(
        (status = 200, description = "Every mapping of the domain", body = GroupMappingList),
        (status = 400, description = "A name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain, or a local one (only LDAP domains have group mappings)",
            body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<GroupMappingList>, ApiError> {
    Ok(Json(GroupMappingList {
        mappings: state.core.domain_group_mappings(&name).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "Give a role to the members of a directory group (from their next login)",
    params(("name" = DomainName, Path, description = "The LDAP domain's name")),
    request_body = GroupMappingSpec,
    responses(
        (status = 201, description = "Mapped", body = GroupMappingView),
        (status = 400, description = "Bad body, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain or role", body = ErrorBody),
        (status = 409, description = "Mapped already; or a local domain (its users are not in a directory)",
            body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_create(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<GroupMappingView>), ApiError> {
    let m: GroupMappingSpec = json_body(&headers, &body)?;
    let view = state
        .core
        .domain_map_group(&actor, &name, &m.group, &m.role, m.system)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/domains/{name}/group-mappings",
    tag = "admin",
    summary = "Remove a group → role mapping (members lose the role at their next login)",
    params(("name" = DomainName, Path, description = "The LDAP domain's name"), GroupMappingSpec),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Missing or unknown query parameters, or a name RFC 8265 refuses", body = ErrorBody),
        (status = 404, description = "No such domain, role or mapping (a local domain has none)", body = ErrorBody),
        AdminRefusal,
    ),
    security(("bearer" = []), ("x_auth_token" = []), ("x_sds_auth_token" = []), ("x_sds_auth_token_cookie" = [])),
)]
async fn group_mappings_delete(
    State(state): State<AppState>,
    AdminCaller(actor): AdminCaller,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<StatusCode, ApiError> {
    let m: GroupMappingSpec = query(&uri)?;
    state
        .core
        .domain_unmap_group(&actor, &name, &m.group, &m.role, m.system)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
