variable "prefix" {
  description = "Repository name prefix, e.g. framepipe gives framepipe/auth_svc."
  type        = string
}

variable "repositories" {
  description = "One repository per service image."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the images."
  type        = string
}

variable "keep_images" {
  description = "How many images each repository keeps; older ones expire."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
