output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>."
  value       = module.eks.cluster_name
}

output "ecr_repository_urls" {
  description = "Image names for the prod overlay's images: list."
  value       = module.ecr.repository_urls
}

output "database_endpoint" {
  description = "host:port for the services' DATABASE_URL secrets."
  value       = module.rds.endpoint
}

output "database_master_secret_arn" {
  description = "Where RDS keeps the generated master password."
  value       = module.rds.master_user_secret_arn
}

output "media_bucket" {
  description = "S3_BUCKET for the prod overlay."
  value       = module.s3.bucket
}

output "github_role_arns" {
  description = "Role ARNs for the AWS_*_ROLE_ARN variables of the GitHub workflows."
  value       = module.iam.github_role_arns
}

output "irsa_role_arns" {
  description = "Role ARNs for the eks.amazonaws.com/role-arn annotations in the prod overlay."
  value       = module.iam.irsa_role_arns
}
