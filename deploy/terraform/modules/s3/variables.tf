variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for default encryption."
  type        = string
}

variable "sources_prefix" {
  description = "Key prefix under which video_svc stores uploaded sources."
  type        = string
  default     = "sources/"
}

variable "results_prefix" {
  description = "Key prefix under which processor_svc stores result ZIPs."
  type        = string
  default     = "results/"
}

variable "sources_expire_days" {
  description = "Sources are needed only until processed (and for a retry); they expire after this."
  type        = number
  default     = 7
}

variable "results_expire_days" {
  description = "Result ZIPs are downloadable for this long."
  type        = number
  default     = 30
}

variable "noncurrent_expire_days" {
  description = "Overwritten or deleted versions are kept this long."
  type        = number
  default     = 3
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
