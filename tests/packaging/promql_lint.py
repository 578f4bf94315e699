"""A small PromQL lexer for the packaging tests: which metrics and labels an expression names.

Syntax is checked by Prometheus' own parser (`promtool check rules`, see test_alerts.py and
test_dashboard.py); this module only answers "does every name exist", against
docs/metrics.txt (families and types) and docs/metrics.md (label sets).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
METRICS_TXT = DOCS_DIR / "metrics.txt"
METRICS_MD = DOCS_DIR / "metrics.md"

METRIC_TYPES = {"counter", "gauge", "histogram"}
FAMILY_RE = re.compile(r"^bedrock_logging_[a-z][a-z0-9_]*$")
LABEL_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

# Labels Prometheus attaches to every scraped series (job/instance always; the rest come from
# the Prometheus Operator's ServiceMonitor discovery).
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "container", "endpoint"})
# Series Prometheus synthesises itself; their labels are the target labels.
PROMETHEUS_SERIES = {"up": frozenset()}

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"} | AGGREGATIONS | GROUPING

GRAFANA_SUBSTITUTIONS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1d",
    "${__rate_interval}": "5m",
    "${__interval}": "1m",
    "${__range}": "1d",
}
GRAFANA_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


# ------------------------------------------------------------------ what the binary exports


@functools.lru_cache(maxsize=None)
def families() -> dict[str, str]:
    """docs/metrics.txt: family name -> type."""
    out: dict[str, str] = {}
    for n, line in enumerate(METRICS_TXT.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        assert len(parts) == 2, f"docs/metrics.txt:{n}: expected `<name> <type>`, got {line!r}"
        name, kind = parts
        assert FAMILY_RE.match(name), f"docs/metrics.txt:{n}: bad family name {name!r}"
        assert kind in METRIC_TYPES, f"docs/metrics.txt:{n}: unknown type {kind!r}"
        assert name not in out, f"docs/metrics.txt:{n}: {name} listed twice"
        assert not (kind == "counter" and name.endswith("_total")), (
            f"docs/metrics.txt:{n}: list the counter family ({name[:-6]}), as in `# TYPE`, not the sample"
        )
        out[name] = kind
    return out


@functools.lru_cache(maxsize=None)
def documented_labels() -> dict[str, frozenset[str]]:
    """docs/metrics.md "Families" table: family name -> its own labels."""
    out: dict[str, frozenset[str]] = {}
    row = re.compile(r"^\|\s*`(bedrock_logging_[a-z0-9_]+)`\s*\|\s*([a-z]+)\s*\|([^|]*)\|")
    for line in METRICS_MD.read_text().splitlines():
        m = row.match(line)
        if not m:
            continue
        name, kind, labels = m.group(1), m.group(2), m.group(3).strip()
        assert kind == families().get(name), f"docs/metrics.md: {name} is a {kind}, metrics.txt says {families().get(name)}"
        names = re.findall(r"`([^`]+)`", labels)
        assert labels in ("—", "-") or names, f"docs/metrics.md: labels of {name}: {labels!r}"
        for label in names:
            assert LABEL_RE.match(label), f"docs/metrics.md: bad label {label!r} of {name}"
        out[name] = frozenset(names)
    return out


def samples() -> dict[str, tuple[str, frozenset[str]]]:
    """Sample (series) name -> (family, labels it may carry besides the target labels)."""
    out: dict[str, tuple[str, frozenset[str]]] = {}
    labels = documented_labels()
    for name, kind in families().items():
        own = labels.get(name, frozenset())
        if kind == "counter":
            out[f"{name}_total"] = (name, own)
        elif kind == "histogram":
            out[f"{name}_bucket"] = (name, own | {"le"})
            out[f"{name}_sum"] = (name, own)
            out[f"{name}_count"] = (name, own)
        else:
            out[name] = (name, own)
    for name, own in PROMETHEUS_SERIES.items():
        out[name] = (name, own)
    return out


# ---------------------------------------------------------------------------- lexer


@dataclass
class Selector:
    metric: str | None  # None for a bare `{...}` selector
    labels: list[str] = field(default_factory=list)


@dataclass
class Names:
    selectors: list[Selector] = field(default_factory=list)
    grouping: list[str] = field(default_factory=list)  # by/without/on/ignoring/group_x labels
    functions: list[str] = field(default_factory=list)


_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)[A-Za-z0-9_.]*")


def _skip_string(expr: str, i: int) -> int:
    quote = expr[i]
    i += 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {expr!r}")


def _matchers(body: str) -> list[str]:
    """Label names of the matchers inside `{...}`."""
    labels = []
    i = 0
    while i < len(body):
        c = body[i]
        if c in "\"'`":
            i = _skip_string(body, i)
        elif c.isspace() or c == ",":
            i += 1
        else:
            m = _IDENT.match(body, i)
            if not m:
                raise ValueError(f"cannot read the label matchers {{{body}}}")
            labels.append(m.group())
            i = m.end()
            op = re.match(r"\s*(=~|!~|!=|=)\s*", body[i:])
            if not op:
                raise ValueError(f"matcher without operator in {{{body}}}")
            i += op.end()
            if i >= len(body) or body[i] not in "\"'`":
                raise ValueError(f"matcher value is not a string in {{{body}}}")
            i = _skip_string(body, i)
    return labels


def _closing(expr: str, i: int, open_c: str, close_c: str) -> int:
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {open_c}{close_c} in {expr!r}")


def names_in(expr: str) -> Names:
    """Metric selectors, grouping labels and functions an expression uses."""
    out = Names()
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "#":  # comment to end of line
            nl = expr.find("\n", i)
            i = len(expr) if nl < 0 else nl
        elif c == "[":  # range or subquery: durations only
            i = _closing(expr, i, "[", "]") + 1
        elif c == "{":
            end = _closing(expr, i, "{", "}")
            out.selectors.append(Selector(None, _matchers(expr[i + 1:end])))
            i = end + 1
        elif c.isdigit() or (c == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            i = _NUMBER.match(expr, i).end()
        elif _IDENT.match(expr, i):
            word = _IDENT.match(expr, i).group()
            j = i + len(word)
            while j < len(expr) and expr[j].isspace():
                j += 1
            nxt = expr[j] if j < len(expr) else ""
            if word in GROUPING:
                if nxt == "(":
                    end = _closing(expr, j, "(", ")")
                    out.grouping += [x.strip() for x in expr[j + 1:end].split(",") if x.strip()]
                    i = end + 1
                else:
                    i = j
            elif word.lower() in KEYWORDS:
                i = j
            elif nxt == "(":
                out.functions.append(word)
                i = j
            else:
                sel = Selector(word)
                if nxt == "{":
                    end = _closing(expr, j, "{", "}")
                    sel.labels = _matchers(expr[j + 1:end])
                    i = end + 1
                else:
                    i = j
                out.selectors.append(sel)
        else:
            i += 1
    return out


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's template variables so Prometheus can parse the expression."""
    for var, value in GRAFANA_SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    return GRAFANA_VAR_RE.sub(".*", expr)


# ----------------------------------------------------------------------- the check


def problems(expr: str) -> list[str]:
    """Why `expr` names something the binary does not export ([] when all is well)."""
    try:
        found = names_in(expr)
    except ValueError as e:
        return [str(e)]
    known = samples()
    out = []
    allowed_grouping = set(TARGET_LABELS)
    if not found.selectors:
        out.append("names no metric")
    for sel in found.selectors:
        if sel.metric is None:
            out.append(f"bare selector {{{', '.join(sel.labels)}}}: name the metric")
            continue
        if sel.metric not in known:
            hint = ""
            if sel.metric in families():
                hint = f" (a {families()[sel.metric]} family: use its sample names)"
            out.append(f"unknown metric {sel.metric!r}{hint}")
            continue
        family, own = known[sel.metric]
        allowed_grouping |= own
        for label in sel.labels:
            if label == "__name__":
                out.append(f"{sel.metric}: select by name, not by __name__")
            elif label not in own | TARGET_LABELS:
                out.append(f"{sel.metric}: unknown label {label!r} (has {sorted(own)})")
    for label in found.grouping:
        if label not in allowed_grouping:
            out.append(f"grouping by {label!r}, a label none of the selected metrics has")
    return out


def label_values_query(query: str) -> tuple[str, str]:
    """Split a Grafana `label_values(selector, label)` variable query."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query, re.S)
    assert m, f"not a label_values(selector, label) query: {query!r}"
    return m.group(1), m.group(2)
