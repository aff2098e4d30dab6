# The public entry point: TLS ends here, gateways behind it speak plain HTTP inside the VPC.

resource "aws_lb" "api" {
  #checkov:skip=CKV_AWS_91:Access logs need a second bucket with its own policy, encryption and lifecycle; add access_logs here if your audits need the balancer's record of each request.
  #checkov:skip=CKV2_AWS_28:A WAF web ACL costs per rule and per request and Silt's API is authenticated by key and rate limited per tenant; attach one with aws_wafv2_web_acl_association if required.
  name                       = "${var.name}-api"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.alb_idle_timeout_seconds
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
}

resource "aws_lb_target_group" "gateway" {
  name                 = "${var.name}-gateway"
  port                 = local.ports.gateway
  protocol             = "HTTP"
  vpc_id               = aws_vpc.this.id
  target_type          = "instance"
  deregistration_delay = 30

  # /readyz answers 200 only while the gateway reaches the catalog and the store and its
  # membership heartbeat is current; /healthz would only say the process is up.
  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  # TLS 1.3 and 1.2 with forward-secret AEAD ciphers only.
  ssl_policy      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.api.arn
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
