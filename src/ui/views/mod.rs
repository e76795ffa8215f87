//! One module per screen; each draws into the central panel.
pub mod library;
pub mod lookalikes;
pub mod people;
pub mod search;
pub mod settings;
pub mod viewer;
pub mod welcome;
