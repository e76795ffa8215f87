//! Thumbnails as textures: asked of the worker the first time a tile is
//! drawn, kept while in use, and the least recently drawn dropped past
//! the cache's capacity.
use std::collections::HashMap;

use egui::{ColorImage, Context, TextureHandle, TextureOptions};

use crate::jobs::worker::{Rgb, ThumbKey, WorkerHandle};

/// Textures kept at most: 2048 face thumbnails of 128² are 128 MiB of RGBA.
pub const CAPACITY: usize = 2048;

enum Entry {
    Asked,
    Missing,
    Ready { texture: TextureHandle, used: u64 },
}

pub struct ThumbCache {
    entries: HashMap<ThumbKey, Entry>,
    ready: usize,
    frame: u64,
    capacity: usize,
}

impl Default for ThumbCache {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl ThumbCache {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            ready: 0,
            frame: 0,
            capacity,
        }
    }

    /// The texture for `key` if loaded; else asks the worker for it (once).
    pub fn get(&mut self, worker: &WorkerHandle, key: ThumbKey) -> Option<&TextureHandle> {
        let frame = self.frame;
        match self.entries.get_mut(&key) {
            Some(Entry::Ready { used, .. }) => *used = frame,
            Some(_) => {}
            None => {
                self.entries.insert(key, Entry::Asked);
                if let Some(dropped) = worker.request_thumb(key) {
                    self.entries.remove(&dropped);
                }
            }
        }
        self.peek(key)
    }

    /// The texture for `key` if loaded, asking nothing.
    pub fn peek(&self, key: ThumbKey) -> Option<&TextureHandle> {
        match self.entries.get(&key) {
            Some(Entry::Ready { texture, .. }) => Some(texture),
            _ => None,
        }
    }

    /// Takes the worker's answer for `key`.
    pub fn insert(&mut self, ctx: &Context, key: ThumbKey, picture: Option<Rgb>) {
        let entry = match picture {
            Some(picture) => {
                self.ready += 1;
                Entry::Ready {
                    texture: texture(ctx, &format!("{key:?}"), &picture),
                    used: self.frame,
                }
            }
            None => Entry::Missing,
        };
        if let Some(Entry::Ready { .. }) = self.entries.insert(key, entry) {
            self.ready -= 1;
        }
    }

    /// Forgets every answer, e.g. after indexing made new thumbnails.
    pub fn clear_missing(&mut self) {
        self.entries.retain(|_, e| !matches!(e, Entry::Missing));
    }

    /// Ends a frame: past capacity, drops the textures drawn longest ago.
    pub fn end_frame(&mut self) {
        self.frame += 1;
        if self.ready <= self.capacity + self.capacity / 8 {
            return;
        }
        let mut used: Vec<(u64, ThumbKey)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Ready { used, .. } => Some((*used, *k)),
                _ => None,
            })
            .collect();
        used.sort_unstable_by_key(|(u, _)| *u);
        for (_, key) in &used[..self.ready - self.capacity] {
            self.entries.remove(key);
        }
        self.ready = self.capacity;
    }

    pub fn loaded(&self) -> usize {
        self.ready
    }
}

/// An RGB picture as a texture (linear filtering: tiles are drawn scaled).
pub fn texture(ctx: &Context, name: &str, picture: &Rgb) -> TextureHandle {
    let image = ColorImage::from_rgb(
        [picture.width as usize, picture.height as usize],
        &picture.pixels,
    );
    ctx.load_texture(name, image, TextureOptions::LINEAR)
}
