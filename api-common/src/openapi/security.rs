//! The two bearer schemes: the admin token, and the optional per-user JWT.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Admin routes: `Authorization: Bearer $SHOP_ADMIN_TOKEN`.
pub const ADMIN: &str = "adminToken";
/// User routes when `SHOP_JWT_SECRET` is set: an HS256 JWT whose `sub` is the user id.
pub const USER_JWT: &str = "userJwt";

pub(super) fn add_schemes(api: &mut OpenApi) {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        ADMIN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The admin token: SHOP_ADMIN_TOKEN, or the random one the process logs \
                     at start-up when that variable is unset.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        USER_JWT,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "Only when SHOP_JWT_SECRET is set: an HS256 JWT whose `sub` is the id of \
                     the user in the path or body. Without that variable user routes are open.",
                ))
                .build(),
        ),
    );
}
