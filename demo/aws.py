"""A small, realistic AWS account for the demo, created in a moto server (scripts/demo starts one and
sets AWS_ENDPOINT_URL), plus the "Demo AWS" connection that scans it; and the "Demo Azure" connection to
the fake Azure scripts/demo starts (tests/fakes/azure_arm.py, seeded with a tenant, an app and two
subscriptions), whose principal it passes in DEMO_AZURE_TENANT_ID, DEMO_AZURE_CLIENT_ID,
DEMO_AZURE_CLIENT_SECRET and DEMO_AZURE_SUBSCRIPTIONS.

Never run against real clouds: ``seed_aws_account`` refuses unless AWS_ENDPOINT_URL points somewhere
else (tests call it inside moto's in-process mock with ``allow_real_endpoint=True``, where nothing
leaves the process), and ``azure_demo_principal`` is None unless AZURE_ARM_ENDPOINT points to a
local endpoint.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import boto3
from django.conf import settings
from django.db import transaction

from connections.models import CloudConnection, new_external_id

logger = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/CloustralReadOnly"
REGION = "us-east-1"
DEMO_REGIONS = ["us-east-1", "eu-west-1"]
MARKER_TAG = {"Key": "cloustral:demo", "Value": "true"}
CONNECTION_NAME = "Demo AWS"
ACCOUNT_ALIAS = "cloustral-demo"
AZURE_CONNECTION_NAME = "Demo Azure"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _tags(name: str, **extra: str) -> list[dict]:
    tags = [{"Key": "Name", "Value": name}, {"Key": "Environment", "Value": "demo"}, MARKER_TAG]
    return tags + [{"Key": k, "Value": v} for k, v in extra.items()]


def _spec(resource_type: str, name: str, **extra: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": _tags(name, **extra)}]


def already_seeded(session: boto3.Session, region: str = REGION) -> bool:
    ec2 = session.client("ec2", region_name=region)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": f"tag:{MARKER_TAG['Key']}", "Values": [MARKER_TAG["Value"]]}])
    return bool(vpcs["Vpcs"])


def seed_aws_account(session: boto3.Session | None = None, *, allow_real_endpoint: bool = False) -> bool:
    """Create the demo environment unless it is there already. Returns True when it created it."""
    if not allow_real_endpoint and not os.environ.get("AWS_ENDPOINT_URL"):
        raise RuntimeError("Refusing to seed demo resources without AWS_ENDPOINT_URL (a moto server).")
    session = session or boto3.Session(region_name=REGION)
    if already_seeded(session):
        return False
    _seed_network_and_compute(session, REGION)
    _seed_network_and_compute(session, "eu-west-1", small=True)
    _seed_global(session)
    _seed_account_settings(session)
    _seed_services(session)
    return True


def _seed_network_and_compute(session: boto3.Session, region: str, *, small: bool = False) -> None:
    ec2 = session.client("ec2", region_name=region)
    prefix = "demo" if not small else "demo-eu"
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_spec("vpc", f"{prefix}-vpc"))["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    public, private = [], []
    for i, zone in enumerate(zones):
        public.append(
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{i}.0/24",
                AvailabilityZone=zone,
                TagSpecifications=_spec("subnet", f"{prefix}-public-{zone[-1]}", Tier="public"),
            )["Subnet"]["SubnetId"]
        )
        private.append(
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{10 + i}.0/24",
                AvailabilityZone=zone,
                TagSpecifications=_spec("subnet", f"{prefix}-private-{zone[-1]}", Tier="private"),
            )["Subnet"]["SubnetId"]
        )
    for subnet in public:
        ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})

    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway", f"{prefix}-igw"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    public_rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec("route-table", f"{prefix}-public-rt"))
    public_rt_id = public_rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    for subnet in public:
        ec2.associate_route_table(RouteTableId=public_rt_id, SubnetId=subnet)

    nat_eip = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip", f"{prefix}-nat-ip"))
    nat = ec2.create_nat_gateway(
        SubnetId=public[0], AllocationId=nat_eip["AllocationId"], TagSpecifications=_spec("natgateway", f"{prefix}-nat")
    )["NatGateway"]["NatGatewayId"]
    private_rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=_spec("route-table", f"{prefix}-private-rt"))
    private_rt_id = private_rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=private_rt_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for subnet in private:
        ec2.associate_route_table(RouteTableId=private_rt_id, SubnetId=subnet)

    def security_group(name: str, description: str) -> str:
        return ec2.create_security_group(
            GroupName=name, Description=description, VpcId=vpc, TagSpecifications=_spec("security-group", name)
        )["GroupId"]

    web_sg = security_group(f"{prefix}-web", "HTTP and HTTPS from anywhere")
    ec2.authorize_security_group_ingress(
        GroupId=web_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in (80, 443)
        ],
    )
    ssh_sg = security_group(f"{prefix}-ssh-open", "SSH from anywhere (left over from debugging)")
    ec2.authorize_security_group_ingress(
        GroupId=ssh_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )
    db_sg = security_group(f"{prefix}-db", "PostgreSQL from the web tier")
    ec2.authorize_security_group_ingress(
        GroupId=db_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web_sg}]}
        ],
    )

    image = ec2.register_image(
        Name=f"{prefix}-golden-image",
        Architecture="x86_64",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        VirtualizationType="hvm",
    )["ImageId"]

    def instance(name: str, subnet: str, groups: list[str], instance_type: str = "t3.micro", **tags: str) -> str:
        return ec2.run_instances(
            ImageId=image,
            InstanceType=instance_type,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet,
            SecurityGroupIds=groups,
            TagSpecifications=_spec("instance", name, **tags),
        )["Instances"][0]["InstanceId"]

    web = [instance(f"{prefix}-web-{i + 1}", public[i % len(public)], [web_sg], Role="web") for i in range(2)]
    instances = list(web)
    if not small:
        instances.append(instance(f"{prefix}-bastion", public[0], [ssh_sg], Role="bastion"))
        instances.append(instance(f"{prefix}-app-1", private[0], [web_sg], "m5.large", Role="app"))

    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=_spec("elastic-ip", f"{prefix}-web-ip"))
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=web[0])

    data = ec2.create_volume(
        AvailabilityZone=zones[0],
        Size=50,
        VolumeType="gp3",
        Encrypted=True,
        TagSpecifications=_spec("volume", f"{prefix}-data"),
    )["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=web[0], Device="/dev/sdf")
    ec2.create_volume(
        AvailabilityZone=zones[0],
        Size=100,
        VolumeType="gp2",
        Encrypted=False,
        TagSpecifications=_spec("volume", f"{prefix}-orphaned-scratch"),
    )
    ec2.create_snapshot(
        VolumeId=data, Description="nightly backup", TagSpecifications=_spec("snapshot", f"{prefix}-data-backup")
    )

    if small:
        return
    elbv2 = session.client("elbv2", region_name=region)
    lb = elbv2.create_load_balancer(
        Name=f"{prefix}-alb",
        Subnets=public,
        SecurityGroups=[web_sg],
        Scheme="internet-facing",
        Type="application",
        Tags=[{"Key": "Name", "Value": f"{prefix}-alb"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name=f"{prefix}-web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance")
    tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": i} for i in web])
    elbv2.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
    )

    rds = session.client("rds", region_name=region)
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"{prefix}-db-subnets", DBSubnetGroupDescription="private subnets", SubnetIds=private
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{prefix}-postgres",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="app",
        MasterUserPassword="demo-only-not-a-secret",  # noqa: S106  (a simulated database)
        DBSubnetGroupName=f"{prefix}-db-subnets",
        VpcSecurityGroupIds=[db_sg],
        StorageEncrypted=False,
        BackupRetentionPeriod=1,
        MultiAZ=False,
        PubliclyAccessible=False,
    )

    kms = session.client("kms", region_name=region)
    key = kms.create_key(
        Description="demo application data", Tags=[{"TagKey": "Name", "TagValue": f"{prefix}-app-key"}]
    )
    kms.create_alias(AliasName="alias/demo-app", TargetKeyId=key["KeyMetadata"]["KeyId"])

    iam = session.client("iam", region_name=REGION)
    lambda_role = iam.create_role(
        RoleName="demo-lambda-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    session.client("lambda", region_name=region).create_function(
        FunctionName=f"{prefix}-thumbnailer",
        Runtime="python3.12",
        Role=lambda_role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"BUCKET": "demo-assets", "API_TOKEN": "not-shown-in-cloustral"}},
        VpcConfig={"SubnetIds": private, "SecurityGroupIds": [web_sg]},
        Tags={"Environment": "demo"},
    )


def _seed_global(session: boto3.Session) -> None:
    iam = session.client("iam")
    iam.create_account_alias(AccountAlias=ACCOUNT_ALIAS)  # what "Test connection" reads back
    s3 = session.client("s3", region_name=REGION)
    logs = f"demo-logs-{ACCOUNT_ID}"
    assets = f"demo-public-assets-{ACCOUNT_ID}"
    s3.create_bucket(Bucket=logs)
    s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=logs,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=logs,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.create_bucket(Bucket=assets, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=assets, Tagging={"TagSet": [{"Key": "Environment", "Value": "demo"}]})

    trail_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:*", "Resource": "*"}
        ],
    }
    s3.put_bucket_policy(Bucket=logs, Policy=json.dumps(trail_policy))
    session.client("cloudtrail", region_name=REGION).create_trail(
        Name="demo-trail", S3BucketName=logs, IsMultiRegionTrail=True
    )

    iam = session.client("iam", region_name=REGION)
    iam.create_role(
        RoleName="CloustralReadOnly",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="CloustralReadOnly",
        PolicyName="cloustral-read-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ec2:Describe*", "iam:Get*", "iam:List*", "s3:Get*"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    iam.create_role(
        RoleName="demo-app-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    policy = iam.create_policy(
        PolicyName="demo-deploy",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.create_group(GroupName="developers")
    iam.attach_group_policy(GroupName="developers", PolicyArn=policy)
    iam.create_user(UserName="deploy-bot")
    iam.add_user_to_group(GroupName="developers", UserName="deploy-bot")
    iam.create_access_key(UserName="deploy-bot")
    iam.create_user(UserName="ada")
    iam.create_login_profile(UserName="ada", Password="demo-Only-Password-1")  # noqa: S106  (simulated)
    iam.add_user_to_group(GroupName="developers", UserName="ada")
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True)


def _seed_account_settings(session: boto3.Session) -> None:
    """Account and region settings (aws.account.settings, aws.region.settings): the home region has its
    security services on and a security contact; eu-west-1 has none of it, so its absences are findings."""
    session.client("account", region_name=REGION).put_alternate_contact(
        AlternateContactType="SECURITY",
        Name="Security team",
        Title="On call",
        EmailAddress="security@example.com",
        PhoneNumber="+1-555-0100",
    )
    session.client("guardduty", region_name=REGION).create_detector(Enable=True)
    session.client("securityhub", region_name=REGION).enable_security_hub()
    config = session.client("config", region_name=REGION)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": f"demo-logs-{ACCOUNT_ID}"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")


def _seed_services(session: boto3.Session, region: str = REGION) -> None:
    """Containers, data stores, APIs, certificates, monitoring and the organization (the #19 types), in
    the home region's demo VPC: a few of each, some with the problems the rules look for."""
    ec2 = session.client("ec2", region_name=region)
    tagged = {"Name": f"tag:{MARKER_TAG['Key']}", "Values": [MARKER_TAG["Value"]]}
    vpc = ec2.describe_vpcs(Filters=[tagged, {"Name": "tag:Name", "Values": ["demo-vpc"]}])["Vpcs"][0]["VpcId"]
    in_vpc = {"Name": "vpc-id", "Values": [vpc]}
    subnets = ec2.describe_subnets(Filters=[in_vpc, {"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]
    private = sorted(s["SubnetId"] for s in subnets)
    groups = ec2.describe_security_groups(Filters=[in_vpc, {"Name": "group-name", "Values": ["demo-web"]}])
    web_sg = groups["SecurityGroups"][0]["GroupId"]
    demo_tags = [{"key": "Environment", "value": "demo"}]

    logs = session.client("logs", region_name=region)
    logs.create_log_group(logGroupName="/ecs/demo-api", tags={"Environment": "demo"})
    logs.put_retention_policy(logGroupName="/ecs/demo-api", retentionInDays=30)
    logs.create_log_group(logGroupName="/aws/lambda/demo-thumbnailer")  # never expires
    logs.put_metric_filter(
        logGroupName="/ecs/demo-api",
        filterName="demo-api-errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "ApiErrors", "metricNamespace": "Demo", "metricValue": "1"}],
    )
    topic = session.client("sns", region_name=region).create_topic(
        Name="demo-alerts", Tags=[{"Key": "Environment", "Value": "demo"}]
    )["TopicArn"]
    session.client("cloudwatch", region_name=region).put_metric_alarm(
        AlarmName="demo-api-errors",
        Namespace="Demo",
        MetricName="ApiErrors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
    )

    ecs = session.client("ecs", region_name=region)
    ecs.create_cluster(clusterName="demo-apps", tags=demo_tags)
    ecs.register_task_definition(
        family="demo-api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "api",
                "image": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/demo-api:1.4.2",
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/demo-api", "awslogs-region": region},
                },
            }
        ],
        tags=demo_tags,
    )
    ecs.create_service(
        cluster="demo-apps",
        serviceName="demo-api",
        taskDefinition="demo-api",
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": private, "securityGroups": [web_sg], "assignPublicIp": "DISABLED"}
        },
        tags=demo_tags,
    )
    session.client("ecr", region_name=region).create_repository(
        repositoryName="demo-api",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "Environment", "Value": "demo"}],
    )
    eks = session.client("eks", region_name=region)
    eks.create_cluster(
        name="demo-k8s",
        version="1.31",
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/demo-eks",
        resourcesVpcConfig={"subnetIds": private, "endpointPublicAccess": True},
        logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        tags={"Environment": "demo"},
    )
    eks.create_nodegroup(
        clusterName="demo-k8s",
        nodegroupName="demo-workers",
        subnets=private,
        nodeRole=f"arn:aws:iam::{ACCOUNT_ID}:role/demo-eks-nodes",
        scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2},
    )

    session.client("dynamodb", region_name=region).create_table(
        TableName="demo-orders",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        Tags=[{"Key": "Environment", "Value": "demo"}],
    )
    sqs = session.client("sqs", region_name=region)
    dlq = sqs.create_queue(QueueName="demo-jobs-dlq", Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName="demo-jobs",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
        tags={"Environment": "demo"},
    )
    session.client("secretsmanager", region_name=region).create_secret(
        Name="demo/db-password",
        SecretString="demo-only-not-a-secret",  # noqa: S106  (a simulated secret; Cloustral never reads it)
        Tags=[{"Key": "Environment", "Value": "demo"}],
    )
    efs = session.client("efs", region_name=region)
    shared = efs.create_file_system(
        CreationToken="demo-shared", Encrypted=True, Tags=[{"Key": "Name", "Value": "demo-shared"}]
    )["FileSystemId"]
    efs.create_mount_target(FileSystemId=shared, SubnetId=private[0], SecurityGroups=[web_sg])
    efs.create_access_point(
        FileSystemId=shared,
        PosixUser={"Uid": 1000, "Gid": 1000},
        RootDirectory={"Path": "/uploads"},
        Tags=[{"Key": "Name", "Value": "demo-uploads"}],
    )
    session.client("elasticache", region_name=region).create_replication_group(
        ReplicationGroupId="demo-sessions",
        ReplicationGroupDescription="web sessions",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        AutomaticFailoverEnabled=True,
    )
    session.client("acm", region_name=region).request_certificate(
        DomainName="demo.example.com", ValidationMethod="DNS", Tags=[{"Key": "Environment", "Value": "demo"}]
    )

    images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["demo-golden-image"]}])
    image = images["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="demo-web",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "SecurityGroupIds": [web_sg],
            "MetadataOptions": {"HttpTokens": "optional"},  # IMDSv1 still allowed: a finding
        },
        TagSpecifications=_spec("launch-template", "demo-web"),
    )["LaunchTemplate"]["LaunchTemplateId"]
    session.client("autoscaling", region_name=region).create_auto_scaling_group(
        AutoScalingGroupName="demo-web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Default"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        VPCZoneIdentifier=",".join(private),
        Tags=[{"Key": "Environment", "Value": "demo", "PropagateAtLaunch": True}],
    )

    apigateway = session.client("apigateway", region_name=region)
    api = apigateway.create_rest_api(name="demo-api", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api, stageName="prod")
    http = session.client("apigatewayv2", region_name=region)
    http_api = http.create_api(Name="demo-webhooks", ProtocolType="HTTP")["ApiId"]
    http.create_route(ApiId=http_api, RouteKey="POST /hooks", AuthorizationType="AWS_IAM")
    http.create_stage(ApiId=http_api, StageName="$default", AutoDeploy=True)

    organizations = session.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    organizations.create_account(Email="sandbox@example.com", AccountName="demo-sandbox")
    organizations.create_policy(
        Name="demo-deny-leave",
        Description="Accounts may not leave the organization",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
            }
        ),
    )


def ensure_demo_connection(org, user=None) -> CloudConnection:
    """The verified role connection to the simulated account (created once). Raises ConnectionCheckError
    when the simulated account cannot be reached."""
    from connections import actions

    connection = CloudConnection.objects.for_org(org).filter(name=CONNECTION_NAME).first()
    if connection is None:
        connection = CloudConnection(
            org=org,
            name=CONNECTION_NAME,
            provider=CloudConnection.Provider.AWS,
            auth_method=CloudConnection.AuthMethod.AWS_ROLE,
            role_arn=ROLE_ARN,
            external_id=new_external_id(),
            created_by=user,
        )
    # Verified the way every connection is: the real check (AssumeRole, identity, alias, regions), so
    # "Test connection" later reads back the same values and "Last checked" is set.
    connection.selected_regions = DEMO_REGIONS
    actions.apply_check(connection, actions.run_check(connection))
    connection.selected_regions = [r for r in DEMO_REGIONS if r in connection.enabled_regions]  # a quick scan
    connection.enabled = True
    with transaction.atomic():
        connection.save()
    return connection


def sync_demo_connection(connection: CloudConnection):
    """Scan the demo connection now, in this process (the demo runs Celery eagerly anyway)."""
    from inventory import actions, sync

    sync.reap_stale_runs()
    run, _started = actions.do_start_sync(connection, enqueue=False)
    return sync.run_sync(run.pk)


# --- Azure -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AzureDemoPrincipal:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    subscription_ids: tuple[str, ...] = ()


def azure_demo_principal() -> AzureDemoPrincipal | None:
    """The fake Azure's demo service principal, as scripts/demo passes it; None when the demo runs
    without the fake (or Resource Manager is not a local endpoint: the demo never touches real Azure)."""
    tenant_id = os.environ.get("DEMO_AZURE_TENANT_ID", "").strip()
    arm = getattr(settings, "AZURE_ARM_ENDPOINT", None) or ""
    if not tenant_id or urlsplit(arm).hostname not in LOCAL_HOSTS:
        return None
    subscriptions = os.environ.get("DEMO_AZURE_SUBSCRIPTIONS", "").replace(" ", "").split(",")
    return AzureDemoPrincipal(
        tenant_id=tenant_id,
        client_id=os.environ.get("DEMO_AZURE_CLIENT_ID", "").strip(),
        client_secret=os.environ.get("DEMO_AZURE_CLIENT_SECRET", ""),
        subscription_ids=tuple(sid for sid in subscriptions if sid),
    )


def ensure_demo_azure_connection(org, principal: AzureDemoPrincipal, user=None) -> CloudConnection:
    """The service-principal connection to the fake's demo tenant (created once), tested like any
    connection: the check signs in and names the subscriptions. Raises ConnectionCheckError."""
    from connections import actions, credentials

    connection = CloudConnection.objects.for_org(org).filter(name=AZURE_CONNECTION_NAME).first()
    if connection is None:
        connection = CloudConnection(
            org=org,
            name=AZURE_CONNECTION_NAME,
            provider=CloudConnection.Provider.AZURE,
            auth_method=CloudConnection.AuthMethod.AZURE_SP,
            created_by=user,
        )
    connection.azure_cloud = CloudConnection.AzureCloud.PUBLIC
    connection.tenant_id = principal.tenant_id
    connection.client_id = principal.client_id
    connection.subscriptions = [{"id": sid, "name": "", "state": ""} for sid in principal.subscription_ids]
    credentials.store_secret(connection, {"client_secret": principal.client_secret})
    actions.apply_check(connection, actions.run_check(connection))
    connection.enabled = True
    with transaction.atomic():
        connection.save()
    return connection
