//! Both APIs serve their OpenAPI document and a self-contained Swagger UI: every asset the
//! docs page references answers 200 from the binary itself, and the document lists every
//! route of the HTTP contract with its methods.

use crate::common;

use common::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

const BOTH: &[(&str, &str)] = &[
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
    ("/docs", "get"),
];

const COMMAND_ROUTES: &[(&str, &str)] = &[
    ("/v1/products", "post"),
    ("/v1/products/{productId}/restock", "post"),
    ("/v1/coupons", "post"),
    ("/v1/coupons/{couponId}/issue", "post"),
    ("/v1/users/{userId}/points/charge", "post"),
    ("/v1/orders", "post"),
];

const QUERY_ROUTES: &[(&str, &str)] = &[
    ("/v1/users/{userId}/points", "get"),
    ("/v1/products", "get"),
    ("/v1/products/search", "get"),
    ("/v1/products/{productId}", "get"),
    ("/v1/coupons/{couponId}", "get"),
    ("/v1/users/{userId}/coupons", "get"),
    ("/v1/orders/{orderId}", "get"),
    ("/v1/rankings/top-products", "get"),
];

/// The values of `attribute="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!("{attribute}=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

async fn docs_page_and_assets_answer(client: &reqwest::Client, base: &str) {
    let page = client
        .get(format!("{base}/docs"))
        .send()
        .await
        .expect("GET /docs");
    assert_eq!(page.status(), StatusCode::OK, "{base}/docs");
    assert_eq!(page.url().path(), "/docs/", "/docs redirects to /docs/");
    let html = page.text().await.expect("docs page");
    let mut assets: Vec<&str> = attribute_values(&html, "src");
    assets.extend(attribute_values(&html, "href"));
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-initializer.js")),
        "the page loads the initializer: {assets:?}"
    );
    assert!(assets.len() >= 4, "scripts and styles: {assets:?}");
    for asset in assets {
        assert!(
            !asset.contains("//"),
            "{asset}: the page must load nothing from another host"
        );
        let url = match asset.strip_prefix('/') {
            Some(absolute) => format!("{base}/{absolute}"),
            None => format!("{base}/docs/{}", asset.trim_start_matches("./")),
        };
        let response = client.get(&url).send().await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let body = response.bytes().await.expect("asset body");
        assert!(!body.is_empty(), "{url} is empty");
        if asset.ends_with("swagger-initializer.js") {
            let script = String::from_utf8_lossy(&body);
            assert!(
                script.contains("/openapi.json"),
                "the initializer points at /openapi.json: {script}"
            );
        }
    }
}

async fn spec_lists(client: &reqwest::Client, base: &str, routes: &[(&str, &str)]) -> Value {
    let response = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.expect("JSON document");
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        spec["openapi"]
    );
    let paths = spec["paths"].as_object().expect("paths");
    for (path, method) in routes.iter().chain(BOTH) {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{base}: {path} is missing"))[*method];
        assert!(operation.is_object(), "{base}: {method} {path} is missing");
        if path.starts_with("/v1/") {
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["400", "500", "503"] {
                assert_eq!(
                    responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
    }
    let documented: Vec<&String> = paths.keys().collect();
    assert_eq!(
        documented.len(),
        routes.len() + BOTH.len(),
        "{base}: exactly the contract's routes: {documented:?}"
    );
    spec
}

#[tokio::test]
async fn both_apis_serve_swagger_ui_and_every_asset_it_loads() {
    let app = spawn_app().await;
    docs_page_and_assets_answer(&app.client, &app.command).await;
    docs_page_and_assets_answer(&app.client, &app.query).await;
}

#[tokio::test]
async fn each_document_lists_every_route_problem_code_and_security_scheme() {
    let app = spawn_app().await;
    let command = spec_lists(&app.client, &app.command, COMMAND_ROUTES).await;
    let query = spec_lists(&app.client, &app.query, QUERY_ROUTES).await;
    for spec in [&command, &query] {
        let schemas = &spec["components"]["schemas"];
        let problem = &schemas["Problem"];
        for member in ["type", "title", "status", "detail", "code"] {
            assert!(
                problem["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&Value::from(member))),
                "Problem requires {member}: {problem}"
            );
        }
        let codes = schemas["ErrorCode"]["enum"].as_array().expect("codes");
        for code in [
            "validation-failed",
            "consistency-token-unknown",
            "unauthorized",
            "forbidden",
            "not-found",
            "coupon-sold-out",
            "coupon-already-issued",
            "coupon-not-active",
            "insufficient-stock",
            "insufficient-balance",
            "coupon-unavailable",
            "payload-too-large",
            "overloaded",
        ] {
            assert!(codes.contains(&Value::from(code)), "{code} in {codes:?}");
        }
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(schemes["adminToken"]["scheme"], "bearer");
        assert_eq!(schemes["userJwt"]["bearerFormat"], "JWT");
    }
    let register = &command["paths"]["/v1/products"]["post"];
    assert_eq!(register["security"][0]["adminToken"], serde_json::json!([]));
    assert!(register["responses"]["401"].is_object());
    let created = &register["responses"]["201"];
    assert!(created["headers"]["Consistency-Token"].is_object());
    let order = &command["paths"]["/v1/orders"]["post"]["responses"];
    for status in ["201", "202", "409"] {
        assert!(order[status].is_object(), "POST /v1/orders {status}");
    }
    let charge = &command["paths"]["/v1/users/{userId}/points/charge"]["post"];
    let parameters = charge["parameters"].as_array().expect("parameters");
    assert!(
        parameters
            .iter()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
    );
    let points = &query["paths"]["/v1/users/{userId}/points"]["get"];
    let parameters = points["parameters"].as_array().expect("parameters");
    assert!(
        parameters
            .iter()
            .any(|p| p["name"] == "Consistency-Token" && p["in"] == "header")
    );
    let refused = points["responses"]["400"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        refused.contains("consistency-token-unknown"),
        "a query's 400 names the token code: {refused}"
    );
    let list = &query["paths"]["/v1/products"]["get"]["parameters"];
    let names: Vec<&Value> = list
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert!(names.contains(&&Value::from("page")) && names.contains(&&Value::from("size")));
}

#[tokio::test]
async fn operations_routes_answer_a_wrong_method_with_problem_json() {
    let app = spawn_app().await;
    for base in [&app.command, &app.query] {
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            let response = app
                .client
                .delete(format!("{base}{path}"))
                .send()
                .await
                .expect("request sent");
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
            let content_type = response.headers()["content-type"].clone();
            assert_eq!(content_type, "application/problem+json", "{path}");
            let body: Value = response.json().await.expect("problem");
            assert_eq!(body["code"], "method-not-allowed", "{path}");
        }
    }
}
