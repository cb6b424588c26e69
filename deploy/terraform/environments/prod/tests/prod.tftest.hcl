# Properties of the production stack that must never regress, checked offline against a mocked AWS
# provider: `terraform test` in this directory (deploy/scripts/validate.sh runs it).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  # The provider checks ARN syntax even against mocks, so resources whose ARN feeds another get a real one.
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
    }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn = "arn:aws:ecr:eu-west-1:123456789012:repository/mock"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::mock"
    }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      identity = [{ oidc = [{ issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" }] }]
    }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    }
  }
  mock_resource "aws_launch_template" {
    defaults = {
      id             = "lt-0123456789abcdef0"
      latest_version = 1
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      master_user_secret = [{ secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-master", kms_key_id = "key", secret_status = "active" }]
    }
  }
}

variables {
  media_bucket_name = "framepipe-test-media"
  state_bucket      = "framepipe-test-state"
  github_repository = "framepipe/framepipe"
}

run "images_are_immutable_and_scanned" {
  command = plan

  module {
    source = "../../modules/ecr"
  }

  variables {
    prefix       = "framepipe"
    repositories = ["auth_svc", "video_svc", "notify_svc", "webhook_svc", "processor_svc", "webapp"]
    kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  assert {
    condition     = length(aws_ecr_repository.this) == 6
    error_message = "One ECR repository per image."
  }
  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.image_tag_mutability == "IMMUTABLE"])
    error_message = "Image tags must be immutable: a tag is a commit SHA."
  }
  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.image_scanning_configuration[0].scan_on_push])
    error_message = "Every pushed image must be scanned."
  }
}

run "media_bucket_is_private_encrypted_and_expires_objects" {
  command = apply

  module {
    source = "../../modules/s3"
  }

  variables {
    bucket_name = "framepipe-test-media"
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every kind of public access to the media bucket must be blocked."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled on the media bucket."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "The media bucket must be encrypted with KMS."
  }
  assert {
    condition     = toset([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id if length(r.expiration) > 0 && r.expiration[0].days != null && r.expiration[0].days > 0]) == toset(["expire-sources", "expire-results"])
    error_message = "Sources and results must both expire."
  }
}

run "database_is_private_encrypted_and_backed_up" {
  command = plan

  module {
    source = "../../modules/rds"
  }

  variables {
    name                       = "framepipe-test"
    vpc_id                     = "vpc-0123456789abcdef0"
    private_subnet_ids         = ["subnet-a", "subnet-b"]
    allowed_security_group_ids = ["sg-0123456789abcdef0"]
    kms_key_arn                = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "The database must not be publicly accessible."
  }
  assert {
    condition     = aws_db_instance.this.storage_encrypted
    error_message = "The database storage must be encrypted."
  }
  assert {
    condition     = aws_db_instance.this.backup_retention_period >= 7
    error_message = "At least 7 days of backups."
  }
  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot
    error_message = "The database must be protected from deletion and leave a final snapshot."
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password
    error_message = "The master password must be generated and kept by RDS, never in state or tfvars."
  }
  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "Connections must use TLS."
  }
  assert {
    condition     = aws_db_instance.this.auto_minor_version_upgrade && !strcontains(aws_db_instance.this.engine_version, ".")
    error_message = "With automatic minor upgrades the engine version must be the major only, or every later plan tries to downgrade."
  }
}

run "cluster_is_private_encrypted_and_audited" {
  command = plan

  module {
    source = "../../modules/eks"
  }

  variables {
    name               = "framepipe-test"
    private_subnet_ids = ["subnet-a", "subnet-b"]
    kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access == false
    error_message = "With no public_access_cidrs the API endpoint must be private."
  }
  assert {
    condition     = contains(aws_eks_cluster.this.enabled_cluster_log_types, "audit")
    error_message = "Audit logs must be on."
  }
  assert {
    condition     = aws_eks_cluster.this.access_config[0].authentication_mode == "API"
    error_message = "Cluster access goes through access entries only."
  }
  assert {
    condition     = jsondecode(aws_eks_addon.vpc_cni.configuration_values).enableNetworkPolicy == "true"
    error_message = "The VPC CNI must enforce NetworkPolicies."
  }
}

run "public_endpoint_only_for_listed_addresses" {
  command = plan

  module {
    source = "../../modules/eks"
  }

  variables {
    name                = "framepipe-test"
    private_subnet_ids  = ["subnet-a", "subnet-b"]
    kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/test"
    public_access_cidrs = ["203.0.113.0/24"]
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].public_access_cidrs == toset(["203.0.113.0/24"])
    error_message = "The public endpoint must be limited to the listed addresses."
  }
}

run "irsa_roles_trust_exactly_their_service_accounts" {
  command = apply

  module {
    source = "../../modules/iam"
  }

  variables {
    name                      = "framepipe-test"
    region                    = "eu-west-1"
    account_id                = "123456789012"
    state_bucket              = "framepipe-test-state"
    ecr_repository_arns       = ["arn:aws:ecr:eu-west-1:123456789012:repository/framepipe/auth_svc"]
    cluster_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    cluster_oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    bucket_arn                = "arn:aws:s3:::framepipe-test-media"
    kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
    secrets_prefix            = "framepipe/test/"
    cluster_name              = "framepipe-test"
  }

  assert {
    condition     = jsondecode(aws_iam_role.irsa["video-svc"].assume_role_policy).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"] == "system:serviceaccount:video-system:video-svc"
    error_message = "video-svc's role must be assumable only by the video-svc service account."
  }
  assert {
    condition     = jsondecode(aws_iam_role.irsa["processor-svc"].assume_role_policy).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"] == "system:serviceaccount:video-system:processor-svc"
    error_message = "processor-svc's role must be assumable only by the processor-svc service account."
  }
  assert {
    condition = alltrue([
      for statement in jsondecode(aws_iam_role_policy.irsa_s3["processor-svc"].policy).Statement :
      !contains(flatten([statement.Action]), "s3:DeleteObject") || flatten([statement.Resource]) == ["arn:aws:s3:::framepipe-test-media/results/segments/*"]
    ])
    error_message = "The processor deletes only a long video's segment parts (results/segments/*), never sources or ZIPs."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.irsa_s3["processor-svc"].policy, "s3:ListBucket")
    error_message = "The processor lists nothing: its readiness check reads its own object instead (servicekit/storage.py)."
  }
  assert {
    condition     = jsondecode(aws_iam_role.irsa["cluster-autoscaler"].assume_role_policy).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"] == "system:serviceaccount:kube-system:cluster-autoscaler"
    error_message = "The cluster autoscaler's role must be assumable only by its service account in kube-system."
  }
  assert {
    condition     = jsondecode(aws_iam_role.irsa["aws-load-balancer-controller"].assume_role_policy).Statement[0].Condition.StringEquals["oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"] == "system:serviceaccount:kube-system:aws-load-balancer-controller"
    error_message = "The load balancer controller's role must be assumable only by its service account in kube-system."
  }
  assert {
    condition     = one([for st in jsondecode(aws_iam_role_policy.cluster_autoscaler.policy).Statement : st.Condition.StringEquals["aws:ResourceTag/k8s.io/cluster-autoscaler/framepipe-test"] if st.Sid == "ResizeOwnGroups"]) == "owned"
    error_message = "The cluster autoscaler may resize only this cluster's node groups."
  }
}

run "kms_grants_hold_only_through_the_service_that_uses_the_key" {
  command = apply

  module {
    source = "../../modules/iam"
  }

  variables {
    name                      = "framepipe-test"
    region                    = "eu-west-1"
    account_id                = "123456789012"
    state_bucket              = "framepipe-test-state"
    ecr_repository_arns       = ["arn:aws:ecr:eu-west-1:123456789012:repository/framepipe/auth_svc"]
    cluster_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    cluster_oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    bucket_arn                = "arn:aws:s3:::framepipe-test-media"
    kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
    secrets_prefix            = "framepipe/test/"
    cluster_name              = "framepipe-test"
  }

  assert {
    condition = alltrue(flatten([
      for policy in concat(
        [for p in aws_iam_role_policy.irsa_s3 : p.policy],
        [aws_iam_role_policy.external_secrets.policy, aws_iam_role_policy.build_push.policy],
        ) : [
        for st in jsondecode(policy).Statement : can(st.Condition.StringEquals["kms:ViaService"])
        if length([for a in flatten([st.Action]) : a if startswith(a, "kms:")]) > 0
      ]
    ]))
    error_message = "Every KMS permission must carry a kms:ViaService condition."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.external_secrets.policy).Statement[1].Condition.StringEquals["kms:ViaService"] == "secretsmanager.eu-west-1.amazonaws.com"
    error_message = "External Secrets may decrypt only through Secrets Manager."
  }
}

run "pull_request_plans_cannot_write_or_lock_the_state" {
  command = apply

  module {
    source = "../../modules/iam"
  }

  variables {
    name                      = "framepipe-test"
    region                    = "eu-west-1"
    account_id                = "123456789012"
    state_bucket              = "framepipe-test-state"
    ecr_repository_arns       = ["arn:aws:ecr:eu-west-1:123456789012:repository/framepipe/auth_svc"]
    cluster_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    cluster_oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    bucket_arn                = "arn:aws:s3:::framepipe-test-media"
    kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
    secrets_prefix            = "framepipe/test/"
    cluster_name              = "framepipe-test"
  }

  assert {
    condition     = !strcontains(aws_iam_role_policy.terraform_state["terraform-plan"].policy, "s3:PutObject") && !strcontains(aws_iam_role_policy.terraform_state["terraform-plan"].policy, "s3:DeleteObject")
    error_message = "The plan role must not write or delete the state (nor its lock object)."
  }
  assert {
    condition     = strcontains(aws_iam_role_policy.terraform_state["terraform-apply"].policy, "s3:PutObject")
    error_message = "The apply role writes the state."
  }
}

run "an_existing_github_oidc_provider_is_reused" {
  command = apply

  module {
    source = "../../modules/iam"
  }

  variables {
    name                      = "framepipe-test"
    region                    = "eu-west-1"
    account_id                = "123456789012"
    state_bucket              = "framepipe-test-state"
    ecr_repository_arns       = ["arn:aws:ecr:eu-west-1:123456789012:repository/framepipe/auth_svc"]
    cluster_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    cluster_oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    bucket_arn                = "arn:aws:s3:::framepipe-test-media"
    kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
    secrets_prefix            = "framepipe/test/"
    cluster_name              = "framepipe-test"
    github_oidc_provider_arn  = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0
    error_message = "A second GitHub OIDC provider must not be created when one exists."
  }
  assert {
    condition     = jsondecode(aws_iam_role.github["build-push"].assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    error_message = "The CI roles must trust the existing provider."
  }
}

run "nodes_allow_only_imdsv2_from_the_node_itself" {
  command = plan

  module {
    source = "../../modules/eks"
  }

  variables {
    name               = "framepipe-test"
    private_subnet_ids = ["subnet-a", "subnet-b"]
    kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/test"
  }

  assert {
    condition     = aws_launch_template.nodes.metadata_options[0].http_tokens == "required" && aws_launch_template.nodes.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "Nodes must require IMDSv2 tokens with a hop limit of 1, so pods cannot reach the node role's credentials."
  }
  assert {
    condition     = alltrue([for g in aws_eks_node_group.this : length(g.launch_template) == 1])
    error_message = "Every node group must use the launch template."
  }
  assert {
    condition     = one(aws_launch_template.nodes.block_device_mappings[0].ebs).encrypted == "true"
    error_message = "Node volumes must be encrypted."
  }
  assert {
    condition     = one(aws_eks_node_group.this["processors"].taint).effect == "NO_SCHEDULE" && aws_eks_node_group.this["processors"].labels["framepipe.io/pool"] == "processors"
    error_message = "The processor node group must be labelled and tainted for the processors alone."
  }
}

run "ci_roles_trust_only_this_repository" {
  command = apply

  module {
    source = "../../modules/iam"
  }

  variables {
    name                      = "framepipe-test"
    region                    = "eu-west-1"
    account_id                = "123456789012"
    state_bucket              = "framepipe-test-state"
    ecr_repository_arns       = ["arn:aws:ecr:eu-west-1:123456789012:repository/framepipe/auth_svc"]
    cluster_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    cluster_oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    bucket_arn                = "arn:aws:s3:::framepipe-test-media"
    kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
    secrets_prefix            = "framepipe/test/"
    cluster_name              = "framepipe-test"
  }

  assert {
    condition     = jsondecode(aws_iam_role.github["build-push"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == "repo:framepipe/framepipe:ref:refs/heads/main"
    error_message = "Only the main branch may push images."
  }
  assert {
    condition     = jsondecode(aws_iam_role.github["terraform-apply"].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == "repo:framepipe/framepipe:environment:production"
    error_message = "Only the protected production environment may apply."
  }
}

# The whole environment, applied against the mock: the modules fit together and every role the prod
# overlay and the workflows refer to exists.
run "whole_environment_applies" {
  command = apply

  assert {
    condition     = toset(keys(output.irsa_role_arns)) == toset(["video-svc", "processor-svc", "external-secrets", "cluster-autoscaler", "aws-load-balancer-controller"])
    error_message = "The prod overlay and the add-ons annotate exactly these service accounts."
  }
  assert {
    condition     = toset(keys(output.github_role_arns)) == toset(["build-push", "terraform-plan", "terraform-apply"])
    error_message = "The workflows assume exactly these roles."
  }
  assert {
    condition     = toset(keys(output.ecr_repository_urls)) == toset(["auth_svc", "video_svc", "notify_svc", "webhook_svc", "processor_svc", "webapp"])
    error_message = "One repository per service image."
  }
}
