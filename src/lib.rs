//! Wiring for the `shop` binary: settings, the stores the configuration names, one module
//! per process role, the all-in-one application, demo data and the benchmark harness.
//! `main.rs` only parses the command line and calls in here.

pub mod app;
pub mod backend;
pub mod demo;
pub mod feed;
pub mod ops;
pub mod otlp;
pub mod rebuild;
pub mod roles;
pub mod secret;
pub mod settings;
pub mod store_writes;
pub mod telemetry;

pub use app::Application;
pub use settings::Settings;
