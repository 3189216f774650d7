//! [`Verified`]: a value that exists only after its signature was checked.

/// A value whose integrity was established by signature verification.
///
/// Only this crate can construct one, and only on the path that checked the
/// signature, so code that takes a `Verified<T>` can only read what the
/// signer covered (the "verify, then use only what was verified" rule).
#[derive(Debug, Clone)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// Wraps a value whose signature was just verified.
    pub(crate) fn new(value: T) -> Self {
        Self(value)
    }

    /// The verified value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Consumes the wrapper, returning the verified value.
    pub fn into_inner(self) -> T {
        self.0
    }
}
