# Who may do what:
#   GitHub Actions (OIDC, no stored keys): build-push from main pushes to the ECR repositories only;
#   terraform-plan (pull requests) reads, the state included, without taking its lock; terraform-apply (main,
#   behind the "production" environment) applies.
#   IRSA: video-svc and processor-svc reach only their prefixes of the media bucket; external-secrets reads
#   only framepipe/<env>/* in Secrets Manager; the cluster autoscaler resizes only this cluster's node groups;
#   the AWS Load Balancer Controller manages only the load balancers and security groups it tagged.
#   Every KMS grant holds only through the AWS service that uses the key (kms:ViaService).

locals {
  github_sub_prefix = "repo:${var.github_repository}"
  oidc_issuer       = var.cluster_oidc_issuer
  github_oidc_arn   = var.github_oidc_provider_arn != null ? var.github_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
  via_service = {
    s3             = "s3.${var.region}.amazonaws.com"
    ecr            = "ecr.${var.region}.amazonaws.com"
    secretsmanager = "secretsmanager.${var.region}.amazonaws.com"
  }
  # Service accounts with an IAM role: where they live and the statements of their inline policy.
  irsa = {
    video-svc = {
      namespace       = var.namespace
      service_account = "video-svc"
      statements = [
        {
          Effect   = "Allow"
          Action   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
          Resource = ["${var.bucket_arn}/${var.sources_prefix}*"]
        },
        {
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:DeleteObject"]
          Resource = ["${var.bucket_arn}/${var.results_prefix}*"]
        },
        {
          Effect   = "Allow"
          Action   = ["s3:ListBucket"]
          Resource = [var.bucket_arn]
        },
      ]
    }
    processor-svc = {
      namespace       = var.namespace
      service_account = "processor-svc"
      statements = [
        {
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["${var.bucket_arn}/${var.sources_prefix}*"]
        },
        {
          # Tagging: the receipt on a result ZIP (processor_svc/receipt.py), so a job run again does not write it twice.
          Effect   = "Allow"
          Action   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:PutObjectTagging", "s3:GetObjectTagging"]
          Resource = ["${var.bucket_arn}/${var.results_prefix}*"]
        },
        {
          # A long video's segments are removed once gathered into its ZIP (processor_svc/fanout.py); nothing else.
          Effect   = "Allow"
          Action   = ["s3:DeleteObject"]
          Resource = ["${var.bucket_arn}/${var.results_prefix}segments/*"]
        },
      ]
    }
  }
}

# One GitHub OIDC provider per account: pass the ARN of the one that exists (github_oidc_provider_arn) instead
# of creating a second, which AWS refuses.
resource "aws_iam_openid_connect_provider" "github" {
  count          = var.github_oidc_provider_arn == null ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

resource "aws_iam_role" "github" {
  for_each = {
    build-push      = "${local.github_sub_prefix}:ref:refs/heads/main"
    terraform-plan  = "${local.github_sub_prefix}:pull_request"
    terraform-apply = "${local.github_sub_prefix}:environment:production"
  }
  name                 = "${var.name}-github-${each.key}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.github_oidc_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = each.value
        }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "build_push" {
  name = "push-service-images"
  role = aws_iam_role.github["build-push"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
          "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload",
          "ecr:PutImage", "ecr:UploadLayerPart",
        ]
        Resource = var.ecr_repository_arns
      },
      {
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via_service.ecr } }
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "terraform_plan_read" {
  role       = aws_iam_role.github["terraform-plan"].name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

# Plans read the state without its lock (`terraform plan -lock=false` in terraform.yml): a pull request can
# never write, lock or delete the state. Only apply, from the protected environment, takes the lock and writes.
resource "aws_iam_role_policy" "terraform_state" {
  for_each = {
    terraform-plan  = ["s3:GetObject"]
    terraform-apply = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
  }
  name = "terraform-state"
  role = aws_iam_role.github[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = ["arn:aws:s3:::${var.state_bucket}"]
      },
      {
        Effect   = "Allow"
        Action   = each.value
        Resource = ["arn:aws:s3:::${var.state_bucket}/*"]
      },
    ]
  })
}

# Applying creates VPCs, clusters, roles and keys: only the protected environment can assume this role.
resource "aws_iam_role_policy_attachment" "terraform_apply_admin" {
  role       = aws_iam_role.github["terraform-apply"].name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_iam_role" "irsa" {
  for_each = merge(local.irsa, {
    external-secrets             = { namespace = var.namespace, service_account = "external-secrets-reader", statements = [] }
    cluster-autoscaler           = { namespace = "kube-system", service_account = "cluster-autoscaler", statements = [] }
    aws-load-balancer-controller = { namespace = "kube-system", service_account = "aws-load-balancer-controller", statements = [] }
  })
  name = "${var.name}-${each.key}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.cluster_oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.oidc_issuer}:aud" = "sts.amazonaws.com"
          "${local.oidc_issuer}:sub" = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
        }
      }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "irsa_s3" {
  for_each = local.irsa
  name     = "media-bucket"
  role     = aws_iam_role.irsa[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(each.value.statements, [{
      Effect    = "Allow"
      Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = [var.kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = local.via_service.s3 } }
    }])
  })
}

resource "aws_iam_role_policy" "external_secrets" {
  name = "read-app-secrets"
  role = aws_iam_role.irsa["external-secrets"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = ["arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:${var.secrets_prefix}*"]
      },
      {
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via_service.secretsmanager } }
      },
    ]
  })
}
