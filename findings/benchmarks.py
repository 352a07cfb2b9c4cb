"""The full control lists of the benchmarks the compliance view shows control by control.

A benchmark lists every control, whether or not a Cloustral rule judges it: the compliance view shows
an automatable control as pass / fail / not evaluated through the rules mapped to it (rule documents'
``compliance``), and a manual one as "manual", never as passed.

CIS Amazon Web Services Foundations Benchmark v3.0.0 (January 2024): ids, titles and assessment status
(Automated / Manual) from the benchmark's table of contents, cross-checked against two public mappings of
v3.0.0 (docs/coverage.md says which, and where they disagree). Check them against the published PDF
(https://www.cisecurity.org/benchmark/amazon_web_services) when the benchmark is revised.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    automated: bool  # CIS "Automated": the benchmark's audit can be scripted; else "Manual"
    section: str


@dataclass(frozen=True)
class Benchmark:
    framework: str  # the compliance key rules use, e.g. "cis-aws-3.0"
    provider: str  # the connections it judges
    controls: tuple[Control, ...]
    source: str

    def get(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)


_IAM = "1 Identity and Access Management"
_S3 = "2.1 Storage: Simple Storage Service (S3)"
_EC2 = "2.2 Storage: Elastic Compute Cloud (EC2)"
_RDS = "2.3 Storage: Relational Database Service (RDS)"
_EFS = "2.4 Storage: Elastic File System (EFS)"
_LOGGING = "3 Logging"
_MONITORING = "4 Monitoring"
_NETWORKING = "5 Networking"

A, M = True, False  # automated, manual

CIS_AWS_3_0 = Benchmark(
    framework="cis-aws-3.0",
    provider="aws",
    source="CIS Amazon Web Services Foundations Benchmark v3.0.0",
    controls=tuple(
        Control(id, title, automated, section)
        for section, rows in (
            (
                _IAM,
                (
                    ("1.1", "Maintain current contact details", M),
                    ("1.2", "Ensure security contact information is registered", M),
                    ("1.3", "Ensure security questions are registered in the AWS account", M),
                    ("1.4", "Ensure no 'root' user account access key exists", A),
                    ("1.5", "Ensure MFA is enabled for the 'root' user account", A),
                    ("1.6", "Ensure hardware MFA is enabled for the 'root' user account", M),
                    ("1.7", "Eliminate use of the 'root' user for administrative and daily tasks", M),
                    ("1.8", "Ensure IAM password policy requires minimum length of 14 or greater", A),
                    ("1.9", "Ensure IAM password policy prevents password reuse", A),
                    (
                        "1.10",
                        "Ensure multi-factor authentication (MFA) is enabled for all IAM users that have a console "
                        "password",
                        A,
                    ),
                    (
                        "1.11",
                        "Do not setup access keys during initial user setup for all IAM users that have a console "
                        "password",
                        M,
                    ),
                    ("1.12", "Ensure credentials unused for 45 days or greater are disabled", A),
                    ("1.13", "Ensure there is only one active access key available for any single IAM user", A),
                    ("1.14", "Ensure access keys are rotated every 90 days or less", A),
                    ("1.15", "Ensure IAM Users Receive Permissions Only Through Groups", A),
                    ("1.16", 'Ensure IAM policies that allow full "*:*" administrative privileges are not attached', A),
                    ("1.17", "Ensure a support role has been created to manage incidents with AWS Support", A),
                    ("1.18", "Ensure IAM instance roles are used for AWS resource access from instances", A),
                    ("1.19", "Ensure that all the expired SSL/TLS certificates stored in AWS IAM are removed", A),
                    ("1.20", "Ensure that IAM Access analyzer is enabled for all regions", A),
                    (
                        "1.21",
                        "Ensure IAM users are managed centrally via identity federation or AWS Organizations for "
                        "multi-account environments",
                        M,
                    ),
                    ("1.22", "Ensure access to AWSCloudShellFullAccess is restricted", M),
                ),
            ),
            (
                _S3,
                (
                    ("2.1.1", "Ensure S3 Bucket Policy is set to deny HTTP requests", A),
                    ("2.1.2", "Ensure MFA Delete is enabled on S3 buckets", M),
                    (
                        "2.1.3",
                        "Ensure all data in Amazon S3 has been discovered, classified and secured when required",
                        M,
                    ),
                    ("2.1.4", "Ensure that S3 Buckets are configured with 'Block public access (bucket settings)'", A),
                ),
            ),
            (_EC2, (("2.2.1", "Ensure EBS Volume Encryption is Enabled in all Regions", A),)),
            (
                _RDS,
                (
                    ("2.3.1", "Ensure that encryption-at-rest is enabled for RDS Instances", A),
                    ("2.3.2", "Ensure Auto Minor Version Upgrade feature is Enabled for RDS Instances", A),
                    ("2.3.3", "Ensure that public access is not given to RDS Instance", A),
                ),
            ),
            (_EFS, (("2.4.1", "Ensure that encryption is enabled for EFS file systems", A),)),
            (
                _LOGGING,
                (
                    ("3.1", "Ensure CloudTrail is enabled in all regions", A),
                    ("3.2", "Ensure CloudTrail log file validation is enabled", A),
                    ("3.3", "Ensure AWS Config is enabled in all regions", A),
                    ("3.4", "Ensure S3 bucket access logging is enabled on the CloudTrail S3 bucket", A),
                    ("3.5", "Ensure CloudTrail logs are encrypted at rest using KMS CMKs", A),
                    ("3.6", "Ensure rotation for customer-created symmetric CMKs is enabled", A),
                    ("3.7", "Ensure VPC flow logging is enabled in all VPCs", A),
                    ("3.8", "Ensure that Object-level logging for write events is enabled for S3 bucket", A),
                    ("3.9", "Ensure that Object-level logging for read events is enabled for S3 bucket", A),
                ),
            ),
            (
                _MONITORING,
                (
                    ("4.1", "Ensure unauthorized API calls are monitored", M),
                    ("4.2", "Ensure management console sign-in without MFA is monitored", M),
                    ("4.3", "Ensure usage of the 'root' account is monitored", M),
                    ("4.4", "Ensure IAM policy changes are monitored", M),
                    ("4.5", "Ensure CloudTrail configuration changes are monitored", M),
                    ("4.6", "Ensure AWS Management Console authentication failures are monitored", M),
                    ("4.7", "Ensure disabling or scheduled deletion of customer created CMKs is monitored", M),
                    ("4.8", "Ensure S3 bucket policy changes are monitored", M),
                    ("4.9", "Ensure AWS Config configuration changes are monitored", M),
                    ("4.10", "Ensure security group changes are monitored", M),
                    ("4.11", "Ensure Network Access Control Lists (NACL) changes are monitored", M),
                    ("4.12", "Ensure changes to network gateways are monitored", M),
                    ("4.13", "Ensure route table changes are monitored", M),
                    ("4.14", "Ensure VPC changes are monitored", M),
                    ("4.15", "Ensure AWS Organizations changes are monitored", M),
                    ("4.16", "Ensure AWS Security Hub is enabled", A),
                ),
            ),
            (
                _NETWORKING,
                (
                    (
                        "5.1",
                        "Ensure no Network ACLs allow ingress from 0.0.0.0/0 to remote server administration ports",
                        A,
                    ),
                    (
                        "5.2",
                        "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server administration ports",
                        A,
                    ),
                    (
                        "5.3",
                        "Ensure no security groups allow ingress from ::/0 to remote server administration ports",
                        A,
                    ),
                    ("5.4", "Ensure the default security group of every VPC restricts all traffic", A),
                    ("5.5", 'Ensure routing tables for VPC peering are "least access"', M),
                    ("5.6", "Ensure that EC2 Metadata Service only allows IMDSv2", A),
                ),
            ),
        )
        for id, title, automated in rows
    ),
)

# Frameworks whose every control the compliance view lists (the others list the controls rules map to).
BENCHMARKS: dict[str, Benchmark] = {CIS_AWS_3_0.framework: CIS_AWS_3_0}
