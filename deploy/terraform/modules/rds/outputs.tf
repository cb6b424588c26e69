output "endpoint" {
  description = "host:port of the database, for the services' DATABASE_URL."
  value       = aws_db_instance.this.endpoint
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the generated master password."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "The database's security group."
  value       = aws_db_instance.this.vpc_security_group_ids
}
