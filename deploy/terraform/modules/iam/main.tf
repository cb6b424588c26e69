# Who may do what:
#   GitHub Actions (OIDC, no stored keys): build-push from main pushes to the ECR repositories only;
#   terraform-plan (pull requests) reads; terraform-apply (main, behind the "production" environment) applies.
#   IRSA: video-svc and processor-svc reach only their prefixes of the media bucket; external-secrets reads
#   only framepipe/<env>/* in Secrets Manager.

locals {
  github_sub_prefix = "repo:${var.github_repository}"
  oidc_issuer       = var.cluster_oidc_issuer
  irsa = {
    video-svc = {
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
      ]
    }
  }
}

resource "aws_iam_openid_connect_provider" "github" {
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
      Principal = { Federated = aws_iam_openid_connect_provider.github.arn }
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
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "terraform_plan_read" {
  role       = aws_iam_role.github["terraform-plan"].name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}

# Plans take the state lock (a lock object next to the state), so they need to write the lock key.
resource "aws_iam_role_policy" "terraform_state" {
  for_each = toset(["terraform-plan", "terraform-apply"])
  name     = "terraform-state"
  role     = aws_iam_role.github[each.value].id
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
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
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
    external-secrets = { service_account = "external-secrets-reader", statements = [] }
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
          "${local.oidc_issuer}:sub" = "system:serviceaccount:${var.namespace}:${each.value.service_account}"
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
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
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
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      },
    ]
  })
}
