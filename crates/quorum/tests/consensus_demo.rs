//! `quorum consensus demo`: the talk's story, its SVG sequence diagram and its trace.

use std::process::Command;

/// Checks that `xml` is well formed enough for a browser: every tag closed, in order, one root.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    let mut roots = 0;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let end = after.find('>').expect("an unterminated tag");
        let tag = &after[..end];
        rest = &after[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            if stack.is_empty() {
                roots += 1;
            }
            stack.push(name);
        } else if stack.is_empty() && !tag.starts_with('?') {
            roots += 1;
        }
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1, "one root element");
    assert!(!xml.contains("& "), "a bare ampersand");
}

#[test]
fn the_demo_tells_the_story_and_draws_it() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("demo.svg");
    let trace = dir.path().join("demo.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["consensus", "demo", "--svg"])
        .arg(&svg)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "P1 -> P2  Prepare(1.1)",
        "P2 -> P1  Promise(1.1, nothing accepted)",
        "P1 -> P3  Accept(1.1, red)",
        "P2 -> P3  Prepare(2.2)",
        "P3 -> P2  Promise(2.2, nothing accepted)",
        "P2 -> P3  Accept(2.2, blue)",
        "P3 -> P2  Accepted(2.2, blue)",
        "P2 decides blue",
        "P3 <- P1  Accept(1.1, red)",
        "Nack(1.1: promised 2.2)",
        "refused",
        "Decided: P1: blue, P2: blue, P3: blue",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Steps in the story's order.
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(at("Prepare(1.1)") < at("Prepare(2.2)"));
    assert!(at("P2 decides blue") < at("P3 <- P1  Accept(1.1, red)"));

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert_well_formed(&svg);
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches(r#"class="lane""#).count(), 3);
    for p in 1..=3 {
        assert!(svg.contains(&format!(r#"id="lane-P{p}""#)));
    }
    let arrows = svg.matches(r#"<g class="arrow"#).count();
    let received = text.matches(" <- ").count();
    assert_eq!(arrows, received, "one arrow per message delivered");
    assert!(svg.matches(r#"class="refused-mark""#).count() >= 2);
    assert!(svg.contains("Accept(1.1, red)"));
    assert_eq!(svg.matches(r#"class="decide""#).count(), 3);

    let trace = std::fs::read_to_string(&trace).unwrap();
    let mut sends = 0;
    for line in trace.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["t"].is_u64() && v["ev"].is_string(), "{line}");
        if v["ev"] == "send" {
            sends += 1;
            assert!(v["from"].is_u64() && v["to"].is_u64() && v["type"].is_string());
        }
    }
    assert!(sends > 20);
}
