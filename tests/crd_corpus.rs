//! The CRD as the API server sees it: generated file up to date, schema structural, every CEL
//! rule compiles within Kubernetes' cost budget, and a corpus of valid and invalid policies
//! checked through the schema and the CEL rules in-process (each invalid one names its field).

use std::path::{Path, PathBuf};

use blo::api::crd::{crd_yaml, open_api_schema};
use blo::api::validate_file::{parse_policy, validate_value};
use kube::core::cel::{ScopeContext, WarningKind, analyze_rule, compile_schema};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn committed_crd_matches_generator() {
    let committed =
        std::fs::read_to_string(root().join("crds/bedrockloggingpolicies.yaml")).unwrap();
    assert!(
        committed == crd_yaml(),
        "crds/bedrockloggingpolicies.yaml is stale: run `make crds` and commit the result"
    );
    for copy in [
        "charts/bedrock-logging-operator/crds/bedrockloggingpolicies.yaml",
        "config/crd/bedrockloggingpolicies.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(copy)).unwrap();
        assert!(
            text == committed,
            "{copy} differs from crds/: run `make crds`"
        );
    }
}

fn walk_structural(node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(obj) = node.as_object() else { return };
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if !obj.contains_key("type") && !preserve {
        problems.push(format!("{path}: no type"));
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        problems.push(format!("{path}: additionalProperties beside properties"));
    }
    for forbidden in ["oneOf", "anyOf", "allOf", "not", "$ref"] {
        if obj.contains_key(forbidden) {
            problems.push(format!("{path}: {forbidden} (use optional fields + CEL)"));
        }
    }
    if obj.contains_key("nullable") && !obj.contains_key("type") {
        problems.push(format!("{path}: nullable without type"));
    }
    // The formats kube-apiserver knows (k8s.io/kube-openapi strfmt); any other one draws a
    // warning on every create ("unrecognized format \"uint32\"").
    const KNOWN_FORMATS: &[&str] = &[
        "int32",
        "int64",
        "float",
        "double",
        "byte",
        "binary",
        "date",
        "date-time",
        "duration",
        "password",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "bsonobjectid",
    ];
    if let Some(f) = obj.get("format").and_then(Value::as_str)
        && !KNOWN_FORMATS.contains(&f)
    {
        problems.push(format!("{path}: format {f} is not one Kubernetes knows"));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            walk_structural(v, &format!("{path}.{k}"), problems);
        }
    }
    if let Some(items) = obj.get("items") {
        walk_structural(items, &format!("{path}[]"), problems);
    }
    if let Some(ap) = obj.get("additionalProperties") {
        walk_structural(ap, &format!("{path}{{}}"), problems);
    }
}

#[test]
fn schema_is_structural() {
    let mut problems = Vec::new();
    walk_structural(&open_api_schema(), "", &mut problems);
    assert!(problems.is_empty(), "non-structural schema: {problems:#?}");
}

fn collect_rules(node: &Value, path: &str, out: &mut Vec<(String, Value, String)>) {
    let Some(obj) = node.as_object() else { return };
    if let Some(rules) = obj
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for r in rules {
            out.push((
                path.to_string(),
                node.clone(),
                r["rule"].as_str().unwrap().to_string(),
            ));
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            collect_rules(v, &format!("{path}.{k}"), out);
        }
    }
    if let Some(items) = obj.get("items") {
        collect_rules(items, &format!("{path}[]"), out);
    }
}

#[test]
fn every_cel_rule_compiles_within_cost_budget_and_scope() {
    let mut rules = Vec::new();
    collect_rules(&open_api_schema(), "", &mut rules);
    assert!(
        rules.len() >= 18,
        "expected the CEL rules of api::rules, found {}",
        rules.len()
    );
    for (path, node, rule) in rules {
        let compiled = compile_schema(&node);
        let warnings: Vec<_> = analyze_rule(&rule, &compiled, ScopeContext::CrdValidation)
            .into_iter()
            // The analyzer does not know comprehension variables (`all(r, ...)`): those are fine.
            .filter(|w| {
                !(w.kind == WarningKind::WrongScope
                    && ["r", "x", "t"].iter().any(|v| {
                        w.message.contains(&format!("variable '{v}'"))
                            && rule.contains(&format!("({v}, "))
                    }))
            })
            .collect();
        assert!(warnings.is_empty(), "{path}: rule {rule}: {warnings:?}");
    }
}

fn check_valid(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    if let Err(e) = parse_policy(&text, &path.display().to_string()) {
        panic!("{} should be valid: {e}", path.display());
    }
}

#[test]
fn valid_corpus_and_samples_pass() {
    let mut files = yaml_files(&root().join("tests/policies/valid"));
    files.extend(yaml_files(&root().join("config/samples")));
    assert!(
        files.len() >= 5,
        "need at least 5 valid policies, have {}",
        files.len()
    );
    for f in files {
        check_valid(&f);
    }
}

#[test]
fn invalid_corpus_is_rejected_with_a_message_naming_the_field() {
    let files = yaml_files(&root().join("tests/policies/invalid"));
    assert!(
        files.len() >= 25,
        "need at least 25 invalid policies, have {}",
        files.len()
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks a `# expect:` first line", f.display()))
            .to_string();
        assert!(
            expect.starts_with("spec"),
            "{}: the expectation must name a spec field",
            f.display()
        );
        match parse_policy(&text, &f.display().to_string()) {
            Ok(_) => panic!("{} should be rejected ({expect})", f.display()),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&expect),
                    "{}: error does not name `{expect}`:\n{msg}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn schema_defaults_are_applied() {
    let v: Value = serde_yaml::from_str(
        "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: d}\nspec:\n  regions: [us-east-1]\n  kmsKey: {create: {alias: alias/x}}\n  s3: {bucketName: \"b-{region}\"}\n",
    )
    .unwrap();
    let out = validate_value(&v).unwrap();
    assert_eq!(out["spec"]["mode"], "Enforce");
    assert_eq!(out["spec"]["deletionPolicy"], "Retain");
    assert_eq!(out["spec"]["resyncInterval"], "5m");
    assert_eq!(out["spec"]["dataTypes"].as_array().unwrap().len(), 5);
    assert_eq!(out["spec"]["kmsKey"]["managePolicy"], true);
    assert_eq!(out["spec"]["kmsKey"]["create"]["rotation"], true);
    assert_eq!(out["spec"]["s3"]["create"], true);
}

#[test]
fn cel_rules_see_every_region_substituted() {
    // Valid for a short region, too long for a long one: the rule must check each region.
    let base = "apiVersion: bedrocklogging.io/v1alpha1\nkind: BedrockLoggingPolicy\nmetadata: {name: d}\nspec:\n  kmsKey: {create: {alias: alias/x}}\n  s3: {bucketName: \"bedrock-model-invocation-logs-archive-{accountId}-{region}\"}\n";
    let short: Value = serde_yaml::from_str(&format!("{base}  regions: [us-east-1]\n")).unwrap();
    assert!(validate_value(&short).is_ok());
    let long: Value =
        serde_yaml::from_str(&format!("{base}  regions: [us-east-1, ap-southeast-4]\n")).unwrap();
    let errs = validate_value(&long).unwrap_err();
    assert!(
        errs.iter().any(|e| e
            .message
            .contains("spec.s3.bucketName is not a valid S3 bucket name")),
        "{errs:?}"
    );
}

#[test]
fn cost_analysis_flags_unbounded_lists() {
    // Control: the same analysis does warn when a list has no maxItems bound.
    let node: Value = serde_json::json!({"type": "array", "items": {"type": "string"}});
    let warnings = analyze_rule(
        "self.all(r, self.exists_one(x, x == r))",
        &compile_schema(&node),
        ScopeContext::CrdValidation,
    );
    assert!(
        warnings.iter().any(|w| w.kind != WarningKind::WrongScope),
        "{warnings:?}"
    );
}
