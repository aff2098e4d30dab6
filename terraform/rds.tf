# Silt's catalog: tenants, collections, version pointers, log positions, node membership, API
# keys. Small, but on every request's path and the only place the cluster's state is
# coordinated, hence Multi-AZ by default.

resource "aws_db_subnet_group" "catalog" {
  name       = "${var.name}-catalog"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "catalog" {
  name_prefix = "${var.name}-catalog-"
  family      = "postgres${split(".", var.db_engine_version)[0]}"

  parameter {
    name  = "rds.force_ssl"
    value = var.db_require_tls ? "1" : "0"
  }

  # Statements slower than a second are logged: the catalog's queries are all point lookups
  # and small updates, so a slow one is worth seeing.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "catalog" {
  #checkov:skip=CKV_AWS_161:Silt authenticates with a password from Secrets Manager; IAM tokens expire every 15 minutes and Silt's connection pool cannot renew them.
  identifier     = "${var.name}-catalog"
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  db_name  = "silt"
  username = "silt"
  # RDS generates the password and keeps it in a Secrets Manager secret it rotates (every
  # 7 days by default); instances read it at boot and re-read it when it changes (compute.tf).
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.this.arn

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_max_allocated_storage_gb
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_subnet_group_name   = aws_db_subnet_group.catalog.name
  vpc_security_group_ids = [aws_security_group.catalog.id]
  parameter_group_name   = aws_db_parameter_group.catalog.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-catalog-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.this.arn
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.rds_monitoring.arn
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
