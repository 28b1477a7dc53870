//! Crash injection for the rebuild's crash tests. Built with the `failpoints` feature,
//! `FAILPOINTS=<name>=return` makes the process abort at that point, as a SIGKILL would
//! (`FAILPOINTS` is read at start-up by the binary). Without the feature this is nothing.

#[cfg(feature = "failpoints")]
pub(super) fn crash_point(name: &str) {
    fail::fail_point!(name, |_| {
        tracing::warn!(failpoint = name, "failpoint: aborting the process");
        std::process::abort()
    });
}

#[cfg(not(feature = "failpoints"))]
pub(super) fn crash_point(_name: &str) {}
