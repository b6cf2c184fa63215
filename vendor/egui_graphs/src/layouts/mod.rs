pub(crate) mod force_directed;
pub(crate) mod hierarchical;
pub(crate) mod random;

mod layout;
pub use layout::{AnimatedState, Layout, LayoutState};
