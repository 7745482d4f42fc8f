//! Client layer placeholder.
