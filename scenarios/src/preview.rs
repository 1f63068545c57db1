//! A small synthetic preview image (mono8) with the detection boxes drawn, so a recording
//! opens in Foxglove with something to look at.

/// Renders a `width`×`height` mono8 image: a horizon gradient and box outlines.
/// Boxes are `(x, y, w, h)` in preview pixels.
pub fn render(width: u32, height: u32, horizon_px: f64, boxes: &[(f64, f64, f64, f64)]) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut img = vec![0u8; w * h];
    for (y, row) in img.chunks_mut(w.max(1)).enumerate() {
        let v = if (y as f64) < horizon_px {
            170
        } else {
            70 + (y * 60 / h.max(1)) as u8
        };
        row.fill(v);
    }
    let mut put = |x: i64, y: i64| {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            img[y as usize * w + x as usize] = 255;
        }
    };
    for &(bx, by, bw, bh) in boxes {
        let (x0, y0, x1, y1) = (bx as i64, by as i64, (bx + bw) as i64, (by + bh) as i64);
        for x in x0..=x1 {
            put(x, y0);
            put(x, y1);
        }
        for y in y0..=y1 {
            put(x0, y);
            put(x1, y);
        }
    }
    img
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_box_outlines() {
        let img = super::render(10, 10, 3.0, &[(2.0, 2.0, 4.0, 4.0)]);
        assert_eq!(img[2 * 10 + 2], 255);
        assert_eq!(img[4 * 10 + 4], 70 + 24);
        assert_eq!(img.len(), 100);
    }
}
