output "repository_urls" {
  description = "Repository URL by service."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by service, for the CI push policy."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}
