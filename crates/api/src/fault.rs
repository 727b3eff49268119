//! Fault injection for the crash tests, compiled only with the
//! `fault-injection` feature (which `make test` and `make chaos` enable):
//! a release build has no way to be told to crash.

/// Abort the process after a message is leased and before it is sent, when
/// `ITSM_FAULT_ABORT_BEFORE_SEND=true`: as hard a stop as kill -9.
#[cfg(feature = "fault-injection")]
pub fn before_send() {
    if std::env::var("ITSM_FAULT_ABORT_BEFORE_SEND").is_ok_and(|v| v == "true") {
        tracing::error!("fault injection: aborting before send");
        std::process::abort();
    }
}

/// Without the feature, nothing.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn before_send() {}
