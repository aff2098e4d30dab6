data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
# Looked up rather than used as given, so a misspelt or unavailable zone fails the plan.
data "aws_availability_zones" "chosen" {
  state = "available"
  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Some of var.availability_zones are not available zones of var.region."
    }
  }
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = data.aws_availability_zones.chosen.names

  # Who calls whom (docs/ARCHITECTURE.md, "Distributed mode"): the gateway calls log and query
  # nodes, query nodes read log tails from log nodes, compactors read tails from log nodes.
  # Nothing calls a compactor. Security groups below open exactly these edges.
  ports = {
    gateway   = 8000
    log       = 7100
    query     = 7200
    compactor = 7300
  }
  callers = {
    gateway   = []
    log       = ["gateway", "query", "compactor"]
    query     = ["gateway"]
    compactor = []
  }
  # Each role's S3 object actions, under the store prefix only. Query nodes and gateways only
  # read (the gateway's reads are its /readyz probe); log nodes append fragments; compactors
  # write versions and are the only ones that delete (version and log garbage collection).
  s3_object_actions = {
    gateway   = ["s3:GetObject"]
    log       = ["s3:GetObject", "s3:PutObject"]
    query     = ["s3:GetObject"]
    compactor = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
  }

  # Reading an SSE-KMS object decrypts its data key; writing one generates a data key.
  kms_store_actions = {
    for role, actions in local.s3_object_actions :
    role => contains(actions, "s3:PutObject") ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
  }

  bucket_name       = "${var.name}-${local.account_id}-${var.region}"
  store_uri         = "s3://${local.bucket_name}/${var.store_prefix}"
  asg_names         = { for role in keys(local.ports) : role => "${var.name}-${role}" }
  binary_in_s3      = startswith(var.silt_binary_url, "s3://")
  binary_object_arn = "arn:${local.partition}:s3:::${trimprefix(var.silt_binary_url, "s3://")}"
}
