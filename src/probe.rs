//! Test-only probes (feature `test-hooks`): per-thread counters of the
//! expensive or secret-dependent operations, so tests can assert *which
//! code path* ran — e.g. that an oversized assertion is refused before any
//! signature work, or that an unknown client costs the same secret
//! comparison as a wrong secret — without measuring time.
//!
//! Without the feature every hook compiles to nothing.

#[cfg(feature = "test-hooks")]
mod counters {
    use std::cell::Cell;

    thread_local! {
        pub static SIGNATURE_CHECKS: Cell<usize> = const { Cell::new(0) };
        pub static SECRET_COMPARISONS: Cell<usize> = const { Cell::new(0) };
    }
}

/// Counts one signature verification (called by `crypto::verify`).
#[cfg(feature = "rust-crypto")]
#[inline]
pub(crate) fn signature_check() {
    #[cfg(feature = "test-hooks")]
    counters::SIGNATURE_CHECKS.with(|c| c.set(c.get() + 1));
}

/// Counts one client-secret digest comparison.
#[inline]
pub(crate) fn secret_comparison() {
    #[cfg(feature = "test-hooks")]
    counters::SECRET_COMPARISONS.with(|c| c.set(c.get() + 1));
}

/// Resets this thread's counters.
#[cfg(feature = "test-hooks")]
pub fn reset() {
    counters::SIGNATURE_CHECKS.with(|c| c.set(0));
    counters::SECRET_COMPARISONS.with(|c| c.set(0));
}

/// Signature verifications on this thread since [`reset`].
#[cfg(feature = "test-hooks")]
pub fn signature_checks() -> usize {
    counters::SIGNATURE_CHECKS.with(|c| c.get())
}

/// Client-secret comparisons on this thread since [`reset`].
#[cfg(feature = "test-hooks")]
pub fn secret_comparisons() -> usize {
    counters::SECRET_COMPARISONS.with(|c| c.get())
}
