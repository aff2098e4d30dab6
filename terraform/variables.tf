# Inputs of the reference deployment. Only the four without a default must be set; the rest
# are sized for a small production cluster (see README.md "Cost").

# --- Identity and placement -------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name (lowercase letters, digits, hyphens). Two deployments in one account need two names."
  type        = string
  default     = "silt"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region for everything (bucket, database, instances)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags added to every resource."
  type        = map(string)
  default     = {}
}

# --- Network ----------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC this module creates; split into one public and one private /20 per availability zone (at most 8 zones fit)."
  type        = string
  default     = "10.42.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones (names, in the chosen region) for subnets and instances; the load balancer and the database need at least 2. Named, not counted, so a zone AWS adds later never moves a subnet. Check that your instance types are offered in each."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 4
    error_message = "availability_zones must name 2 to 4 zones."
  }
}

variable "nat_gateway_per_zone" {
  description = "One NAT gateway per availability zone (survives a zone outage) instead of one shared NAT gateway (cheaper)."
  type        = bool
  default     = false
}

variable "allowed_ingress_cidrs" {
  description = "Client networks (IPv4 CIDRs) allowed to reach the load balancer on 443 (and 80, which only redirects). Use [\"0.0.0.0/0\"] for a public API: every request still needs an API key."
  type        = list(string)

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_ingress_cidrs must list at least one IPv4 CIDR block, e.g. 203.0.113.0/24."
  }
}

variable "flow_log_retention_days" {
  description = "Days the VPC flow logs are kept in CloudWatch Logs."
  type        = number
  default     = 365
}

# --- Load balancer ----------------------------------------------------------------------

variable "certificate_arn" {
  description = "ARN of the ACM certificate the HTTPS listener presents (issued in the same region for the name clients use)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "alb_idle_timeout_seconds" {
  description = "Seconds the load balancer keeps an idle connection; above Silt's 120 s request timeout so a slow query is answered, not cut. Gateways keep connections open 5 s longer (see compute.tf)."
  type        = number
  default     = 125
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer (set false, apply, then destroy to tear down)."
  type        = bool
  default     = true
}

# --- Object store -----------------------------------------------------------------------

variable "store_prefix" {
  description = "Key prefix Silt keeps its objects under (SILT_STORE=s3://BUCKET/PREFIX); the instances may touch nothing else in the bucket."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9._-]*$", var.store_prefix))
    error_message = "store_prefix must be one path segment: letters, digits, '.', '_' and '-'."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a deleted or overwritten object stays recoverable as a noncurrent version (see s3.tf for why the bucket is versioned)."
  type        = number
  default     = 7
}

# --- Catalog (RDS Postgres) -------------------------------------------------------------

variable "db_engine_version" {
  description = "Postgres major version; RDS picks its current minor and upgrades minors in the maintenance window."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class of the catalog."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial catalog storage in GiB (gp3)."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage_gb" {
  description = "Ceiling for RDS storage autoscaling, in GiB."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "Keep a synchronous standby in a second zone (doubles the database cost; the catalog is on every request's path)."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (set false, apply, then destroy to tear down)."
  type        = bool
  default     = true
}

variable "db_require_tls" {
  description = "Make Postgres refuse unencrypted connections and have Silt connect with TLS (sslmode=require). Turn off only to debug a connection problem."
  type        = bool
  default     = true
}

# --- Instances --------------------------------------------------------------------------

variable "architecture" {
  description = "CPU architecture of every instance type and of the silt binary: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "silt_binary_url" {
  description = "Where instances fetch the silt binary at boot: s3://bucket/key (read with the instance role; bucket in this account) or https://... (plain download)."
  type        = string

  validation {
    condition     = can(regex("^(s3://[a-z0-9.-]+/.+|https://.+)$", var.silt_binary_url))
    error_message = "silt_binary_url must be s3://bucket/key or an https:// URL."
  }
}

variable "silt_binary_sha256" {
  description = "SHA-256 of the silt binary (sha256sum output); an instance whose download differs refuses to start Silt."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.silt_binary_sha256))
    error_message = "silt_binary_sha256 must be 64 lowercase hex digits."
  }
}

variable "roles" {
  description = "Instance type, count and root volume of each Silt role. Query instance types must have local NVMe instance storage (i4i, m6id, c6id, r6id, ... on x86_64; i4g, m7gd, c7gd, ... on arm64): it holds their cache."
  type = map(object({
    instance_type = string
    min_size      = number
    max_size      = number
    desired       = number
    root_gb       = optional(number, 30)
  }))
  default = {
    gateway   = { instance_type = "m7i.large", min_size = 2, max_size = 6, desired = 2 }
    log       = { instance_type = "m7i.large", min_size = 2, max_size = 6, desired = 2 }
    query     = { instance_type = "i4i.large", min_size = 2, max_size = 8, desired = 2 }
    compactor = { instance_type = "c7i.xlarge", min_size = 1, max_size = 4, desired = 1 }
  }

  validation {
    condition     = length(setsubtract(["gateway", "log", "query", "compactor"], keys(var.roles))) == 0 && length(keys(var.roles)) == 4
    error_message = "roles must have exactly the keys gateway, log, query and compactor."
  }

  # Families with local NVMe: i3, i4i, i4g, im4gn, is4gen, and the "d" variants (m6id, c7gd,
  # r6idn, ...). Caught here rather than by a query node that finds no disk at boot.
  validation {
    condition     = can(regex("^(i[0-9][a-z]*|im4gn|is4gen|[a-z]+[0-9][a-z]*d[a-z]*)\\.", try(var.roles["query"].instance_type, "")))
    error_message = "roles.query.instance_type must have local NVMe instance storage (e.g. i4i.large, m6id.large, c7gd.large)."
  }
}

variable "query_cache_memory_mb" {
  description = "Memory part of each query node's cache, in MiB (SILT_CACHE_MB); leave room for the process and the page cache. The disk part takes 90% of the NVMe."
  type        = number
  default     = 8192
}

variable "silt_log_filter" {
  description = "SILT_LOG for every role (a tracing filter)."
  type        = string
  default     = "info"
}

variable "enable_ssm" {
  description = "Let operators open shell sessions with SSM Session Manager (the only way in: no SSH port, no key pair). Needed for the admin steps in README.md."
  type        = bool
  default     = true
}
