variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "region" {
  description = "AWS region, for the S3 gateway endpoint's service name."
  type        = string
}

variable "cidr" {
  description = "The VPC's IPv4 range; /16 leaves room for 16 /20 subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "azs" {
  description = "Availability zones, one public and one private subnet in each."
  type        = list(string)
  validation {
    condition     = length(var.azs) >= 2
    error_message = "At least two availability zones: RDS Multi-AZ and the ALB need them."
  }
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet discovery tags."
  type        = string
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (survives a zone loss)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "How long VPC flow logs are kept."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key that encrypts the flow log group."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
