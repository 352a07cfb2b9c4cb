"""The CIS AWS Foundations v3.0.0 entries corrected after checking the control list against public
mappings of v3.0.0 (docs/coverage.md): each would silently regress to the wrong edition's wording or
assessment status otherwise."""

from __future__ import annotations

from findings.benchmarks import CIS_AWS_3_0


def test_corrected_title_and_statuses():
    controls = {c.id: c for c in CIS_AWS_3_0.controls}
    assert controls["3.4"].title == "Ensure S3 bucket access logging is enabled on the CloudTrail S3 bucket"
    assert controls["1.18"].automated  # an instance without a role: the rule mapped to it judges it
    assert controls["2.4.1"].automated  # EFS encryption at rest
    # Manual in v3.0.0 whatever older editions said.
    assert not any(controls[c].automated for c in ("1.6", "1.7", "1.11", "2.1.2", "2.1.3", "5.5"))
