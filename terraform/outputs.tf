output "endpoint_url" {
  description = "Where Chroma clients connect (point your DNS name for the certificate at alb_dns_name)."
  value       = "https://${aws_lb.api.dns_name}"
}

output "alb_dns_name" {
  description = "The load balancer's DNS name: the target of your CNAME or alias record."
  value       = aws_lb.api.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.api.zone_id
}

output "bucket" {
  description = "The S3 bucket holding Silt's data."
  value       = aws_s3_bucket.store.bucket
}

output "store_uri" {
  description = "SILT_STORE of every node."
  value       = local.store_uri
}

output "db_endpoint" {
  description = "The catalog database, host:port (reachable only from Silt's instances)."
  value       = aws_db_instance.catalog.endpoint
}

output "db_secret_arn" {
  description = "Secrets Manager secret with the catalog's master username and password (managed and rotated by RDS)."
  value       = aws_db_instance.catalog.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "The key encrypting the bucket, the database, its secret and the flow logs."
  value       = aws_kms_key.this.arn
}

output "autoscaling_groups" {
  description = "Auto Scaling group of each Silt role."
  value       = { for role, group in aws_autoscaling_group.node : role => group.name }
}
