//! The one integration-test binary; each area of the crate has a module here.
mod gpu;
mod index;
