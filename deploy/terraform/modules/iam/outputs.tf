output "github_role_arns" {
  description = "Roles for the GitHub workflows: build-push, terraform-plan, terraform-apply."
  value       = { for k, r in aws_iam_role.github : k => r.arn }
}

output "irsa_role_arns" {
  description = "Roles for the eks.amazonaws.com/role-arn annotations of the prod overlay."
  value       = { for k, r in aws_iam_role.irsa : k => r.arn }
}
