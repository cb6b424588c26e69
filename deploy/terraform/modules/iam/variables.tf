variable "name" {
  description = "Name prefix of every role."
  type        = string
}

variable "region" {
  description = "AWS region of the secrets."
  type        = string
}

variable "account_id" {
  description = "AWS account id of the secrets."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may assume the CI roles."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "Use owner/name."
  }
}

variable "state_bucket" {
  description = "The Terraform state bucket."
  type        = string
}

variable "ecr_repository_arns" {
  description = "The repositories build-push may push to."
  type        = list(string)
}

variable "cluster_oidc_provider_arn" {
  description = "The EKS cluster's IAM OIDC provider."
  type        = string
}

variable "cluster_oidc_issuer" {
  description = "The EKS OIDC issuer without https://."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service accounts."
  type        = string
  default     = "video-system"
}

variable "bucket_arn" {
  description = "The media bucket."
  type        = string
}

variable "sources_prefix" {
  description = "Key prefix of uploaded sources."
  type        = string
  default     = "sources/"
}

variable "results_prefix" {
  description = "Key prefix of result ZIPs."
  type        = string
  default     = "results/"
}

variable "kms_key_arn" {
  description = "The KMS key of the bucket, the images and the secrets."
  type        = string
}

variable "secrets_prefix" {
  description = "Secrets Manager name prefix the external-secrets role may read."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "cluster_name" {
  description = "The EKS cluster, whose node groups the cluster autoscaler may resize."
  type        = string
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's GitHub Actions OIDC provider when it exists already (there is one per account); null creates it."
  type        = string
  default     = null
}
