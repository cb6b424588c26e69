variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "azs" {
  description = "Availability zones of the region to use (at least two)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "vpc_cidr" {
  description = "The VPC's IPv4 range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "cluster_public_access_cidrs" {
  description = "Addresses allowed to reach the Kubernetes API from outside the VPC; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "cluster_admin_role_arns" {
  description = "IAM roles of the people who administer the cluster."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Node instance types."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_min_size" {
  description = "Minimum number of nodes."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Maximum number of nodes."
  type        = number
  default     = 12
}

variable "processor_node_instance_types" {
  description = "Processor node instance types; with processor_node_max_size they must hold KEDA's maxReplicaCount of processors (docs/deploy.md, \"Capacity\")."
  type        = list(string)
  default     = ["c6i.4xlarge"]
}

variable "processor_node_min_size" {
  description = "Minimum number of processor nodes."
  type        = number
  default     = 1
}

variable "processor_node_max_size" {
  description = "Maximum number of processor nodes."
  type        = number
  default     = 5
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "media_bucket_name" {
  description = "Globally unique name of the media bucket (S3_BUCKET of the prod overlay)."
  type        = string
}

variable "state_bucket" {
  description = "The bucket that holds this state (backend.hcl), so the CI roles may use it."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows deploy."
  type        = string
}

variable "github_oidc_provider_arn" {
  description = "The account's existing GitHub Actions OIDC provider, if any (one per account); null creates it."
  type        = string
  default     = null
}
