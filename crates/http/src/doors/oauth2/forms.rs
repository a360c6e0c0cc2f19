//! The oauth2 door's request forms: reading them (RFC 6749 §3.2: a
//! parameter given twice is refused, one not defined is ignored) and
//! describing them for `/openapi.json`, one shape per grant.

use super::wire::{invalid_request, Grant};
use crate::error::ApiError;
use crate::extract::{is_form, Form};
use axum::http::HeaderMap;
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;

// The two form bodies are read with `extract::Form`, which refuses a
// parameter given twice (RFC 6749 §3.2) and wipes values from memory;
// these types describe them for the OpenAPI document. A parameter a
// request does not define is ignored, so the shapes stay open.

/// A token request (RFC 6749 §4.3, §4.4, §6 and seed 000's emergency
/// grant), form-encoded: one shape per `grant_type`, each naming the
/// parameters that grant requires. The client authenticates with HTTP
/// Basic or with `client_id` (and `client_secret`), never both.
pub struct TokenForm;

/// `client_id` and `client_secret`, for a client that does not use HTTP
/// Basic.
fn client_fields(object: ObjectBuilder) -> ObjectBuilder {
    object
        .property(
            "client_id",
            AnyOfBuilder::new()
                .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ClientIdName")))
                .item(string().max_length(Some(0)))
                .description(Some(
                    "The client, when it does not use HTTP Basic (with Basic, the same client or \
                     nothing: another is `invalid_client`); empty counts as absent, as for every \
                     parameter",
                )),
        )
        .property(
            "client_secret",
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
                .description(Some(
                    "With `client_id`, for a confidential client that does not use HTTP Basic (a \
                 client using Basic must not send it: 400)",
                )),
        )
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The scope parameter: `words`, whitespace-separated; `*` too with `star`.
fn scope(words: &[&str], star: bool, description: &str) -> ObjectBuilder {
    string()
        .pattern(Some(crate::openapi::patterns::words(words, star)))
        .description(Some(description))
}

/// The shape of a request for `grant`.
fn token_request(grant: Grant) -> ObjectBuilder {
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .title(Some(grant.as_str()))
        .property("grant_type", string().enum_values(Some([grant.as_str()])))
        .required("grant_type");
    let object = match grant {
        Grant::Password | Grant::Emergency => object
            .property(
                "username",
                RefOr::Ref(utoipa::openapi::Ref::from_schema_name("UserName")),
            )
            .required("username")
            .property(
                "password",
                string()
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
                    .min_length(Some(1)),
            )
            .required("password")
            .property(
                "realm",
                RefOr::Ref(utoipa::openapi::Ref::from_schema_name("DomainNameOrDefault")),
            )
            .property(
                "scope",
                if grant == Grant::Emergency {
                    scope(&["emergency"], false, "Only `emergency` (the default)")
                } else {
                    scope(
                        &["read", "write"],
                        true,
                        "`read`, `write` or both; `*`: everything the user may have. Left out: \
                         `read write`, narrowed to what the user may have (a `read_only` user gets \
                         `read`); a scope the user may not have is `invalid_scope`",
                    )
                },
            ),
        Grant::RefreshToken => object
            .property(
                "refresh_token",
                string().min_length(Some(1)).description(Some(
                    "The refresh token; it is rotated (a replayed one revokes its family)",
                )),
            )
            .required("refresh_token")
            .property(
                "scope",
                scope(
                    &["read", "write", "emergency"],
                    false,
                    "Keep (left out) or narrow the original scope; a word it did not have is `invalid_scope`",
                ),
            ),
        Grant::ClientCredentials => object.property(
            "scope",
            scope(
                &["read", "write"],
                true,
                "As for the password grant, within what the client's roles allow",
            ),
        ),
    };
    // The token endpoint's other parameters: not read by this grant, but
    // still parameters of the endpoint, so one given twice is refused.
    let object = TOKEN_REQUEST
        .iter()
        .filter(|p| !matches!(**p, "client_id" | "client_secret"))
        .fold(object, |object, p| match *p {
            "grant_type" | "scope" => object,
            "refresh_token" if grant == Grant::RefreshToken => object,
            "username" | "password" | "realm" if matches!(grant, Grant::Password | Grant::Emergency) => {
                object
            }
            _ => object.property(
                *p,
                string().description(Some("Not read by this grant (given twice, still refused)")),
            ),
        });
    client_fields(object)
}

impl utoipa::PartialSchema for TokenForm {
    fn schema() -> RefOr<Schema> {
        let mut shapes = OneOfBuilder::new().description(Some(
            "One shape per grant_type. `realm` (password and emergency grants) is the domain, seed \
             003's realm; the default domain when left out.",
        ));
        for grant in Grant::ALL {
            shapes = shapes.item(token_request(grant));
        }
        shapes.into()
    }
}

impl utoipa::ToSchema for TokenForm {}

/// A revocation (RFC 7009) or introspection (RFC 7662) request,
/// form-encoded.
pub struct TokenParam;

impl utoipa::PartialSchema for TokenParam {
    fn schema() -> RefOr<Schema> {
        client_fields(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "token",
                    string().min_length(Some(1)).description(Some(
                        "The token to revoke or describe (an access or refresh token)",
                    )),
                )
                .required("token")
                .property(
                    "token_type_hint",
                    string().description(Some(
                        "A hint only (`access_token` or `refresh_token`): Tessera finds the token \
                         whatever it says, and ignores a value it does not know (RFC 7009 §2.1)",
                    )),
                ),
        )
        .into()
    }
}

impl utoipa::ToSchema for TokenParam {}

/// The form body of an oauth2 request whose parameters are `defined`
/// ([`TOKEN_REQUEST`] or [`TOKEN_PARAM`]).
pub fn read_form(headers: &HeaderMap, body: &[u8], defined: &[&str]) -> Result<Form, ApiError> {
    if !is_form(headers) {
        return Err(invalid_request(
            "send the parameters as application/x-www-form-urlencoded (curl -d name=value)",
        ));
    }
    Form::parse(body, defined).map_err(invalid_request)
}

/// The token endpoint's parameters (RFC 6749 §4.3, §4.4, §6, §2.3.1, seed
/// 003's `realm`); any other is ignored, even given twice (§3.2).
pub const TOKEN_REQUEST: &[&str] = &[
    "grant_type",
    "username",
    "password",
    "scope",
    "realm",
    "refresh_token",
    "client_id",
    "client_secret",
];

/// The parameters of revocation (RFC 7009 §2.1) and introspection (RFC
/// 7662 §2.1), with the client's; any other is ignored.
pub const TOKEN_PARAM: &[&str] = &["token", "token_type_hint", "client_id", "client_secret"];
