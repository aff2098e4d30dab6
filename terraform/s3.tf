# Silt's only durable data store: log fragments and index versions under s3://BUCKET/PREFIX.

resource "aws_s3_bucket" "store" {
  #checkov:skip=CKV_AWS_18:Server access logs would log every one of Silt's many small GETs and PUTs, costing more than the data; use CloudTrail data events for audits.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage and PUT cost; the bucket is versioned and a second region is a decision for the deployer, not the reference.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; Silt learns about new objects from its catalog.
  bucket = local.bucket_name
}

resource "aws_s3_bucket_ownership_controls" "store" {
  bucket = aws_s3_bucket.store.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "store" {
  bucket                  = aws_s3_bucket.store.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# The bucket key lets S3 reuse a data key for many objects: without it every GET and PUT of
# Silt's small objects would also be a KMS request, billed and rate limited.
resource "aws_s3_bucket_server_side_encryption_configuration" "store" {
  bucket = aws_s3_bucket.store.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

# Versioning: on. Silt never overwrites an object (log fragments and versions are written with
# create-only PUTs), so versions cost nothing for live data; they only keep what garbage
# collection or a mistaken `aws s3 rm` deleted, for noncurrent_version_retention_days. That
# window turns a GC bug or an operator error into a restore instead of data loss, and the
# lifecycle rule below bounds what it costs.
resource "aws_s3_bucket_versioning" "store" {
  bucket = aws_s3_bucket.store.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "store" {
  bucket = aws_s3_bucket.store.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-deleted-objects"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.store]
}

data "aws_iam_policy_document" "store" {
  statement {
    sid       = "DenyPlainHttp"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.store.arn, "${aws_s3_bucket.store.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTlsBelow12"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.store.arn, "${aws_s3_bucket.store.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "store" {
  bucket = aws_s3_bucket.store.id
  policy = data.aws_iam_policy_document.store.json

  depends_on = [aws_s3_bucket_public_access_block.store]
}
