terraform {
  required_version = ">= 1.10" # as environments/prod, whose S3 backend uses use_lockfile (1.10+)
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
