//! A virtualised grid of square tiles: only the rows in view are laid out,
//! so 100k faces scroll as fast as 100. Arrow keys move the highlight,
//! Enter or a double click opens it.
use egui::text::{LayoutJob, TextFormat, TextWrapping};
use egui::{
    Color32, FontId, Key, Rect, Response, Role, ScrollArea, Sense, Stroke, StrokeKind,
    TextureHandle, Ui, Vec2, WidgetInfo, pos2, vec2,
};

/// Height of the caption under a tile.
pub const CAPTION: f32 = 18.0;
/// Between the pictures of one tile.
const GAP: f32 = 4.0;

/// A tile: the picture (a placeholder until it loads) fitted into a square, and a
/// caption, which is also its accessible label.
pub fn tile(
    ui: &mut Ui,
    texture: Option<&TextureHandle>,
    side: f32,
    caption: &str,
    selected: bool,
) -> Response {
    tiles(ui, &[texture], side, caption, selected)
}

/// Like [`tile`], with several pictures side by side (a lookalike pair) and one caption.
pub fn tiles(
    ui: &mut Ui,
    textures: &[Option<&TextureHandle>],
    side: f32,
    caption: &str,
    selected: bool,
) -> Response {
    let width = tiles_width(textures.len(), side);
    let (rect, response) = ui.allocate_exact_size(vec2(width, side + CAPTION), Sense::click());
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        for (i, texture) in textures.iter().enumerate() {
            let min = rect.min + vec2(i as f32 * (side + GAP), 0.0);
            let picture = Rect::from_min_size(min, vec2(side, side));
            match texture {
                Some(t) => {
                    // Faces are square; a whole photo keeps its shape, centred.
                    let size = t.size_vec2();
                    let fitted =
                        Rect::from_center_size(picture.center(), size * (side / size.max_elem()));
                    let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
                    painter.image(t.id(), fitted, uv, Color32::WHITE);
                }
                None => {
                    painter.rect_filled(picture, 4.0, ui.visuals().extreme_bg_color);
                }
            }
        }
        let pictures = Rect::from_min_size(rect.min, vec2(width, side));
        if selected || response.hovered() {
            let color = if selected {
                ui.visuals().selection.stroke.color
            } else {
                ui.visuals().widgets.hovered.fg_stroke.color
            };
            painter.rect_stroke(pictures, 4.0, Stroke::new(2.0, color), StrokeKind::Inside);
        }
        // One line, cut with an ellipsis to the tile's width.
        let mut job = LayoutJob::single_section(
            caption.to_owned(),
            TextFormat::simple(FontId::proportional(12.0), ui.visuals().text_color()),
        );
        job.wrap = TextWrapping::truncate_at_width(width);
        let galley = ui.ctx().fonts_mut(|f| f.layout_job(job));
        let at = pos2(
            pictures.center().x - galley.size().x / 2.0,
            pictures.bottom() + 2.0,
        );
        painter.galley(at, galley, ui.visuals().text_color());
    }
    response.widget_info(|| WidgetInfo::selected(Role::Button, true, selected, caption));
    response
}

/// Width of a tile of `count` pictures of `side`.
pub fn tiles_width(count: usize, side: f32) -> f32 {
    let count = count.max(1) as f32;
    count * side + (count - 1.0) * GAP
}

/// Draws `count` cells of `size` (plus a caption) in as many columns as fit.
/// `cell(ui, i, highlighted)` draws cell `i`; with `keys`, the arrow keys and Enter
/// act on this grid. Returns the cell opened (Enter or double click).
pub fn grid(
    ui: &mut Ui,
    id_salt: &str,
    count: usize,
    size: Vec2,
    selected: &mut Option<usize>,
    keys: bool,
    mut cell: impl FnMut(&mut Ui, usize, bool) -> Response,
) -> Option<usize> {
    let spacing = ui.spacing().item_spacing;
    let columns =
        (((ui.available_width() + spacing.x) / (size.x + spacing.x)).floor() as usize).max(1);
    let rows = count.div_ceil(columns);
    let row_height = size.y + CAPTION;
    let mut opened = None;
    let mut scroll_to_row = None;
    if keys && count > 0 {
        let (step, enter) = ui.input(|i| {
            let key = |k| i.key_pressed(k) as isize;
            let step = key(Key::ArrowRight) - key(Key::ArrowLeft)
                + (key(Key::ArrowDown) - key(Key::ArrowUp)) * columns as isize;
            let moved = [
                Key::ArrowRight,
                Key::ArrowLeft,
                Key::ArrowDown,
                Key::ArrowUp,
            ]
            .into_iter()
            .any(|k| i.key_pressed(k));
            (moved.then_some(step), i.key_pressed(Key::Enter))
        });
        if let Some(step) = step {
            let next = match *selected {
                None => 0,
                Some(at) => (at as isize + step).clamp(0, count as isize - 1) as usize,
            };
            *selected = Some(next);
            scroll_to_row = Some(next / columns);
        }
        if enter {
            opened = *selected;
        }
    }
    let view_id = ui.make_persistent_id((id_salt, "view"));
    let mut area = ScrollArea::vertical()
        .id_salt(id_salt)
        .auto_shrink([false, false]);
    if let Some(row) = scroll_to_row {
        // Scroll just enough to bring the highlighted row into view.
        let (offset, height) = ui
            .data(|d| d.get_temp::<(f32, f32)>(view_id))
            .unwrap_or_default();
        let step = row_height + spacing.y;
        let (top, bottom) = (row as f32 * step, row as f32 * step + row_height);
        if top < offset {
            area = area.vertical_scroll_offset(top);
        } else if bottom > offset + height {
            area = area.vertical_scroll_offset(bottom - height);
        }
    }
    let output = area.show_rows(ui, row_height, rows, |ui, visible| {
        for row in visible {
            ui.horizontal(|ui| {
                for i in row * columns..((row + 1) * columns).min(count) {
                    let response = cell(ui, i, *selected == Some(i));
                    if response.clicked() {
                        *selected = Some(i);
                    }
                    if response.double_clicked() {
                        opened = Some(i);
                    }
                }
            });
        }
    });
    let view = (output.state.clamped_offset().y, output.inner_rect.height());
    ui.data_mut(|d| d.insert_temp(view_id, view));
    opened
}
