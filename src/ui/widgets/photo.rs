//! A photo scaled to fit, with its face boxes drawn over it; each box is a
//! button (accessible by its label).
use egui::{
    Align2, Color32, FontId, Rect, Response, Role, Sense, Stroke, StrokeKind, TextureHandle, Ui,
    Vec2, WidgetInfo, pos2, vec2,
};

/// One face box over the photo.
pub struct FaceBox {
    /// `[x, y, w, h]` in photo pixels.
    pub bbox: [f32; 4],
    pub label: String,
    pub chosen: bool,
}

/// Draws `texture` (photo pixels × `scale` = texture pixels) within `max`, with `faces`.
/// Returns each box's response (clicks, context menus), in the order of `faces`.
pub fn boxed_photo(
    ui: &mut Ui,
    texture: &TextureHandle,
    scale: f32,
    faces: &[FaceBox],
    max: Vec2,
) -> Vec<Response> {
    let size = texture.size_vec2();
    let fit = (max.x / size.x).min(max.y / size.y).min(2.0);
    let (rect, _) = ui.allocate_exact_size(size * fit, Sense::hover());
    let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
    ui.painter().image(texture.id(), rect, uv, Color32::WHITE);
    let to_screen = scale * fit;
    let mut responses = Vec::with_capacity(faces.len());
    for (i, face) in faces.iter().enumerate() {
        let [x, y, w, h] = face.bbox.map(|v| v * to_screen);
        let bbox = Rect::from_min_size(rect.min + vec2(x, y), vec2(w, h)).intersect(rect);
        let response = ui.interact(bbox, ui.make_persistent_id(("face box", i)), Sense::click());
        let label = face.label.clone();
        response.widget_info(|| WidgetInfo::selected(Role::Button, true, face.chosen, &label));
        let color = if face.chosen {
            Color32::from_rgb(255, 200, 0)
        } else if response.hovered() {
            Color32::WHITE
        } else {
            Color32::from_rgb(120, 200, 255)
        };
        let width = if face.chosen { 3.0 } else { 2.0 };
        let painter = ui.painter();
        painter.rect_stroke(bbox, 2.0, Stroke::new(width, color), StrokeKind::Outside);
        let text = painter.layout_no_wrap(face.label.clone(), FontId::proportional(13.0), color);
        let at = pos2(
            bbox.left(),
            (bbox.top() - text.size().y - 2.0).max(rect.top()),
        );
        painter.rect_filled(
            Rect::from_min_size(at, text.size() + vec2(4.0, 0.0)),
            2.0,
            Color32::from_black_alpha(160),
        );
        painter.galley(at + vec2(2.0, 0.0), text, color);
        responses.push(response);
    }
    responses
}

/// Text drawn centred in an empty area (e.g. "drop a photo here").
pub fn hint(ui: &mut Ui, text: &str) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), 120.0), Sense::hover());
    ui.painter().text(
        rect.center(),
        Align2::CENTER_CENTER,
        text,
        FontId::proportional(16.0),
        ui.visuals().weak_text_color(),
    );
}
