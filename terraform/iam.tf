# One instance role per Silt role, so a compromised query node cannot write or delete data and
# only compactors can delete. What every role gets:
#   - S3: its object actions (locals.tf) on BUCKET/PREFIX/* only, and ListBucket on the bucket.
#     ListBucket is not narrowed to the prefix on purpose: S3 answers a GET or HEAD of a missing
#     key with 404 only to callers allowed to list the bucket (403 otherwise), and Silt relies
#     on "not found" (log recovery, /readyz's probe of a key that never exists).
#   - KMS: the key, only through S3 (decrypt; writers also generate data keys) and through
#     Secrets Manager (decrypt), by kms:ViaService.
#   - The catalog's master secret: read only that one secret.
#   - Log, query, compactor: mark instances of their own Auto Scaling group unhealthy when
#     /readyz keeps failing (they have no load balancer health check; see compute.tf).
#   - With enable_ssm: Session Manager, the only way onto an instance.
#   - With an s3:// binary URL: read that one object.

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  for_each           = local.ports
  name               = "${var.name}-${each.key}"
  description        = "Silt ${each.key} instances"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "node" {
  for_each = local.ports
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.node[each.key].name
}

data "aws_iam_policy_document" "node" {
  for_each = local.ports

  statement {
    sid       = "StoreObjects"
    actions   = local.s3_object_actions[each.key]
    resources = ["${aws_s3_bucket.store.arn}/${var.store_prefix}/*"]
  }

  statement {
    sid       = "StoreListing"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.store.arn]
  }

  statement {
    sid       = "StoreEncryption"
    actions   = local.kms_store_actions[each.key]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "CatalogPassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.catalog.master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "CatalogPasswordDecryption"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }

  # Gateways are judged by the load balancer instead.
  dynamic "statement" {
    for_each = each.key == "gateway" ? [] : [local.asg_names[each.key]]
    content {
      sid       = "ReportOwnHealth"
      actions   = ["autoscaling:SetInstanceHealth"]
      resources = ["arn:${local.partition}:autoscaling:${var.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${statement.value}"]
    }
  }

  dynamic "statement" {
    for_each = local.binary_in_s3 ? [local.binary_object_arn] : []
    content {
      sid       = "SiltBinary"
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "node" {
  for_each = local.ports
  name     = "silt-${each.key}"
  role     = aws_iam_role.node[each.key].id
  policy   = data.aws_iam_policy_document.node[each.key].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each   = var.enable_ssm ? local.ports : {}
  role       = aws_iam_role.node[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}
