# framepipe in one AWS account and region: network, EKS, ECR, RDS, the media bucket and the IAM roles.
# Everything inside the cluster (the services, External Secrets, the load balancer controller, Argo CD)
# is deployed from git by Argo CD, not from here.

data "aws_caller_identity" "current" {}

locals {
  name   = "framepipe-${var.environment}"
  images = ["auth_svc", "video_svc", "notify_svc", "webhook_svc", "processor_svc", "webapp"]
  tags = {
    project     = "framepipe"
    environment = var.environment
    managed-by  = "terraform"
  }
}

# One customer-managed key for this environment's data at rest; CloudWatch Logs must be allowed to use it.
resource "aws_kms_key" "main" {
  description             = "${local.name} data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${var.region}:${data.aws_caller_identity.current.account_id}:*"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

module "vpc" {
  source             = "../../modules/vpc"
  name               = local.name
  region             = var.region
  cidr               = var.vpc_cidr
  azs                = var.azs
  cluster_name       = local.name
  single_nat_gateway = var.single_nat_gateway
  log_kms_key_arn    = aws_kms_key.main.arn
  tags               = local.tags
}

module "eks" {
  source              = "../../modules/eks"
  name                = local.name
  kubernetes_version  = var.kubernetes_version
  private_subnet_ids  = module.vpc.private_subnet_ids
  public_access_cidrs = var.cluster_public_access_cidrs
  kms_key_arn         = aws_kms_key.main.arn
  node_instance_types = var.node_instance_types
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size

  processor_node_instance_types = var.processor_node_instance_types
  processor_node_min_size       = var.processor_node_min_size
  processor_node_max_size       = var.processor_node_max_size
  admin_role_arns = merge(
    { for i, arn in var.cluster_admin_role_arns : "admin-${i}" => arn },
    { terraform-apply = module.iam.github_role_arns["terraform-apply"] },
  )
  tags = local.tags
}

module "ecr" {
  source       = "../../modules/ecr"
  prefix       = "framepipe"
  repositories = local.images
  kms_key_arn  = aws_kms_key.main.arn
  tags         = local.tags
}

module "rds" {
  source                     = "../../modules/rds"
  name                       = local.name
  vpc_id                     = module.vpc.vpc_id
  private_subnet_ids         = module.vpc.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = aws_kms_key.main.arn
  instance_class             = var.db_instance_class
  tags                       = local.tags
}

module "s3" {
  source      = "../../modules/s3"
  bucket_name = var.media_bucket_name
  kms_key_arn = aws_kms_key.main.arn
  tags        = local.tags
}

module "iam" {
  source                    = "../../modules/iam"
  name                      = local.name
  region                    = var.region
  account_id                = data.aws_caller_identity.current.account_id
  github_repository         = var.github_repository
  github_oidc_provider_arn  = var.github_oidc_provider_arn
  cluster_name              = local.name
  state_bucket              = var.state_bucket
  ecr_repository_arns       = values(module.ecr.repository_arns)
  cluster_oidc_provider_arn = module.eks.oidc_provider_arn
  cluster_oidc_issuer       = module.eks.oidc_issuer
  bucket_arn                = module.s3.bucket_arn
  kms_key_arn               = aws_kms_key.main.arn
  secrets_prefix            = "framepipe/${var.environment}/"
  tags                      = local.tags
}
