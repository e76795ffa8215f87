//! The one integration-test binary; each area of the crate has a module here.
mod bench;
mod cli;
mod faces;
mod gpu;
mod index;
mod library;
mod people;
mod people_cli;
mod people_lfw;
mod storage;
mod ui;
