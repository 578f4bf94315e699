//! `check -o html`: one self-contained HTML5 page for people (inline CSS only: no scripts, no
//! external stylesheets, fonts or images). Per policy: the account, mode and file, a
//! checks × regions matrix coloured by status, the message (what is wrong and the fix) of every
//! failing or warning cell in a list below the matrix, the changes `apply` would make, and an
//! "n/m regions compliant" summary. Built only from the `check -o json` document
//! (docs/check-output.md); every string taken from it is HTML-escaped, and the output is
//! deterministic (report order, no randomness; the only varying input is `generated_at`).

use std::fmt::Write as _;

use serde_json::Value;

use super::asff::{array_of, check_title, str_of};

/// `s` with `& < > " '` replaced by character references (safe in text and quoted attributes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2rem; color: #1f2328; background: #ffffff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em; }
.meta, .facts { color: #57606a; margin: .25rem 0; }
.summary { font-weight: 600; margin: .75rem 0; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; vertical-align: middle; }
.badge.ok { background: #dafbe1; color: #116329; }
.badge.bad { background: #ffebe9; color: #a40e26; }
.error { color: #a40e26; background: #ffebe9; padding: .5rem .75rem; border-radius: .25rem; }
table.matrix { border-collapse: collapse; margin: .5rem 0; }
table.matrix th, table.matrix td { border: 1px solid #d0d7de; padding: .35rem .6rem; text-align: left; vertical-align: top; }
table.matrix thead th { background: #f6f8fa; }
table.matrix th .title { display: block; font-weight: normal; color: #57606a; font-size: .8rem; }
table.matrix th .state { display: block; font-weight: normal; font-size: .8rem; }
td.cell { text-align: center; font-weight: 600; white-space: nowrap; }
td.cell a { color: inherit; }
.pass { background: #dafbe1; color: #116329; }
.fail { background: #ffebe9; color: #a40e26; }
.warn { background: #fff8c5; color: #7d4e00; }
.skip { background: #eaeef2; color: #57606a; }
.none { background: #ffffff; color: #8c959f; }
.status { display: inline-block; min-width: 3rem; text-align: center; padding: 0 .3rem; border-radius: .25rem; font-weight: 600; }
ol.fixes li, ul.changes li { margin: .25rem 0; }
footer { margin-top: 2rem; color: #57606a; font-size: .8rem; }
";

/// CSS class of a finding status.
fn status_class(status: &str) -> &'static str {
    match status {
        "PASS" => "pass",
        "FAIL" => "fail",
        "WARN" => "warn",
        "SKIP" => "skip",
        _ => "none",
    }
}

fn is_compliant(region: &Value) -> bool {
    str_of(region, "state") == "Compliant"
}

/// The check ids of a policy, in order of first appearance across its regions.
fn policy_checks(policy: &Value) -> Vec<&str> {
    let mut checks: Vec<&str> = Vec::new();
    for reg in array_of(policy, "regions") {
        for f in array_of(reg, "findings") {
            let id = str_of(f, "id");
            if !checks.contains(&id) {
                checks.push(id);
            }
        }
    }
    checks
}

fn find_finding<'a>(region: &'a Value, check: &str) -> Option<&'a Value> {
    array_of(region, "findings")
        .iter()
        .find(|f| str_of(f, "id") == check)
}

fn strings_of<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    array_of(v, key).iter().filter_map(Value::as_str).collect()
}

fn write_policy(out: &mut String, pi: usize, p: &Value) {
    let name = str_of(p, "policy");
    let account = p
        .get("account")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let regions = array_of(p, "regions");
    let compliant_regions = regions.iter().filter(|r| is_compliant(r)).count();
    let policy_ok = p.get("compliant").and_then(Value::as_bool).unwrap_or(false);
    let checks = policy_checks(p);

    let _ = writeln!(out, "<section class=\"policy\" id=\"policy-{pi}\">");
    let _ = writeln!(
        out,
        "<h2>Policy <code>{}</code> <span class=\"badge {}\">{}</span></h2>",
        escape(name),
        if policy_ok { "ok" } else { "bad" },
        if policy_ok {
            "COMPLIANT"
        } else {
            "NOT COMPLIANT"
        }
    );
    let _ = writeln!(
        out,
        "<p class=\"facts\">Account <code>{}</code> · Mode <code>{}</code> · File <code>{}</code></p>",
        escape(account),
        escape(str_of(p, "mode")),
        escape(str_of(p, "file"))
    );
    if let Some(e) = p.get("error").and_then(Value::as_str) {
        let _ = writeln!(out, "<p class=\"error\">Error: {}</p>", escape(e));
    }
    let _ = writeln!(
        out,
        "<p class=\"summary\">{compliant_regions}/{} regions compliant</p>",
        regions.len()
    );

    // The matrix: rows = checks, columns = regions.
    let _ = writeln!(out, "<table class=\"matrix\">");
    let _ = writeln!(out, "<thead>");
    let _ = write!(out, "<tr><th scope=\"col\">Check</th>");
    for reg in regions {
        let _ = write!(
            out,
            "<th scope=\"col\"><code>{}</code><span class=\"state\">{}</span></th>",
            escape(str_of(reg, "region")),
            escape(str_of(reg, "state"))
        );
    }
    let _ = writeln!(out, "</tr>");
    let _ = writeln!(out, "</thead>");
    let _ = writeln!(out, "<tbody>");
    // (anchor id, status, region, check, message) of every failing / warning cell.
    let mut fixes: Vec<(String, &str, &str, &str, &str)> = Vec::new();
    for (ci, &check) in checks.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code><span class=\"title\">{}</span></th>",
            escape(check),
            escape(&check_title(check))
        );
        for (ri, reg) in regions.iter().enumerate() {
            match find_finding(reg, check) {
                Some(f) => {
                    let status = str_of(f, "status");
                    let class = status_class(status);
                    if status == "FAIL" || status == "WARN" {
                        let anchor = format!("fix-{pi}-{ri}-{ci}");
                        let _ = write!(
                            out,
                            "<td class=\"cell {class}\"><a href=\"#{anchor}\">{}</a></td>",
                            escape(status)
                        );
                        fixes.push((
                            anchor,
                            status,
                            str_of(reg, "region"),
                            check,
                            str_of(f, "message"),
                        ));
                    } else {
                        let _ = write!(
                            out,
                            "<td class=\"cell {class}\" title=\"{}\">{}</td>",
                            escape(str_of(f, "message")),
                            escape(status)
                        );
                    }
                }
                None => {
                    out.push_str(
                        "<td class=\"cell none\" title=\"not evaluated in this region\">—</td>",
                    );
                }
            }
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</tbody>");
    let _ = writeln!(out, "</table>");

    // Region-level errors.
    for reg in regions {
        if let Some(e) = reg.get("error").and_then(Value::as_str) {
            let _ = writeln!(
                out,
                "<p class=\"error\"><code>{}</code>: {}</p>",
                escape(str_of(reg, "region")),
                escape(e)
            );
        }
    }

    // What to fix: the message of every failing / warning cell.
    if !fixes.is_empty() {
        let _ = writeln!(out, "<h3>What to fix</h3>");
        let _ = writeln!(out, "<ol class=\"fixes\">");
        for (anchor, status, region, check, message) in &fixes {
            let _ = writeln!(
                out,
                "<li id=\"{anchor}\"><span class=\"status {}\">{}</span> <code>{}</code> <code>{}</code>: {}</li>",
                status_class(status),
                escape(status),
                escape(region),
                escape(check),
                escape(message)
            );
        }
        let _ = writeln!(out, "</ol>");
    }

    // What `apply` would change (global resources first, then per region).
    let mut changes: Vec<String> = strings_of(p, "globalPendingChanges")
        .into_iter()
        .map(escape)
        .collect();
    for reg in regions {
        for c in strings_of(reg, "pendingChanges") {
            changes.push(format!(
                "<code>{}</code>: {}",
                escape(str_of(reg, "region")),
                escape(c)
            ));
        }
    }
    if !changes.is_empty() {
        let _ = writeln!(out, "<h3>Changes <code>apply</code> would make</h3>");
        let _ = writeln!(out, "<ul class=\"changes\">");
        for c in &changes {
            let _ = writeln!(out, "<li>{c}</li>");
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");
}

/// The report as one self-contained HTML5 page; `generated_at` is shown as the report time.
pub fn to_html(report_json: &Value, generated_at: &str) -> String {
    let policies = array_of(report_json, "policies");
    let names: Vec<String> = policies
        .iter()
        .map(|p| escape(str_of(p, "policy")))
        .collect();
    let compliant = policies
        .iter()
        .filter(|p| p.get("compliant").and_then(Value::as_bool).unwrap_or(false))
        .count();
    let regions_total: usize = policies.iter().map(|p| array_of(p, "regions").len()).sum();
    let regions_compliant: usize = policies
        .iter()
        .map(|p| {
            array_of(p, "regions")
                .iter()
                .filter(|r| is_compliant(r))
                .count()
        })
        .sum();

    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>Bedrock logging compliance: {}</title>",
        names.join(", ")
    );
    let _ = writeln!(out, "<style>{STYLE}</style>");
    out.push_str("</head>\n<body>\n<header>\n");
    out.push_str("<h1>Amazon Bedrock model invocation logging: compliance report</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"meta\">Generated <time datetime=\"{0}\">{0}</time> by bedrock-logging-operator {1} · policies: {2}</p>",
        escape(generated_at),
        escape(env!("CARGO_PKG_VERSION")),
        names.join(", ")
    );
    let _ = writeln!(
        out,
        "<p class=\"summary\">{compliant}/{} policies compliant · {regions_compliant}/{regions_total} regions compliant</p>",
        policies.len()
    );
    out.push_str("</header>\n<main>\n");
    for (pi, p) in policies.iter().enumerate() {
        write_policy(&mut out, pi, p);
    }
    out.push_str("</main>\n<footer>\n");
    out.push_str("<p>PASS: the control holds · FAIL: it does not (see What to fix) · WARN: a control the policy does not require · SKIP: not evaluated.</p>\n");
    out.push_str("</footer>\n</body>\n</html>\n");
    out
}
