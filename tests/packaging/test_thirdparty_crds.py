"""The third-party CRDs in fixtures/thirdparty-crds are unchanged copies of the shared ones."""

from __future__ import annotations

import pytest

from conftest import SHARED_THIRDPARTY_CRDS, THIRDPARTY_CRDS, load_yaml_docs, thirdparty_crds, validate_k8s

FILES = [
    "openreports.io_clusterreports.yaml",
    "wgpolicyk8s.io_clusterpolicyreports.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
]


@pytest.mark.parametrize("name", FILES)
def test_copy_is_identical_to_the_shared_one(name):
    shared = SHARED_THIRDPARTY_CRDS / name
    if not shared.exists():
        pytest.skip(f"{SHARED_THIRDPARTY_CRDS} not present (set BLO_SHARED_CRDS to compare)")
    assert (THIRDPARTY_CRDS / name).read_bytes() == shared.read_bytes(), f"fixtures/thirdparty-crds/{name} differs"


@pytest.mark.parametrize("name", FILES)
def test_copy_is_a_valid_crd(name):
    (crd,) = load_yaml_docs((THIRDPARTY_CRDS / name).read_text(), name)
    validate_k8s(crd)


def test_the_served_versions_the_tests_rely_on():
    served = set(thirdparty_crds())
    assert {
        ("openreports.io/v1alpha1", "ClusterReport"),
        ("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    } <= served
