variable "name" {
  description = "Instance identifier and name prefix."
  type        = string
}

variable "vpc_id" {
  description = "The VPC of the database's security group."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets only: the database never gets a public address."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS cluster's)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, the master secret and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version only: RDS applies minor upgrades itself (auto_minor_version_upgrade), and a pinned minor would make every plan after one try to downgrade."
  type        = string
  default     = "16"
  validation {
    condition     = can(regex("^[0-9]+$", var.engine_version))
    error_message = "Give the major version only (e.g. \"16\"); minor versions are RDS's to upgrade."
  }
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.m6g.large"
}

variable "allocated_storage_gib" {
  description = "Initial storage."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gib" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 500
}

variable "multi_az" {
  description = "A synchronous standby in a second zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backup retention (point-in-time recovery window)."
  type        = number
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 7
    error_message = "Keep at least 7 days of backups."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
