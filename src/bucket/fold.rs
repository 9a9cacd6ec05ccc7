//! Placeholder.

/// Placeholder.
pub struct FoldFields;

/// Placeholder.
pub fn fold_frame() {}
