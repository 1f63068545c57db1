//! JUnit XML: one testcase per gate; FAIL and INCONCLUSIVE carry a failure element with the
//! reason, so CI systems show each gate as a test.

use radcam_fusion::gates::{GateResult, Verdict};
use std::fmt::Write;

/// Escapes text for XML attributes and content.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

fn reason(r: &GateResult) -> String {
    let g = &r.gate;
    match (r.verdict, r.value) {
        (Verdict::Inconclusive, _) => format!(
            "INCONCLUSIVE: {} samples of {} (need {})",
            r.samples,
            g.metric,
            g.min_samples.max(1)
        ),
        (_, Some(v)) => format!(
            "FAIL: {} = {v} is not {} {} ({} samples)",
            g.metric,
            g.comparator.as_str(),
            g.threshold,
            r.samples
        ),
        (_, None) => format!("FAIL: {} has no value", g.metric),
    }
}

/// The JUnit XML document for `results`, as test suite `suite`.
pub fn junit_xml(suite: &str, results: &[GateResult]) -> String {
    let failures = results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"radcam\" tests=\"{}\" failures=\"{failures}\">",
        results.len()
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        esc(suite),
        results.len()
    );
    for r in results {
        let g = &r.gate;
        let _ = write!(
            s,
            "    <testcase classname=\"radcam.gates\" name=\"{}\">",
            esc(&g.name)
        );
        let value = r.value.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let props = format!(
            "\n      <properties>\n        <property name=\"metric\" value=\"{}\"/>\n        <property name=\"comparator\" value=\"{}\"/>\n        <property name=\"threshold\" value=\"{}\"/>\n        <property name=\"value\" value=\"{}\"/>\n        <property name=\"samples\" value=\"{}\"/>\n        <property name=\"required\" value=\"{}\"/>{}\n      </properties>",
            esc(&g.metric),
            esc(g.comparator.as_str()),
            g.threshold,
            esc(&value),
            r.samples,
            g.required,
            r.evidence.map_or_else(String::new, |e| format!(
                "\n        <property name=\"worst_window_log_time_ns\" value=\"{}..{}\"/>\n        <property name=\"worst_window_value\" value=\"{}\"/>",
                e.start_ns, e.end_ns, e.value
            ))
        );
        s.push_str(&props);
        if r.verdict != Verdict::Pass {
            let why = reason(r);
            let _ = write!(
                s,
                "\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                esc(&why),
                r.verdict.as_str(),
                esc(&why)
            );
        }
        s.push_str("\n    </testcase>\n");
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(junit_xml("demo <seed 1>", &crate::sample_results()));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&apos;");
    }
}
