# One customer-managed key encrypts the bucket, the database (storage, Performance Insights,
# its master-password secret) and the flow logs, so one key policy and one CloudTrail trail
# show every use of Silt's data. Instance volumes use the account's AWS-managed EBS key
# instead: a customer key there must also trust the Auto Scaling service-linked role, which
# does not exist yet in a fresh account and would make the first apply fail.

resource "aws_kms_key" "this" {
  description             = "${var.name}: Silt's bucket, catalog database, its secret and flow logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  # A key policy's Resource "*" means "this key" and the statements below are scoped by
  # principal and encryption context, not by resource.
  #checkov:skip=CKV_AWS_109:Key policy: the account-root statement is what lets IAM policies grant this key at all; Resource "*" is the key itself.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" is the key itself; writers are limited by principal (account, CloudWatch Logs for Silt's log groups).
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" is the only resource a key policy can name (the key itself).
  # The account administers the key and grants its use through IAM policies (the instance
  # roles get decrypt/encrypt only through S3 and Secrets Manager; see iam.tf).
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "FlowLogGroupEncryption"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/${var.name}/*"]
    }
  }
}
