# Resources that Silt's own checkov policies (tests/terraform/checkov/) must pass ("good_")
# or fail ("bad_"); test_checkov_policies.py runs them. Not a deployable configuration.

variable "password" {
  type = string
}

resource "aws_launch_template" "good_encrypted" {
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted = true
    }
  }
}

resource "aws_launch_template" "bad_unencrypted" {
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted = false
    }
  }
}

resource "aws_launch_template" "bad_encryption_unset" {
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 8
    }
  }
}

resource "aws_lb_listener" "good_tls13" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener" "good_plain_http" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "bad_old_tls" {
  load_balancer_arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-2016-08"
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      status_code  = "404"
    }
  }
}

resource "aws_lb_target_group" "good_readyz" {
  health_check {
    path = "/readyz"
  }
}

resource "aws_lb_target_group" "bad_healthz" {
  health_check {
    path = "/healthz"
  }
}

resource "aws_db_instance" "good_managed_password" {
  manage_master_user_password = true
}

resource "aws_db_instance" "bad_own_password" {
  password = var.password
}
