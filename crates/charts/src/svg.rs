//! A minimal SVG writer: elements appended to a string, text and attribute values escaped,
//! coordinates rounded to a tenth of a pixel.

use std::fmt::Write as _;

/// Escapes `s` for SVG text content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in XML 1.0.
            c if c.is_control() && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length with at most one decimal.
pub fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Horizontal placement of a text relative to its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The text starts at the point.
    Start,
    /// The text is centred on the point.
    Middle,
    /// The text ends at the point.
    End,
}

impl Anchor {
    fn name(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An SVG document being written.
pub struct Svg {
    out: String,
    open: Vec<&'static str>,
}

impl Svg {
    /// A `width` × `height` document with a white background.
    pub fn new(width: u32, height: u32) -> Svg {
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
        );
        let mut svg = Svg {
            out,
            open: vec!["svg"],
        };
        svg.rect(0.0, 0.0, width as f64, height as f64, r##"fill="#ffffff""##);
        svg
    }

    /// Opens an element `<tag attrs>` that later elements go into, until [`Svg::close`].
    /// `attrs` is raw markup: escape any value in it.
    pub fn open(&mut self, tag: &'static str, attrs: &str) {
        let _ = writeln!(self.out, "<{tag}{}>", spaced(attrs));
        self.open.push(tag);
    }

    /// Closes the innermost element opened with [`Svg::open`].
    pub fn close(&mut self) {
        if let Some(tag) = self.open.pop() {
            let _ = writeln!(self.out, "</{tag}>");
        }
    }

    /// A rectangle; `attrs` is raw markup (fill, stroke, …).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}"{}/>"#,
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0)),
            spaced(attrs)
        );
    }

    /// A straight line; `attrs` is raw markup.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}"{}/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            spaced(attrs)
        );
    }

    /// A circle; `attrs` is raw markup.
    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<circle cx="{}" cy="{}" r="{}"{}/>"#,
            num(cx),
            num(cy),
            num(r),
            spaced(attrs)
        );
    }

    /// A path through subpaths of points (each subpath starts with a move); nothing when every
    /// subpath is empty. `attrs` is raw markup.
    pub fn path(&mut self, subpaths: &[Vec<(f64, f64)>], attrs: &str) {
        let mut d = String::new();
        for sub in subpaths {
            for (i, &(x, y)) in sub.iter().enumerate() {
                if !d.is_empty() {
                    d.push(' ');
                }
                d.push(if i == 0 { 'M' } else { 'L' });
                d.push_str(&num(x));
                d.push(',');
                d.push_str(&num(y));
            }
        }
        if !d.is_empty() {
            let _ = writeln!(self.out, r#"<path d="{d}"{}/>"#, spaced(attrs));
        }
    }

    /// Text at (x, y) (y is the baseline), escaped; `attrs` is raw markup.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, text: &str, attrs: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{}" y="{}" text-anchor="{}"{}>{}</text>"#,
            num(x),
            num(y),
            anchor.name(),
            spaced(attrs),
            escape(text)
        );
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

fn spaced(attrs: &str) -> String {
    if attrs.is_empty() {
        String::new()
    } else {
        format!(" {attrs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"p99 <set> & "get" 'x'"#),
            "p99 &lt;set&gt; &amp; &quot;get&quot; &#39;x&#39;"
        );
        assert_eq!(escape("a\u{0}b\u{7}c"), "abc");
        let mut svg = Svg::new(10, 10);
        svg.text(1.0, 2.0, Anchor::Middle, "1 < 2", "");
        assert!(svg.finish().contains(">1 &lt; 2</text>"));
    }

    #[test]
    fn numbers_keep_one_decimal() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(4.2345), "4.2");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(12.96), "13");
    }

    #[test]
    fn paths_move_at_each_subpath_and_elements_close() {
        let mut svg = Svg::new(100, 50);
        svg.open("g", r#"class="s""#);
        svg.path(&[vec![(0.0, 0.0), (1.0, 1.0)], vec![(5.0, 5.0)]], "");
        svg.path(&[vec![]], "");
        let doc = svg.finish();
        assert!(doc.contains(r#"<path d="M0,0 L1,1 M5,5"/>"#), "{doc}");
        assert_eq!(doc.matches("<path").count(), 1);
        assert!(doc.trim_end().ends_with("</g>\n</svg>"), "{doc}");
    }
}
