//! The one integration-test binary; each area of the crate has a module here.
mod bench;
mod faces;
mod index;
mod library;
mod people;
