//! Pieces shared by the views: the thumbnail cache, face tiles, the
//! virtualised grid and a photo with its face boxes.
pub mod grid;
pub mod photo;
pub mod thumbs;
