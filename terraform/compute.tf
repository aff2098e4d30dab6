# One launch template and one Auto Scaling group per Silt role, all on Amazon Linux 2023 in
# the private subnets. Instances are cattle: Silt keeps no state on them beyond the query
# cache, so a replaced instance only has to register again (it does at start).

# The current Amazon Linux 2023 image, read at plan time: a plan after AWS publishes a new
# image changes the launch templates, and the groups' instance refresh rolls it out.
# (insecure_value: an AMI id is public, and `value` would hide it in plans as sensitive.)
data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

locals {
  # Settings that differ between roles; everything else is in the shared environment file the
  # user data writes (templates/user_data.sh.tftpl).
  role_env = {
    # The gateway closes idle keep-alive connections after SILT_HEADER_TIMEOUT_MS. Behind a
    # load balancer that must outlast the balancer's own idle timeout, or the balancer reuses
    # a connection the gateway is closing and a client gets a 502. (The balancer itself
    # protects the gateways from slow clients.)
    gateway = {
      SILT_HEADER_TIMEOUT_MS = tostring((var.alb_idle_timeout_seconds + 5) * 1000)
    }
    log = {}
    # SILT_CACHE_DISK_MB is sized at every boot from the NVMe filesystem (silt-cache-prepare).
    query = {
      SILT_CACHE_DIR = "/var/lib/silt/cache"
      SILT_CACHE_MB  = tostring(var.query_cache_memory_mb)
    }
    compactor = {}
  }

  db = aws_db_instance.catalog
  user_data = {
    for role, port in local.ports : role => templatefile("${path.module}/templates/user_data.sh.tftpl", {
      role              = role
      port              = port
      region            = var.region
      store_uri         = local.store_uri
      log_filter        = var.silt_log_filter
      role_env          = local.role_env[role]
      binary_url        = var.silt_binary_url
      binary_sha256     = var.silt_binary_sha256
      secret_arn        = local.db.master_user_secret[0].secret_arn
      db_host           = local.db.address
      db_port           = local.db.port
      db_name           = local.db.db_name
      db_sslmode        = var.db_require_tls ? "require" : "disable"
      nvme_cache        = role == "query"
      self_report       = role != "gateway"
      asg_name          = local.asg_names[role]
      health_grace_secs = local.health_grace_seconds
    })
  }

  # Time a new instance gets to boot, download the binary and become ready before any health
  # check counts against it.
  health_grace_seconds = 300
}

resource "aws_launch_template" "node" {
  for_each = local.ports

  name                   = "${var.name}-${each.key}"
  description            = "Silt ${each.key} node"
  image_id               = data.aws_ssm_parameter.al2023.insecure_value
  instance_type          = var.roles[each.key].instance_type
  vpc_security_group_ids = [aws_security_group.role[each.key].id]
  user_data              = base64gzip(local.user_data[each.key])
  update_default_version = true
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.node[each.key].arn
  }

  # IMDSv2 only, and one hop: a container on the instance cannot borrow the role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_type           = "gp3"
      volume_size           = var.roles[each.key].root_gb
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-${each.key}", SiltRole = each.key }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.name}-${each.key}", SiltRole = each.key }
  }
}

resource "aws_autoscaling_group" "node" {
  for_each = local.ports

  name                = local.asg_names[each.key]
  vpc_zone_identifier = aws_subnet.private[*].id
  min_size            = var.roles[each.key].min_size
  max_size            = var.roles[each.key].max_size
  desired_capacity    = var.roles[each.key].desired

  # Gateways are checked by the load balancer (/readyz). The internal roles have no balancer:
  # each instance probes its own /readyz and reports itself unhealthy to this group after
  # three minutes of failures (silt-health-report in the user data).
  health_check_type         = each.key == "gateway" ? "ELB" : "EC2"
  health_check_grace_period = local.health_grace_seconds
  target_group_arns         = each.key == "gateway" ? [aws_lb_target_group.gateway.arn] : []

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  # A new launch template (new AMI, binary, settings) replaces instances a few at a time.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
      instance_warmup        = local.health_grace_seconds
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-${each.key}"
    propagate_at_launch = false
  }
}
