variable "name" {
  description = "Cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "private_subnet_ids" {
  description = "Private subnets for the control plane's network interfaces and the nodes."
  type        = list(string)
}

variable "public_access_cidrs" {
  description = "Addresses allowed to reach the public API endpoint; empty keeps the endpoint private only."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key for Kubernetes Secrets envelope encryption and the control-plane log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long control-plane logs are kept."
  type        = number
  default     = 365
}

variable "node_instance_types" {
  description = "Instance types of the default node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "processor_node_instance_types" {
  description = "Instance types of the processors node group (compute-optimised: ffmpeg is CPU-bound)."
  type        = list(string)
  default     = ["c6i.4xlarge"]
}

variable "processor_node_min_size" {
  description = "Minimum number of processor nodes."
  type        = number
  default     = 1
}

variable "processor_node_max_size" {
  description = "Maximum number of processor nodes: enough for KEDA's maxReplicaCount (docs/deploy.md, \"Capacity\")."
  type        = number
  default     = 5
}

variable "node_disk_gib" {
  description = "Node root volume; processors keep their work files in emptyDir on it."
  type        = number
  default     = 100
}

variable "node_min_size" {
  description = "Minimum (and initial) number of nodes."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Maximum number of nodes."
  type        = number
  default     = 12
}

variable "admin_role_arns" {
  description = "IAM roles granted cluster-admin through EKS access entries, by a static name (ARNs may be unknown until apply)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
