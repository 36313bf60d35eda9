//! The trace viewer's page: one self-contained HTML file (inline CSS and JS, no network, no
//! external libraries) that draws a simulator trace as a message sequence chart.
//!
//! The page's template, style and script are static assets beside this file; this module only
//! fills them in. The trace is embedded verbatim as JSON lines, with every `<` written as the
//! JSON escape `\u003c` so that nothing in it can close the script element holding it (outside
//! strings a JSON line has no `<`; inside them the escape reads back as the same text).

const TEMPLATE: &str = include_str!("page.html");
const CSS: &str = include_str!("viewer.css");
const JS: &str = include_str!("viewer.js");

/// The page drawing `trace` (JSON lines, docs/protocol.md "Simulator traces"), titled `title`.
pub fn page(trace: &str, title: &str) -> String {
    let data = trace.replace('<', "\\u003c");
    // The trace goes in last: nothing in it can be mistaken for a placeholder.
    TEMPLATE
        .replace("{{TITLE}}", &escape_html(title))
        .replace("{{CSS}}", CSS)
        .replace("{{JS}}", JS)
        .replace("{{TRACE}}", &data)
}

/// Escapes `s` for HTML text.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_embeds_the_trace_and_its_assets() {
        let trace =
            "{\"t\":0,\"ev\":\"send\",\"from\":1,\"to\":2,\"type\":\"CEPOCH\",\"epoch\":0}\n";
        let html = page(trace, "seed 7");
        assert!(html.contains("<title>seed 7</title>"));
        assert!(html.contains("\"type\":\"CEPOCH\""));
        assert!(html.contains("window.onerror"));
        assert!(html.contains("function build(events)"));
        assert!(!html.contains("{{"), "a placeholder is left");
    }

    #[test]
    fn nothing_in_a_trace_can_close_its_script_element() {
        let trace = "{\"t\":1,\"ev\":\"violation\",\"invariant\":\"x\",\"detail\":\"</script><script>alert(1)</script>\"}";
        let html = page(trace, "<b>");
        assert_eq!(
            html.matches("</script>").count(),
            3,
            "only the page's own scripts close"
        );
        assert!(html.contains("\\u003c/script>"));
        assert!(html.contains("<title>&lt;b&gt;</title>"));
    }

    #[test]
    fn a_placeholder_in_the_trace_is_left_alone() {
        let html = page("{\"t\":1,\"ev\":\"x\",\"detail\":\"{{JS}}\"}", "t");
        assert!(html.contains("\"detail\":\"{{JS}}\""));
    }
}
